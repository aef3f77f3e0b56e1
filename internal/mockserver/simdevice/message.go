package simdevice

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Message is a device message as a device reads it (iotda-messages-facts.md §3): the
// platform publishes it on the device's down topic, $oc/devices/{device_id}/sys/messages/down,
// or on a custom topic, and the device answers nothing (the PUBACK is its only
// acknowledgement).
type Message struct {
	// Topic is where it was published.
	Topic string
	// Standard says the payload is in the platform's system format,
	// {"object_device_id","name","id","content"}; ID, Name, ObjectDeviceID and Content are
	// then its members. Otherwise the payload is raw (payload_format raw, or encoding
	// base64: the bytes the base64 held).
	Standard                 bool
	ID, Name, ObjectDeviceID string
	Content                  string
	// Payload is the whole payload, byte for byte.
	Payload []byte
}

// ParseMessage reads a payload the platform published on topic. The payload is in the
// system format when it is a JSON object whose members are among name, id, content and
// object_device_id, each a string or null: the rule of Huawei's Python device SDK
// (raw_device_message.py), which hands anything else to its raw listener only.
func ParseMessage(topic string, payload []byte) Message {
	m := Message{Topic: topic, Payload: payload}
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return m
	}
	var members map[string]*string
	if json.Unmarshal(trimmed, &members) != nil {
		return m // not an object of strings
	}
	for k, v := range members {
		var field *string
		switch k {
		case "name":
			field = &m.Name
		case "id":
			field = &m.ID
		case "content":
			field = &m.Content
		case "object_device_id":
			field = &m.ObjectDeviceID
		default:
			m.ID, m.Name, m.Content, m.ObjectDeviceID = "", "", "", ""
			return m
		}
		if v != nil {
			*field = *v
		}
	}
	m.Standard = true
	return m
}

// Text is what a device shows of the message: the content of a standard message, or the
// whole raw payload. Text that is not printable UTF-8 (a base64 message's bytes, say) is
// shown as a Go-quoted string.
func (m Message) Text() string {
	if m.Standard {
		return printable(m.Content)
	}
	return printable(string(m.Payload))
}

// printable returns s as it is when it is valid UTF-8 without control characters (tabs and
// newlines aside), and Go-quoted otherwise.
func printable(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return strconv.Quote(s)
		}
	}
	return s
}
