package iotda

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	testToken   = "tok-SECRET-7f3a9c"
	testAK      = "HPUATESTAK"
	testSK      = "sk-SECRET-91bd2e"
	testSecTok  = "sectok-SECRET-55aa"
	testProject = "proj-1"
	testRegion  = "cn-north-4"
)

// captured is what a test server saw of the last request.
type captured struct {
	method, escapedPath string
	header              http.Header
	host                string
	body                []byte
	req                 *http.Request
}

// testServer counts hits and records the last request.
type testServer struct {
	*httptest.Server
	hits atomic.Int32
	mu   sync.Mutex
	last captured
}

func newTestServer(t *testing.T, h http.HandlerFunc) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		ts.mu.Lock()
		ts.last = captured{method: r.Method, escapedPath: r.URL.EscapedPath(), header: r.Header.Clone(),
			host: r.Host, body: body, req: r.Clone(r.Context())}
		ts.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) lastRequest() captured {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.last
}

// newTestClient builds a token-authenticated client for endpoint with fast backoff.
func newTestClient(t *testing.T, endpoint string, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoint: endpoint, Region: testRegion, ProjectID: testProject, AuthToken: testToken,
		MaxRetries: 3, UserAgent: "test-agent/1.0"}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	c.backoffBase, c.backoffCap = time.Millisecond, 4*time.Millisecond
	return c
}

// reply writes a JSON answer with a request id.
func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-123")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

var simpleCommand = Command{DeviceID: "dev-1", ServiceID: "Switch", CommandName: "ON_OFF", Paras: []byte(`{"value":"ON"}`)}
