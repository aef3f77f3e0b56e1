package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"golang.org/x/text/unicode/norm"

	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
)

// Limits of a reply's object form (response). Terraform decodes, type-checks and compares
// every value in state on every plan, at a cost that grows faster than the reply (deep
// nesting and wide objects are the expensive shapes), so a reply beyond any of these limits
// is recorded in response_json only. They were chosen from measurements of `terraform plan`
// on a state holding one reply of each shape: see BenchmarkReplyPlanSide and the CHANGELOG.
// Replies beyond them are kept exactly in response_json, which costs Terraform no more
// than any other string.
const (
	// maxReplyDepth bounds nesting: {"a":{"b":1}} has depth 2, a scalar depth 0.
	maxReplyDepth = 32
	// maxReplyMembers bounds the members of one object or the elements of one array.
	maxReplyMembers = 256
	// maxReplyValues bounds the values in the whole reply, containers included.
	maxReplyValues = 512
	// maxReplyBytes bounds the reply's JSON text.
	maxReplyBytes = 64 << 10
)

// replyLimitsText states the limits for diagnostics and documentation.
var replyLimitsText = fmt.Sprintf("A reply is kept as an object in response when it is nested at most %d levels "+
	"deep, has at most %d members in any object or array, at most %d values in all, and at most %d KiB of JSON; "+
	"beyond these limits every later plan would slow down, so only response_json holds it.",
	maxReplyDepth, maxReplyMembers, maxReplyValues, maxReplyBytes>>10)

// deviceReply is a device's reply as the provider records it. readReply is the one place
// that builds it, for the resource, the data source and any other consumer of replies (an
// action, per-device results of a batch task), so that all of them agree on what a reply is.
type deviceReply struct {
	// JSON is the reply exactly as the device sent it (surrounding whitespace removed), or
	// null when the device answered with nothing.
	JSON types.String
	// Object is the reply's object form: objects become objects, arrays tuples, strings
	// strings, numbers numbers, null null. Null when the device answered with nothing or when
	// the reply is beyond the limits (Beyond says which).
	Object types.Dynamic
	// ResultCode is the reply's result_code: 0 when absent, as on the platform; null when it
	// is not an integer, with CodeErr saying why (a failure, never a success).
	ResultCode types.Int64
	CodeErr    error
	// Beyond names the limit the reply exceeds, "" within all of them.
	Beyond string
	// Inexact lists (up to maxListedPaths) the places of numbers Terraform cannot hold
	// exactly, which Object gives as strings; InexactCount counts all of them.
	Inexact      []string
	InexactCount int
	// NotJSON is set when the reply was not JSON at all; JSON and Object then hold its text as
	// a JSON string. IoTDA always sends JSON, so this only guards other sources of replies.
	NotJSON bool
}

// maxListedPaths bounds the places a warning lists.
const maxListedPaths = 5

// readReply turns a device's reply, the "response" member of IoTDA's answer (or nil when it
// had none), into what the provider records (README.md, "How device replies reach the provider"):
//
//   - absent, null or "" means the device answered with nothing: JSON and Object are null and
//     ResultCode is 0;
//   - any other JSON value is kept: JSON holds it exactly and Object its object form within
//     the limits above, with every number exact. A number Terraform cannot hold exactly
//     (beyond about 1e±1233, which takes too long to render, or with more significant digits
//     than Terraform's 512-bit numbers keep) is given in Object as a string holding the
//     number as the device wrote it;
//   - text that is not JSON is kept as a JSON string holding it.
//
// Bytes that are not UTF-8 become U+FFFD, since Terraform strings are Unicode, and text that
// Terraform would normalize (see escapeNonASCII) is written with \u escapes in JSON.
func readReply(ctx context.Context, raw json.RawMessage) deviceReply {
	r := deviceReply{JSON: types.StringNull(), Object: types.DynamicNull(), ResultCode: types.Int64Value(0)}
	text := bytes.TrimSpace(raw)
	if !utf8.Valid(text) {
		text = bytes.ToValidUTF8(text, []byte("\uFFFD"))
	}
	if len(text) == 0 || string(text) == "null" || string(text) == `""` {
		return r
	}
	if !jsonscan.Valid(text) {
		var quoted bytes.Buffer
		_ = encodeString(&quoted, string(text)) // A valid UTF-8 string always encodes.
		r.NotJSON, r.JSON = true, types.StringValue(quoted.String())
		if !norm.NFC.IsNormal(quoted.Bytes()) {
			r.JSON = types.StringValue(string(escapeNonASCII(quoted.Bytes())))
		}
		if len(text) <= maxReplyBytes {
			r.Object = types.DynamicValue(types.StringValue(string(text)))
		} else {
			r.Beyond = fmt.Sprintf("it is %d bytes long; at most %d", len(text), maxReplyBytes)
		}
		return r
	}
	r.JSON = types.StringValue(string(text))
	if !norm.NFC.IsNormal(text) {
		// Terraform stores every string in Unicode normal form C, which would change text
		// such as "e" followed by a combining accent into "é". Written as \u escapes, the
		// same characters are ASCII, which normalization leaves alone.
		r.JSON = types.StringValue(string(escapeNonASCII(text)))
	}
	code, codeErr := resultCode(text)
	r.ResultCode, r.CodeErr = types.Int64Value(code), codeErr
	if codeErr != nil {
		r.ResultCode = types.Int64Null()
	}
	var tooDeep bool
	if r.Beyond, tooDeep = replyBeyondLimits(text); tooDeep {
		// Terraform lays out a JSON string it shows in a plan or `terraform show` as a
		// structure, at a cost that grows with the square of its depth (a minute for 2,000
		// levels), but only a string that starts with "{" or "[". One space in front, which
		// JSON ignores, keeps a deep reply a plain string there.
		r.JSON = types.StringValue(" " + r.JSON.ValueString())
	}
	if r.Beyond != "" {
		return r
	}
	conv := replyConverter{ctx: ctx}
	obj, err := conv.value(text)
	if err != nil {
		// Unreachable for valid JSON within the limits; keep the reply in JSON all the same.
		r.Beyond = "it could not be converted: " + err.Error()
		return r
	}
	r.Object = types.DynamicValue(obj)
	r.Inexact, r.InexactCount = conv.inexact, conv.inexactCount
	return r
}

// escapeNonASCII writes every character beyond ASCII inside the strings of valid JSON text
// as a \u escape (a surrogate pair beyond the BMP); everything else is kept as it is.
func escapeNonASCII(text []byte) []byte {
	var out bytes.Buffer
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			out.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(text[i:]) // Only strings hold bytes beyond ASCII.
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		} else {
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		i += size
	}
	return out.Bytes()
}

// replyBeyondLimits names the first limit a valid JSON text exceeds, or returns "", and
// reports whether it is nested beyond maxReplyDepth. It reads tokens without building
// anything, at any depth, so its cost is linear whatever the reply holds.
func replyBeyondLimits(text []byte) (beyond string, tooDeep bool) {
	tooDeep = nestedBeyond(text, maxReplyDepth)
	if len(text) > maxReplyBytes {
		return fmt.Sprintf("it is %d bytes long; at most %d", len(text), maxReplyBytes), tooDeep
	}
	return countBeyondLimits(text), tooDeep
}

// nestedBeyond reports whether text, valid JSON, nests containers more than depth levels
// deep. Brackets inside strings are skipped.
func nestedBeyond(text []byte, depth int) bool {
	level, inString := 0, false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if level++; level > depth {
				return true
			}
		case c == '}' || c == ']':
			level--
		}
	}
	return false
}

// countBeyondLimits checks the counting limits (depth, members, values) token by token.
func countBeyondLimits(text []byte) string {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	// members[i] counts the members of the i-th open container; in objects Token returns
	// keys and values alike, so a key is told by its position.
	var members []int
	var inObject []bool
	expectKey := false
	values := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			return "it could not be read: " + err.Error()
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			members, inObject = members[:len(members)-1], inObject[:len(inObject)-1]
			expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
			continue
		}
		if expectKey {
			expectKey = false // A key: its value comes next.
			continue
		}
		values++
		if values > maxReplyValues {
			return fmt.Sprintf("it holds more than %d values", maxReplyValues)
		}
		if n := len(members); n > 0 {
			members[n-1]++
			if members[n-1] > maxReplyMembers {
				what := "an array with more than %d elements"
				if inObject[n-1] {
					what = "an object with more than %d members"
				}
				return "it holds " + fmt.Sprintf(what, maxReplyMembers)
			}
		}
		if d, ok := tok.(json.Delim); ok {
			members, inObject = append(members, 0), append(inObject, d == '{')
			if len(members) > maxReplyDepth {
				return fmt.Sprintf("it is nested more than %d levels deep", maxReplyDepth)
			}
		}
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

// replyConverter builds the object form of a reply within the limits.
type replyConverter struct {
	ctx          context.Context
	inexact      []string
	inexactCount int
}

func (c *replyConverter) value(text []byte) (attr.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		return nil, err
	}
	return c.convert(decoded, "")
}

func (c *replyConverter) convert(in any, where string) (attr.Value, error) {
	switch in := in.(type) {
	case nil:
		return types.DynamicNull(), nil
	case string:
		return types.StringValue(in), nil
	case bool:
		return types.BoolValue(in), nil
	case json.Number:
		if f, ok := exactNumber(string(in)); ok {
			return types.NumberValue(f), nil
		}
		c.inexactCount++
		if len(c.inexact) < maxListedPaths {
			c.inexact = append(c.inexact, fmt.Sprintf("%s (%s)", firstNonEmpty(where, "the reply"), shorten(string(in), 40)))
		}
		return types.StringValue(string(in)), nil
	case map[string]any:
		attrTypes := make(map[string]attr.Type, len(in))
		attrs := make(map[string]attr.Value, len(in))
		for k, e := range in {
			v, err := c.convert(e, where+"."+k)
			if err != nil {
				return nil, err
			}
			attrs[k], attrTypes[k] = v, v.Type(c.ctx)
		}
		obj, diags := types.ObjectValue(attrTypes, attrs)
		if diags.HasError() {
			return nil, fmt.Errorf("building the object at %s failed", firstNonEmpty(where, "the top"))
		}
		return obj, nil
	case []any:
		elemTypes := make([]attr.Type, len(in))
		elems := make([]attr.Value, len(in))
		for i, e := range in {
			v, err := c.convert(e, where+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			elems[i], elemTypes[i] = v, v.Type(c.ctx)
		}
		tup, diags := types.TupleValue(elemTypes, elems)
		if diags.HasError() {
			return nil, fmt.Errorf("building the array at %s failed", firstNonEmpty(where, "the top"))
		}
		return tup, nil
	default:
		return nil, fmt.Errorf("unexpected value %T", in)
	}
}

// Bounds that let exactNumber decide most literals without parsing them: a 512-bit
// mantissa never needs more than 155 significant decimal digits to be written back, and
// inRange allows decimal exponents of about ±1233.
const (
	maxExactDigits   = 200
	maxExactExponent = 1300
)

// exactNumber parses a JSON number literal as Terraform does (a 512-bit mantissa) and
// reports whether Terraform holds it exactly: within the range a number can be rendered in
// (inRange) and written back as the same decimal value. 0.1 is exact in this sense (it
// renders as 0.1); a literal with more significant digits than 512 bits keep is not. The
// literal is normalized first, so that a long one (zeros, digits) costs no big arithmetic.
func exactNumber(lit string) (*big.Float, bool) {
	neg, digits, exp := decimalParts(lit)
	if digits == "" {
		return new(big.Float).SetPrec(numberPrecision), true // Zero, -0 included.
	}
	e, err := strconv.Atoi(exp)
	if err != nil || len(digits) > maxExactDigits || e > maxExactExponent || e < -maxExactExponent {
		return nil, false
	}
	norm := "0." + digits + "e" + exp
	if neg {
		norm = "-" + norm
	}
	f, _, err := big.ParseFloat(norm, 10, numberPrecision, big.ToNearestEven)
	if err != nil || f.IsInf() || !inRange(f) {
		return nil, false
	}
	back, err := formatNumber(f)
	if err != nil {
		return nil, false
	}
	return f, sameDecimal(norm, back)
}

// sameDecimal reports whether two JSON number literals have the same decimal value.
func sameDecimal(a, b string) bool {
	an, ad, ae := decimalParts(a)
	bn, bd, be := decimalParts(b)
	if ad == "" && bd == "" {
		return true // Both zero, whatever their signs.
	}
	return an == bn && ad == bd && ae == be
}

// decimalParts splits a JSON number literal into its sign, its significant digits without
// leading or trailing zeros, and the exponent e with value = 0.digits × 10^e. Zero has no
// digits. The exponent is kept as a string of its decimal value so that no size overflows.
func decimalParts(lit string) (neg bool, digits, exp string) {
	neg = strings.HasPrefix(lit, "-")
	lit = strings.TrimPrefix(lit, "-")
	mant, e10 := lit, "0"
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant, e10 = lit[:i], lit[i+1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	all := strings.TrimLeft(intPart+frac, "0")
	if all == "" {
		return neg, "", ""
	}
	// value = 0.(intPart frac) × 10^len(intPart) × 10^e10, less the leading zeros dropped.
	shift := int64(len(intPart) - (len(intPart+frac) - len(all)))
	all = strings.TrimRight(all, "0")
	e, ok := new(big.Int).SetString(strings.TrimPrefix(e10, "+"), 10)
	if !ok {
		return neg, all, e10
	}
	return neg, all, e.Add(e, big.NewInt(shift)).String()
}

// shorten cuts s to at most n bytes, on a character boundary, for a message, marking the cut.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// resultCode reads result_code from a device reply. The platform treats a missing (or
// null) result_code as success, and so does this. A number, or a string holding one, must
// be an integer (1.0 is 1). Anything else is an error: the caller reports it as a failure
// the device reported, never as a success.
func resultCode(raw json.RawMessage) (int64, error) {
	// A reply that is not a JSON object has no result_code either. jsonscan.ObjectMembers reads a
	// reply at any depth, where json.Unmarshal would give up past 10,000 levels.
	members, _ := jsonscan.ObjectMembers(bytes.TrimSpace(raw))
	code := members["result_code"]
	if len(code) == 0 || string(code) == "null" {
		return 0, nil
	}
	text := code
	var s string
	if json.Unmarshal(text, &s) == nil {
		text = []byte(s)
	}
	var n json.Number
	if json.Unmarshal(text, &n) == nil {
		if code, err := n.Int64(); err == nil {
			return code, nil
		}
		// ParseFloat gives ±Inf, with an error, for exponents beyond float64: no big numbers.
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			return int64(f), nil
		}
	}
	return 0, fmt.Errorf("result_code %s is not an integer", shorten(string(code), 64))
}
