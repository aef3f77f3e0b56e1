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
	"sync"
	"time"
)

// Lifetimes of the generated certificates. The mock may run for months as a shared test
// platform, so its CA lasts ten years (clients trust it once, from Server.CACertPEM or
// /_mock/ca.pem) and its server certificate a year, renewed from the same CA a month before
// it ends without a restart; clients keep trusting the CA. Both are backdated a day, so that
// a client or device whose clock is hours behind still accepts them.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 365 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
	backdate       = 24 * time.Hour
)

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
	// Now is the clock the generated certificates are issued and renewed by. Default
	// time.Now: the real clock, not the mock's Options.Now, since clients check
	// certificates against their own.
	Now func() time.Time
}

// TLS is the mock's TLS material: one certificate for HTTPS and MQTTS.
type TLS struct {
	HTTP  *tls.Config // nil: plain HTTP
	MQTT  *tls.Config // nil: no MQTTS listener
	CAPEM string      // the generated CA, when the mock made the certificate
}

// NewTLS builds the TLS configurations o asks for: o.Config when set, otherwise a server
// certificate from a freshly generated CA, renewed as it nears its end (see serverValidity).
// The HTTPS side speaks HTTP/1.1 only, because connection faults need to hijack the
// connection; the MQTTS side offers no ALPN protocol, as device SDKs ask for none.
func NewTLS(o TLSOptions) (TLS, error) {
	var st TLS
	if !o.HTTPS && o.Config == nil && !o.MQTTS {
		return st, nil
	}
	base := o.Config
	if base == nil {
		is, err := newIssuer(o.Hosts, o.Now)
		if err != nil {
			return st, fmt.Errorf("mockserver: generate TLS certificate: %w", err)
		}
		base = &tls.Config{GetCertificate: is.certificate, MinVersion: tls.VersionTLS12}
		st.CAPEM = is.caPEM
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

// issuer is the generated CA, and the server certificate it issued last: an ECDSA P-256 CA
// and server certificates valid for 127.0.0.1, ::1, localhost and hosts (IP addresses or
// DNS names).
type issuer struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	caPEM string
	hosts []string
	now   func() time.Time

	mu     sync.Mutex
	server *tls.Certificate // with Leaf set
}

func newIssuer(hosts []string, now func() time.Time) (*issuer, error) {
	if now == nil {
		now = time.Now
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	t := now()
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "iotda-mock CA", Organization: []string{"iotda-mock"}},
		NotBefore:             t.Add(-backdate),
		NotAfter:              t.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	is := &issuer{ca: ca, caKey: caKey, hosts: hosts, now: now,
		caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))}
	if is.server, err = is.issue(t); err != nil {
		return nil, err
	}
	return is, nil
}

// certificate is the tls.Config's GetCertificate: the current server certificate, renewed
// first when it ends within renewBefore (and the CA outlives it). A renewal that fails keeps
// the current certificate.
func (is *issuer) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	now := is.now()
	if end := is.server.Leaf.NotAfter; now.Add(renewBefore).After(end) && end.Before(is.ca.NotAfter) {
		if renewed, err := is.issue(now); err == nil {
			is.server = renewed
		}
	}
	return is.server, nil
}

// issue makes a server certificate valid from a day before now for serverValidity (never
// beyond the CA).
func (is *issuer) issue(now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(serverValidity)
	if notAfter.After(is.ca.NotAfter) {
		notAfter = is.ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: "localhost", Organization: []string{"iotda-mock"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range is.hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.ca, &key.PublicKey, is.caKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// randomSerial returns a random 128-bit certificate serial number.
func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7f // keep it positive
	return new(big.Int).SetBytes(b)
}
