// Package messages is the IoTDA mock's device message service (CreateMessage and friends):
// the messages, their per-device cache and their delivery rules. It has the shape of the
// batchtask package, after moto's models.py and responses.py:
//
//   - the Backend (backend.go, create.go, delivery.go, expiry.go, payload.go) owns the
//     messages and the rules: what a valid message is, the cache of at most 20 messages per
//     device and its replacement rule, the time to live, delivery in order on the device's
//     down topic when the device is online or as soon as it connects, and the status moving
//     from PENDING to DELIVERED, FAILED or TIMEOUT;
//   - responses.go turns an authenticated HTTP request into Backend calls and Backend results
//     into the platform's exact bodies and errors.
//
// HTTPService (http.go) puts the responses on the mock's platform API, behind the prelude
// every service shares (package httpapi: faults, authentication, project, journal). The
// mockserver package implements Devices (the seam through which the Backend publishes to
// devices: the mock's one device-side delivery path, package delivery) and tells the Backend
// when a device connects, subscribes or is deleted.
//
// Platform facts come from iotda-messages-facts.md ("facts §n" below). Where the platform's
// behaviour is not documented (UNCONFIRMED there), the choice made here is said in the
// comment of the code that makes it.
package messages

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"
)

// Limits and defaults (facts §1.2 and §4).
const (
	// MaxCached is how many messages the platform keeps per device; the 21st replaces the
	// earliest (ListDeviceMessages godoc, iot_01_0331).
	MaxCached = 20
	// DefaultTTL and MaxTTL are the cache time in minutes; a TTL is a multiple of 5.
	DefaultTTL = 1440
	MaxTTL     = 1440
	// MaxContentBytes is the documented size of one message's content: 256 KB.
	MaxContentBytes = 256 << 10
)

// Statuses of a message (facts §2).
const (
	StatusPending   = "PENDING"
	StatusDelivered = "DELIVERED"
	StatusFailed    = "FAILED"
	StatusTimeout   = "TIMEOUT"
)

// Error codes in error_info of a FAILED message (the SDK's ErrorInfoDto godoc).
const (
	CodeDeviceOffline  = "IOTDA.014016"
	CodeNotSubscribed  = "IOTDA.014112"
	msgDeviceOffline   = "The device is not online."
	msgNotSubscribed   = "Send to device failed, device not subscribe topic."
	msgDeviceNotFound  = "The device does not exist. device_id: "
	msgMessageNotFound = "The message does not exist. message_id: "
)

// Publication is one message on its way to a device: an MQTT PUBLISH at QoS 1.
type Publication struct {
	MessageID string
	Topic     string
	Payload   []byte
	// Custom is set for a message on a custom topic, which the device receives only once it
	// subscribed to it (facts §3); the system down topic needs no subscription.
	Custom bool
	// Properties are the message's MQTT 5 publish properties; nil for none.
	Properties *Properties
}

// Properties are a message's MQTT 5 properties (the SDK's PropertiesDto), as sent.
type Properties struct {
	CorrelationData string         `json:"correlation_data,omitempty"`
	ResponseTopic   string         `json:"response_topic,omitempty"`
	UserProperties  []UserProperty `json:"user_properties,omitempty"`
}

// UserProperty is one MQTT 5 user property.
type UserProperty struct {
	Key   string `json:"prop_key,omitempty"`
	Value string `json:"prop_value,omitempty"`
}

// Devices is the seam to the device side.
type Devices interface {
	// Exists reports whether the registry has the device.
	Exists(deviceID string) bool
	// Online reports whether the device has a session that can receive.
	Online(deviceID string) bool
	// Subscribed reports whether the device has subscribed to a topic. Only custom topics
	// are asked about: the platform subscribes devices to their system topics implicitly
	// (facts §3).
	Subscribed(deviceID, topic string) bool
	// Publish hands p to the device's session at QoS 1. An error (the device went offline)
	// leaves the message pending.
	Publish(deviceID string, p Publication) error
}

// Event kinds reported to Config.OnEvent.
const (
	// EventCreated: a message was accepted (Status is its status in the 201 answer).
	EventCreated = "message"
	// EventDelivered: a message was published to its device (Topic and Payload say what).
	EventDelivered = "message_delivered"
	// EventFailed: a message could not be sent (ErrorCode says why).
	EventFailed = "message_failed"
	// EventTimeout: a pending message outlived its TTL.
	EventTimeout = "message_timeout"
	// EventRemoved: a message left the cache (Reason: replaced, deleted or device_deleted).
	EventRemoved = "message_removed"
)

// Reasons of EventRemoved.
const (
	ReasonReplaced      = "replaced"
	ReasonDeleted       = "deleted"
	ReasonDeviceDeleted = "device_deleted"
)

// Event is something the backend did, for the mock's journal.
type Event struct {
	Kind      string
	DeviceID  string
	MessageID string
	Status    string
	ErrorCode string
	Topic     string
	Payload   []byte
	Reason    string
}

// Config configures a Backend. Devices is required; every other field has a default.
type Config struct {
	Devices Devices
	// Now is the clock of created_time, finished_time and TTL expiry. Default time.Now.
	// Tests drive expiry with a clock of their own and ExpireDue.
	Now func() time.Time
	// TimeScale multiplies a TTL, so that tests can expire messages in milliseconds: 0.001
	// makes a minute 60 ms. Default 1.
	TimeScale float64
	// NewMessageID returns an id for a message sent without one. Required.
	NewMessageID func() string
	// OnEvent, when set, is told of every event. It must not block or call the Backend.
	OnEvent func(Event)
}

// Backend holds the device messages of one mock platform.
type Backend struct {
	cfg Config

	mu      sync.Mutex
	devices map[string]*device
	timer   *time.Timer // fires at the next TTL expiry
	closed  bool
	changed chan struct{} // closed and replaced whenever a message changes
}

// device is one device's cache, oldest message first.
type device struct {
	// sendMu serializes what is sent to the device (a create, a flush on connect), so that
	// messages reach it in the order they were created.
	sendMu sync.Mutex
	msgs   []*message
}

// message is one cached message. Its fields change under Backend.mu.
type message struct {
	id, deviceID string
	req          request
	status       string
	errCode      string
	errMsg       string
	created      time.Time
	finished     time.Time
	expires      time.Time // zero for a final message
}

// New returns a Backend.
func New(cfg Config) *Backend {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TimeScale <= 0 || math.IsNaN(cfg.TimeScale) || math.IsInf(cfg.TimeScale, 0) {
		cfg.TimeScale = 1
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	return &Backend{cfg: cfg, devices: make(map[string]*device), changed: make(chan struct{})}
}

// Close stops the expiry timer. Messages stay readable.
func (b *Backend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.timer != nil {
		b.timer.Stop()
	}
}

// Message is a snapshot of a message, as the API shows it.
type Message struct {
	MessageID string
	DeviceID  string
	Name      string
	// Content is the message as sent: a JSON value.
	Content json.RawMessage
	// Encoding and PayloadFormat are as sent, "" when left out.
	Encoding, PayloadFormat string
	// Topic is the topic suffix sent, TopicFullName the full name sent; DeliveryTopic is
	// the topic the message is published on.
	Topic, TopicFullName, DeliveryTopic string
	// TTL is in minutes (DefaultTTL when not sent).
	TTL        int
	Properties *Properties
	Status     string
	ErrorCode  string
	ErrorMsg   string
	CreatedAt  time.Time
	// FinishedAt is set once the status is final; ExpiresAt while it is pending.
	FinishedAt time.Time
	ExpiresAt  time.Time
}

func (m *message) snapshot() Message {
	return Message{MessageID: m.id, DeviceID: m.deviceID, Name: m.req.Name, Content: m.req.Content,
		Encoding: m.req.Encoding, PayloadFormat: m.req.PayloadFormat, Topic: m.req.Topic,
		TopicFullName: m.req.TopicFullName, DeliveryTopic: deliveryTopic(m.deviceID, &m.req), TTL: m.req.TTL,
		Properties: m.req.Properties, Status: m.status, ErrorCode: m.errCode, ErrorMsg: m.errMsg,
		CreatedAt: m.created, FinishedAt: m.finished, ExpiresAt: m.expires}
}

// Error is a refusal in the platform's terms.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg) }

// Error codes. IOTDA.000006 and IOTDA.000008 are the platform's common codes for invalid
// input and a malformed body, and IOTDA.014000 is the mock's unknown-device code for every
// API (iotda-platform-facts.md §1). That these are what the message API answers is
// UNCONFIRMED (facts §4, open question 1), and so is the code for an unknown message on
// DELETE, which the platform does not document: clients should rely on the HTTP status.
const (
	CodeInvalidInput    = "IOTDA.000006"
	CodeBadRequest      = "IOTDA.000008"
	CodeDeviceNotFound  = "IOTDA.014000"
	CodeMessageNotFound = "IOTDA.014404"

	msgInvalidInput = "Invalid input data."
)

func invalid(format string, args ...any) *Error {
	return &Error{Status: 400, Code: CodeInvalidInput, Msg: msgInvalidInput + " " + fmt.Sprintf(format, args...)}
}

func deviceNotFound(id string) *Error {
	return &Error{Status: 404, Code: CodeDeviceNotFound, Msg: msgDeviceNotFound + id}
}

// Get returns a message of a device; ok is false when the device has no such message. An
// unknown device is a 404 error.
func (b *Backend) Get(deviceID, messageID string) (m Message, ok bool, err *Error) {
	if !b.cfg.Devices.Exists(deviceID) {
		return Message{}, false, deviceNotFound(deviceID)
	}
	b.mu.Lock()
	expired := b.expireLocked(deviceID)
	msg := b.findLocked(deviceID, messageID)
	if msg != nil {
		m, ok = msg.snapshot(), true
	}
	b.mu.Unlock()
	b.reportExpired(expired)
	return m, ok, nil
}

// List returns a device's messages, oldest first. The platform does not document the order
// (facts §1.4, UNCONFIRMED); oldest first is the order of its cache.
func (b *Backend) List(deviceID string) ([]Message, *Error) {
	if !b.cfg.Devices.Exists(deviceID) {
		return nil, deviceNotFound(deviceID)
	}
	b.mu.Lock()
	expired := b.expireLocked(deviceID)
	out := []Message{}
	if d := b.devices[deviceID]; d != nil {
		for _, m := range d.msgs {
			out = append(out, m.snapshot())
		}
	}
	b.mu.Unlock()
	b.reportExpired(expired)
	return out, nil
}

// Delete removes a message from the cache; a pending message is then never delivered.
// Whether the platform's DELETE cancels a pending delivery is UNCONFIRMED (facts §1.1).
func (b *Backend) Delete(deviceID, messageID string) *Error {
	if !b.cfg.Devices.Exists(deviceID) {
		return deviceNotFound(deviceID)
	}
	b.mu.Lock()
	d := b.devices[deviceID]
	var removed *message
	if d != nil {
		for i, m := range d.msgs {
			if m.id == messageID {
				removed = m
				d.msgs = append(d.msgs[:i:i], d.msgs[i+1:]...)
				break
			}
		}
	}
	if removed != nil {
		b.notifyLocked()
	}
	b.mu.Unlock()
	if removed == nil {
		return &Error{Status: 404, Code: CodeMessageNotFound, Msg: msgMessageNotFound + messageID}
	}
	b.cfg.OnEvent(Event{Kind: EventRemoved, DeviceID: deviceID, MessageID: messageID, Status: removed.status,
		Reason: ReasonDeleted})
	return nil
}

// DeviceDeleted drops a deleted device's messages. What the platform does with them is
// UNCONFIRMED (facts §2); reads answer 404 for the device anyway.
func (b *Backend) DeviceDeleted(deviceID string) {
	b.mu.Lock()
	d := b.devices[deviceID]
	delete(b.devices, deviceID)
	if d != nil {
		b.notifyLocked()
		b.scheduleLocked()
	}
	b.mu.Unlock()
	if d == nil {
		return
	}
	for _, m := range d.msgs {
		b.cfg.OnEvent(Event{Kind: EventRemoved, DeviceID: deviceID, MessageID: m.id, Status: m.status,
			Reason: ReasonDeviceDeleted})
	}
}

// HasPending reports whether the device has a message waiting for it. It is cheap enough to
// ask on every device that connects, a fleet's thousands included.
func (b *Backend) HasPending(deviceID string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.devices[deviceID]; d != nil {
		for _, m := range d.msgs {
			if m.status == StatusPending {
				return true
			}
		}
	}
	return false
}

// findLocked returns a device's message by id, or nil. b.mu must be held.
func (b *Backend) findLocked(deviceID, messageID string) *message {
	if d := b.devices[deviceID]; d != nil {
		for _, m := range d.msgs {
			if m.id == messageID {
				return m
			}
		}
	}
	return nil
}

// notifyLocked wakes Wait callers. b.mu must be held.
func (b *Backend) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Wait blocks until the message satisfies cond, or ctx ends, and returns its last snapshot.
// A message that is not (or no longer) cached is passed as ok = false. Tests use it instead
// of polling.
func (b *Backend) Wait(ctx context.Context, deviceID, messageID string, cond func(m Message, ok bool) bool) (Message, bool, error) {
	for {
		b.mu.Lock()
		expired := b.expireLocked(deviceID)
		var snap Message
		msg := b.findLocked(deviceID, messageID)
		if msg != nil {
			snap = msg.snapshot()
		}
		changed := b.changed
		b.mu.Unlock()
		b.reportExpired(expired)
		if cond(snap, msg != nil) {
			return snap, msg != nil, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return snap, msg != nil, ctx.Err()
		}
	}
}
