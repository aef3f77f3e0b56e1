package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"sync"
	"testing"
	"time"
)

// testClock is a clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func parseCA(t *testing.T, caPEM string) (*x509.Certificate, *x509.CertPool) {
	t.Helper()
	block, _ := pem.Decode([]byte(caPEM))
	if block == nil {
		t.Fatal("no PEM block")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return ca, pool
}

func serverCert(t *testing.T, cfg *tls.Config) *x509.Certificate {
	t.Helper()
	c, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

// handshake runs a real TLS handshake, over loopback TCP, against cfg with a client whose
// clock reads at.
func handshake(t *testing.T, cfg *tls.Config, roots *x509.CertPool, at time.Time) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if tc, ok := c.(*tls.Conn); ok {
			_ = tc.Handshake()
		}
		_ = c.Close()
	}()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{RootCAs: roots,
		ServerName: "localhost", MinVersion: tls.VersionTLS12, Time: func() time.Time { return at }}}
	c, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
	if err == nil {
		_ = c.Close()
	}
	<-srvDone
	return err
}

func TestNewTLS_Shapes(t *testing.T) {
	if st, err := NewTLS(TLSOptions{}); err != nil || st.CAPEM != "" || st.HTTP != nil || st.MQTT != nil {
		t.Errorf("plain HTTP and MQTT have TLS material: %+v, %v", st, err)
	}
	st, err := NewTLS(TLSOptions{MQTTS: true})
	if err != nil || st.HTTP != nil || st.MQTT == nil || st.CAPEM == "" || len(st.MQTT.NextProtos) != 0 {
		t.Errorf("MQTTS alone: %+v, %v; want a generated CA for the MQTT listener only", st, err)
	}
	ca, _ := parseCA(t, st.CAPEM)
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA: IsCA %v, key %v", ca.IsCA, ca.PublicKeyAlgorithm)
	}
}

// TestNewTLS_LifetimeSkewAndRenewal, on a clock the test moves: the CA lasts ten years and
// the server certificate a year, both backdated a day, so a client two hours (or 23 hours)
// behind accepts them; near its end the server certificate is renewed from the same CA
// without a restart, for HTTPS and MQTTS alike, and a client that trusted the CA once keeps
// connecting, a year and more later.
func TestNewTLS_LifetimeSkewAndRenewal(t *testing.T) {
	start := time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)
	clock := &testClock{now: start}
	st, err := NewTLS(TLSOptions{HTTPS: true, MQTTS: true, Hosts: []string{"mock.example"}, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ca, roots := parseCA(t, st.CAPEM)
	if !ca.NotBefore.Equal(start.Add(-24*time.Hour)) || ca.NotAfter.Before(start.AddDate(9, 11, 0)) {
		t.Errorf("CA valid %s to %s, want from a day before %s for ten years", ca.NotBefore, ca.NotAfter, start)
	}
	first := serverCert(t, st.HTTP)
	if !first.NotBefore.Equal(start.Add(-24*time.Hour)) || !first.NotAfter.Equal(start.Add(365*24*time.Hour)) {
		t.Errorf("server certificate valid %s to %s, want a day before %s to a year after", first.NotBefore, first.NotAfter, start)
	}
	for _, at := range []time.Time{start.Add(-2 * time.Hour), start.Add(-23 * time.Hour), start, start.Add(300 * 24 * time.Hour)} {
		if err := handshake(t, st.HTTP, roots, at); err != nil {
			t.Errorf("a client whose clock reads %s: %v", at, err)
		}
	}
	if err := handshake(t, st.HTTP, roots, start.Add(-25*time.Hour)); err == nil {
		t.Error("a client more than a day behind accepted the certificate: the skew test proves nothing")
	}

	// Eleven months on: still the first certificate.
	clock.Set(start.Add(330 * 24 * time.Hour))
	if c := serverCert(t, st.HTTP); c.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("renewed %d days before the end, want 30", int(first.NotAfter.Sub(clock.Now()).Hours()/24))
	}
	// Within a month of its end: renewed, once, for both listeners.
	clock.Set(start.Add(340 * 24 * time.Hour))
	second := serverCert(t, st.HTTP)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || !second.NotAfter.Equal(clock.Now().Add(365*24*time.Hour)) {
		t.Fatalf("not renewed 25 days before the end: %s to %s", second.NotBefore, second.NotAfter)
	}
	if c := serverCert(t, st.MQTT); c.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Error("MQTTS serves another certificate than HTTPS after the renewal")
	}
	if c := serverCert(t, st.HTTP); c.SerialNumber.Cmp(second.SerialNumber) != 0 {
		t.Error("renewed again at the next handshake")
	}
	if len(second.DNSNames) != 2 || second.DNSNames[1] != "mock.example" {
		t.Errorf("renewed certificate names %q, want localhost and mock.example", second.DNSNames)
	}
	for _, at := range []time.Time{start.Add(400 * 24 * time.Hour), clock.Now().Add(-2 * time.Hour)} {
		if err := handshake(t, st.MQTT, roots, at); err != nil {
			t.Errorf("after the renewal, a client whose clock reads %s: %v", at, err)
		}
	}

	// Near the CA's end the server certificate ends with it, and is not reissued at every
	// handshake.
	clock.Set(ca.NotAfter.Add(-10 * 24 * time.Hour))
	last := serverCert(t, st.HTTP)
	if !last.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("a certificate issued 10 days before the CA ends lasts until %s, want the CA's %s", last.NotAfter, ca.NotAfter)
	}
	if c := serverCert(t, st.HTTP); c.SerialNumber.Cmp(last.SerialNumber) != 0 {
		t.Error("reissued at every handshake once the CA nears its end")
	}
}
