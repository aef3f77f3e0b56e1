package messages

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
)

// What the device receives (facts §3).

// deliveryTopic is the topic a message is published on: topic_full_name as given; a topic
// suffix after $oc/devices/{device_id}/user/; or the system down topic
// $oc/devices/{device_id}/sys/messages/down. The platform puts the gateway's id in a custom
// topic; the mock has no gateways, so it is the device's own.
func deliveryTopic(deviceID string, r *request) string {
	switch {
	case r.TopicFullName != "":
		return r.TopicFullName
	case r.Topic != "":
		return "$oc/devices/" + deviceID + "/user/" + r.Topic
	}
	return SystemTopic(deviceID)
}

// SystemTopic is the topic of messages in the platform's standard format:
// $oc/devices/{device_id}/sys/messages/down (iot_06_v5_3004).
func SystemTopic(deviceID string) string {
	return "$oc/devices/" + deviceID + "/sys/messages/down"
}

// standardPayload is the platform's system format (iot_06_v5_3017):
// {"object_device_id","name","id","content"}, with object_device_id left out for a directly
// connected device (the mock has no gateways) and name left out when empty. That id is the
// API's message_id is UNCONFIRMED but near certain.
type standardPayload struct {
	Name    string `json:"name,omitempty"`
	ID      string `json:"id"`
	Content string `json:"content"`
}

// publication renders a message for its device. The standard format carries the content
// as a string (content is a String in the device SDKs): a string message's own text, or
// the JSON text of any other value (what the platform sends for an object is UNCONFIRMED).
// payload_format raw sends that text as the whole payload; encoding base64 sends the bytes
// the base64 decodes to (UNCONFIRMED: implied by "base64 only supports pass-through").
func publication(deviceID, messageID string, r *request) (Publication, error) {
	p := Publication{MessageID: messageID, Topic: deliveryTopic(deviceID, r), Custom: r.customTopic(),
		Properties: r.Properties}
	text := contentBytes(r.Content)
	switch {
	case r.Encoding == EncodingBase64:
		raw, err := base64.StdEncoding.DecodeString(string(text))
		if err != nil {
			return Publication{}, err
		}
		p.Payload = raw
	case r.PayloadFormat == PayloadRaw:
		p.Payload = text
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(standardPayload{Name: r.Name, ID: messageID, Content: string(text)}); err != nil {
			return Publication{}, err
		}
		p.Payload = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	return p, nil
}
