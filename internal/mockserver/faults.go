package mockserver

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault makes the command API misbehave for the next matching requests. Faults apply to
// requests that reach the command route with an allowed method, before authentication and
// body checks, and are matched in the order they were injected; the first match is used.
// Faults without a DeviceID also apply to batch task requests (/batchtasks...).
//
// In JSON (the admin API and the standalone binary's config), Delay is a Go duration
// string such as "1.5s"; a number is read as nanoseconds.
type Fault struct {
	// Name labels the fault in the journal. Default: a summary of what the fault does.
	Name string `json:"name,omitempty"`
	// DeviceID limits the fault to commands for this device. Empty matches every command
	// request.
	DeviceID string `json:"device_id,omitempty"`
	// Times is how many matching requests the fault applies to: 0 means 1, -1 means forever.
	Times int `json:"times,omitempty"`
	// Status, when set, answers with this status and an error body made of ErrorCode and
	// ErrorMsg (or Body) without delivering the command.
	Status int `json:"status,omitempty"`
	// ErrorCode and ErrorMsg make the error body that goes with Status.
	ErrorCode string `json:"error_code,omitempty"`
	ErrorMsg  string `json:"error_msg,omitempty"`
	// RetryAfter is sent as the Retry-After header.
	RetryAfter string `json:"retry_after,omitempty"`
	// ResetBeforeBody resets the connection before the request body is read, so nothing is
	// delivered and the client sees a connection reset.
	ResetBeforeBody bool `json:"reset_before_body,omitempty"`
	// ResetAfterDelivery processes the request normally, then resets the connection
	// instead of answering.
	ResetAfterDelivery bool `json:"reset_after_delivery,omitempty"`
	// Delay is how long to wait before answering (after delivery), cut short when the
	// client goes away.
	Delay time.Duration `json:"delay,omitempty"`
	// Body is written as the raw response body instead of JSON, to simulate malformed
	// answers. With Status it is the body of that status and nothing is delivered; without
	// Status the request is processed normally and Body replaces its answer, keeping the
	// answer's status (200 for a delivered command).
	Body string `json:"body,omitempty"`
	// Truncate processes the request normally, then writes the answer with a Content-Length
	// larger than the body and closes the connection.
	Truncate bool `json:"truncate,omitempty"`
}

// label is the name the journal records for the fault.
func (f Fault) label() string {
	if f.Name != "" {
		return f.Name
	}
	var parts []string
	if f.Status != 0 {
		parts = append(parts, "status="+strconv.Itoa(f.Status))
	}
	if f.ResetBeforeBody {
		parts = append(parts, "reset_before_body")
	}
	if f.ResetAfterDelivery {
		parts = append(parts, "reset_after_delivery")
	}
	if f.Delay > 0 {
		parts = append(parts, "delay="+f.Delay.String())
	}
	if f.Body != "" {
		parts = append(parts, "body")
	}
	if f.Truncate {
		parts = append(parts, "truncate")
	}
	if len(parts) == 0 {
		return "noop"
	}
	return strings.Join(parts, ",")
}

// UnmarshalJSON reads Delay as a Go duration string (or a number of nanoseconds).
func (f *Fault) UnmarshalJSON(data []byte) error {
	type plain Fault
	aux := struct {
		*plain
		Delay jsonDuration `json:"delay,omitempty"`
	}{plain: (*plain)(f)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt fault field would otherwise inject the wrong fault
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	f.Delay = time.Duration(aux.Delay)
	return nil
}

// MarshalJSON writes Delay as a Go duration string.
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	aux := struct {
		plain
		Delay string `json:"delay,omitempty"`
	}{plain: plain(f)}
	if f.Delay != 0 {
		aux.Delay = f.Delay.String()
	}
	return json.Marshal(aux)
}

// jsonDuration is a time.Duration that reads "1.5s" as well as a number of nanoseconds.
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("invalid duration %s: want a string such as \"1s\" or nanoseconds", data)
	}
	*d = jsonDuration(n)
	return nil
}

// faultSet holds the pending faults.
type faultSet struct {
	mu   sync.Mutex
	list []Fault
}

func newFaultSet() *faultSet { return &faultSet{} }

func (s *faultSet) add(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, f)
}

func (s *faultSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = nil
}

// pending returns a copy of the faults that still apply, with Times the remaining count.
func (s *faultSet) pending() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault{}, s.list...) // [] rather than null in JSON when there is none
}

// take returns the first fault matching a command request for deviceID and uses up one of
// its applications.
func (s *faultSet) take(deviceID string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.list {
		if f.DeviceID != "" && f.DeviceID != deviceID {
			continue
		}
		if f.Times > 0 {
			s.list[i].Times--
			if s.list[i].Times == 0 {
				s.list = append(s.list[:i:i], s.list[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}

// InjectFault makes the command API misbehave as f says for the next matching requests.
func (s *Server) InjectFault(f Fault) { s.faults.add(f) }

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() { s.faults.clear() }

// faultAnswer is the answer of a fault with a Status: its Body, or an error body.
func faultAnswer(f Fault) answer {
	if f.Body != "" {
		return answer{status: f.Status, body: []byte(f.Body)}
	}
	code, msg := f.ErrorCode, f.ErrorMsg
	if code == "" {
		code = "MOCK.FAULT"
	}
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	return errorAnswer(f.Status, code, msg)
}

// takeFault takes the next fault for deviceID ("" for any request) and applies what it does
// before the request is read: a reset, or an answer of its own. It reports whether the
// exchange is over; otherwise the fault, if any, has its say in respond.
func (x *exchange) takeFault(deviceID string) (done bool) {
	f, ok := x.h.faults.take(deviceID)
	if !ok {
		return false
	}
	x.fault, x.entry.Fault = &f, f.label()
	switch {
	case f.ResetBeforeBody:
		x.reset()
	case f.Status != 0:
		x.respond(faultAnswer(f))
	default:
		return false
	}
	return true
}

// respond writes a, after the exchange's fault (if any) has had its say. A zero status
// means nobody is listening: nothing is written.
func (x *exchange) respond(a answer) {
	x.entry.Status = a.status
	if a.status == 0 {
		return
	}
	var ec apiError
	if json.Unmarshal(a.body, &ec) == nil {
		x.entry.ErrorCode = ec.ErrorCode
	}
	f := x.fault
	if f == nil {
		x.write(a)
		return
	}
	if f.RetryAfter != "" {
		x.w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" && f.Status == 0 {
		a.body = []byte(f.Body)
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-x.r.Context().Done():
			t.Stop()
			x.entry.Status = 0
			return
		}
	}
	switch {
	case f.ResetAfterDelivery:
		x.reset()
	case f.Truncate:
		x.truncate(a)
	default:
		x.write(a)
	}
}

func (x *exchange) write(a answer) {
	x.w.WriteHeader(a.status)
	_, _ = x.w.Write(a.body) // a write error means the client is gone
}

// reset drops the connection with a TCP reset (SO_LINGER 0) instead of answering.
func (x *exchange) reset() {
	x.entry.Status = 0
	conn, _, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		x.hijackFailed(err)
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// truncate answers with a Content-Length of the whole body but sends only its first half,
// then closes the connection, so that the client reads a short body.
func (x *exchange) truncate(a answer) {
	conn, rw, err := http.NewResponseController(x.w).Hijack()
	if err != nil {
		x.hijackFailed(err)
		return
	}
	defer func() { _ = conn.Close() }()
	declared := len(a.body)
	if declared == 0 {
		declared = 1
	}
	h := x.w.Header().Clone()
	h.Set("Content-Length", strconv.Itoa(declared))
	h.Set("Connection", "close")
	_, _ = fmt.Fprintf(rw, "HTTP/1.1 %d %s\r\n", a.status, http.StatusText(a.status))
	_ = h.Write(rw)
	_, _ = rw.WriteString("\r\n")
	_, _ = rw.Write(a.body[:len(a.body)/2])
	_ = rw.Flush()
}

// hijackFailed answers 500 when a fault cannot take over the connection, which only
// happens if the server speaks HTTP/2 (the mock serves HTTP/1.1 only).
func (x *exchange) hijackFailed(err error) {
	x.entry.Status = http.StatusInternalServerError
	x.entry.ErrorCode = codeInternal
	x.write(errorAnswer(http.StatusInternalServerError, codeInternal, "The fault could not take over the connection: "+err.Error()))
}
