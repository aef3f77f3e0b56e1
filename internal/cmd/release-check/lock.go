package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsimple"
	"golang.org/x/mod/sumdb/dirhash"
)

// lockFile is the part of .terraform.lock.hcl this check reads.
type lockFile struct {
	Providers []struct {
		Address     string   `hcl:"address,label"`
		Version     string   `hcl:"version"`
		Constraints string   `hcl:"constraints,optional"`
		Hashes      []string `hcl:"hashes,optional"`
	} `hcl:"provider,block"`
}

// checkLock verifies the hashes the lock file records for host/iotdalabs/iotda.
func checkLock(r *release, path, host string, out io.Writer) error {
	var lf lockFile
	if err := hclsimple.DecodeFile(path, nil, &lf); err != nil {
		return fmt.Errorf("reading the lock file: %w", err)
	}
	address := host + "/iotdalabs/iotda"
	for _, p := range lf.Providers {
		if p.Address != address {
			continue
		}
		fmt.Fprintf(out, "%s: provider %s version %s, constraints %q\n", path, p.Address, p.Version, p.Constraints)
		if p.Version != r.version {
			return fmt.Errorf("the lock file selected version %s, the release is %s", p.Version, r.version)
		}
		return r.checkHashes(p.Hashes, out)
	}
	return fmt.Errorf("the lock file has no provider %s", address)
}

// checkHashes matches every hash with a zip of the release.
func (r *release) checkHashes(hashes []string, out io.Writer) error {
	zips, err := r.providerZips()
	if err != nil {
		return err
	}
	h1 := map[string]string{} // hash -> zip
	for _, z := range zips {
		sum, err := dirhash.HashZip(filepath.Join(r.dir, z), dirhash.Hash1)
		if err != nil {
			return fmt.Errorf("hashing %s: %w", z, err)
		}
		h1[sum] = z
	}
	zh := map[string]string{}
	for _, z := range zips {
		zh["zh:"+r.sums[z]] = z
	}
	var errs []error
	var hostH1 bool
	hostZip := r.name(runtime.GOOS + "_" + runtime.GOARCH + ".zip")
	for _, h := range hashes {
		switch {
		case strings.HasPrefix(h, "h1:") && h1[h] != "":
			fmt.Fprintf(out, "  %s = dirhash (h1) of the contents of %s: OK\n", h, h1[h])
			hostH1 = hostH1 || h1[h] == hostZip
		case strings.HasPrefix(h, "zh:") && zh[h] != "":
			fmt.Fprintf(out, "  %s = SHA-256 of %s in the SHA256SUMS: OK\n", h, zh[h])
		default:
			errs = append(errs, fmt.Errorf("%s matches no zip of the release", h))
			fmt.Fprintf(out, "  %s matches no zip of the release: MISMATCH\n", h)
		}
	}
	if !hostH1 {
		errs = append(errs, fmt.Errorf("no h1: hash of %s, the zip installed here", hostZip))
	}
	return errors.Join(errs...)
}
