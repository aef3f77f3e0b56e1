package httpapi

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
)

// latencyHook replaces the latency's timer: each wait reports its duration on waiting and
// blocks until release is closed (or its context ends).
type latencyHook struct {
	waiting chan time.Duration
	release chan struct{}
}

func newLatencyHook() *latencyHook {
	return &latencyHook{waiting: make(chan time.Duration, 100), release: make(chan struct{})}
}

func (h *latencyHook) sleep(ctx context.Context, d time.Duration) {
	h.waiting <- d
	select {
	case <-h.release:
	case <-ctx.Done():
	}
}

// next returns the duration of the next wait to begin, failing the test if none begins.
func (h *latencyHook) next(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-h.waiting:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no answer waited for the latency")
		return 0
	}
}

// TestLatency_EachRequestWaitsOnItsOwn: N requests in flight all wait for the latency at
// the same time (none holds up another: all N are blocked in the hook at once), each for at
// most the latency (counted from its arrival), and each answers once released; the admin
// API and /healthz do not wait.
func TestLatency_EachRequestWaitsOnItsOwn(t *testing.T) {
	const latency = 500 * time.Millisecond
	hook := newLatencyHook()
	s, _, _ := startServer(t, Config{ProjectID: "p1", Latency: latency, Sleep: hook.sleep})
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v5/iot/p1/echo", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	for i := range n {
		if d := hook.next(t); d <= 0 || d > latency {
			t.Errorf("request %d waits %v, want (0, %v]", i, d, latency)
		}
	}
	// All n wait at once; the admin API and /healthz answer meanwhile without waiting.
	for _, path := range []string{AdminPrefix + "journal", "/healthz"} {
		if resp, _ := call(t, http.MethodGet, s.URL()+path, "", ""); resp.StatusCode >= 500 {
			t.Errorf("GET %s = %d", path, resp.StatusCode)
		}
	}
	select {
	case d := <-hook.waiting:
		t.Errorf("an admin or health request waited %v", d)
	default:
	}
	close(hook.release)
	wg.Wait()
	close(statuses)
	got := 0
	for st := range statuses {
		got++
		if st != http.StatusOK {
			t.Errorf("a delayed request answered %d", st)
		}
	}
	if got != n {
		t.Errorf("%d of %d requests answered", got, n)
	}
}

// TestLatency_EveryAnswerWaits: error answers (404, 405, 401) and a fault's own answer and
// reset wait too, since they cross the same network.
func TestLatency_EveryAnswerWaits(t *testing.T) {
	hook := newLatencyHook()
	close(hook.release)
	s, _, f := startServer(t, Config{ProjectID: "p1", AuthToken: "tok", Latency: time.Second, Sleep: hook.sleep})
	f.Add(faults.Fault{Status: 503})
	f.Add(faults.Fault{ResetBeforeBody: true})
	for _, tt := range []struct{ method, path, token string }{
		{http.MethodPost, "/v5/iot/p1/echo", "tok"},   // the fault's 503
		{http.MethodPost, "/v5/iot/p1/echo", "tok"},   // the fault's reset
		{http.MethodGet, "/v3/auth/tokens", ""},       // 404
		{http.MethodGet, "/v5/iot/p1/echo", ""},       // 405
		{http.MethodPost, "/v5/iot/p1/echo", "wrong"}, // 401
		{http.MethodPost, "/v5/iot/p1/echo", "tok"},   // 200
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tt.method, s.URL()+tt.path, nil)
		req.Header.Set("X-Auth-Token", tt.token)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
		}
		select {
		case <-hook.waiting:
		default:
			t.Errorf("%s %s answered without waiting for the latency", tt.method, tt.path)
		}
	}
}

// TestLatency_CountsFromArrival: time the platform spends on a request (here a fault's
// hold) counts toward the latency, so the answer waits only for the rest.
func TestLatency_CountsFromArrival(t *testing.T) {
	const latency, hold = 10 * time.Second, 300 * time.Millisecond
	hook := newLatencyHook()
	close(hook.release)
	s, _, f := startServer(t, Config{ProjectID: "p1", MaxBodyBytes: 1 << 10, Latency: latency, Sleep: hook.sleep})
	f.Add(faults.Fault{Hold: hold})
	if resp, body := call(t, http.MethodPost, s.URL()+"/v5/iot/p1/echo", "", `{"a":1}`); resp.StatusCode != 200 {
		t.Fatalf("held request = %d %s", resp.StatusCode, body)
	}
	if d := hook.next(t); d > latency-hold {
		t.Errorf("after a %v hold the answer waits %v, want at most %v", hold, d, latency-hold)
	}
}

// TestLatency_RealTimer: with the real timer, every request takes at least the latency, and
// requests in parallel take about one latency together, not one each.
func TestLatency_RealTimer(t *testing.T) {
	const latency, n = 200 * time.Millisecond, 10
	s, _, _ := startServer(t, Config{ProjectID: "p1", Latency: latency})
	start := time.Now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			begin := time.Now()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/v5/iot/p1/echo", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
			if took := time.Since(begin); took < latency {
				t.Errorf("a request answered in %v, under the latency %v", took, latency)
			}
		})
	}
	wg.Wait()
	// Serialised, they would take n × latency (2 s); in parallel about one latency. Half of
	// the serial time leaves a loaded machine room.
	if took := time.Since(start); took >= n*latency/2 {
		t.Errorf("%d requests in parallel took %v, want well under %v: the latency is serialised", n, took, n*latency)
	}
}
