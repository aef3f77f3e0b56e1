package simdevice

import "testing"

func TestParseMessage(t *testing.T) {
	for _, tt := range []struct {
		payload        string
		standard       bool
		id, name, text string
		objectDeviceID string
	}{
		{payload: `{"id":"m1","content":"hello"}`, standard: true, id: "m1", text: "hello"},
		{payload: `{"object_device_id":"child","name":"n","id":"m2","content":"{\"a\":1}"}`, standard: true, id: "m2",
			name: "n", text: `{"a":1}`, objectDeviceID: "child"},
		{payload: ` {"name":null,"id":"m3","content":""} `, standard: true, id: "m3", text: ""},
		{payload: `{"name":"1","id":"2","content":"3"}`, standard: true, id: "2", name: "1", text: "3"}, // the Python SDK's test
		{payload: `{"id":"m4","content":"x","extra":"y"}`, text: `{"id":"m4","content":"x","extra":"y"}`},
		{payload: `{"id":1,"content":"x"}`, text: `{"id":1,"content":"x"}`},
		{payload: `{"content":{"a":1}}`, text: `{"content":{"a":1}}`},
		{payload: `plain text`, text: "plain text"},
		{payload: `["id"]`, text: `["id"]`},
		{payload: "\x00\x01\xff", text: `"\x00\x01\xff"`},
		{payload: "", text: ""},
	} {
		m := ParseMessage("t", []byte(tt.payload))
		if m.Standard != tt.standard || m.ID != tt.id || m.Name != tt.name || m.ObjectDeviceID != tt.objectDeviceID ||
			m.Text() != tt.text || m.Topic != "t" || string(m.Payload) != tt.payload {
			t.Errorf("ParseMessage(%q) = %+v, text %q", tt.payload, m, m.Text())
		}
	}
}
