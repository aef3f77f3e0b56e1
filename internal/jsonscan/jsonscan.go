// Package jsonscan reads JSON token by token, at any depth. It knows nothing of IoTDA: the
// client, the provider and the mock server share it so that each reads a device's reply as
// what it is, while the mock stays an independent check of how the client reads IoTDA's
// answers.
package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// encoding/json refuses values nested more than 10,000 levels deep (json.Valid,
// json.Unmarshal and json.Compact alike), but such a value is valid JSON, and a device may
// reply with one: IoTDA passes the reply on inside its answer. The functions below read
// JSON token by token instead, at any depth, so that such an answer is still read as what
// it is and the delivery is never lost. They are linear in the size of the text.

// Valid reports whether text holds exactly one valid JSON value, at any depth.
func Valid(text []byte) bool {
	if json.Valid(text) {
		return true // The common case, and the fast one.
	}
	dec := json.NewDecoder(bytes.NewReader(text))
	if err := skipValue(dec); err != nil {
		return false
	}
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// ObjectMembers splits text, which must be exactly one JSON object, into its members' raw
// values (a later duplicate key wins, as with encoding/json), at any depth. ok is false
// when text is not one valid JSON object.
func ObjectMembers(text []byte) (members map[string]json.RawMessage, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	members = map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey {
			return nil, false
		}
		start := dec.InputOffset() // Just after the key: the colon and the value follow.
		if err := skipValue(dec); err != nil {
			return nil, false
		}
		raw := bytes.TrimSpace(text[start:dec.InputOffset()])
		members[key] = bytes.TrimSpace(bytes.TrimPrefix(raw, []byte(":")))
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return members, true
}

// skipValue reads one JSON value, whatever its depth.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// RewriteStrings calls rewrite with the decoded value of every string in text (object keys
// included), which must be one valid JSON value, at any depth. Each string for which
// rewrite returns true is replaced by the JSON encoding of the value it returned (without
// HTML escapes); every other byte of text is kept as it is. ok is false, and text is
// returned unchanged, when text is not valid JSON. It is linear in the size of text.
func RewriteStrings(text []byte, rewrite func(s string) (string, bool)) (out []byte, ok bool) {
	if !Valid(text) {
		return text, false
	}
	var b []byte // Allocated on the first rewrite: most texts have none.
	kept := 0    // text[:kept] is in b already.
	for i := 0; i < len(text); i++ {
		if text[i] != '"' {
			continue
		}
		// Outside strings, valid JSON has no quote; inside one, a quote ends it unless
		// escaped, and a backslash always escapes the next byte.
		end := i + 1
		for text[end] != '"' {
			if text[end] == '\\' {
				end++
			}
			end++
		}
		var s string
		if err := json.Unmarshal(text[i:end+1], &s); err == nil {
			if replacement, changed := rewrite(s); changed {
				b = append(b, text[kept:i]...)
				b = appendString(b, replacement)
				kept = end + 1
			}
		}
		i = end
	}
	if b == nil {
		return text, true
	}
	return append(b, text[kept:]...), true
}

// appendString appends s as a JSON string, escaping what JSON requires and no HTML.
func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // A Go string always encodes (invalid UTF-8 becomes U+FFFD).
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
