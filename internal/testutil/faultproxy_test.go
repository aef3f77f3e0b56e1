package testutil

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFaultProxy(t *testing.T) {
	var hits sync.Map
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := hits.LoadOrStore(r.URL.Path, new(int))
		*n.(*int)++ //nolint:forcetypeassert // only *int is stored
		_, _ = io.WriteString(w, `{"path":"`+r.URL.Path+`"}`)
	}))
	t.Cleanup(backend.Close)
	p := NewFaultProxy(t, backend.URL)
	p.Add(
		&Rule{PathContains: "/fail", Nth: []int{2}, Action: Action{Status: 502, Body: GatewayPage(502)}},
		&Rule{PathContains: "/reset", Action: Action{Reset: true}},
		&Rule{PathContains: "/refuse", Action: Action{Refuse: true, Status: 503}},
		&Rule{PathContains: "/rewrite", Action: Action{Rewrite: func(s int, b []byte) (int, []byte) {
			return 201, []byte(strings.ToUpper(string(b)))
		}}},
	)
	// Without keep-alives, so that Go's transport does not send a GET again on a new
	// connection after a reset of a reused one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(path string) (int, string, error) {
		resp, err := client.Get(p.URL + path) //nolint:noctx // a test's plain GET
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if s, b, err := get("/fail"); err != nil || s != 200 || b != `{"path":"/fail"}` {
		t.Fatalf("first /fail: %d %s %v", s, b, err)
	}
	if s, b, err := get("/fail"); err != nil || s != 502 || !strings.Contains(b, "Bad Gateway") {
		t.Fatalf("second /fail: %d %s %v", s, b, err)
	}
	if _, _, err := get("/reset"); err == nil {
		t.Fatal("a reset answered")
	}
	if s, _, err := get("/refuse"); err != nil || s != 503 {
		t.Fatalf("refuse: %d %v", s, err)
	}
	if s, b, err := get("/rewrite"); err != nil || s != 201 || b != `{"PATH":"/REWRITE"}` {
		t.Fatalf("rewrite: %d %s %v", s, b, err)
	}
	count := func(path string) int {
		n, ok := hits.Load(path)
		if !ok {
			return 0
		}
		return *n.(*int) //nolint:forcetypeassert // only *int is stored
	}
	// Failed and reset requests reached the server; the refused one did not.
	if count("/fail") != 2 || count("/reset") != 1 || count("/refuse") != 0 {
		t.Fatalf("server saw /fail %d, /reset %d, /refuse %d", count("/fail"), count("/reset"), count("/refuse"))
	}
}

func TestFaultProxy_SequentialRequests(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(backend.Close)
	p := NewFaultProxy(t, backend.URL)
	p.SetLatency(20 * time.Millisecond)
	get := func() {
		resp, err := http.Get(p.URL) //nolint:noctx // a test's plain GET
		if err != nil {
			t.Error(err)
			return
		}
		_ = resp.Body.Close()
	}
	// Two rounds of five at once, then one more: three round trips one after the other.
	for range 2 {
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(get)
		}
		wg.Wait()
	}
	get()
	if got := p.SequentialRequests(); got != 3 || p.Requests() != 11 || p.MaxInFlight() < 2 {
		t.Fatalf("%d sequential of %d requests (at most %d at once), want 3 of 11", got, p.Requests(), p.MaxInFlight())
	}
}

// A request held until its release reaches the server only then, even once its client has
// given up.
func TestFaultProxy_Release(t *testing.T) {
	reached := make(chan struct{}, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached <- struct{}{} }))
	t.Cleanup(backend.Close)
	p := NewFaultProxy(t, backend.URL)
	release := make(chan struct{})
	p.Add(&Rule{PathContains: "/held", Action: Action{Release: release}})
	client := &http.Client{Timeout: 100 * time.Millisecond}
	if resp, err := client.Get(p.URL + "/held"); err == nil { //nolint:noctx // a test's plain GET
		_ = resp.Body.Close()
		t.Fatal("a held request was answered")
	}
	select {
	case <-reached:
		t.Fatal("the held request reached the server before its release")
	default:
	}
	close(release)
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Fatal("the released request never reached the server")
	}
}
