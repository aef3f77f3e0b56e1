package messages

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Rules of a CreateMessage body (facts §1.2: the SDK's DeviceMessageRequest, PropertiesDto
// and UserPropDto godoc, and the API page iot_06_v5_0059).
const (
	// maxMessageID is 128 as the API pages say; the SDK's godoc says 100. The mock accepts
	// the larger (facts §7, open question 2).
	maxMessageID      = 128
	maxName           = 128
	maxTopic          = 128 // bytes: a custom topic is at most 128 bytes (facts §3, iot_01_0331)
	maxProperty       = 128
	maxUserProperties = 20
)

var (
	// DeviceIDPattern is the platform's rule for device ids.
	DeviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// MessageIDPattern: letters, digits, _ and -.
	MessageIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	// namePattern: Chinese characters, letters, digits and _?'#().,&%@!-.
	namePattern = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_?'#().,&%@!-]*$`)
	// idLikePattern: correlation_data and prop_key.
	idLikePattern = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)
	// responseTopicPattern: letters, digits and _-?=$#+/.
	responseTopicPattern = regexp.MustCompile(`^[A-Za-z0-9_?=$#+/-]*$`)
	// propValuePattern: Chinese characters, letters, digits and _? '#().,&%@!- (with a space).
	propValuePattern = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_? '#().,&%@!-]*$`)
)

// Values of encoding and payload_format.
const (
	EncodingNone    = "none"
	EncodingBase64  = "base64"
	PayloadStandard = "standard"
	PayloadRaw      = "raw"
)

// request is a validated CreateMessage body.
type request struct {
	MessageID string
	Name      string
	// Content is the message value, compacted.
	Content                 json.RawMessage
	Encoding, PayloadFormat string
	Topic, TopicFullName    string
	// TTL is in minutes: DefaultTTL when the body has none.
	TTL        int
	Properties *Properties
}

// customTopic reports whether the message goes to a topic of the user's rather than the
// system down topic, which needs the device to have subscribed (facts §3).
func (r *request) customTopic() bool { return r.Topic != "" || r.TopicFullName != "" }

// wireRequest is the body as it travels; pointers and raw values tell absent, null and
// wrongly typed members apart.
type wireRequest struct {
	MessageID     *string         `json:"message_id"`
	Name          *string         `json:"name"`
	Message       json.RawMessage `json:"message"`
	Properties    *Properties     `json:"properties"`
	Encoding      *string         `json:"encoding"`
	PayloadFormat *string         `json:"payload_format"`
	Topic         *string         `json:"topic"`
	TopicFullName *string         `json:"topic_full_name"`
	TTL           json.RawMessage `json:"ttl"`
}

// decodeCreate parses and checks a CreateMessage body. Every refusal is a 400: the common
// IOTDA.000008 for a body that is not JSON, IOTDA.000006 for a field that breaks a rule.
// Which codes the platform uses here is UNCONFIRMED (facts §4).
func decodeCreate(body []byte) (*request, *Error) {
	trimmed := bytes.TrimSpace(body)
	if !json.Valid(trimmed) {
		return nil, &Error{Status: 400, Code: CodeBadRequest,
			Msg: "Invalid input. Bad request, for more detail, refer to the error message. The request body is not valid JSON."}
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("The request body must be a JSON object.")
	}
	var w wireRequest
	if err := json.Unmarshal(trimmed, &w); err != nil {
		return nil, invalid("A field has the wrong type: %s.", jsonFieldError(err))
	}
	r := &request{MessageID: deref(w.MessageID), Name: deref(w.Name), Encoding: deref(w.Encoding),
		PayloadFormat: deref(w.PayloadFormat), Topic: deref(w.Topic), TopicFullName: deref(w.TopicFullName),
		Properties: w.Properties}
	for _, check := range []func() *Error{
		func() *Error { return r.checkNames() },
		func() *Error { return r.checkContent(w.Message) },
		func() *Error { return r.checkFormat() },
		func() *Error { return r.checkTopics() },
		func() *Error { return r.checkTTL(w.TTL) },
		func() *Error { return checkProperties(r.Properties) },
	} {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func jsonFieldError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok { //nolint:errorlint // Unmarshal returns it unwrapped
		return fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

func (r *request) checkNames() *Error {
	switch {
	case r.MessageID != "" && !MessageIDPattern.MatchString(r.MessageID):
		return invalid("message_id must be 1 to %d letters, digits, underscores (_) or hyphens (-).", maxMessageID)
	case utf8.RuneCountInString(r.Name) > maxName:
		return invalid("name is longer than %d characters.", maxName)
	case !namePattern.MatchString(r.Name):
		return invalid("name may contain only Chinese characters, letters, digits and _?'#().,&%%@!-.")
	}
	return nil
}

// checkContent requires a message: a string or any other JSON value but null ("支持string和
// json格式", facts §1.2), of at most 256 KB. That the API enforces the size of the usage
// pages is UNCONFIRMED; the size counted is the string's own bytes, or the JSON text of
// another value.
func (r *request) checkContent(raw json.RawMessage) *Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return invalid("message is required.")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return invalid("message is not valid JSON.")
	}
	r.Content = compact.Bytes()
	if n := len(contentBytes(r.Content)); n > MaxContentBytes {
		return invalid("message is %d bytes; a message holds at most %d bytes (256 KB).", n, MaxContentBytes)
	}
	return nil
}

// contentBytes is the text of a message: a string's own characters, or the JSON text of any
// other value.
func contentBytes(content json.RawMessage) []byte {
	var s string
	if len(content) > 0 && content[0] == '"' && json.Unmarshal(content, &s) == nil {
		return []byte(s)
	}
	return content
}

// checkFormat checks encoding and payload_format. base64 is "only for pass-through" (the
// SDK's ShowDeviceMessageResponse godoc) and payload_format is "only effective when encoding
// is none": the mock refuses base64 with payload_format standard, which cannot be honoured,
// and requires a base64 message to be a string holding standard base64. How the platform
// answers either is UNCONFIRMED.
func (r *request) checkFormat() *Error {
	switch r.Encoding {
	case "", EncodingNone, EncodingBase64:
	default:
		return invalid("encoding must be none or base64.")
	}
	switch r.PayloadFormat {
	case "", PayloadStandard, PayloadRaw:
	default:
		return invalid("payload_format must be standard or raw.")
	}
	if r.Encoding != EncodingBase64 {
		return nil
	}
	if r.PayloadFormat == PayloadStandard {
		return invalid("payload_format standard applies only with encoding none; a base64 message is passed through raw.")
	}
	var s string
	if r.Content[0] != '"' || json.Unmarshal(r.Content, &s) != nil {
		return invalid("with encoding base64, message must be a string holding base64.")
	}
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return invalid("with encoding base64, message must be standard base64: %v.", err)
	}
	return nil
}

// checkTopics: at most one of topic and topic_full_name, each at most 128 characters and a
// topic a device can receive on (no wildcards). The platform also refuses a topic suffix
// the product does not define; the mock has no product model and accepts any (UNCONFIRMED).
func (r *request) checkTopics() *Error {
	if r.Topic != "" && r.TopicFullName != "" {
		return invalid("topic and topic_full_name cannot both be set.")
	}
	for name, v := range map[string]string{"topic": r.Topic, "topic_full_name": r.TopicFullName} {
		switch {
		case len(v) > maxTopic:
			return invalid("%s is longer than %d bytes.", name, maxTopic)
		case strings.ContainsAny(v, "+#\x00"):
			return invalid("%s must be a topic name without the wildcards + and #.", name)
		}
	}
	if strings.HasPrefix(r.Topic, "/") {
		return invalid("topic is the part after $oc/devices/{device_id}/user/ and must not start with /.")
	}
	if strings.HasPrefix(r.TopicFullName, "$") {
		return invalid("topic_full_name must not start with $ (the system topics under %s and MQTT's server "+
			"topics); use topic for a custom topic under $oc/devices/{device_id}/user/.", systemTopicPrefix)
	}
	return nil
}

// systemTopicPrefix starts the platform's system topics. The mock refuses a topic_full_name
// under it, or under any other $ topic (MQTT keeps them for the server), as the provider does: a message published on a device's command topic would be
// taken by the device for a command. The platform passes topic_full_name "through without
// checking" (facts §1.2); whether it refuses system topics, and how, is UNCONFIRMED.
const systemTopicPrefix = "$oc/"

// checkTTL: an integer of minutes, 0 to 1440 in steps of 5; DefaultTTL when absent (the SDK's
// DeviceMessageRequest.Ttl godoc). Any JSON number with an integral value counts, 5.0 and
// 5e1 as well as 5: JSON has one number type, and the SDK's int32 reads them all. A negative
// ttl is refused (UNCONFIRMED).
func (r *request) checkTTL(raw json.RawMessage) *Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		r.TTL = DefaultTTL
		return nil
	}
	var num json.Number
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &num) != nil {
		return invalid("ttl must be an integer number of minutes.")
	}
	f, ok := new(big.Float).SetString(num.String())
	if !ok || !f.IsInt() {
		return invalid("ttl must be an integer number of minutes.")
	}
	n, acc := f.Int64()
	switch {
	case acc != big.Exact || n < 0 || n > MaxTTL:
		return invalid("ttl must be from 0 to %d minutes.", MaxTTL)
	case n%5 != 0:
		return invalid("ttl must be a multiple of 5 minutes.")
	}
	r.TTL = int(n)
	return nil
}

func checkProperties(p *Properties) *Error {
	if p == nil {
		return nil
	}
	switch {
	case len(p.CorrelationData) > maxProperty || !idLikePattern.MatchString(p.CorrelationData):
		return invalid("properties.correlation_data must be at most %d letters, digits, _ or -.", maxProperty)
	case len(p.ResponseTopic) > maxProperty || !responseTopicPattern.MatchString(p.ResponseTopic):
		return invalid("properties.response_topic must be at most %d letters, digits and _-?=$#+/.", maxProperty)
	case len(p.UserProperties) > maxUserProperties:
		return invalid("properties.user_properties has %d items; at most %d.", len(p.UserProperties), maxUserProperties)
	}
	for i, up := range p.UserProperties {
		switch {
		case len(up.Key) > maxProperty || !idLikePattern.MatchString(up.Key):
			return invalid("properties.user_properties[%d].prop_key must be at most %d letters, digits, _ or -.", i, maxProperty)
		case utf8.RuneCountInString(up.Value) > maxProperty || !propValuePattern.MatchString(up.Value):
			return invalid("properties.user_properties[%d].prop_value must be at most %d Chinese characters, "+
				"letters, digits, spaces and _?'#().,&%%@!-.", i, maxProperty)
		}
	}
	return nil
}

// Create validates a CreateMessage body for a device and accepts the message: it is cached
// (the 21st replacing the earliest) and, when the device is online, published at once. It
// returns the message as the 201 answer shows it, or the platform's error answer.
//
// The status follows facts §2: DELIVERED when the device was online and the message was
// published; PENDING when it waits for the device; FAILED with IOTDA.014112 when the device is
// online but has not subscribed to the message's custom topic, and with IOTDA.014016 when the
// device is offline and ttl is 0 ("do not cache"; UNCONFIRMED: the only case the offline code
// fits).
func (b *Backend) Create(deviceID string, body []byte) (Message, *Error) {
	req, err := decodeCreate(body)
	if err != nil {
		return Message{}, err
	}
	// The body is checked before the device, as the platform's gateway checks a request's
	// shape first; which comes first on the platform is UNCONFIRMED.
	if !b.cfg.Devices.Exists(deviceID) {
		return Message{}, deviceNotFound(deviceID)
	}
	if req.MessageID == "" {
		req.MessageID = b.cfg.NewMessageID()
	}
	b.mu.Lock()
	d := b.devices[deviceID]
	if d == nil {
		d = &device{}
		b.devices[deviceID] = d
	}
	b.mu.Unlock()

	d.sendMu.Lock()
	defer d.sendMu.Unlock()
	m, err := b.add(deviceID, d, req)
	if err != nil {
		return Message{}, err
	}
	online := b.cfg.Devices.Online(deviceID)
	switch {
	case online && req.customTopic() && !b.cfg.Devices.Subscribed(deviceID, deliveryTopic(deviceID, req)):
		b.finish(m, StatusFailed, CodeNotSubscribed, msgNotSubscribed)
	case online:
		b.deliverPending(deviceID, d)
	}
	if req.TTL == 0 {
		b.finish(m, StatusFailed, CodeDeviceOffline, msgDeviceOffline) // Not published: nothing is cached.
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return m.snapshot(), nil
}

// add caches a new message, PENDING, replacing the earliest when the device already has
// MaxCached. The platform "keeps at most 20 messages; beyond 20, later messages replace the
// earliest" (facts §1.4), whatever their status: a replaced PENDING message is never
// delivered (UNCONFIRMED, facts §4). A message_id already in the cache is refused (the
// platform "returns an error"; its status and code are UNCONFIRMED).
func (b *Backend) add(deviceID string, d *device, req *request) (*message, *Error) {
	b.mu.Lock()
	expired := b.expireLocked(deviceID)
	if b.findLocked(deviceID, req.MessageID) != nil {
		b.mu.Unlock()
		b.reportExpired(expired)
		return nil, invalid("message_id %s is already used by a message of device %s; message ids are unique per device.",
			req.MessageID, deviceID)
	}
	now := b.cfg.Now()
	m := &message{id: req.MessageID, deviceID: deviceID, req: *req, status: StatusPending, created: now}
	if req.TTL > 0 {
		m.expires = now.Add(b.ttlDuration(req.TTL))
	}
	d.msgs = append(d.msgs, m)
	var replaced *message
	if len(d.msgs) > MaxCached {
		replaced = d.msgs[0]
		d.msgs = append(d.msgs[:0:0], d.msgs[1:]...)
	}
	b.notifyLocked()
	b.scheduleLocked()
	b.mu.Unlock()
	b.reportExpired(expired)
	if replaced != nil {
		b.cfg.OnEvent(Event{Kind: EventRemoved, DeviceID: deviceID, MessageID: replaced.id, Status: replaced.status,
			Reason: ReasonReplaced})
	}
	b.cfg.OnEvent(Event{Kind: EventCreated, DeviceID: deviceID, MessageID: m.id, Status: StatusPending,
		Topic: deliveryTopic(deviceID, req)})
	return m, nil
}
