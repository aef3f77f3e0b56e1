package messages

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The responses layer: routes of /v5/iot/{project_id}/devices/{device_id}/messages...,
// already authenticated, turned into Backend calls, and Backend results into the platform's
// bodies (facts §1).

// Response is an HTTP answer.
type Response struct {
	Status int
	// Body is the JSON body; nil for 204.
	Body []byte
	// Allow is set on 405 answers.
	Allow string
}

// Route reports whether the path segments after /v5/iot/{project_id}/ name a message route:
// devices/{device_id}/messages or devices/{device_id}/messages/{message_id}.
func Route(rest []string) bool {
	return (len(rest) == 3 || len(rest) == 4) && rest[0] == "devices" && rest[2] == "messages"
}

// DeviceID returns the device a message route names.
func DeviceID(rest []string) string { return rest[1] }

// Allow returns the methods a route answers, as in an Allow header: "GET, POST" for a
// device's messages, "GET, DELETE" for one message. Callers check the method before
// authenticating, as the platform's gateway does.
func Allow(rest []string) string {
	if len(rest) == 3 {
		return "GET, POST"
	}
	return "GET, DELETE"
}

// Respond answers one request to a route for which Route is true. contentType and body
// matter for POSTs only.
func (b *Backend) Respond(method string, rest []string, contentType string, body []byte) Response {
	deviceID := rest[1]
	if !DeviceIDPattern.MatchString(deviceID) {
		return errorResponse(invalid("device_id must be 1 to 128 letters, digits, underscores (_) or hyphens (-)."))
	}
	if len(rest) == 3 {
		switch method {
		case http.MethodPost:
			return b.respondCreate(deviceID, contentType, body)
		case http.MethodGet:
			return b.respondList(deviceID)
		}
		return notAllowed(Allow(rest))
	}
	messageID := rest[3]
	if !MessageIDPattern.MatchString(messageID) {
		return errorResponse(invalid("message_id must be 1 to %d letters, digits, underscores (_) or hyphens (-).", maxMessageID))
	}
	switch method {
	case http.MethodGet:
		return b.respondShow(deviceID, messageID)
	case http.MethodDelete:
		if err := b.Delete(deviceID, messageID); err != nil {
			return errorResponse(err)
		}
		return Response{Status: http.StatusNoContent}
	}
	return notAllowed(Allow(rest))
}

// respondCreate answers 201 with the message id and its result (facts §1.3).
func (b *Backend) respondCreate(deviceID, contentType string, body []byte) Response {
	if mt, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		return errorResponse(&Error{Status: 400, Code: CodeBadRequest,
			Msg: "Invalid input. Bad request, for more detail, refer to the error message. The Content-Type must be application/json."})
	}
	m, err := b.Create(deviceID, body)
	if err != nil {
		return errorResponse(err)
	}
	return Response{Status: http.StatusCreated, Body: CreatedBody(m)}
}

// respondShow answers one message. A message the device does not have is a 200 without a
// message_id (facts §1.4, from the Huawei Cloud provider's code); its exact body is
// UNCONFIRMED, the mock sends {}.
func (b *Backend) respondShow(deviceID, messageID string) Response {
	m, ok, err := b.Get(deviceID, messageID)
	switch {
	case err != nil:
		return errorResponse(err)
	case !ok:
		return Response{Status: http.StatusOK, Body: []byte(`{}`)}
	}
	return jsonResponse(http.StatusOK, toWireMessage(m))
}

// respondList answers {"device_id","messages"}: no paging, no query (facts §1.4).
func (b *Backend) respondList(deviceID string) Response {
	ms, err := b.List(deviceID)
	if err != nil {
		return errorResponse(err)
	}
	out := make([]wireMessage, len(ms))
	for i, m := range ms {
		out[i] = toWireMessage(m)
	}
	return jsonResponse(http.StatusOK, struct {
		DeviceID string        `json:"device_id"`
		Messages []wireMessage `json:"messages"`
	}{deviceID, out})
}

// wireResult is the create answer's MessageResult. finished_time is left out while the
// message is pending (whether the platform sends it empty is UNCONFIRMED).
type wireResult struct {
	Status       string `json:"status"`
	CreatedTime  string `json:"created_time"`
	FinishedTime string `json:"finished_time,omitempty"`
}

// wireMessage is ShowDeviceMessageResponse, and an item of ListDeviceMessages.
type wireMessage struct {
	MessageID     string          `json:"message_id"`
	Name          string          `json:"name,omitempty"`
	Message       json.RawMessage `json:"message"`
	Encoding      string          `json:"encoding"`
	PayloadFormat string          `json:"payload_format"`
	Topic         string          `json:"topic,omitempty"`
	Properties    *Properties     `json:"properties,omitempty"`
	Status        string          `json:"status"`
	ErrorInfo     *wireError      `json:"error_info,omitempty"`
	CreatedTime   string          `json:"created_time"`
	FinishedTime  string          `json:"finished_time,omitempty"`
}

type wireError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
}

// toWireMessage renders a message as the platform shows it. Its choices are UNCONFIRMED
// (facts §1.4, open question 8): encoding and payload_format echo their defaults when they
// were not sent; topic is the full topic name of a custom topic (as the Huawei Cloud
// provider reads it) and left out for the system topic; ttl and topic_full_name are not
// returned, as documented.
func toWireMessage(m Message) wireMessage {
	w := wireMessage{MessageID: m.MessageID, Name: m.Name, Message: m.Content, Encoding: m.Encoding,
		PayloadFormat: m.PayloadFormat, Properties: m.Properties, Status: m.Status,
		CreatedTime: platformTime(m.CreatedAt), FinishedTime: platformTime(m.FinishedAt)}
	if w.Encoding == "" {
		w.Encoding = EncodingNone
	}
	if w.PayloadFormat == "" {
		w.PayloadFormat = PayloadStandard
	}
	if m.Topic != "" || m.TopicFullName != "" {
		w.Topic = m.DeliveryTopic
	}
	if m.ErrorCode != "" {
		w.ErrorInfo = &wireError{ErrorCode: m.ErrorCode, ErrorMsg: m.ErrorMsg}
	}
	return w
}

// TimeLayout is the platform's yyyyMMdd'T'HHmmss'Z'.
const TimeLayout = "20060102T150405Z"

// platformTime formats t in the platform's layout, in UTC; "" for the zero time.
func platformTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeLayout)
}

func notAllowed(allow string) Response {
	r := errorResponse(&Error{Status: http.StatusMethodNotAllowed, Code: "APIG.0101",
		Msg: "The API does not exist or has not been published in the environment."})
	r.Allow = allow
	return r
}

func errorResponse(e *Error) Response {
	return jsonResponse(e.Status, struct {
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}{e.Code, e.Msg})
}

// jsonResponse encodes v without HTML escaping, so messages come back as they were sent.
func jsonResponse(status int, v any) Response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return Response{Status: http.StatusInternalServerError,
			Body: []byte(`{"error_code":"MOCK.000500","error_msg":"encoding the answer failed"}`)}
	}
	return Response{Status: status, Body: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}
}
