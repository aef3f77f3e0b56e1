package journal

import (
	"encoding/json"
	"time"
)

// EntryKind says what an entry records.
type EntryKind string

// Entry kinds of the platform API and the device side. The batch task engine adds its own
// (see the mockserver package's EntryBatch* kinds).
const (
	// EntryRequest is one HTTP request to the platform API, recorded when it is answered
	// (or dropped by a fault), with its status and error code.
	EntryRequest EntryKind = "request"
	// EntryDelivery is a payload published to a device over MQTT (a command, or a fleet
	// device's in-process session taking one).
	EntryDelivery EntryKind = "delivery"
	// EntryRedelivery is a payload published again, with the DUP flag, because the device
	// had not acknowledged it (PUBACK) within the redelivery interval.
	EntryRedelivery EntryKind = "redelivery"
	// EntryReply is a device's reply matched to a waiting command.
	EntryReply EntryKind = "reply"
	// EntryLateReply is a device's reply that arrived after its command timed out (dropped).
	EntryLateReply EntryKind = "late_reply"
	// EntryConnect and EntryDisconnect record device sessions.
	EntryConnect    EntryKind = "connect"
	EntryDisconnect EntryKind = "disconnect"
	// EntryDeviceMessage is a message a simulated device (or a fleet device) received, as the
	// device read it: Body is the content of a message in the platform's standard format
	// (MessageID its id), or the whole payload of any other.
	EntryDeviceMessage EntryKind = "device_message"
)

// Entry is one thing the mock saw or did.
type Entry struct {
	Time time.Time `json:"time"`
	Kind EntryKind `json:"kind"`
	// RequestID is the X-Request-Id the platform API answered with (requests only).
	RequestID string `json:"request_id,omitempty"`
	Method    string `json:"method,omitempty"`
	Path      string `json:"path,omitempty"`
	// Header holds the request headers with Authorization, X-Auth-Token and
	// X-Security-Token values masked (see MaskHeader).
	Header    map[string][]string `json:"header,omitempty"`
	Status    int                 `json:"status,omitempty"`
	ErrorCode string              `json:"error_code,omitempty"`
	Fault     string              `json:"fault,omitempty"`
	DeviceID  string              `json:"device_id,omitempty"`
	CommandID string              `json:"command_id,omitempty"`
	// MessageID names the device message of a message request (once known), a message_*
	// entry, the delivery of a message, or a message a device received.
	MessageID string `json:"message_id,omitempty"`
	// MessageStatus is the message's status in message_* entries: PENDING, DELIVERED, FAILED
	// or TIMEOUT.
	MessageStatus string `json:"message_status,omitempty"`
	// Topic is the MQTT topic of a message's delivery, or of a message a device received.
	Topic string `json:"topic,omitempty"`
	// TaskID names the batch task of a batch task request or batch_* entry.
	TaskID string `json:"task_id,omitempty"`
	// TaskStatus is the task's or subtask's status in batch_* entries.
	TaskStatus string `json:"task_status,omitempty"`
	// ClientID names the device session a payload went to (deliveries and redeliveries)
	// or that began or ended (connects and disconnects): the MQTT client id, or
	// "fleet:{prefix}" for a fleet device's in-process session.
	ClientID string `json:"client_id,omitempty"`
	// Body is the request body (requests), the MQTT payload (deliveries and replies), what a
	// device received (device_message), or a detail of an engine's event (batch_*,
	// message_*). A body that is not JSON is held as a JSON string. A body longer than 4 KiB
	// is held as a JSON string of its first 4 KiB (cut at a character boundary), with
	// BodySize and BodySHA256 describing the whole. A request that failed authentication has
	// no body here.
	Body json.RawMessage `json:"body,omitempty"`
	// BodySize is the length in bytes of a body too long to hold whole; 0 otherwise.
	BodySize int `json:"body_size,omitempty"`
	// BodySHA256 is the lowercase hex SHA-256 of that whole body; "" otherwise.
	BodySHA256 string `json:"body_sha256,omitempty"`
}
