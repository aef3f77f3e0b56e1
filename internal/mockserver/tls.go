package mockserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// certValidity is how long the generated certificates are valid. They are made afresh at
// every start, so a day is plenty; the hour of backdating absorbs clock differences.
const certValidity = 24 * time.Hour

// serverTLS is the mock's TLS material: one certificate for HTTPS and MQTTS.
type serverTLS struct {
	http  *tls.Config // nil: plain HTTP
	mqtt  *tls.Config // nil: no MQTTS listener
	caPEM string      // the generated CA, when the mock made the certificate
}

// newServerTLS builds the TLS configurations Options ask for: Options.TLSConfig when set,
// otherwise a server certificate from a freshly generated CA. The HTTPS side speaks HTTP/1.1
// only, because connection faults need to hijack the connection; the MQTTS side offers no
// ALPN protocol, as device SDKs ask for none.
func newServerTLS(opts *Options) (serverTLS, error) {
	var st serverTLS
	if !opts.TLS && opts.TLSConfig == nil && opts.MQTTTLSAddr == "" {
		return st, nil
	}
	base := opts.TLSConfig
	if base == nil {
		cert, caPEM, err := generateCertificates(opts.TLSHosts, time.Now())
		if err != nil {
			return st, fmt.Errorf("mockserver: generate TLS certificate: %w", err)
		}
		base = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		st.caPEM = caPEM
	}
	if opts.TLS || opts.TLSConfig != nil {
		st.http = base.Clone()
		st.http.NextProtos = []string{"http/1.1"}
	}
	if opts.MQTTTLSAddr != "" {
		st.mqtt = base.Clone()
		st.mqtt.NextProtos = nil
	}
	return st, nil
}

// generateCertificates makes an ECDSA P-256 CA and a server certificate it signs, valid for
// 127.0.0.1, ::1, localhost and hosts (IP addresses or DNS names). The clock is the real
// one, not Options.Now: clients check certificates against their own clock.
func generateCertificates(hosts []string, now time.Time) (tls.Certificate, string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "iotda-mock CA", Organization: []string{"iotda-mock"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, "", err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"iotda-mock"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, "", err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return cert, string(caPEM), nil
}

// randomSerial returns a random 128-bit certificate serial number.
func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f // keep it positive
	return new(big.Int).SetBytes(b)
}

// CACertPEM is the PEM of the CA that signed the mock's HTTPS and MQTTS certificate, for
// clients to trust. It is empty without Options.TLS and Options.MQTTTLSAddr, or when
// Options.TLSConfig supplies the certificate.
func (s *Server) CACertPEM() string { return s.tls.caPEM }
