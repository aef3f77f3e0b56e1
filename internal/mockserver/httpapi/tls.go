package httpapi

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

// TLSOptions say which listeners speak TLS and with which certificate.
type TLSOptions struct {
	// HTTPS serves the HTTP API over TLS.
	HTTPS bool
	// MQTTS opens the broker's MQTT-over-TLS listener.
	MQTTS bool
	// Hosts are extra DNS names (or IP addresses) for a generated server certificate.
	Hosts []string
	// Config, when set, supplies the certificate instead of a generated one (HTTPS then
	// follows it even without HTTPS set).
	Config *tls.Config
}

// TLS is the mock's TLS material: one certificate for HTTPS and MQTTS.
type TLS struct {
	HTTP  *tls.Config // nil: plain HTTP
	MQTT  *tls.Config // nil: no MQTTS listener
	CAPEM string      // the generated CA, when the mock made the certificate
}

// NewTLS builds the TLS configurations o asks for: o.Config when set,
// otherwise a server certificate from a freshly generated CA. The HTTPS side speaks HTTP/1.1
// only, because connection faults need to hijack the connection; the MQTTS side offers no
// ALPN protocol, as device SDKs ask for none.
func NewTLS(o TLSOptions) (TLS, error) {
	var st TLS
	if !o.HTTPS && o.Config == nil && !o.MQTTS {
		return st, nil
	}
	base := o.Config
	if base == nil {
		cert, caPEM, err := generateCertificates(o.Hosts, time.Now())
		if err != nil {
			return st, fmt.Errorf("mockserver: generate TLS certificate: %w", err)
		}
		base = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		st.CAPEM = caPEM
	}
	if o.HTTPS || o.Config != nil {
		st.HTTP = base.Clone()
		st.HTTP.NextProtos = []string{"http/1.1"}
	}
	if o.MQTTS {
		st.MQTT = base.Clone()
		st.MQTT.NextProtos = nil
	}
	return st, nil
}

// generateCertificates makes an ECDSA P-256 CA and a server certificate it signs, valid for
// 127.0.0.1, ::1, localhost and hosts (IP addresses or DNS names). The clock is the real
// one, not the mock's Now: clients check certificates against their own clock.
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
