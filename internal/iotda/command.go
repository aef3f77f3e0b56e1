package iotda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
)

// Command is one synchronous command for one device.
type Command struct {
	// DeviceID, ServiceID and CommandName; ServiceID and CommandName are omitted from the body when empty.
	DeviceID, ServiceID, CommandName string
	// Paras is sent byte-for-byte as the "paras" value; it must be a JSON object.
	Paras json.RawMessage
	// SecretParas marks Paras as write-only parameters, which must not be recorded anywhere:
	// the request body is kept out of the logs, and their strings (from MinRedactedLength
	// characters on) are replaced by "***" in everything that comes back (see Redaction).
	SecretParas bool
}

// CommandResult is the platform's answer to a delivered command.
type CommandResult struct {
	CommandID string
	// Response is the device's reply object exactly as received; nil when absent or null.
	Response json.RawMessage
	// ErrorCode and ErrorMsg report a delivery problem carried in a 200 answer (e.g. IOTDA.014111).
	// ErrorMsg keeps a JSON string as is and renders any other JSON value compactly.
	ErrorCode, ErrorMsg string
	// RequestID is the X-Request-Id response header.
	RequestID  string
	StatusCode int
	// Redacted says what was hidden in Response (see Redaction.Apply): the attributes whose
	// values the reply echoed, and how many strings it holds equal to a write-only string
	// too short to hide.
	Redacted Redacted
}

// CreateCommand delivers cmd synchronously: POST {endpoint}/v5/iot/{project_id}/devices/{device_id}/commands.
//
// On a 200 it returns the result; when the body carries an error_code it also returns an *APIError
// (errors.Is(err, ErrDeviceTimeout) for IOTDA.014111). Other failures are an *APIError, a
// *NotSentError (provably not delivered) or a *DeliveryUnknownError (possibly delivered).
func (c *Client) CreateCommand(ctx context.Context, cmd Command) (*CommandResult, error) {
	body, err := commandBody(cmd)
	if err != nil {
		return nil, err
	}
	var writeOnly json.RawMessage
	if cmd.SecretParas {
		ctx, writeOnly = withSecretBody(ctx), cmd.Paras
	}
	red := c.Redaction(writeOnly)
	resp, err := c.send(withRedaction(ctx, red), c.commandsURL(cmd.DeviceID).String(), body)
	if err != nil {
		red.hideInError(err)
		return nil, err
	}
	res, err := c.decodeResult(resp, red)
	red.hideInError(err)
	return res, err
}

// commandBody renders the JSON body by hand so that paras keeps its exact bytes (encoding/json would
// re-escape it) and strings are not HTML-escaped, like the SDK's encoder.
func commandBody(cmd Command) ([]byte, error) {
	if cmd.DeviceID == "" || cmd.DeviceID == "." || cmd.DeviceID == ".." {
		return nil, errors.New("iotda: device id is required")
	}
	return CommandDocument(cmd.ServiceID, cmd.CommandName, cmd.Paras)
}

// CommandDocument renders a synchronous command without its device,
// {"service_id":...,"command_name":...,"paras":{...}}: the body of CreateCommand, and the
// document of a createCommands batch task (iotda-batchtask-facts.md §2). paras keeps its exact
// bytes; empty serviceID and commandName are omitted.
func CommandDocument(serviceID, commandName string, paras json.RawMessage) ([]byte, error) {
	cmd := Command{ServiceID: serviceID, CommandName: commandName}
	paras = bytes.TrimSpace(paras)
	if len(paras) == 0 || paras[0] != '{' || !json.Valid(paras) {
		return nil, errors.New("iotda: paras must be a JSON object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for _, f := range []struct{ key, value string }{{"service_id", cmd.ServiceID}, {"command_name", cmd.CommandName}} {
		if f.value == "" {
			continue
		}
		b.WriteString(`"` + f.key + `":`)
		if err := writeJSONString(&b, f.value); err != nil {
			return nil, err
		}
		b.WriteByte(',')
	}
	b.WriteString(`"paras":`)
	b.Write(paras)
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSONString(b *bytes.Buffer, s string) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // Encode appends a newline.
	return nil
}

// maxCommandIDBytes bounds a command_id taken from an answer. IoTDA's are UUIDs (36 bytes).
const maxCommandIDBytes = 256

// decodeResult turns a 2xx answer into a result, reading it at any depth (see jsonscan.ObjectMembers): a
// device's reply nested beyond what encoding/json accepts is still the device's reply. A body we
// cannot read or parse leaves the outcome unknown: the platform did receive the command. So does a 200 without a usable command_id and
// without an error_code: IoTDA allocates a command_id for every command it delivers
// (iotda-platform-facts.md §1), so such an answer did not come from IoTDA's command API, and
// recording it as a delivery would hide whatever happened to the command.
//
// red hides credentials and write-only values in everything taken from the answer: the
// device's reply (Response), the platform's messages and excerpts of the body.
func (c *Client) decodeResult(r *response, red *Redaction) (*CommandResult, error) {
	if r.readErr != nil {
		return nil, &DeliveryUnknownError{Err: r.readErr, RequestID: r.requestID, host: c.host}
	}
	members, ok := jsonscan.ObjectMembers(bytes.TrimSpace(r.body))
	var errorCode string // Must be a string (or null): anything else is not IoTDA's answer.
	if ok && len(members["error_code"]) > 0 && string(members["error_code"]) != "null" {
		ok = json.Unmarshal(members["error_code"], &errorCode) == nil
	}
	if !ok {
		return nil, &DeliveryUnknownError{Err: errors.New("the HTTP " + http.StatusText(r.status) +
			" answer is not a valid JSON object: " + red.excerpt(r.body)), RequestID: r.requestID, host: c.host}
	}
	commandID, idOK := usableCommandID(members["command_id"])
	res := &CommandResult{CommandID: sanitize(commandID, c.secrets), ErrorCode: sanitize(errorCode, c.secrets),
		ErrorMsg:  sanitize(red.String(c.renderMessage(members["error_msg"])), c.secrets),
		RequestID: r.requestID, StatusCode: r.status}
	if reply := members["response"]; len(reply) > 0 && !bytes.Equal(reply, []byte("null")) {
		res.Redacted = red.Apply(reply)
		res.Response = res.Redacted.Text
		res.Redacted.Text = nil // Response holds it.
	}
	if res.ErrorCode != "" {
		return res, &APIError{StatusCode: r.status, ErrorCode: res.ErrorCode,
			ErrorMsg: res.ErrorMsg, RequestID: r.requestID, CommandID: res.CommandID}
	}
	if !idOK {
		return nil, &DeliveryUnknownError{Err: errors.New("the HTTP " + http.StatusText(r.status) +
			" answer has no usable command_id, so it is not IoTDA's answer to a delivered command: " +
			red.excerpt(r.body)), RequestID: r.requestID, host: c.host}
	}
	return res, nil
}

// usableCommandID reads command_id: a non-empty JSON string of at most maxCommandIDBytes
// bytes without control characters. Anything else (absent, null, a number, "") is unusable.
func usableCommandID(raw json.RawMessage) (string, bool) {
	var id string
	if len(raw) == 0 || json.Unmarshal(raw, &id) != nil {
		return "", false
	}
	if id == "" || len(id) > maxCommandIDBytes || !utf8.ValidString(id) ||
		strings.IndexFunc(id, unicode.IsControl) >= 0 || strings.TrimSpace(id) != id {
		return "", false
	}
	return id, true
}

// renderMessage keeps a JSON string as is and renders other JSON values compactly.
func (c *Client) renderMessage(raw json.RawMessage) string {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// apiError builds the error for a non-2xx answer. Bodies that are not JSON still yield the status and
// request id, with a short sanitized excerpt as the message.
func (c *Client) apiError(r *response) *APIError {
	e := &APIError{StatusCode: r.status, RequestID: r.requestID, RetryAfter: r.retryAfter,
		Location: sanitize(r.location, c.secrets)}
	var w struct {
		ErrorCode string          `json:"error_code"`
		ErrorMsg  json.RawMessage `json:"error_msg"`
		Code      string          `json:"code"`
		Message   json.RawMessage `json:"message"`
		CommandID string          `json:"command_id"`
	}
	if r.readErr == nil && json.Unmarshal(r.body, &w) == nil {
		e.ErrorCode, e.ErrorMsg, e.CommandID = w.ErrorCode, c.renderMessage(w.ErrorMsg), w.CommandID
		if e.ErrorCode == "" && e.ErrorMsg == "" { // The SDK falls back to code/message too.
			e.ErrorCode, e.ErrorMsg = w.Code, c.renderMessage(w.Message)
		}
		e.ErrorCode, e.ErrorMsg = sanitize(e.ErrorCode, c.secrets), sanitize(e.ErrorMsg, c.secrets)
		e.CommandID = sanitize(e.CommandID, c.secrets)
		return e
	}
	e.ErrorMsg = excerpt(r.body, c.secrets)
	if r.readErr != nil {
		e.ErrorMsg = strings.TrimSpace(e.ErrorMsg + " (response body unreadable: " + r.readErr.Error() + ")")
	}
	return e
}

// excerpt returns the start of a body for error messages, sanitized. The secrets are masked
// in the whole body before it is cut, so that one crossing the cut cannot show in part.
func excerpt(b []byte, secrets []string) string {
	const n = 200
	s := maskSecrets(string(b), secrets)
	if len(s) > n {
		s = s[:n] + "…"
	}
	return sanitize(s, nil)
}
