package iotda

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

func TestCreateCommand_ServerErrorsAreNotRetried(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504} {
		ts := newTestServer(t, reply(status, `{"error_code":"X","error_msg":"boom"}`))
		c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 5 })
		if _, err := c.CreateCommand(t.Context(), simpleCommand); !errors.Is(err, ErrServer) {
			t.Fatalf("%d: err = %v", status, err)
		}
		if n := ts.hits.Load(); n != 1 {
			t.Fatalf("%d: server hit %d times, want 1", status, n)
		}
	}
}

func TestCreateCommand_ThrottledThenSuccessHonoursRetryAfter(t *testing.T) {
	var calls atomic.Int32
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			reply(http.StatusTooManyRequests, `{"error_code":"APIGW.0308","error_msg":"slow down"}`)(w, r)
			return
		}
		reply(http.StatusOK, `{"command_id":"c-ok","response":{"result_code":0}}`)(w, r)
	})
	c := newTestClient(t, ts.URL, nil)
	start := time.Now()
	res, err := c.CreateCommand(t.Context(), simpleCommand)
	if err != nil || res.CommandID != "c-ok" {
		t.Fatalf("res %+v, err %v", res, err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("server hit %d times, want 2", n)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("retried after %v, before Retry-After: 1", waited)
	}
}

func TestCreateCommand_IoTDAThrottleCodeRetried(t *testing.T) {
	var calls atomic.Int32
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			reply(http.StatusForbidden, `{"error_code":"IOTDA.021101","error_msg":"Request reached the maximum rate limit."}`)(w, r)
			return
		}
		reply(http.StatusOK, `{"command_id":"c3"}`)(w, r)
	})
	c := newTestClient(t, ts.URL, nil)
	if res, err := c.CreateCommand(t.Context(), simpleCommand); err != nil || res.CommandID != "c3" {
		t.Fatalf("res %+v, err %v", res, err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("hits = %d, want 3", n)
	}
}

func TestCreateCommand_ThrottleRetriesAreBounded(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusTooManyRequests, `{}`))
	c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 2 })
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	if !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v", err)
	}
	if n := ts.hits.Load(); n != 3 {
		t.Fatalf("hits = %d, want 3 (1 + MaxRetries)", n)
	}
}

func TestCreateCommand_RetryAfterBeyondDeadlineStops(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		reply(http.StatusTooManyRequests, `{"error_code":"APIGW.0308"}`)(w, r)
	})
	c := newTestClient(t, ts.URL, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.CreateCommand(ctx, simpleCommand)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != 30*time.Second {
		t.Fatalf("err = %v", err)
	}
	if ts.hits.Load() != 1 || time.Since(start) > 2*time.Second {
		t.Fatalf("hits %d after %v: should stop at once", ts.hits.Load(), time.Since(start))
	}
}

// countingTransport counts dials made through a plain transport.
func countingTransport(dials *atomic.Int32, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Client {
	var d net.Dialer
	if dial == nil {
		dial = d.DialContext
	}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, addr)
	}}}
}

func TestCreateCommand_ConnectionRefusedRetriedThenNotSent(t *testing.T) {
	addr := testutil.ClosedAddr(t)
	var dials atomic.Int32
	c := newTestClient(t, "http://"+addr, func(c *Config) {
		c.MaxRetries = 2
		c.HTTPClient = countingTransport(&dials, nil)
	})
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	var ns *NotSentError
	if !errors.As(err, &ns) || ns.Attempts != 3 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %v (%+v)", err, ns)
	}
	if n := dials.Load(); n != 3 {
		t.Fatalf("dials = %d, want 3", n)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "3 attempts") || strings.Contains(err.Error(), testToken) {
		t.Fatalf("message %q", err)
	}
}

func TestCreateCommand_DNSFailureRetried(t *testing.T) {
	var dials atomic.Int32
	c := newTestClient(t, "https://iotda.cn-north-4.myhuaweicloud.com", func(c *Config) {
		c.MaxRetries = 1
		c.HTTPClient = countingTransport(&dials, func(context.Context, string, string) (net.Conn, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "iotda", IsNotFound: true}}
		})
	})
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	var ns *NotSentError
	var dnsErr *net.DNSError
	if !errors.As(err, &ns) || ns.Attempts != 2 || !errors.As(err, &dnsErr) || dials.Load() != 2 {
		t.Fatalf("err = %v, dials = %d", err, dials.Load())
	}
}

func TestCreateCommand_ConnectionClosedAfterBodyIsOutcomeUnknown(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("no hijacker")
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			_ = conn.Close()
		}
	})
	c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 3 })
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	var unknown *DeliveryUnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %v", err)
	}
	if n := ts.hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want exactly 1", n)
	}
	if got := string(ts.lastRequest().body); !strings.Contains(got, `"paras"`) {
		t.Fatalf("server did not read the body: %q", got)
	}
}

func TestCreateCommand_DeadlineWhileServerSlowIsOutcomeUnknown(t *testing.T) {
	ts := newTestServer(t, func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // Answer only once the client has given up.
	})
	c := newTestClient(t, ts.URL, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.CreateCommand(ctx, simpleCommand)
	var unknown *DeliveryUnknownError
	if !errors.As(err, &unknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if n := ts.hits.Load(); n != 1 {
		t.Fatalf("hits = %d, want 1", n)
	}
}

func TestCreateCommand_CancelledBeforeSendingIsNotSent(t *testing.T) {
	ts := newTestServer(t, reply(200, `{}`))
	c := newTestClient(t, ts.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.CreateCommand(ctx, simpleCommand)
	var ns *NotSentError
	if !errors.As(err, &ns) || ns.Attempts != 1 || !errors.Is(err, context.Canceled) || ts.hits.Load() != 0 {
		t.Fatalf("err = %v, hits = %d", err, ts.hits.Load())
	}
}

func TestCreateCommand_OversizeErrorBody(t *testing.T) {
	ts := newTestServer(t, reply(500, strings.Repeat("x", maxResponseBytes+10)))
	c := newTestClient(t, ts.URL, nil)
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 500 || !strings.Contains(apiErr.ErrorMsg, "exceeds") ||
		len(apiErr.ErrorMsg) > 2*maxMessageRunes {
		t.Fatalf("err = %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 9, 2, 10, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                               0,
		"3":                              3 * time.Second,
		" 0 ":                            0,
		"-5":                             0,
		"soon":                           0,
		"Wed, 02 Sep 2026 10:00:07 GMT":  7 * time.Second,
		"Wed, 02 Sep 2026 09:00:00 GMT":  0,
		"99999999999":                    24 * time.Hour,
		"9223372036854775807":            24 * time.Hour,
		"9223372036854775808":            24 * time.Hour,
		"99999999999999999999999999999":  24 * time.Hour,
		"-99999999999999999999999999999": 0,
		"Fri, 01 Jan 9999 00:00:00 GMT":  24 * time.Hour,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

// A Retry-After too large for int64 ends the retries like any wait beyond maxRetryAfter; it
// was once read as absent and retried at once.
func TestCreateCommand_RetryAfterBeyondInt64IsTooLong(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "99999999999999999999999999999")
		reply(http.StatusTooManyRequests, `{"error_code":"APIGW.0308","error_msg":"slow down"}`)(w, r)
	})
	c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 3 })
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !errors.Is(err, ErrThrottled) || apiErr.RetryAfter <= maxRetryAfter {
		t.Fatalf("err = %v; want the throttling answer with its long Retry-After", err)
	}
	if n := ts.hits.Load(); n != 1 {
		t.Fatalf("server hit %d times, want 1: a wait that long is not made", n)
	}
}

func TestBackoffAndSleep(t *testing.T) {
	c := &Client{backoffBase: 200 * time.Millisecond, backoffCap: 5 * time.Second}
	for attempt, maxWait := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond,
		5: 3200 * time.Millisecond, 6: 5 * time.Second, 40: 5 * time.Second} {
		for range 50 {
			if d := c.backoff(attempt); d < maxWait/2 || d > maxWait {
				t.Fatalf("backoff(%d) = %v outside [%v, %v]", attempt, d, maxWait/2, maxWait)
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if c.sleep(ctx, 2*time.Second) {
		t.Fatal("slept past the deadline")
	}
	done, stop := context.WithCancel(t.Context())
	stop()
	if c.sleep(done, time.Hour) {
		t.Fatal("sleep ignored a cancelled context")
	}
	if !c.sleep(t.Context(), time.Millisecond) {
		t.Fatal("short sleep failed")
	}
}
