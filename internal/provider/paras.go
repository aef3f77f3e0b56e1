package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// numberPrecision is the mantissa precision Terraform itself uses for numbers, so a value
// parsed from a device's reply survives the trip through state unchanged.
const numberPrecision = 512

// maxBinaryExponent bounds the numbers taken from a device's reply or written into paras,
// to about 1e±1233. Rendering a number in decimal takes time and memory in proportion to
// its exponent, so a reply holding 1e100000000 would otherwise hang the provider (and
// Terraform, which renders state numbers the same way).
const maxBinaryExponent = 4096

// inRange reports whether f is small enough to render in decimal.
func inRange(f *big.Float) bool {
	exp := f.MantExp(nil)
	return exp <= maxBinaryExponent && exp >= -maxBinaryExponent
}

// errParasUnknown means paras (or a value inside it) is not known yet, so it cannot be
// converted; validators skip it and Create never sees it.
var errParasUnknown = errors.New("paras is not known yet")

// parasError is a problem with the paras argument that the user must fix. Where points
// inside paras ("" for paras itself, ".a.b[0]" below it). A message about paras itself
// names it first, so that describeParasError can name paras_wo instead.
type parasError struct {
	Where string
	Msg   string
	// Redacted, when set, is Msg without any of the value's text (a JSON syntax error quotes
	// the character it stopped at), for write-only parameters.
	Redacted string
}

func (e *parasError) Error() string {
	if e.Where == "" {
		return e.Msg
	}
	return fmt.Sprintf("paras%s: %s", e.Where, e.Msg)
}

// describeParasError words err, from parasJSON, for the argument attr: "paras", or
// "paras_wo", whose value is write-only and so is never quoted, not even a character of it.
func describeParasError(err error, attr string) string {
	var pe *parasError
	if attr == "paras" || !errors.As(err, &pe) {
		return err.Error()
	}
	msg := pe.Msg
	if pe.Redacted != "" {
		msg = pe.Redacted
	}
	if pe.Where != "" {
		return fmt.Sprintf("%s%s: %s", attr, pe.Where, msg)
	}
	return strings.Replace(msg, "paras", attr, 1)
}

// parasJSON converts the paras argument into the JSON object sent to the platform.
//
// An HCL object or map is encoded here rather than through encoding/json so that numbers
// keep every digit Terraform gave them (12345678901234567890 and 0.1 go on the wire as
// exactly those literals). A string must hold a JSON object; it is compacted, never decoded
// and re-encoded, so its numbers stay untouched as well.
func parasJSON(v types.Dynamic) (json.RawMessage, error) {
	if v.IsUnknown() || v.IsUnderlyingValueUnknown() {
		return nil, errParasUnknown
	}
	if v.IsNull() || v.IsUnderlyingValueNull() {
		return nil, &parasError{Msg: "paras must be set to an object"}
	}
	switch u := v.UnderlyingValue().(type) {
	case basetypes.StringValue:
		return compactJSONObject(u.ValueString())
	case basetypes.ObjectValue, basetypes.MapValue:
		var buf bytes.Buffer
		if err := encodeValue(&buf, u, ""); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	default:
		return nil, &parasError{Msg: fmt.Sprintf(
			"paras must be an object, such as { value = \"ON\" }, or a string holding a JSON object, "+
				"such as jsonencode({ value = \"ON\" }); got %s", describeType(u))}
	}
}

// compactJSONObject checks that s is exactly one JSON object and returns it in the form the
// object form of paras has: compacted, with every string written the way encodeString
// writes it (so `\u00e9` and `é`, or jsonencode's `\u003c` and `<`, send the same bytes).
// Numbers and the order of members stay exactly as written.
func compactJSONObject(s string) (json.RawMessage, error) {
	trimmed := strings.TrimSpace(s)
	if !strings.HasPrefix(trimmed, "{") {
		return nil, &parasError{Msg: "the paras string must hold a JSON object (it must start with \"{\"), " +
			"such as jsonencode({ value = \"ON\" }); the platform does not accept other JSON values"}
	}
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(trimmed), &raw); err != nil {
		return nil, invalidJSONError(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, invalidJSONError(err)
	}
	return canonicalStrings(buf.Bytes()), nil
}

// canonicalStrings rewrites every string of compact, valid JSON as encodeString writes it.
// A string holding an escaped lone UTF-16 surrogate (such as "\ud800") is kept as written:
// decoding it would turn it into U+FFFD, another value.
func canonicalStrings(compact []byte) []byte {
	out := make([]byte, 0, len(compact))
	for i := 0; i < len(compact); {
		if compact[i] != '"' {
			out = append(out, compact[i])
			i++
			continue
		}
		end := stringEnd(compact, i)
		token := compact[i:end]
		var decoded string
		if bytes.IndexByte(token, '\\') < 0 || hasLoneSurrogate(token) || json.Unmarshal(token, &decoded) != nil {
			out = append(out, token...) // Nothing escaped, or not to be decoded.
		} else {
			var b bytes.Buffer
			_ = encodeString(&b, decoded) // A decoded string always encodes.
			out = append(out, b.Bytes()...)
		}
		i = end
	}
	return out
}

// stringEnd returns the index just past the JSON string starting at b[start] == '"'.
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++ // Skip the escaped character.
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// hasLoneSurrogate reports whether a JSON string token escapes a UTF-16 surrogate that is
// not part of a pair.
func hasLoneSurrogate(token []byte) bool {
	pendingHigh := false
	for i := 0; i < len(token); i++ {
		if token[i] != '\\' || i+1 >= len(token) {
			if pendingHigh {
				return true
			}
			continue
		}
		if token[i+1] != 'u' || i+6 > len(token) {
			if pendingHigh {
				return true
			}
			i++
			continue
		}
		r, err := strconv.ParseUint(string(token[i+2:i+6]), 16, 32)
		if err != nil {
			return true
		}
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if pendingHigh {
				return true
			}
			pendingHigh = true
		case r >= 0xDC00 && r < 0xE000:
			if !pendingHigh {
				return true
			}
			pendingHigh = false
		default:
			if pendingHigh {
				return true
			}
		}
		i += 5
	}
	return pendingHigh
}

// invalidJSONError reports a paras string that is not valid JSON.
func invalidJSONError(err error) *parasError {
	e := &parasError{Msg: "the paras string is not valid JSON: " + describeJSONError(err),
		Redacted: "the paras string is not valid JSON"}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		e.Redacted += fmt.Sprintf(" (at byte %d)", syn.Offset)
	}
	return e
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	return err.Error()
}

// encodeValue writes v as JSON. where is the position inside paras, for error messages.
func encodeValue(buf *bytes.Buffer, v attr.Value, where string) error {
	if v.IsUnknown() {
		return errParasUnknown
	}
	if v.IsNull() {
		buf.WriteString("null")
		return nil
	}
	switch v := v.(type) {
	case basetypes.DynamicValue:
		return encodeValue(buf, v.UnderlyingValue(), where)
	case basetypes.StringValue:
		return encodeString(buf, v.ValueString())
	case basetypes.BoolValue:
		buf.WriteString(strconv.FormatBool(v.ValueBool()))
		return nil
	case basetypes.NumberValue:
		s, err := formatNumber(v.ValueBigFloat())
		if err != nil {
			return &parasError{Where: where, Msg: err.Error()}
		}
		buf.WriteString(s)
		return nil
	case basetypes.Int64Value:
		buf.WriteString(strconv.FormatInt(v.ValueInt64(), 10))
		return nil
	case basetypes.Float64Value:
		s, err := formatNumber(big.NewFloat(v.ValueFloat64()))
		if err != nil {
			return &parasError{Where: where, Msg: err.Error()}
		}
		buf.WriteString(s)
		return nil
	case basetypes.ObjectValue:
		return encodeMembers(buf, v.Attributes(), where)
	case basetypes.MapValue:
		return encodeMembers(buf, v.Elements(), where)
	case basetypes.TupleValue:
		return encodeElements(buf, v.Elements(), where)
	case basetypes.ListValue:
		return encodeElements(buf, v.Elements(), where)
	case basetypes.SetValue:
		return encodeElements(buf, v.Elements(), where)
	default:
		return &parasError{Where: where, Msg: fmt.Sprintf("values of type %s cannot be sent as JSON", v.Type(context.Background()))}
	}
}

// encodeMembers writes a JSON object with its keys sorted, as Terraform's jsonencode does.
func encodeMembers(buf *bytes.Buffer, members map[string]attr.Value, where string) error {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encodeString(buf, k); err != nil {
			return err
		}
		buf.WriteByte(':')
		if err := encodeValue(buf, members[k], where+"."+k); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func encodeElements(buf *bytes.Buffer, elems []attr.Value, where string) error {
	buf.WriteByte('[')
	for i, e := range elems {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := encodeValue(buf, e, fmt.Sprintf("%s[%d]", where, i)); err != nil {
			return err
		}
	}
	buf.WriteByte(']')
	return nil
}

// encodeString writes s as a JSON string without escaping <, > and &, which the device
// should receive exactly as written.
func encodeString(buf *bytes.Buffer, s string) error {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return err
	}
	buf.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
	return nil
}

// formatNumber renders f as a JSON number literal in the shortest decimal form that
// identifies the value at its precision, which is how Terraform's own jsonencode writes
// numbers: 12345678901234567890 and 0.1 come out as written, and so does 1e400 (as a 1 and
// 400 zeros), where the binary integer Terraform holds for it has other digits after the
// 155th.
func formatNumber(f *big.Float) (string, error) {
	if f == nil {
		return "null", nil
	}
	if f.IsInf() {
		return "", errors.New("infinity cannot be sent as a JSON number")
	}
	if !inRange(f) {
		return "", errors.New("the number is too large or too small to send (at most about 1e±1233)")
	}
	return f.Text('f', -1), nil
}

// describeType names the kind of value a user wrote, for error messages.
func describeType(v attr.Value) string {
	switch v.(type) {
	case basetypes.StringValue:
		return "a string"
	case basetypes.NumberValue, basetypes.Int64Value, basetypes.Float64Value:
		return "a number"
	case basetypes.BoolValue:
		return "a bool"
	case basetypes.TupleValue, basetypes.ListValue:
		return "a list"
	case basetypes.SetValue:
		return "a set"
	default:
		return v.Type(context.Background()).String()
	}
}
