package iotda_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// These tests use t.Setenv, so they cannot run in parallel. The endpoint host is a name under
// .invalid (RFC 6761), which never resolves: a command can only reach the mock through the proxy.
// (Go never proxies loopback hosts, so the mock's own 127.0.0.1 address would not do.)

const (
	proxyTestHost   = "iotda.proxy-test.invalid"
	proxyTestToken  = "tok"
	proxyTestDevice = "d1"
)

// forwardProxy is a minimal HTTP forward proxy that sends every request to the mock's real
// address and records the host each request asked for.
type forwardProxy struct {
	URL   string
	mu    sync.Mutex
	hosts []string
}

func newForwardProxy(t *testing.T, target string) *forwardProxy {
	t.Helper()
	targetURL, err := url.Parse(target)
	if err != nil {
		t.Fatalf("mock URL %q: %v", target, err)
	}
	// A transport of its own without a proxy, so forwarding never loops back through the environment.
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(targetURL) },
		Transport: tr,
	}
	p := &forwardProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !r.URL.IsAbs() {
			http.Error(w, "a forward proxy expects absolute-form requests", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.hosts = append(p.hosts, r.URL.Host)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// seen returns the hosts the proxy was asked for so far.
func (p *forwardProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.hosts)
}

// proxyFixture is a mock platform with one echo device, a forward proxy to it and the
// unresolvable endpoint that names the mock's port.
type proxyFixture struct {
	mock     *mockserver.Server
	proxy    *forwardProxy
	endpoint string
	hostPort string
}

func newProxyFixture(t *testing.T) *proxyFixture {
	t.Helper()
	s := mockserver.NewForTest(t, mockserver.Options{AuthToken: proxyTestToken, Devices: []mockserver.Device{{
		ID: proxyTestDevice, Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho},
	}}})
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatalf("mock URL %q: %v", s.URL(), err)
	}
	hostPort := net.JoinHostPort(proxyTestHost, u.Port())
	return &proxyFixture{mock: s, proxy: newForwardProxy(t, s.URL()), endpoint: "http://" + hostPort,
		hostPort: hostPort}
}

// setProxyEnv sets the proxy variables the client reads, clearing the lower-case spellings and the
// CGI marker (which disables HTTP_PROXY) so the outer environment cannot interfere.
func setProxyEnv(t *testing.T, httpProxy, noProxy string) {
	t.Helper()
	for k, v := range map[string]string{
		"HTTP_PROXY": httpProxy, "http_proxy": "", "HTTPS_PROXY": "", "https_proxy": "",
		"NO_PROXY": noProxy, "no_proxy": "", "REQUEST_METHOD": "",
	} {
		t.Setenv(k, v)
	}
}

// client builds a client for the fixture's endpoint from the environment as it is now.
func (f *proxyFixture) client(t *testing.T) *iotda.Client {
	t.Helper()
	c, err := iotda.NewClient(iotda.Config{Endpoint: f.endpoint, Region: f.mock.Region(),
		ProjectID: f.mock.ProjectID(), AuthToken: proxyTestToken, MaxRetries: 0})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// send runs one echo command with a bound, so a misbehaving resolver fails the test instead of hanging it.
func send(t *testing.T, c *iotda.Client) (*iotda.CommandResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	return c.CreateCommand(ctx, echoCommand(proxyTestDevice))
}

// assertThroughProxy checks a successful echo that the proxy forwarded (wantSeen requests so far).
func (f *proxyFixture) assertThroughProxy(t *testing.T, c *iotda.Client, wantSeen int) {
	t.Helper()
	cmd := echoCommand(proxyTestDevice)
	res, err := send(t, c)
	if err != nil {
		t.Fatalf("CreateCommand through the proxy: %v", err)
	}
	if got := echoParas(t, res.Response); string(got) != string(cmd.Paras) {
		t.Fatalf("echoed paras %s, want %s", got, cmd.Paras)
	}
	want := slices.Repeat([]string{f.hostPort}, wantSeen)
	if got := f.proxy.seen(); !slices.Equal(got, want) {
		t.Fatalf("proxy saw requests for %q, want %q", got, want)
	}
	if got := len(f.mock.Deliveries(proxyTestDevice)); got != wantSeen {
		t.Fatalf("mock journaled %d deliveries, want %d", got, wantSeen)
	}
}

// assertNotSent checks that c failed before reaching anything: no proxy request, no delivery.
func (f *proxyFixture) assertNotSent(t *testing.T, c *iotda.Client, wantSeen int) {
	t.Helper()
	res, err := send(t, c)
	var notSent *iotda.NotSentError
	if !errors.As(err, &notSent) {
		t.Fatalf("CreateCommand = %+v, %v; want a NotSentError", res, err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Fatalf("error %v; want a DNS failure for %s", err, proxyTestHost)
	}
	if got := len(f.proxy.seen()); got != wantSeen {
		t.Fatalf("proxy saw %d requests, want %d", got, wantSeen)
	}
	if got := len(f.mock.Deliveries(proxyTestDevice)); got != wantSeen {
		t.Fatalf("mock journaled %d deliveries, want %d", got, wantSeen)
	}
}

func TestProxy_HTTPProxyFromEnvironment(t *testing.T) {
	f := newProxyFixture(t)
	setProxyEnv(t, f.proxy.URL, "")
	f.assertThroughProxy(t, f.client(t), 1)
}

func TestProxy_NoProxyBypassesProxy(t *testing.T) {
	f := newProxyFixture(t)
	setProxyEnv(t, f.proxy.URL, proxyTestHost)
	f.assertNotSent(t, f.client(t), 0)
}

func TestProxy_EnvironmentReadWhenClientIsBuilt(t *testing.T) {
	f := newProxyFixture(t)
	setProxyEnv(t, f.proxy.URL, "")
	a := f.client(t)
	setProxyEnv(t, "", "")
	b := f.client(t)
	// A keeps the proxy it was built with although the environment no longer names one.
	f.assertThroughProxy(t, a, 1)
	// B was built without a proxy, so it resolves the unresolvable name itself and fails.
	f.assertNotSent(t, b, 1)
}
