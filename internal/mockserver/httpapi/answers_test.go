package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// bigService answers GET and POST /v5/iot/{project}/big?size=N with N bytes of JSON, through
// an Exchange; with &reserve=1 it reserves the size before building the answer, as the batch
// task service does.
type bigService struct{ api *API }

func (bigService) Route(escaped string) bool { return strings.HasSuffix(escaped, "/big") }

func (b bigService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := b.api.Begin(w, r)
	defer x.Finish()
	if x.TakeFault("") {
		return
	}
	if _, bad := x.Body(0); bad != nil {
		x.Respond(*bad)
		return
	}
	n, _ := strconv.Atoi(r.URL.Query().Get("size"))
	if r.URL.Query().Get("reserve") != "" && !x.ReserveAnswer(int64(n)) {
		x.Respond(x.Throttled())
		return
	}
	x.Respond(Answer{Status: http.StatusOK, Body: jsonOfSize(n)})
}

// jsonOfSize is a JSON string of n bytes.
func jsonOfSize(n int) []byte {
	return []byte(`"` + strings.Repeat("x", n-2) + `"`)
}

// stuckWriter is a client that reads nothing: its first Write reports on writing, then
// blocks until release is closed.
type stuckWriter struct {
	header  http.Header
	status  int
	writing chan struct{}
	release chan struct{}
	body    bytes.Buffer
}

func newStuckWriter() *stuckWriter {
	return &stuckWriter{header: http.Header{}, writing: make(chan struct{}), release: make(chan struct{})}
}

func (s *stuckWriter) Header() http.Header { return s.header }
func (s *stuckWriter) WriteHeader(status int) {
	if s.status == 0 {
		s.status = status
	}
}

func (s *stuckWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	if s.body.Len() == 0 {
		close(s.writing)
		<-s.release
	}
	return s.body.Write(p)
}

// TestServer_AnswersToReadsWithinMaxAnswerBytes: while a GET's answer is stuck with a client
// that reads nothing, a GET answer that would take the answers being written past
// MaxAnswerBytes is refused with 429 APIGW.0308 and a Retry-After, journaled as such (a
// reserving service does not even build it), whether it comes from a platform service or the
// admin API; answers that fit, answers of up to 4 KiB and answers to a POST (which acted on
// its request) are written; once the stuck answer is done the bytes are free again, and one
// answer alone is written however large. The test waits on signals only.
func TestServer_AnswersToReadsWithinMaxAnswerBytes(t *testing.T) {
	const maxAnswer = 64 << 10
	j, f := journal.New(nil, 0), faults.NewSet()
	api := NewAPI(Config{ProjectID: "p1"}, j, f)
	admin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("size"))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(jsonOfSize(n))
	})
	s := NewServer(api, ServerConfig{MaxAnswerBytes: maxAnswer}, admin, bigService{api})
	serve := func(method, target string) *httptest.ResponseRecorder {
		t.Helper()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, target, nil))
		return rec
	}

	stuck := newStuckWriter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeHTTP(stuck, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/v5/iot/p1/big?size=40000", nil))
	}()
	select {
	case <-stuck.writing:
	case <-time.After(10 * time.Second):
		t.Fatal("the first answer was never written")
	}

	for _, c := range []struct {
		name, method, target string
		status               int
	}{
		{"over the bound", http.MethodGet, "/v5/iot/p1/big?size=40000", http.StatusTooManyRequests},
		{"over the bound, reserved first", http.MethodGet, "/v5/iot/p1/big?size=40000&reserve=1", http.StatusTooManyRequests},
		{"over the bound, admin API", http.MethodGet, AdminPrefix + "x?size=40000", http.StatusTooManyRequests},
		{"over the bound, a fault's own body", http.MethodGet, "/v5/iot/p1/big?size=40000&fault=1", http.StatusTooManyRequests},
		{"small", http.MethodGet, "/v5/iot/p1/big?size=4096", http.StatusOK},
		{"within the bound", http.MethodGet, "/v5/iot/p1/big?size=20000", http.StatusOK},
		{"within the bound, reserved first", http.MethodGet, "/v5/iot/p1/big?size=20000&reserve=1", http.StatusOK},
		{"a POST's answer", http.MethodPost, "/v5/iot/p1/big?size=40000", http.StatusOK},
	} {
		if strings.Contains(c.target, "fault=1") {
			f.Add(faults.Fault{Body: string(jsonOfSize(40000))})
		}
		j.Clear()
		rec := serve(c.method, c.target)
		if rec.Code != c.status {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.status)
			continue
		}
		if c.status == http.StatusOK {
			continue
		}
		var body ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.ErrorCode != CodeThrottled ||
			rec.Header().Get("Retry-After") != "1" || rec.Header().Get(HeaderRequestID) == "" {
			t.Errorf("%s: refused with %s (Retry-After %q, request id %q)", c.name, rec.Body, rec.Header().Get("Retry-After"),
				rec.Header().Get(HeaderRequestID))
		}
		if !strings.HasPrefix(c.target, AdminPrefix) {
			if e := j.Entries(); len(e) != 1 || e[0].Status != http.StatusTooManyRequests || e[0].ErrorCode != CodeThrottled {
				t.Errorf("%s: journaled %+v, want one entry with 429 %s", c.name, e, CodeThrottled)
			}
		}
	}

	close(stuck.release)
	<-done
	if stuck.status != http.StatusOK || stuck.body.Len() != 40000 {
		t.Errorf("the stuck answer ended %d with %d bytes", stuck.status, stuck.body.Len())
	}
	if rec := serve(http.MethodGet, "/v5/iot/p1/big?size=40000"); rec.Code != http.StatusOK {
		t.Errorf("after the stuck answer: %d, want 200", rec.Code)
	}
	if rec := serve(http.MethodGet, "/v5/iot/p1/big?size=200000"); rec.Code != http.StatusOK || rec.Body.Len() != 200000 {
		t.Errorf("an answer alone, larger than the bound: %d with %d bytes", rec.Code, rec.Body.Len())
	}
}

// TestServer_WriteTimeoutEndsASlowReader: an answer that a client does not read is cut off
// WriteTimeout after its first byte and its connection closed, whether the service writes it
// or a fault's truncated answer does on the connection it took over; the server then serves
// others as before.
func TestServer_WriteTimeoutEndsASlowReader(t *testing.T) {
	const size = 16 << 20 // far beyond what the sockets' buffers hold
	for _, truncate := range []bool{false, true} {
		t.Run(fmt.Sprintf("truncate=%v", truncate), func(t *testing.T) {
			j, f := journal.New(nil, 0), faults.NewSet()
			api := NewAPI(Config{ProjectID: "p1"}, j, f)
			s := NewServer(api, ServerConfig{Addr: "127.0.0.1:0", WriteTimeout: 200 * time.Millisecond}, nil, bigService{api})
			if err := s.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			if truncate {
				f.Add(faults.Fault{Truncate: true})
			}
			addr := strings.TrimPrefix(s.URL(), "http://")
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			if _, err := fmt.Fprintf(conn, "GET /v5/iot/p1/big?size=%d HTTP/1.1\r\nHost: %s\r\n\r\n", size, addr); err != nil {
				t.Fatal(err)
			}
			// The exchange is journaled once its answer has given up: the client has read nothing.
			// (The bound only keeps a failing test from hanging.)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if _, err := j.WaitFor(ctx, func(journal.Entry) bool { return true }); err != nil {
				t.Fatalf("the answer was not cut off: %v", err)
			}
			// Reading on finds the connection closed (an end of file or a reset) after what the
			// buffers held; the deadline only keeps a failing test from hanging.
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			n, err := io.Copy(io.Discard, conn)
			if n >= size || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the client read %d bytes (%v), want the answer cut short and the connection closed", n, err)
			}
			resp, body := call(t, http.MethodGet, s.URL()+"/v5/iot/p1/big?size=100", "", "")
			if resp.StatusCode != http.StatusOK || len(body) != 100 {
				t.Errorf("the next client: %d with %d bytes", resp.StatusCode, len(body))
			}
		})
	}
}
