// Command release-check checks a release built by `make release-snapshot` and what a
// Terraform or OpenTofu installation made of it, for scripts/release-check.sh:
//
//	release-check dist DIST MANIFEST
//	    checks the release in DIST: every file of the SHA256SUMS is there with that SHA-256,
//	    every archive is listed, each provider zip holds terraform-provider-iotda_v{version},
//	    and the registry manifest is the file MANIFEST. It prints version=... and, for this
//	    platform, provider_zip=... and mock_archive=..., one per line, for the shell.
//	release-check lock DIST LOCKFILE HOST
//	    checks the hashes .terraform.lock.hcl (LOCKFILE) records for HOST/iotdalabs/iotda
//	    against the zips of DIST: an h1: hash must be the dirhash of a zip's contents (what
//	    Terraform computes; golang.org/x/mod/sumdb/dirhash, Hash1), a zh: hash the SHA-256 of
//	    a zip as the SHA256SUMS lists it; there must be an h1: hash of this platform's zip.
//	release-check mirror DIST CAFILE [wrong-zh]
//	    serves the provider zips of DIST as a provider network mirror over HTTPS on 127.0.0.1,
//	    with a certificate written to CAFILE; it prints mirror=URL once it listens, and serves
//	    until it is stopped. Its {version}.json gives each zip's zh: hash from the SHA256SUMS,
//	    which the CLI checks each download against; wrong-zh gives wrong ones instead, so that
//	    the check can see the CLI refuse them.
//	release-check journal API VERSION DEVICE
//	    asks the mock at API for its journal and checks that DEVICE received one command, sent
//	    by the provider of VERSION (its User-Agent).
//
// Every check prints what it compared; any mismatch exits with status 1.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release-check:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return usage()
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "dist" && len(rest) == 2:
		r, err := readRelease(rest[0])
		if err != nil {
			return err
		}
		return r.check(rest[1], os.Stdout)
	case cmd == "lock" && len(rest) == 3:
		r, err := readRelease(rest[0])
		if err != nil {
			return err
		}
		return checkLock(r, rest[1], rest[2], os.Stdout)
	case cmd == "mirror" && (len(rest) == 2 || len(rest) == 3 && rest[2] == "wrong-zh"):
		r, err := readRelease(rest[0])
		if err != nil {
			return err
		}
		return serveMirror(r, rest[1], len(rest) == 3, os.Stdout)
	case cmd == "journal" && len(rest) == 3:
		return checkJournal(rest[0], rest[1], rest[2], os.Stdout)
	}
	return usage()
}

func usage() error {
	return fmt.Errorf("usage: release-check dist DIST MANIFEST | lock DIST LOCKFILE HOST | mirror DIST CAFILE [wrong-zh] | " +
		"journal API VERSION DEVICE")
}
