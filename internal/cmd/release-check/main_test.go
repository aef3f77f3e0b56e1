package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
)

const testVersion = "0.0.0-snapshot-abc1234"

var testManifest = []byte(`{"version":1,"metadata":{"protocol_versions":["6.0"]}}` + "\n")

// fakeDist writes a release as GoReleaser lays it out: a provider zip for this platform and
// one for another, the mock's archive, the manifest, the SHA256SUMS and metadata.json. It
// returns dist and the repository's manifest.
func fakeDist(t *testing.T) (dist, manifest string) {
	t.Helper()
	dist = t.TempDir()
	host := runtime.GOOS + "_" + runtime.GOARCH
	files := map[string][]byte{
		project + "_" + testVersion + "_" + host + ".zip":      zipOf(t, project+"_v"+testVersion, "binary"),
		project + "_" + testVersion + "_windows_arm64.zip":     zipOf(t, project+"_v"+testVersion+".exe", "exe"),
		"iotda-mock_" + testVersion + "_" + host + ".tar.gz":   []byte("mock archive"),
		project + "_" + testVersion + "_manifest.json":         testManifest,
		"iotda-device_" + testVersion + "_" + host + ".tar.gz": []byte("device archive"),
		"metadata.json":  []byte(`{"project_name":"` + project + `","version":"` + testVersion + `"}`),
		"config.yaml":    []byte("not part of the release"),
		"artifacts.json": []byte("[]"),
	}
	var sums strings.Builder
	for name, b := range files {
		writeFile(t, filepath.Join(dist, name), b)
		if name != "metadata.json" && name != "config.yaml" && name != "artifacts.json" {
			sum := sha256.Sum256(b)
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		}
	}
	writeFile(t, filepath.Join(dist, project+"_"+testVersion+"_SHA256SUMS"), []byte(sums.String()))
	manifest = filepath.Join(t.TempDir(), "terraform-registry-manifest.json")
	writeFile(t, manifest, testManifest)
	return dist, manifest
}

func zipOf(t *testing.T, name, content string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for n, c := range map[string]string{name: content, "README.md": "readme"} {
		f, err := w.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func checkDist(dist, manifest string) (string, error) {
	var out bytes.Buffer
	r, err := readRelease(dist)
	if err != nil {
		return "", err
	}
	err = r.check(manifest, &out)
	return out.String(), err
}

func TestDist_Valid(t *testing.T) {
	t.Parallel()
	dist, manifest := fakeDist(t)
	out, err := checkDist(dist, manifest)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	host := runtime.GOOS + "_" + runtime.GOARCH
	for _, want := range []string{"version=" + testVersion + "\n", "provider_zip=" + filepath.Join(dist, project+"_"+testVersion+"_"+host+".zip"),
		"holds " + project + "_v" + testVersion + ".exe", "protocol_versions [6.0]"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
}

// Every kind of defect in a release stops the check, naming what is wrong.
func TestDist_Defects(t *testing.T) {
	t.Parallel()
	host := runtime.GOOS + "_" + runtime.GOARCH
	hostZip := project + "_" + testVersion + "_" + host + ".zip"
	sums := project + "_" + testVersion + "_SHA256SUMS"
	for name, tc := range map[string]struct {
		mutate func(t *testing.T, dist, manifest string)
		want   string
	}{
		"a zip changed after the SHA256SUMS": {func(t *testing.T, dist, _ string) {
			writeFile(t, filepath.Join(dist, hostZip), zipOf(t, project+"_v"+testVersion, "tampered"))
		}, "the SHA256SUMS says"},
		"an archive missing from the SHA256SUMS": {func(t *testing.T, dist, _ string) {
			writeFile(t, filepath.Join(dist, "iotda-mock_"+testVersion+"_freebsd_arm.tar.gz"), []byte("x"))
		}, "is not in the SHA256SUMS"},
		"a listed file missing": {func(t *testing.T, dist, _ string) {
			if err := os.Remove(filepath.Join(dist, "iotda-device_"+testVersion+"_"+host+".tar.gz")); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
		"no manifest": {func(t *testing.T, dist, _ string) {
			b, _ := os.ReadFile(filepath.Join(dist, sums))
			var kept []string
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if !strings.Contains(l, "manifest") {
					kept = append(kept, l)
				}
			}
			writeFile(t, filepath.Join(dist, sums), []byte(strings.Join(kept, "\n")+"\n"))
		}, "does not list the registry manifest"},
		"another manifest": {func(t *testing.T, _, manifest string) {
			writeFile(t, manifest, []byte(`{"version":1,"metadata":{"protocol_versions":["5.0"]}}`))
		}, "differs from"},
		"a zip without the provider binary": {func(t *testing.T, dist, _ string) {
			b := zipOf(t, "main_v"+testVersion, "binary")
			writeFile(t, filepath.Join(dist, hostZip), b)
			rewriteSum(t, dist, sums, hostZip, b)
		}, "does not hold " + project + "_v" + testVersion},
		"no zip for this platform": {func(t *testing.T, dist, _ string) {
			b, _ := os.ReadFile(filepath.Join(dist, sums))
			writeFile(t, filepath.Join(dist, sums), []byte(strings.ReplaceAll(string(b), hostZip, project+"_"+testVersion+"_plan9_386.zip")))
			if err := os.Rename(filepath.Join(dist, hostZip), filepath.Join(dist, project+"_"+testVersion+"_plan9_386.zip")); err != nil {
				t.Fatal(err)
			}
		}, "no " + hostZip + " for this platform"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dist, manifest := fakeDist(t)
			tc.mutate(t, dist, manifest)
			out, err := checkDist(dist, manifest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("check = %v, want an error with %q\n%s", err, tc.want, out)
			}
			if strings.Contains(out, "version=") {
				t.Errorf("a failed check printed the release's fields:\n%s", out)
			}
		})
	}
	t.Run("no metadata", func(t *testing.T) {
		t.Parallel()
		dist, _ := fakeDist(t)
		if err := os.Remove(filepath.Join(dist, "metadata.json")); err != nil {
			t.Fatal(err)
		}
		if _, err := readRelease(dist); err == nil || !strings.Contains(err.Error(), "make release-snapshot") {
			t.Errorf("readRelease = %v", err)
		}
	})
}

func rewriteSum(t *testing.T, dist, sums, name string, b []byte) {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dist, sums))
	sum := sha256.Sum256(b)
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.HasSuffix(l, "  "+name) {
			l = hex.EncodeToString(sum[:]) + "  " + name
		}
		lines = append(lines, l)
	}
	writeFile(t, filepath.Join(dist, sums), []byte(strings.Join(lines, "\n")+"\n"))
}

// lockWith writes a lock file recording hashes for host/iotdalabs/iotda at version.
func lockWith(t *testing.T, host, version string, hashes ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), ".terraform.lock.hcl")
	quoted := make([]string, len(hashes))
	for i, h := range hashes {
		quoted[i] = fmt.Sprintf("    %q,", h)
	}
	writeFile(t, path, fmt.Appendf(nil, `provider "registry.terraform.io/hashicorp/null" {
  version = "3.2.2"
  hashes  = ["h1:other"]
}

provider "%s/iotdalabs/iotda" {
  version     = %q
  constraints = %q
  hashes = [
%s
  ]
}
`, host, version, version, strings.Join(quoted, "\n")))
	return path
}

func TestLock(t *testing.T) {
	t.Parallel()
	dist, _ := fakeDist(t)
	r, err := readRelease(dist)
	if err != nil {
		t.Fatal(err)
	}
	host := runtime.GOOS + "_" + runtime.GOARCH
	hostZip := filepath.Join(dist, project+"_"+testVersion+"_"+host+".zip")
	otherZip := filepath.Join(dist, project+"_"+testVersion+"_windows_arm64.zip")
	h1Host, err := dirhash.HashZip(hostZip, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	h1Other, _ := dirhash.HashZip(otherZip, dirhash.Hash1)
	zhHost := "zh:" + r.sums[filepath.Base(hostZip)]
	for name, tc := range map[string]struct {
		host, version string
		hashes        []string
		want          string // "" when the check passes
	}{
		"h1 of this platform":            {"registry.terraform.io", testVersion, []string{h1Host}, ""},
		"h1 and zh of several platforms": {"registry.opentofu.org", testVersion, []string{h1Other, zhHost, h1Host}, ""},
		"a wrong h1":                     {"registry.terraform.io", testVersion, []string{h1Host, "h1:qSx7SYtFyD71jkxuO76xfAtQ0ML1Ga6bqLfhgGaDkuk="}, "matches no zip"},
		"a wrong zh":                     {"registry.terraform.io", testVersion, []string{h1Host, "zh:" + strings.Repeat("0", 64)}, "matches no zip"},
		"a zh written as h1":             {"registry.terraform.io", testVersion, []string{h1Host, "h1:" + r.sums[filepath.Base(hostZip)]}, "matches no zip"},
		"no h1 of this platform":         {"registry.terraform.io", testVersion, []string{h1Other, zhHost}, "no h1: hash of"},
		"another version":                {"registry.terraform.io", "0.0.1", []string{h1Host}, "selected version 0.0.1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			err := checkLock(r, lockWith(t, tc.host, tc.version, tc.hashes...), tc.host, &out)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("checkLock = %v, want %q\n%s", err, tc.want, out.String())
			}
		})
	}
	var out bytes.Buffer
	if err := checkLock(r, lockWith(t, "registry.terraform.io", testVersion, h1Host), "registry.opentofu.org", &out); err == nil {
		t.Error("a lock file for another registry host passed")
	}
}

func TestJournal(t *testing.T) {
	t.Parallel()
	entries := map[string][]journalEntry{
		"request":  {{Kind: "request", DeviceID: "demo-lamp", Header: map[string][]string{"User-Agent": {"Terraform/1.5.7 terraform-provider-iotda/" + testVersion}}}},
		"delivery": {{Kind: "delivery", DeviceID: "demo-lamp"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_mock/journal" || r.URL.Query().Get("device_id") != "demo-lamp" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(entries[r.URL.Query().Get("kind")])
	}))
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	if err := checkJournal(srv.URL, testVersion, "demo-lamp", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if err := checkJournal(srv.URL, "0.0.1", "demo-lamp", &out); err == nil {
		t.Error("a request from another provider version passed")
	}
	if err := checkJournal(srv.URL, testVersion, "other", &out); err == nil {
		t.Error("a device that received nothing passed")
	}
}

// The mirror answers as Terraform's provider network mirror protocol says, under any
// hostname, with each zip's SHA-256 from the SHA256SUMS as its zh: hash (or a wrong one).
func TestMirrorHandler(t *testing.T) {
	t.Parallel()
	dist, _ := fakeDist(t)
	r, err := readRelease(dist)
	if err != nil {
		t.Fatal(err)
	}
	host := runtime.GOOS + "_" + runtime.GOARCH
	zip := project + "_" + testVersion + "_" + host + ".zip"
	for wrong, wantZH := range map[bool]string{false: "zh:" + r.sums[zip], true: "zh:" + strings.Repeat("0", 64)} {
		h, err := r.mirrorHandler(wrong)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		get := func(p string) (int, []byte) {
			t.Helper()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		for _, hostname := range []string{"registry.terraform.io", "registry.opentofu.org"} {
			base := "/" + hostname + "/iotdalabs/iotda/"
			if code, b := get(base + "index.json"); code != 200 || string(b) != `{"versions":{"`+testVersion+`":{}}}` {
				t.Errorf("index.json: %d %s", code, b)
			}
			code, b := get(base + testVersion + ".json")
			var v struct {
				Archives map[string]struct {
					URL    string   `json:"url"`
					Hashes []string `json:"hashes"`
				} `json:"archives"`
			}
			if code != 200 || json.Unmarshal(b, &v) != nil || len(v.Archives) != 2 {
				t.Fatalf("%s.json: %d %s", testVersion, code, b)
			}
			if a := v.Archives[host]; a.URL != zip || len(a.Hashes) != 1 || a.Hashes[0] != wantZH {
				t.Errorf("wrong-zh %v: archive for %s = %+v, want %s", wrong, host, a, wantZH)
			}
			want, _ := os.ReadFile(filepath.Join(dist, zip))
			if code, b := get(base + zip); code != 200 || !bytes.Equal(b, want) {
				t.Errorf("%s: %d, %d bytes", zip, code, len(b))
			}
		}
		for _, p := range []string{"/registry.terraform.io/iotdalabs/other/index.json", "/registry.terraform.io/iotdalabs/iotda/0.0.1.json",
			"/registry.terraform.io/iotdalabs/iotda/metadata.json", "/registry.terraform.io/iotdalabs/iotda/../../../etc/passwd", "/index.json"} {
			if code, _ := get(p); code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", p, code)
			}
		}
	}
}
