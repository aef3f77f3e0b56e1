package iotda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
)

// The device message API (iotda-messages-facts.md §1): POST and GET on
// /v5/iot/{project_id}/devices/{device_id}/messages and GET on .../messages/{message_id}. The
// platform accepts a message at once (201), caches it while the device is offline, delivers it
// when the device is back, and reports its status. A message has no reply from the device.

// Message statuses (facts §2). PENDING is the only one that still changes.
const (
	MessagePending   = "PENDING"
	MessageDelivered = "DELIVERED"
	MessageFailed    = "FAILED"
	MessageTimeout   = "TIMEOUT"
	// MessageUndocumented stands for a status none of the above in answers about a message
	// sent with secret content: the provider's own word, never the platform's.
	MessageUndocumented = "UNDOCUMENTED"
)

// MessageFinal reports whether a message status is final: DELIVERED, FAILED or TIMEOUT never
// change again (facts §2).
func MessageFinal(status string) bool {
	switch status {
	case MessageDelivered, MessageFailed, MessageTimeout:
		return true
	}
	return false
}

// Values of Message.Encoding and Message.PayloadFormat (facts §1.2). The platform's defaults
// are EncodingNone and PayloadStandard.
const (
	EncodingNone    = "none"
	EncodingBase64  = "base64"
	PayloadStandard = "standard"
	PayloadRaw      = "raw"
)

// Limits of a message (facts §1.2 and §4).
const (
	// MaxMessageIDLength is the documented maximum of message_id (the API pages and the
	// Huawei Cloud provider say 128; the SDK's godoc says 100, and NewMessageID stays within both).
	MaxMessageIDLength = 128
	// MaxMessageBytes is the documented size of one message's content: 256 KB (iot_01_0331).
	MaxMessageBytes = 256 << 10
	// DefaultMessageTTL and MaxMessageTTL are the cache time in minutes; TTLs are multiples of 5.
	DefaultMessageTTL = 1440
	MaxMessageTTL     = 1440
	// MaxUserProperties bounds properties.user_properties.
	MaxUserProperties = 20
)

// Bounds of the answers that echo messages: one message of up to MaxMessageBytes, each byte
// of which JSON may write as a six-byte escape, and a list of up to 20 of them.
const (
	maxMessageBytes     = 8 * MaxMessageBytes
	maxMessageListBytes = 20 * maxMessageBytes
)

// MessageIDPattern is the platform's rule for message ids: letters, digits, _ and -.
var MessageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// NewMessageID returns a fresh random UUID, version 4 as RFC 4122 defines it (36 characters
// within MessageIDPattern, from crypto/rand), the form the platform recommends for
// message_id. The caller keeps it: it is how a message whose create answer was lost is found
// again.
func NewMessageID() (string, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

// Message is one message for one device: the CreateMessage request (the SDK's
// DeviceMessageRequest). Empty optional fields are left out of the body.
type Message struct {
	DeviceID string
	// MessageID is required: generate it with NewMessageID. The platform refuses an id that
	// is already used on the device.
	MessageID string
	// Name is the message's name, at most 128 characters.
	Name string
	// Message is the content, sent byte for byte as the "message" value: a JSON string, or a
	// JSON object sent as JSON (facts §1.2: "a string or a JSON value"). It must not be null.
	Message json.RawMessage
	// Encoding is EncodingNone or EncodingBase64; PayloadFormat PayloadStandard or PayloadRaw
	// (only effective with EncodingNone).
	Encoding, PayloadFormat string
	// Topic is a custom topic suffix (the platform prefixes $oc/devices/{device_id}/user/);
	// TopicFullName a full topic name. At most one of them; neither means the default topic
	// $oc/devices/{device_id}/sys/messages/down.
	Topic, TopicFullName string
	// TTL is how long the platform caches the message for an offline device, in minutes
	// (0 to 1440 in steps of 5; 0 caches nothing). Nil means the platform's default, 1440.
	TTL *int32
	// Properties are the MQTT 5 publish properties; nil sends none.
	Properties *MessageProperties
	// Secret keeps the request body, and the answers of reads made for it, out of the logs
	// and the errors (see CreateMessage): for content that must not be recorded anywhere (a
	// write-only argument).
	Secret bool
}

// MessageProperties are a message's MQTT 5 properties (the SDK's PropertiesDto).
type MessageProperties struct {
	CorrelationData string         `json:"correlation_data,omitempty"`
	ResponseTopic   string         `json:"response_topic,omitempty"`
	UserProperties  []UserProperty `json:"user_properties,omitempty"`
}

// UserProperty is one MQTT 5 user property (the SDK's UserPropDto).
type UserProperty struct {
	Key   string `json:"prop_key,omitempty"`
	Value string `json:"prop_value,omitempty"`
}

// DeviceMessage is a message as the platform reports it: the CreateMessage answer (message id
// and result) or ShowDeviceMessage's (every field).
type DeviceMessage struct {
	MessageID string
	// Status is PENDING, DELIVERED, FAILED or TIMEOUT, as the platform sent it, or a status
	// it does not document; for a message with secret content, MessageUndocumented stands
	// for the latter.
	Status string
	// CreatedTime and FinishedTime are as sent (yyyyMMdd'T'HHmmss'Z', UTC); CreatedAt and
	// FinishedAt the same parsed, zero when absent or not in that format. FinishedTime is
	// set once the status is final.
	CreatedTime, FinishedTime string
	CreatedAt, FinishedAt     time.Time
	// ErrorCode and ErrorMsg are error_info: why a message FAILED, such as IOTDA.014016
	// (device offline) or IOTDA.014112 (device not subscribed to the topic). Only reads
	// carry them; the create answer has no error_info (facts §1.3).
	ErrorCode, ErrorMsg string
	// Name, Message (the content exactly as received; nil when absent), Encoding,
	// PayloadFormat, Topic and Properties are what ShowDeviceMessage echoes back. Topic is
	// one field for both request fields (facts §1.4); the platform returns neither ttl nor
	// topic_full_name.
	Name                    string
	Message                 json.RawMessage
	Encoding, PayloadFormat string
	Topic                   string
	Properties              *MessageProperties
	// Recovered is set when the create answer was lost and the message was found by its id
	// instead; LostAnswer then says what happened to the answer.
	Recovered  bool
	LostAnswer string
	// RequestID is the X-Request-Id response header.
	RequestID  string
	StatusCode int
}

// MessageRef names one message of one device. Secret keeps the answer, which holds the
// message's content, out of the logs, the platform's error_msg out of the errors
// (secretErrorMsg), and gives a status it does not document as MessageUndocumented.
type MessageRef struct {
	DeviceID, MessageID string
	Secret              bool
}

// Ref names m, to read it back: its device, its id, and whether its content is secret.
func (m Message) Ref() MessageRef {
	return MessageRef{DeviceID: m.DeviceID, MessageID: m.MessageID, Secret: m.Secret}
}

// ErrMessageNotFound: the device exists but the platform has no message with that id. It
// answers 200 without a message_id then (facts §1.4): the message was never created, was
// replaced by 20 newer ones, or has left the cache.
var ErrMessageNotFound = errors.New("iotda: the platform has no such message")

// MessageNotFoundError is ShowDeviceMessage's ErrMessageNotFound, with the request id.
type MessageNotFoundError struct {
	DeviceID, MessageID, RequestID string
}

// Error names the message and the device.
func (e *MessageNotFoundError) Error() string {
	msg := fmt.Sprintf("IoTDA has no message %s for device %s (it answered without a message_id)", e.MessageID, e.DeviceID)
	if e.RequestID != "" {
		msg += ", request id " + e.RequestID
	}
	return msg
}

// Is matches ErrMessageNotFound.
func (e *MessageNotFoundError) Is(target error) bool { return target == ErrMessageNotFound }

// messageBody renders the request body. The content is compacted, never decoded, so its
// numbers keep every digit; strings are not HTML-escaped, like the SDK's encoder.
func messageBody(m Message) ([]byte, error) {
	if err := checkDeviceID(m.DeviceID); err != nil {
		return nil, err
	}
	return MessageDocument(m)
}

// MessageDocument renders m without its device, as the CreateMessage body: the document of a
// createMessages batch task, which holds one such body ("参考下发设备消息",
// iotda-messages-facts.md §5). DeviceID and Secret are not part of it. The content keeps its
// exact bytes (compacted), and empty optional fields are left out.
func MessageDocument(m Message) ([]byte, error) {
	if !MessageIDPattern.MatchString(m.MessageID) {
		return nil, fmt.Errorf("iotda: message id %q must be 1 to %d letters, digits, _ or -", m.MessageID, MaxMessageIDLength)
	}
	content := bytes.TrimSpace(m.Message)
	if len(content) == 0 || bytes.Equal(content, []byte("null")) || !json.Valid(content) {
		return nil, errors.New("iotda: the message content must be a JSON value other than null")
	}
	if m.Topic != "" && m.TopicFullName != "" {
		return nil, errors.New("iotda: a message has a topic or a topic_full_name, not both")
	}
	w := struct {
		MessageID     string             `json:"message_id"`
		Name          string             `json:"name,omitempty"`
		Message       json.RawMessage    `json:"message"`
		Properties    *MessageProperties `json:"properties,omitempty"`
		Encoding      string             `json:"encoding,omitempty"`
		PayloadFormat string             `json:"payload_format,omitempty"`
		Topic         string             `json:"topic,omitempty"`
		TopicFullName string             `json:"topic_full_name,omitempty"`
		TTL           *int32             `json:"ttl,omitempty"`
	}{m.MessageID, m.Name, content, m.Properties, m.Encoding, m.PayloadFormat, m.Topic, m.TopicFullName, m.TTL}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// checkDeviceID refuses an id that cannot name a device in a path.
func checkDeviceID(id string) error {
	if id == "" || id == "." || id == ".." {
		return errors.New("iotda: device id is required")
	}
	return nil
}

// ShowDeviceMessage reads one message: GET
// {endpoint}/v5/iot/{project_id}/devices/{device_id}/messages/{message_id} (facts §1.4).
//
// GETs are retried on more failures than POSTs (see do). Errors: *MessageNotFoundError
// (errors.Is ErrMessageNotFound) when the device has no such message, *APIError (errors.Is
// ErrNotFound for an unknown device; with ref.Secret its ErrorMsg is secretErrorMsg, since the
// platform's could quote the content), *NotSentError, or *DeliveryUnknownError (no usable
// answer, or an answer about another message).
func (c *Client) ShowDeviceMessage(ctx context.Context, ref MessageRef) (*DeviceMessage, error) {
	if err := checkDeviceID(ref.DeviceID); err != nil {
		return nil, err
	}
	if !MessageIDPattern.MatchString(ref.MessageID) {
		return nil, fmt.Errorf("iotda: %q is not a message id", ref.MessageID)
	}
	r, err := c.readMessages(ctx, ref.Secret, c.apiURL("devices", ref.DeviceID, "messages", ref.MessageID).String(),
		maxMessageBytes)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error {
		return &DeliveryUnknownError{Err: errors.New(why), RequestID: r.requestID, host: c.host, effect: effectNone}
	}
	var w wireMessage
	if err := decodeObject(r.body, &w); err != nil {
		return nil, bad("the answer to reading message " + ref.MessageID + " is not a valid JSON object: " +
			c.answerExcerpt(r.body, ref.Secret))
	}
	switch {
	case w.MessageID == nil || *w.MessageID == "":
		return nil, &MessageNotFoundError{DeviceID: ref.DeviceID, MessageID: ref.MessageID, RequestID: r.requestID}
	case *w.MessageID != ref.MessageID && ref.Secret: // The other id is not shown: it could be an echo.
		return nil, bad("the answer to reading message " + ref.MessageID + " is about another message")
	case *w.MessageID != ref.MessageID:
		return nil, bad("the answer to reading message " + ref.MessageID + " is about message " +
			sanitize(*w.MessageID, c.secrets))
	}
	m := w.message(c.secrets, ref.Secret)
	m.RequestID, m.StatusCode = r.requestID, r.status
	return m, nil
}

// DeviceMessageList is ListDeviceMessages' answer.
type DeviceMessageList struct {
	DeviceID string
	// Messages are the device's messages as the platform lists them (at most 20; their
	// order is not documented).
	Messages  []DeviceMessage
	RequestID string
}

// ListDeviceMessages reads every message the platform keeps for a device: GET
// {endpoint}/v5/iot/{project_id}/devices/{device_id}/messages (no paging; at most 20 messages,
// facts §1.4). secret is as MessageRef.Secret: for a device sent secret content.
// Errors as ShowDeviceMessage, without ErrMessageNotFound.
func (c *Client) ListDeviceMessages(ctx context.Context, deviceID string, secret bool) (*DeviceMessageList, error) {
	if err := checkDeviceID(deviceID); err != nil {
		return nil, err
	}
	r, err := c.readMessages(ctx, secret, c.apiURL("devices", deviceID, "messages").String(), maxMessageListBytes)
	if err != nil {
		return nil, err
	}
	var w struct {
		DeviceID string        `json:"device_id"`
		Messages []wireMessage `json:"messages"`
	}
	if err := decodeObject(r.body, &w); err != nil {
		return nil, &DeliveryUnknownError{Err: errors.New("the answer to listing the messages of device " + deviceID +
			" is not valid: " + c.answerExcerpt(r.body, secret)), RequestID: r.requestID, host: c.host, effect: effectNone}
	}
	out := &DeviceMessageList{DeviceID: w.DeviceID, RequestID: r.requestID, Messages: make([]DeviceMessage, 0, len(w.Messages))}
	for i := range w.Messages {
		m := w.Messages[i].message(c.secrets, secret)
		m.RequestID, m.StatusCode = r.requestID, r.status
		out.Messages = append(out.Messages, *m)
	}
	return out, nil
}

// readMessages GETs target, an answer of up to maxBody bytes about messages. With secret,
// the answer stays out of the logs and an error answer's error_msg out of the error
// (secretErrorMsg stands for it).
func (c *Client) readMessages(ctx context.Context, secret bool, target string, maxBody int64) (*response, error) {
	if secret {
		ctx = withSecretAnswer(ctx)
	}
	r, err := c.do(ctx, request{method: http.MethodGet, target: target, maxBody: maxBody, effect: effectNone})
	if err != nil && secret {
		hideErrorMsg(err)
	}
	return r, err
}
