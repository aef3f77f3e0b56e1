// Package faults is the IoTDA mock's fault injection: what a Fault is (an error status, a
// connection reset before or after the request is served, a slow answer, a malformed or
// truncated body), the Set of pending faults and which one a request takes, and how an
// answer misbehaves as its fault says. The platform API's exchanges (package httpapi) take
// a fault before reading a request and let it have its say when they answer.
package faults

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes the platform API misbehave for the next matching requests. Faults apply to
// requests that reach a service's route with an allowed method, before authentication and
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

// Label is the name the journal records for the fault.
func (f Fault) Label() string {
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

// Validate rejects a fault no request could follow. Its message names the field and what to
// give instead, without a final period.
func (f Fault) Validate() error {
	switch {
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return errors.New("status must be an HTTP status code (100-599)")
	case f.Times < -1:
		return errors.New("times must be a count of requests, 0 for 1, or -1 for every request")
	case f.Delay < 0:
		return errors.New("delay must not be negative")
	}
	return nil
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
// (The registry's Behavior reads its Delay the same way, with a twin of this type: the two
// packages share nothing else.)
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

// Answer is the answer of a fault with a Status: its Body, or the platform's error body
// {"error_code","error_msg"} made of ErrorCode (default MOCK.FAULT) and ErrorMsg (default
// the status text).
func (f Fault) Answer() (status int, body []byte) {
	if f.Body != "" {
		return f.Status, []byte(f.Body)
	}
	code, msg := f.ErrorCode, f.ErrorMsg
	if code == "" {
		code = "MOCK.FAULT"
	}
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	b, _ := json.Marshal(struct { // two strings always encode
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}{code, msg})
	return f.Status, b
}
