package iotda

import (
	"bytes"
	"encoding/json"
	"errors"
)

// decodeObject decodes a JSON object answer into v, keeping numbers as json.Number. A body
// that is not a JSON object (empty, an array, an HTML page) is an error.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	return dec.Decode(v)
}

// renderJSONText returns a JSON value as text: a string's contents, "" for null or nothing,
// and any other value as its JSON text.
func renderJSONText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}
