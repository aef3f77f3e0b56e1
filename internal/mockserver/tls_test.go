package mockserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

// tlsClient trusts only caPEM.
func tlsClient(t *testing.T, caPEM string) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("CACertPEM is not a PEM certificate: %q", caPEM)
	}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true, // the mock must still answer over HTTP/1.1
	}}
}

func TestTLS_ServesWithGeneratedCA(t *testing.T) {
	s := NewForTest(t, Options{
		TLS:      true,
		TLSHosts: []string{"abc.st1.iotda-app.cn-north-4.myhuaweicloud.com", "10.1.2.3"},
		Devices:  []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}},
	})
	if !strings.HasPrefix(s.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL = %q, want https://127.0.0.1:port", s.URL())
	}
	client := tlsClient(t, s.CACertPEM())
	resp, body := do(t, client, newCommandRequest(t, commandURL(s, "echo"), `{"paras":{"v":1}}`))
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.Proto != "HTTP/1.1" {
		t.Fatalf("answer %d %s over %s (TLS %v)", resp.StatusCode, body, resp.Proto, resp.TLS != nil)
	}
	leaf := resp.TLS.PeerCertificates[0]
	for _, name := range []string{"localhost", "abc.st1.iotda-app.cn-north-4.myhuaweicloud.com"} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("certificate not valid for %s: %v", name, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3"} {
		if !slices.ContainsFunc(leaf.IPAddresses, func(a net.IP) bool { return a.Equal(net.ParseIP(ip)) }) {
			t.Errorf("certificate lacks IP %s: %v", ip, leaf.IPAddresses)
		}
	}

	// A client that does not trust the CA fails the handshake.
	plain := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := plain.Do(newCommandRequest(t, commandURL(s, "echo"), `{"paras":{}}`))
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) {
		t.Errorf("untrusted client error = %v, want x509.UnknownAuthorityError", err)
	}
}

// TestTLS_EveryInterface: a mock listening on every interface names its API and broker by
// an address clients can use, not 0.0.0.0 or [::], and its certificate covers that name and
// the machine's addresses, so that a client trusting the CA reaches it by the URL it prints.
func TestTLS_EveryInterface(t *testing.T) {
	s := NewForTest(t, Options{TLS: true, HTTPAddr: "0.0.0.0:0", MQTTTLSAddr: "[::]:0", AuthToken: testToken,
		AdminToken: "adm"})
	for _, addr := range []string{strings.TrimPrefix(s.URL(), "https://"), s.MQTTTLSAddr()} {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || host == "" || ip != nil && ip.IsUnspecified() {
			t.Fatalf("listening on every interface, the mock names %q", addr)
		}
	}
	client := tlsClient(t, s.CACertPEM())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, client, req)
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Fatalf("GET %s/healthz: %d %s", s.URL(), resp.StatusCode, body)
	}
	leaf := resp.TLS.PeerCertificates[0]
	for _, h := range append(httpapi.ListenHosts("0.0.0.0:0"), "localhost", "127.0.0.1") {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("the certificate does not cover %s: %v", h, err)
		}
	}
}

func TestTLS_ConnectionFaultsWork(t *testing.T) {
	s := NewForTest(t, Options{TLS: true, Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	client := tlsClient(t, s.CACertPEM())
	s.InjectFault(Fault{ResetAfterDelivery: true})
	resp, err := client.Do(newCommandRequest(t, commandURL(s, "echo"), `{"paras":{}}`))
	if err == nil {
		_ = resp.Body.Close()
		t.Fatalf("got %d, want a connection error", resp.StatusCode)
	}
	if n := len(s.Deliveries("echo")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestTLS_GivenConfig(t *testing.T) {
	generated, err := httpapi.NewTLS(httpapi.TLSOptions{HTTPS: true})
	if err != nil {
		t.Fatal(err)
	}
	caPEM := generated.CAPEM
	s := NewForTest(t, Options{TLSConfig: &tls.Config{GetCertificate: generated.HTTP.GetCertificate, MinVersion: tls.VersionTLS12}})
	if s.CACertPEM() != "" {
		t.Error("CACertPEM is set although the certificate was given")
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := do(t, tlsClient(t, caPEM), req); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz = %d %s", resp.StatusCode, body)
	}
}
