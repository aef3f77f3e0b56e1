package iotda

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// The message API's answers as they travel, and how they become DeviceMessages.

// wireMessage is CreateMessageResponse, ShowDeviceMessageResponse and DeviceMessage as they
// travel; every field is optional on the wire.
type wireMessage struct {
	MessageID     *string            `json:"message_id"`
	Name          string             `json:"name"`
	Message       json.RawMessage    `json:"message"`
	Encoding      string             `json:"encoding"`
	PayloadFormat string             `json:"payload_format"`
	Topic         string             `json:"topic"`
	Properties    *MessageProperties `json:"properties"`
	Status        string             `json:"status"`
	ErrorInfo     *struct {
		ErrorCode string          `json:"error_code"`
		ErrorMsg  json.RawMessage `json:"error_msg"`
	} `json:"error_info"`
	CreatedTime  string `json:"created_time"`
	FinishedTime string `json:"finished_time"`
	// Result is the create answer's MessageResult.
	Result *struct {
		Status       string `json:"status"`
		CreatedTime  string `json:"created_time"`
		FinishedTime string `json:"finished_time"`
	} `json:"result"`
}

// message converts an answer's message, masking secrets in the platform's texts. With secret,
// the answer is about a message sent with secret content, which the platform's own
// text could quote: a status it does not document is given as MessageUndocumented, and
// error_info's error_msg as secretErrorMsg (its error_code is kept).
func (w *wireMessage) message(secrets []string, secret bool) *DeviceMessage {
	m := &DeviceMessage{Name: w.Name, Encoding: w.Encoding, PayloadFormat: w.PayloadFormat, Topic: w.Topic,
		Properties: w.Properties, Status: w.Status, CreatedTime: w.CreatedTime, FinishedTime: w.FinishedTime}
	if w.MessageID != nil {
		m.MessageID = *w.MessageID
	}
	if w.Result != nil {
		m.Status, m.CreatedTime, m.FinishedTime = w.Result.Status, w.Result.CreatedTime, w.Result.FinishedTime
	}
	if len(w.Message) > 0 && !bytes.Equal(w.Message, []byte("null")) {
		m.Message = w.Message
	}
	if w.ErrorInfo != nil {
		m.ErrorCode = sanitize(w.ErrorInfo.ErrorCode, secrets)
		m.ErrorMsg = sanitize(renderJSONText(w.ErrorInfo.ErrorMsg), secrets)
	}
	m.Status = sanitize(m.Status, secrets)
	if secret && m.Status != "" && m.Status != MessagePending && !MessageFinal(m.Status) {
		m.Status = MessageUndocumented
	}
	if secret && m.ErrorMsg != "" {
		m.ErrorMsg = secretErrorMsg // error_info's text, like an error answer's, could quote the content.
	}
	if at, err := time.Parse(createTimeLayout, m.CreatedTime); err == nil {
		m.CreatedAt = at
	}
	if at, err := time.Parse(createTimeLayout, m.FinishedTime); err == nil {
		m.FinishedAt = at
	}
	return m
}

// decodeCreated reads a 2xx answer to creating m. An answer that cannot be read, is not a
// JSON object or does not name the message sent leaves the outcome unknown: the platform did
// receive the request. The error quotes the start of the answer, unless m's content is secret:
// the answer may echo it.
func (c *Client) decodeCreated(r *response, m Message) (*DeviceMessage, error) {
	unknown := func(why string) error {
		return &DeliveryUnknownError{Err: errors.New(why), RequestID: r.requestID, host: c.host, effect: effectMessage}
	}
	if r.readErr != nil {
		return nil, unknown(r.readErr.Error())
	}
	var w wireMessage
	if err := decodeObject(r.body, &w); err != nil {
		return nil, unknown("the HTTP " + http.StatusText(r.status) + " answer is not a valid JSON object: " +
			c.answerExcerpt(r.body, m.Secret))
	}
	if w.MessageID == nil || *w.MessageID != m.MessageID {
		return nil, unknown("the HTTP " + http.StatusText(r.status) + " answer does not name message " + m.MessageID + ": " +
			c.answerExcerpt(r.body, m.Secret))
	}
	msg := w.message(c.secrets, m.Secret)
	msg.RequestID, msg.StatusCode = r.requestID, r.status
	return msg, nil
}

// answerExcerpt is the start of an answer for an error, unless it may hold secret content.
func (c *Client) answerExcerpt(body []byte, secret bool) string {
	if secret {
		return "(not shown: it may hold secret content)"
	}
	return excerpt(body, c.secrets)
}
