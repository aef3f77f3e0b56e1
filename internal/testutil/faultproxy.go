package testutil

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FaultProxy is an HTTP proxy for tests that sits between a client and a server (the IoTDA
// mock) and, per route and per request number, holds a request, fails it after or instead of
// forwarding it, or rewrites the server's answer. The server still sees every forwarded
// request, so its journal tells what really happened while the client saw the fault.
//
// A rule matches requests by method and path; its Nth lists which of the requests it matches
// (1 for the first) it acts on. The first rule that acts on a request wins; the others still
// count it. Requests no rule acts on are forwarded untouched, after the latency (SetLatency).
type FaultProxy struct {
	// URL is the proxy's base URL, to use as the client's endpoint.
	URL string

	latency atomic.Int64 // a time.Duration; see SetLatency

	target *url.URL
	server *httptest.Server
	client *http.Client

	mu    sync.Mutex
	rules []*Rule
	spans []span // when each request came and was answered

	forwarding sync.WaitGroup // forwards still running after their client gave up
	requests   atomic.Int64
	inFlight   atomic.Int64
	maxFlight  atomic.Int64
}

// Rule is one fault. Method ("" for any) and PathContains (a substring of the escaped path;
// "" for any) and Match (nil for any) select requests; Nth (1-based, empty for every one)
// selects among them.
type Rule struct {
	Method       string
	PathContains string
	Match        func(*http.Request) bool
	Nth          []int
	Action       Action

	seen int
}

// Action is what a rule does with a request it acts on. Forwarding happens unless
// Refuse is set; Hold comes first, then the forward, then one of Status, Reset or Rewrite.
type Action struct {
	// Hold delays the request before it is forwarded. The forward happens even when the
	// client has given up meanwhile, as a request held in transit reaches the server late.
	Hold time.Duration
	// Release, when set, holds the request (after Hold) until it is closed: a request held
	// in transit for as long as the test wants, however busy the machine. Close it before
	// the test ends; the proxy waits for every held request when it stops.
	Release <-chan struct{}
	// Refuse answers Status (and Body) without forwarding.
	Refuse bool
	// Status, when set, replaces the server's answer by Status with Body (ContentType
	// defaults to text/html, as a gateway's error page).
	Status      int
	Body        string
	ContentType string
	// Reset forwards, then drops the connection without an answer (a TCP reset).
	Reset bool
	// Rewrite forwards, then changes the server's answer: it gets the status and body and
	// returns the ones to send.
	Rewrite func(status int, body []byte) (int, []byte)
}

// NewFaultProxy starts a proxy to target (a base URL such as the mock's) on 127.0.0.1:0 and
// stops it when the test ends, after every held request has been forwarded.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("fault proxy: target %q: %v", target, err)
	}
	p := &FaultProxy{target: u, client: &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
		// The proxy passes redirects on as they are.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.server.URL
	t.Cleanup(func() {
		p.forwarding.Wait()
		p.server.Close()
		p.client.CloseIdleConnections()
	})
	return p
}

// Add adds rules; they apply from the next request on.
func (p *FaultProxy) Add(rules ...*Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, rules...)
}

// Clear removes every rule.
func (p *FaultProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// SetLatency adds d to every request before it is forwarded, as a network far away would: a
// simulated transit time, not a wait for readiness.
func (p *FaultProxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Requests is how many requests the proxy has received.
func (p *FaultProxy) Requests() int64 { return p.requests.Load() }

// MaxInFlight is the largest number of requests the proxy has held or forwarded at once.
func (p *FaultProxy) MaxInFlight() int64 { return p.maxFlight.Load() }

// span is one request's time at the proxy.
type span struct{ start, end time.Time }

// SequentialRequests is the longest chain of requests in which each one came after the
// previous one was answered: how many round trips a client made one after the other, the
// number a network's latency multiplies.
func (p *FaultProxy) SequentialRequests() int {
	p.mu.Lock()
	spans := slices.Clone(p.spans)
	p.mu.Unlock()
	slices.SortFunc(spans, func(a, b span) int { return a.start.Compare(b.start) })
	// depth[i] is the longest chain ending with request i; requests are taken by start, and
	// the ended ones are kept sorted by end with the best depth up to each.
	type ended struct {
		end  time.Time
		best int
	}
	var done []ended
	longest := 0
	for _, sp := range spans {
		// The best chain among the requests answered before this one came.
		i, _ := slices.BinarySearchFunc(done, sp.start, func(e ended, t time.Time) int {
			if e.end.After(t) {
				return 1
			}
			return -1
		})
		depth := 1
		if i > 0 {
			depth = done[i-1].best + 1
		}
		longest = max(longest, depth)
		j, _ := slices.BinarySearchFunc(done, sp.end, func(e ended, t time.Time) int { return e.end.Compare(t) })
		done = slices.Insert(done, j, ended{end: sp.end, best: depth})
		// Keep best non-decreasing along end times.
		for k := j; k < len(done); k++ {
			if k > 0 && done[k].best < done[k-1].best {
				done[k].best = done[k-1].best
			}
		}
	}
	return longest
}

// ResetCounts forgets the requests counted so far.
func (p *FaultProxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spans = nil
	p.requests.Store(0)
	p.maxFlight.Store(0)
}

// action picks the action for r: the first rule that acts on it.
func (p *FaultProxy) action(r *http.Request) (Action, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var picked *Action
	for _, rule := range p.rules {
		if !rule.matches(r) {
			continue
		}
		rule.seen++
		if picked == nil && rule.acts(rule.seen) {
			picked = &rule.Action
		}
	}
	if picked == nil {
		return Action{}, false
	}
	return *picked, true
}

func (rule *Rule) matches(r *http.Request) bool {
	return (rule.Method == "" || rule.Method == r.Method) &&
		(rule.PathContains == "" || strings.Contains(r.URL.EscapedPath(), rule.PathContains)) &&
		(rule.Match == nil || rule.Match(r))
}

func (rule *Rule) acts(n int) bool {
	if len(rule.Nth) == 0 {
		return true
	}
	for _, k := range rule.Nth {
		if k == n {
			return true
		}
	}
	return false
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		p.mu.Lock()
		p.spans = append(p.spans, span{start, time.Now()})
		p.mu.Unlock()
	}()
	p.requests.Add(1)
	n := p.inFlight.Add(1)
	defer p.inFlight.Add(-1)
	for {
		m := p.maxFlight.Load()
		if n <= m || p.maxFlight.CompareAndSwap(m, n) {
			break
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // The client went away while sending.
	}
	act, _ := p.action(r)
	if act.Refuse {
		p.answer(w, act)
		return
	}
	// The forward runs on its own, so that a held request still reaches the server after
	// the client has given up; the handler waits for it unless the client has gone.
	type result struct {
		status int
		header http.Header
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	p.forwarding.Add(1)
	go func() {
		defer p.forwarding.Done()
		if hold := time.Duration(p.latency.Load()) + act.Hold; hold > 0 {
			time.Sleep(hold) // A simulated time in transit.
		}
		if act.Release != nil {
			<-act.Release
		}
		status, header, respBody, err := p.forward(r, body)
		done <- result{status, header, respBody, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-r.Context().Done():
		return
	}
	switch {
	case res.err != nil:
		http.Error(w, "fault proxy: "+res.err.Error(), http.StatusBadGateway)
	case act.Reset:
		reset(w)
	case act.Status != 0:
		p.answer(w, act)
	default:
		status, out := res.status, res.body
		if act.Rewrite != nil {
			status, out = act.Rewrite(status, out)
		}
		for k, vs := range res.header {
			if k == "Content-Length" {
				continue
			}
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}
}

// forward sends the request on to the target with a context of its own.
func (p *FaultProxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	u := *p.target
	u.Path = strings.TrimSuffix(p.target.Path, "/") + r.URL.Path
	u.RawPath = ""
	if r.URL.RawPath != "" {
		u.RawPath = strings.TrimSuffix(p.target.EscapedPath(), "/") + r.URL.RawPath
	}
	u.RawQuery = r.URL.RawQuery
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	out.Header = r.Header.Clone()
	resp, err := p.client.Do(out)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	respBody, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, respBody, err
}

func (p *FaultProxy) answer(w http.ResponseWriter, act Action) {
	ct := act.ContentType
	if ct == "" {
		ct = "text/html"
	}
	w.Header().Set("Content-Type", ct)
	status := act.Status
	if status == 0 {
		status = http.StatusBadGateway
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, act.Body)
}

// reset drops the client's connection with a TCP reset, without an answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fault proxy: the connection cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = conn.Close()
}

// GatewayPage is an HTML error page such as a load balancer answers with.
func GatewayPage(status int) string {
	return "<html><head><title>" + http.StatusText(status) + "</title></head><body><center><h1>" +
		http.StatusText(status) + "</h1></center><hr><center>nginx</center></body></html>"
}
