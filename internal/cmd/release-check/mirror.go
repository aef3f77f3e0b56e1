package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// mirrorHandler serves the provider zips of a release in Terraform's provider network mirror
// protocol (https://developer.hashicorp.com/terraform/internals/provider-network-mirror-protocol),
// under any hostname, such as registry.terraform.io and registry.opentofu.org:
//
//	/{hostname}/iotdalabs/iotda/index.json      {"versions":{"{version}":{}}}
//	/{hostname}/iotdalabs/iotda/{version}.json  {"archives":{"{os}_{arch}":{"url":"{zip}","hashes":["zh:..."]}}}
//	/{hostname}/iotdalabs/iotda/{zip}           the zip
//
// The zh: hash of each zip is its SHA-256 in the SHA256SUMS, which Terraform and OpenTofu check
// the download against (OpenTofu 1.12.6 records it in the lock file; Terraform 1.5.7 records only
// the h1: hash it computes); with wrongZH it is another, which they must refuse.
func (r *release) mirrorHandler(wrongZH bool) (http.Handler, error) {
	zips, err := r.providerZips()
	if err != nil {
		return nil, err
	}
	type archive struct {
		URL    string   `json:"url"`
		Hashes []string `json:"hashes"`
	}
	archives := map[string]archive{}
	prefix := r.name("")
	for _, z := range zips {
		platform := strings.TrimSuffix(strings.TrimPrefix(z, prefix), ".zip")
		sum := r.sums[z]
		if wrongZH {
			sum = strings.Repeat("0", len(sum))
		}
		archives[platform] = archive{URL: z, Hashes: []string{"zh:" + sum}}
	}
	index, err := json.Marshal(map[string]any{"versions": map[string]any{r.version: map[string]any{}}})
	if err != nil {
		return nil, err
	}
	version, err := json.Marshal(map[string]any{"archives": archives})
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dir, file := path.Split(req.URL.Path)
		if parts := strings.Split(strings.Trim(dir, "/"), "/"); len(parts) != 3 || parts[1] != "iotdalabs" || parts[2] != "iotda" {
			http.NotFound(w, req)
			return
		}
		switch {
		case file == "index.json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(index)
		case file == r.version+".json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(version)
		case strings.HasPrefix(file, prefix) && strings.HasSuffix(file, ".zip") && r.sums[file] != "":
			http.ServeFile(w, req, filepath.Join(r.dir, file))
		default:
			http.NotFound(w, req)
		}
	}), nil
}

// serveMirror serves the release's mirror (see mirrorHandler) over HTTPS on 127.0.0.1 with a
// certificate of its own, written to caFile for the CLI to trust (SSL_CERT_FILE). It prints one line,
// "mirror=https://127.0.0.1:{port}/", once it listens, and serves until SIGINT or SIGTERM.
func serveMirror(r *release, caFile string, wrongZH bool, out io.Writer) error {
	h, err := r.mirrorHandler(wrongZH)
	if err != nil {
		return err
	}
	cert, err := selfSignedCert(caFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(out, "mirror=https://%s/\n", ln.Addr())
	if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// selfSignedCert makes a certificate for 127.0.0.1 that is its own CA, and writes it to caFile.
func selfSignedCert(caFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "release-check mirror"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
