package faults

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Respond writes the answer status and body as f says, for a request f did not stop before
// it was served: with its Retry-After header, its own answer instead (Forward with Status,
// or Body without Status), or the answer rewritten (MergePatch, JSONPatch), after its Delay,
// and then either written, truncated, or replaced by a connection reset. It returns the
// status the client was sent: 0 when the connection was reset or the client left during the
// delay. An error means the fault could not take over the connection (only over HTTP/2,
// which the mock does not serve) and nothing was written.
func (f *Fault) Respond(w http.ResponseWriter, r *http.Request, status int, body []byte) (int, error) {
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	switch {
	case f.Forward && f.Status != 0:
		status, body = f.Answer()
	case f.Body != "" && f.Status == 0:
		body = []byte(f.Body)
	case f.rewrites() && status >= 200 && status < 300:
		rewritten, err := f.Rewrite(body)
		if err != nil {
			status, body = http.StatusInternalServerError,
				errorBody("MOCK.FAULT", "The fault "+f.Label()+" could not rewrite the answer: "+err.Error()+".")
			break
		}
		body = rewritten
	}
	if f.ContentType != "" && (f.Status != 0 || f.Body != "") {
		w.Header().Set("Content-Type", f.ContentType)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return 0, nil
		}
	}
	switch {
	case f.ResetAfterDelivery:
		return 0, Reset(w)
	case f.Truncate:
		return status, truncate(w, status, body)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body) // a write error means the client is gone
	return status, nil
}

// WaitHold waits out the fault's Hold, or until done is closed (the mock shuts down). The
// client going away does not end it: the platform acts on a held request all the same.
func (f *Fault) WaitHold(done <-chan struct{}) {
	if f.Hold <= 0 {
		return
	}
	t := time.NewTimer(f.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// Reset drops the connection with a TCP reset (SO_LINGER 0) instead of answering.
func Reset(w http.ResponseWriter) error {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
	return nil
}

// truncate answers with a Content-Length of the whole body but sends only its first half,
// then closes the connection, so that the client reads a short body.
func truncate(w http.ResponseWriter, status int, body []byte) error {
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	declared := len(body)
	if declared == 0 {
		declared = 1
	}
	h := w.Header().Clone()
	h.Set("Content-Length", strconv.Itoa(declared))
	h.Set("Connection", "close")
	_, _ = fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\n", status, http.StatusText(status))
	_ = h.Write(rw)
	_, _ = rw.WriteString("\r\n")
	_, _ = rw.Write(body[:len(body)/2])
	_ = rw.Flush()
	return nil
}
