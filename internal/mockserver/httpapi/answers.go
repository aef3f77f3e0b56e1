package httpapi

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// How the Server bounds the writing of answers (ServerConfig.WriteTimeout and
// MaxAnswerBytes): a slow reader cannot hold a connection, nor the memory of its answer,
// for longer than the write timeout, and slow readers together cannot hold more than
// MaxAnswerBytes of answers to reads.
//
// An answer's body is held in memory until the client has read it (a body larger than the
// connection's buffer is written straight from the handler's slice), so what many slow
// readers cost is the sum of the answers being written to them: one ListBatchTasks page of
// 50 tasks of 30,000 targets weighs 4.5 MB. An answer to a GET or HEAD larger than
// smallAnswerBytes is therefore written only while the answers being written, its own
// included, stay within MaxAnswerBytes (one answer alone is always written, however large);
// beyond it the request is refused as IoTDA's API gateway refuses a request over its
// throttling threshold: 429 with APIGW.0308 and a Retry-After of retryAfterSeconds. The
// platform does not document an overload answer; APIGW.0308 is its gateway's throttling
// code (iotda-platform-facts.md §1, HTTP status UNCONFIRMED). Nothing is lost by refusing a
// read: it changed nothing, and clients retry a 429 after the Retry-After. Answers to other
// methods are never refused, since the platform has acted on their request by then (a
// created task, a delivered command): a 429 would tell the client it had not.

// smallAnswerBytes is the size up to which an answer never counts against MaxAnswerBytes:
// it fits the connection's own write buffer (net/http's 4 KiB), which the connection holds
// whatever it answers.
const smallAnswerBytes = 4 << 10

// retryAfterSeconds is the Retry-After of an answer refused over MaxAnswerBytes.
const retryAfterSeconds = 1

// CodeThrottled is the API gateway's throttling code, with which answers over
// MaxAnswerBytes are refused.
const CodeThrottled = "APIGW.0308"

// msgThrottled is the refusal's message.
const msgThrottled = "The throttling threshold has been reached: the mock is writing as many large answers as " +
	"it holds at once. Retry after the Retry-After seconds."

// errRefused is what a handler's writes return once its answer was refused.
var errRefused = errors.New("httpapi: the answer was refused over MaxAnswerBytes")

// answerBudget counts the bytes of the answers being written at once.
type answerBudget struct {
	max  int64
	mu   sync.Mutex
	used int64
}

// take counts n more bytes, unless other answers are being written and n would take them
// past max.
func (b *answerBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used > 0 && b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

// give returns n bytes.
func (b *answerBudget) give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

// answerWriter is the ResponseWriter every handler of the Server writes through. It holds
// back the status until the first byte of the body (as net/http itself does), so that it can
// still refuse the answer once it knows its size; it then starts the write timeout and
// writes. Hijacked connections (a fault's reset or truncated answer) get the write timeout
// too.
type answerWriter struct {
	http.ResponseWriter
	budget  *answerBudget
	timeout time.Duration
	// read is true for a GET or HEAD: an answer the budget may refuse.
	read bool

	status   int   // given to WriteHeader and not yet sent; 0 for none
	started  bool  // the status was sent (or refused)
	refused  bool  // the answer was refused over the budget
	hijacked bool  // a fault took the connection over: nothing more is written through w
	held     int64 // bytes counted against the budget, returned by finish
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// WriteHeader holds the status back until the body's first byte (or the end of the
// handler). Informational (1xx) statuses go out at once, as they do not end the header.
func (w *answerWriter) WriteHeader(status int) {
	switch {
	case status < 200:
		w.ResponseWriter.WriteHeader(status)
	case !w.started && w.status == 0:
		w.status = status
	}
}

// Write starts the answer on its first call: the whole of the first write counts against the
// budget (the mock's handlers write a body in one piece, or stream it through a buffer of
// their own). A refused answer's writes are dropped.
func (w *answerWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.start(int64(len(p)))
	}
	if w.refused {
		return 0, errRefused
	}
	return w.ResponseWriter.Write(p)
}

// Hijack hands a fault the connection with the write timeout set on it, since hijacking
// clears the server's deadlines.
func (w *answerWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	if w.timeout > 0 {
		_ = conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	return conn, rw, err
}

// start sends the status held back, or the refusal, for a body whose first write is n
// bytes, once the write timeout is set.
func (w *answerWriter) start(n int64) {
	w.started = true
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	if w.held == 0 && !w.reserve(n) {
		w.refuse()
		return
	}
	w.startDeadline()
	w.ResponseWriter.WriteHeader(status)
}

// reserve counts n bytes of an answer against the budget, if the answer is one it bounds;
// it reports whether the answer may be written.
func (w *answerWriter) reserve(n int64) bool {
	if !w.read || n <= smallAnswerBytes {
		return true
	}
	if !w.budget.take(n) {
		return false
	}
	w.held += n
	return true
}

// refuse answers 429 APIGW.0308 with a Retry-After instead of the answer.
func (w *answerWriter) refuse() {
	w.refused = true
	h := w.Header()
	for k := range h {
		if k != HeaderRequestID {
			delete(h, k)
		}
	}
	h.Set("Content-Type", "application/json")
	h.Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	w.startDeadline()
	w.ResponseWriter.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.ResponseWriter.Write(errorJSON(CodeThrottled, msgThrottled)) // a write error means the client is gone
}

// startDeadline gives the answer WriteTimeout from now to be written; net/http clears the
// deadline once the answer is done, before the connection's next request.
func (w *answerWriter) startDeadline() {
	if w.timeout > 0 {
		// A writer that cannot take a deadline (none in the mock's server) is left without.
		_ = http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

// finish sends a status held back by a handler that wrote no body, and returns the answer's
// bytes to the budget.
func (w *answerWriter) finish() {
	if !w.started && !w.hijacked && w.status != 0 {
		w.start(0)
	}
	if w.held > 0 {
		w.budget.give(w.held)
		w.held = 0
	}
}

// ReserveAnswer counts n bytes, an upper bound of the answer a service is about to build,
// against the Server's MaxAnswerBytes until the answer has been written, so that a large
// answer is not even built when it would be refused. It reports whether the answer may be
// built; if not, answer Throttled. The Server's own check at the answer's first
// byte then passes it. Outside a Server (a ResponseWriter of a test) it always may.
func (x *Exchange) ReserveAnswer(n int64) bool {
	aw, ok := x.W.(*answerWriter)
	return !ok || aw.started || aw.reserve(n)
}

// Throttled returns the answer the Server gives an answer over MaxAnswerBytes: 429
// APIGW.0308, with a Retry-After header it sets.
func (x *Exchange) Throttled() Answer {
	x.W.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	return ErrorAnswer(http.StatusTooManyRequests, CodeThrottled, msgThrottled)
}

// refusedOverBudget reports whether the answer written to w was refused over
// MaxAnswerBytes, for the journal.
func refusedOverBudget(w http.ResponseWriter) bool {
	aw, ok := w.(*answerWriter)
	return ok && aw.refused
}
