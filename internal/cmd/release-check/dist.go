package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// project is GoReleaser's project_name, which starts the name of every provider file.
const project = "terraform-provider-iotda"

// release is what GoReleaser left in dist.
type release struct {
	dir     string
	version string
	// sums maps each file named in the SHA256SUMS to its SHA-256 there (hex).
	sums map[string]string
}

// readRelease reads the version from dist/metadata.json and the SHA256SUMS it names.
func readRelease(dir string) (*release, error) {
	b, err := os.ReadFile(filepath.Join(dir, "metadata.json"))
	if err != nil {
		return nil, fmt.Errorf("%w (build the release first: make release-snapshot)", err)
	}
	var meta struct {
		ProjectName string `json:"project_name"`
		Version     string `json:"version"`
	}
	if err := json.Unmarshal(b, &meta); err != nil || meta.Version == "" {
		return nil, fmt.Errorf("dist/metadata.json holds no version: %s", b)
	}
	if meta.ProjectName != project {
		return nil, fmt.Errorf("dist/metadata.json names the project %q, want %q (project_name in .goreleaser.yml)",
			meta.ProjectName, project)
	}
	r := &release{dir: dir, version: meta.Version}
	r.sums, err = readSums(filepath.Join(dir, r.name("SHA256SUMS")))
	return r, err
}

// name is the name of a release file: terraform-provider-iotda_{version}_{suffix}.
func (r *release) name(suffix string) string {
	return project + "_" + r.version + "_" + suffix
}

// readSums reads a SHA256SUMS file: lines of "<hex sha256>  <file name>".
func readSums(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sums := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		sum, name, ok := strings.Cut(s.Text(), "  ")
		if !ok || len(sum) != sha256.Size*2 || name == "" {
			return nil, fmt.Errorf("%s: malformed line %q", path, s.Text())
		}
		sums[name] = sum
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%s lists no file", path)
	}
	return sums, nil
}

// check verifies the release and prints what the shell needs.
func (r *release) check(manifest string, out io.Writer) error {
	var errs []error
	fmt.Fprintf(out, "# release %s in %s\n", r.version, r.dir)
	for _, name := range slices.Sorted(maps.Keys(r.sums)) {
		got, err := fileSHA256(filepath.Join(r.dir, name))
		switch {
		case err != nil:
			errs = append(errs, err)
		case got != r.sums[name]:
			errs = append(errs, fmt.Errorf("%s has SHA-256 %s, the SHA256SUMS says %s", name, got, r.sums[name]))
		default:
			fmt.Fprintf(out, "# sha256 %s %s: matches the SHA256SUMS\n", got, name)
		}
	}
	errs = append(errs, r.checkListed()...)
	errs = append(errs, r.checkManifest(manifest, out))
	zips, err := r.providerZips()
	if err != nil {
		return err
	}
	for _, z := range zips {
		errs = append(errs, r.checkZip(z, out))
	}
	host := runtime.GOOS + "_" + runtime.GOARCH
	hostZip, mock := r.name(host+".zip"), "iotda-mock_"+r.version+"_"+host+".tar.gz"
	for _, name := range []string{hostZip, mock} {
		if _, ok := r.sums[name]; !ok {
			errs = append(errs, fmt.Errorf("the release has no %s for this platform", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "version=%s\nprovider_zip=%s\nmock_archive=%s\n", r.version,
		filepath.Join(r.dir, hostZip), filepath.Join(r.dir, mock))
	return nil
}

// checkListed requires every archive and the manifest in dist to be in the SHA256SUMS.
func (r *release) checkListed() []error {
	var errs []error
	for _, pattern := range []string{"*.zip", "*.tar.gz", "*_manifest.json"} {
		matches, _ := filepath.Glob(filepath.Join(r.dir, pattern))
		for _, m := range matches {
			if _, ok := r.sums[filepath.Base(m)]; !ok {
				errs = append(errs, fmt.Errorf("%s is not in the SHA256SUMS", filepath.Base(m)))
			}
		}
	}
	return errs
}

// checkManifest requires the registry manifest, listed and equal to the repository's.
func (r *release) checkManifest(want string, out io.Writer) error {
	name := r.name("manifest.json")
	if _, ok := r.sums[name]; !ok {
		return fmt.Errorf("the SHA256SUMS does not list the registry manifest %s", name)
	}
	got, err := os.ReadFile(filepath.Join(r.dir, name))
	if err != nil {
		return err
	}
	wantBytes, err := os.ReadFile(want)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, wantBytes) {
		return fmt.Errorf("%s differs from %s", name, want)
	}
	var m struct {
		Version  int `json:"version"`
		Metadata struct {
			ProtocolVersions []string `json:"protocol_versions"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(got, &m); err != nil || m.Version != 1 || !slices.Equal(m.Metadata.ProtocolVersions, []string{"6.0"}) {
		return fmt.Errorf("%s does not declare protocol 6.0 (the provider serves protocol 6): %s", name, got)
	}
	fmt.Fprintf(out, "# %s: the registry manifest, protocol_versions [6.0]\n", name)
	return nil
}

// providerZips lists the provider zips the SHA256SUMS names.
func (r *release) providerZips() ([]string, error) {
	var zips []string
	for name := range r.sums {
		if strings.HasPrefix(name, project+"_") && strings.HasSuffix(name, ".zip") {
			zips = append(zips, name)
		}
	}
	if len(zips) == 0 {
		return nil, errors.New("the SHA256SUMS lists no provider zip")
	}
	slices.Sort(zips)
	return zips, nil
}

// checkZip requires the provider binary, named as Terraform expects, in a provider zip.
func (r *release) checkZip(name string, out io.Writer) error {
	zr, err := zip.OpenReader(filepath.Join(r.dir, name))
	if err != nil {
		return err
	}
	defer func() { _ = zr.Close() }()
	binary := project + "_v" + r.version
	if strings.Contains(name, "_windows_") {
		binary += ".exe"
	}
	for _, f := range zr.File {
		if f.Name == binary {
			fmt.Fprintf(out, "# %s holds %s\n", name, binary)
			return nil
		}
	}
	return fmt.Errorf("%s does not hold %s", name, binary)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
