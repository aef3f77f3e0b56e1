// Package faults is the IoTDA mock's fault injection: what a Fault is, the Set of pending
// faults and which one a request takes (by the operation it makes, OperationOf, and the
// device it names), and how a request and its answer misbehave as its fault says. The
// platform API's exchanges (package httpapi) take a fault before reading a request, let it
// hold the request once read, and let it have its say when they answer.
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

// Fault makes the platform API misbehave for the next matching requests: those of the
// synchronous command API, the device message API and the batch task API alike (Operations).
// Faults apply to requests that reach a service's route with an allowed method, before
// authentication and body checks, and are matched in the order they were injected; the first
// match is used. "The platform acts on a request" below means what the request asks: a command
// delivered to its device, a message created (and sent, or kept for a sleeping device), a batch
// task created and run, a task or message deleted.
//
// A fault acts at one or more of three moments of a request:
//
//   - before the request is read: ResetBeforeBody, or Status without Forward (an answer of
//     the fault's own after Delay); the platform never sees the request;
//   - once the request is read: Hold keeps it that long, then the platform acts on it
//     whether or not the client is still waiting (a request held in transit);
//   - once the platform acted on it: Forward with Status (and Body) replaces the answer
//     (forward-then-fail: a 502 gateway page after the task was created),
//     ResetAfterDelivery resets the connection instead of answering, Body alone replaces
//     the answer's body, MergePatch and JSONPatch rewrite a 2xx answer's JSON, Truncate cuts
//     it short, and Delay waits before any of it.
//
// In JSON (the admin API and the standalone binary's config), Delay and Hold are Go
// duration strings such as "1.5s" (a number is read as nanoseconds), and MergePatch and
// JSONPatch are JSON values, not strings.
type Fault struct {
	// Name labels the fault in the journal. Default: a summary of what the fault does.
	Name string `json:"name,omitempty"`
	// Operation aims the fault at one operation of the platform API, named as in IoTDA's
	// API reference: CreateCommand, CreateBatchTask, ShowBatchTask, ListBatchTasks,
	// DeleteBatchTask, CreateMessage, ShowDeviceMessage, ... (Operations). Empty matches
	// every operation.
	Operation string `json:"operation,omitempty"`
	// DeviceID limits the fault to requests that name this device in their path: commands
	// and device messages (a batch task's request names none; Validate refuses DeviceID with
	// an Operation that names no device). Empty matches every request.
	DeviceID string `json:"device_id,omitempty"`
	// Times is how many matching requests the fault applies to: 0 means 1, -1 means forever.
	Times int `json:"times,omitempty"`
	// Status, when set, answers with this status and an error body made of ErrorCode and
	// ErrorMsg (or Body): without Forward before the request is read (nothing is acted
	// on), with Forward once the platform has acted on it.
	Status int `json:"status,omitempty"`
	// ErrorCode and ErrorMsg make the error body that goes with Status.
	ErrorCode string `json:"error_code,omitempty"`
	ErrorMsg  string `json:"error_msg,omitempty"`
	// RetryAfter is sent as the Retry-After header.
	RetryAfter string `json:"retry_after,omitempty"`
	// Forward makes the platform act on the request (deliver the command, create the message
	// or the task) before Status answers it: the client sees a failure for what was done.
	Forward bool `json:"forward,omitempty"`
	// Hold keeps the request, once read, this long before the platform acts on it; the
	// platform acts even if the client gave up meanwhile (only the mock's shutdown ends a
	// hold early). Its answer then follows as for any request.
	Hold time.Duration `json:"hold,omitempty"`
	// ResetBeforeBody resets the connection before the request body is read, so the platform
	// does not act on it and the client sees a connection reset.
	ResetBeforeBody bool `json:"reset_before_body,omitempty"`
	// ResetAfterDelivery lets the platform act on the request, then resets the connection
	// instead of answering.
	ResetAfterDelivery bool `json:"reset_after_delivery,omitempty"`
	// Delay is how long to wait before answering (after the platform acted), cut short when
	// the client goes away.
	Delay time.Duration `json:"delay,omitempty"`
	// Body is written as the raw response body instead of JSON, to simulate malformed
	// answers. With Status it is the body of that status; without Status the platform acts
	// on the request and Body replaces its answer, keeping the answer's status (200 for a
	// delivered command, 201 for a created message or task).
	Body string `json:"body,omitempty"`
	// ContentType is the Content-Type of the fault's own answer (Status or Body), such as
	// "text/html" for a gateway's error page. Default application/json.
	ContentType string `json:"content_type,omitempty"`
	// Truncate lets the platform act on the request, then writes the answer with a
	// Content-Length larger than the body and closes the connection.
	Truncate bool `json:"truncate,omitempty"`
	// MergePatch is a JSON merge patch (RFC 7396, a JSON object) applied to the platform's
	// answer when it is a 2xx with a JSON body: {"batchtask":{"task_id":null}} drops the
	// task id, {"batchtask":{"task_id":"..."}} replaces it. Other answers pass unchanged.
	MergePatch json.RawMessage `json:"merge_patch,omitempty"`
	// JSONPatch is a JSON patch (RFC 6902, an array of operations) applied, after
	// MergePatch, to the same answers: [{"op":"remove","path":"/task_details/0"}] removes
	// the first device's result. A patch that does not apply to the answer (a path it does
	// not have) turns the answer into a 500 MOCK.FAULT naming why.
	JSONPatch json.RawMessage `json:"json_patch,omitempty"`
}

// Label is the name the journal records for the fault.
func (f Fault) Label() string {
	if f.Name != "" {
		return f.Name
	}
	var parts []string
	add := func(on bool, part string) {
		if on {
			parts = append(parts, part)
		}
	}
	add(f.Operation != "", "operation="+f.Operation)
	add(f.Status != 0, "status="+strconv.Itoa(f.Status))
	add(f.Forward, "forward")
	add(f.Hold > 0, "hold="+f.Hold.String())
	add(f.ResetBeforeBody, "reset_before_body")
	add(f.ResetAfterDelivery, "reset_after_delivery")
	add(f.Delay > 0, "delay="+f.Delay.String())
	add(f.Body != "", "body")
	add(f.Truncate, "truncate")
	add(len(f.MergePatch) > 0, "merge_patch")
	add(len(f.JSONPatch) > 0, "json_patch")
	if len(parts) == 0 {
		return "noop"
	}
	return strings.Join(parts, ",")
}

// Validate rejects a fault that could never act (it does nothing, or it is aimed at requests
// that do not exist), one with a part that would never apply, and one whose parts contradict
// each other. Its message names the field and what to give instead, without a final period.
func (f Fault) Validate() error {
	if err := f.validateValues(); err != nil {
		return err
	}
	if err := f.validateParts(); err != nil {
		return err
	}
	if err := f.validateAim(); err != nil {
		return err
	}
	if len(f.MergePatch) > 0 {
		if err := checkMergePatch(f.MergePatch); err != nil {
			return err
		}
	}
	if len(f.JSONPatch) > 0 {
		if _, err := decodeJSONPatch(f.JSONPatch); err != nil {
			return err
		}
	}
	return nil
}

// validateValues checks each field on its own.
func (f Fault) validateValues() error {
	switch {
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return errors.New("status must be an HTTP status code (100-599)")
	case f.Times < -1:
		return errors.New("times must be a count of requests, 0 for 1, or -1 for every request")
	case f.Delay < 0:
		return errors.New("delay must not be negative")
	case f.Hold < 0:
		return errors.New("hold must not be negative")
	case f.Operation != "" && !knownOperation(f.Operation):
		return fmt.Errorf("operation %q is not an operation of the mock's platform API: want one of %s",
			f.Operation, strings.Join(Operations(), ", "))
	}
	return nil
}

// validateAim refuses a fault that no request would take or that would change nothing in the
// requests it takes.
func (f Fault) validateAim() error {
	acts := f.Status != 0 || f.Hold > 0 || f.Delay > 0 || f.Body != "" || f.RetryAfter != "" || f.ResetBeforeBody ||
		f.ResetAfterDelivery || f.Truncate || f.rewrites()
	switch {
	case f.DeviceID != "" && f.Operation != "" && !namesDevice(f.Operation):
		return fmt.Errorf("device_id limits the fault to requests that name a device, and %s names none, so the fault "+
			"would never apply: remove device_id, or aim it at one of %s", f.Operation, strings.Join(deviceOperations(), ", "))
	case f.rewrites() && f.Operation != "" && !rewritable(f.Operation):
		return fmt.Errorf("merge_patch and json_patch rewrite a successful answer's JSON, which %s never has (%s), so "+
			"the fault would never apply: aim it at another operation", f.Operation, noJSONAnswer[f.Operation])
	case !acts:
		return errors.New("the fault does nothing: give it status, body, hold, delay, retry_after, reset_before_body, " +
			"reset_after_delivery, truncate, merge_patch or json_patch")
	}
	return nil
}

// validateParts refuses parts that would never apply with the rest of the fault, and parts
// that contradict each other.
func (f Fault) validateParts() error {
	rewrites := f.rewrites()
	switch {
	case (f.ErrorCode != "" || f.ErrorMsg != "") && f.Status == 0:
		return errors.New("error_code and error_msg make the error body of status: add status, or remove them")
	case f.ContentType != "" && f.Status == 0 && f.Body == "":
		return errors.New("content_type is the type of the fault's own answer: add status or body, or remove it")
	case f.Forward && f.Status == 0:
		return errors.New("forward needs a status, the answer the client gets once the platform acted " +
			"(for a connection reset instead, use reset_after_delivery)")
	case f.ResetBeforeBody && (f.Forward || f.Hold > 0 || f.ResetAfterDelivery):
		return errors.New("reset_before_body ends the request before it is read: it cannot be combined with " +
			"forward, hold or reset_after_delivery")
	case f.ResetBeforeBody && (f.Status != 0 || f.Body != "" || f.Delay > 0 || f.RetryAfter != "" || f.Truncate):
		return errors.New("reset_before_body ends the request without an answer: status, body, delay, retry_after " +
			"and truncate would never apply; remove them, or use reset_after_delivery after a delay")
	case f.Hold > 0 && f.Status != 0 && !f.Forward:
		return errors.New("hold makes the platform act on the request after the wait, but status without " +
			"forward answers before the request is read: add forward, or use delay for a slow refusal")
	case rewrites && (f.Status != 0 || f.Body != "" || f.ResetBeforeBody || f.ResetAfterDelivery):
		return errors.New("merge_patch and json_patch rewrite the platform's own answer: they cannot be " +
			"combined with status, body or a reset, which replace it")
	}
	return nil
}

// UnmarshalJSON reads Delay and Hold as Go duration strings (or numbers of nanoseconds).
func (f *Fault) UnmarshalJSON(data []byte) error {
	type plain Fault
	aux := struct {
		*plain
		Delay      jsonDuration `json:"delay,omitempty"`
		Hold       jsonDuration `json:"hold,omitempty"`
		RetryAfter headerValue  `json:"retry_after,omitempty"`
	}{plain: (*plain)(f)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // a misspelt fault field would otherwise inject the wrong fault
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	f.Delay, f.Hold, f.RetryAfter = time.Duration(aux.Delay), time.Duration(aux.Hold), string(aux.RetryAfter)
	return nil
}

// headerValue is a header's value given as a JSON string, or as a number (retry_after: 1 is
// Retry-After: 1, as "1" is).
type headerValue string

func (h *headerValue) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*h = headerValue(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("want a string or a number of seconds, got %s", data)
	}
	*h = headerValue(n.String())
	return nil
}

// MarshalJSON writes Delay and Hold as Go duration strings.
func (f Fault) MarshalJSON() ([]byte, error) {
	type plain Fault
	aux := struct {
		plain
		Delay string `json:"delay,omitempty"`
		Hold  string `json:"hold,omitempty"`
	}{plain: plain(f)}
	if f.Delay != 0 {
		aux.Delay = f.Delay.String()
	}
	if f.Hold != 0 {
		aux.Hold = f.Hold.String()
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
	return f.Status, errorBody(code, msg)
}

// errorBody is the platform's error body {"error_code","error_msg"}.
func errorBody(code, msg string) []byte {
	b, _ := json.Marshal(struct { // two strings always encode
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}{code, msg})
	return b
}
