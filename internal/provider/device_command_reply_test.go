package provider

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// expectNoNotes fails when a reply was not recorded in full.
func expectNoNotes(t *testing.T, r deviceReply) {
	t.Helper()
	if r.Beyond != "" || r.InexactCount != 0 || r.NotJSON || r.CodeErr != nil {
		t.Fatalf("reply notes: beyond %q, inexact %v, not JSON %v, code error %v", r.Beyond, r.Inexact, r.NotJSON, r.CodeErr)
	}
}

func TestReadReply_Types(t *testing.T) {
	t.Parallel()
	raw := `{"result_code":0,"paras":{"result":"success","n":12345678901234567890,"f":0.1,` +
		`"arr":[1,"a",null,{"x":true}],"nil":null,"u":"héllo ✓","empty":{},"none":[]}}`
	r := readReply(t.Context(), []byte(raw))
	expectNoNotes(t, r)
	if r.JSON.ValueString() != raw {
		t.Errorf("JSON = %s, want the reply exactly", r.JSON.ValueString())
	}
	got := r.Object
	root, ok := got.UnderlyingValue().(basetypes.ObjectValue)
	if !ok {
		t.Fatalf("response is %T, want an object", got.UnderlyingValue())
	}
	paras, ok := root.Attributes()["paras"].(basetypes.ObjectValue)
	if !ok {
		t.Fatalf("paras is %T, want an object", root.Attributes()["paras"])
	}
	attrs := paras.Attributes()
	if s, ok := attrs["result"].(basetypes.StringValue); !ok || s.ValueString() != "success" {
		t.Errorf("paras.result = %v, want \"success\"", attrs["result"])
	}
	if s, ok := attrs["u"].(basetypes.StringValue); !ok || s.ValueString() != "héllo ✓" {
		t.Errorf("paras.u = %v, want unicode kept", attrs["u"])
	}
	for key, want := range map[string]string{"n": "12345678901234567890", "f": "0.1"} {
		n, ok := attrs[key].(basetypes.NumberValue)
		if !ok {
			t.Fatalf("paras.%s is %T, want a number", key, attrs[key])
		}
		if s, _ := formatNumber(n.ValueBigFloat()); s != want {
			t.Errorf("paras.%s = %s, want %s", key, s, want)
		}
	}
	if !attrs["nil"].IsNull() {
		t.Errorf("paras.nil = %v, want null", attrs["nil"])
	}
	arr, ok := attrs["arr"].(basetypes.TupleValue)
	if !ok || len(arr.Elements()) != 4 {
		t.Fatalf("paras.arr = %v, want a tuple of 4", attrs["arr"])
	}
	if _, ok := arr.Elements()[3].(basetypes.ObjectValue); !ok {
		t.Errorf("paras.arr[3] is %T, want an object", arr.Elements()[3])
	}
	if tup, ok := attrs["none"].(basetypes.TupleValue); !ok || len(tup.Elements()) != 0 {
		t.Errorf("paras.none = %v, want an empty tuple", attrs["none"])
	}
}

// TestReadReply_RoundTrip checks that a reply converted to a Terraform value encodes
// back to the same JSON, so nothing is lost in between.
func TestReadReply_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`{"a":[1,2.5,-3e-7,{"b":null}],"c":"\u00e9\u2713<>&","d":true,"e":{}}`,
		`{"big":123456789012345678901234567890,"frac":0.30000000000000000000000001}`,
	} {
		r := readReply(t.Context(), []byte(raw))
		expectNoNotes(t, r)
		got, err := parasJSON(r.Object)
		if err != nil {
			t.Fatalf("parasJSON: %v", err)
		}
		want, _ := compactJSONObject(raw)
		// Exponents are rewritten in plain decimal; compare through the decoded numbers.
		want = []byte(strings.Replace(string(want), "-3e-7", "-0.0000003", 1))
		want = []byte(strings.NewReplacer(`\u00e9`, "é", `\u2713`, "✓").Replace(string(want)))
		if string(got) != string(want) {
			t.Errorf("round trip\n got: %s\nwant: %s", got, want)
		}
	}
}

func TestResultCode(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]int64{
		`{"result_code":0}`:           0,
		`{"paras":{}}`:                0,
		`{"result_code":5}`:           5,
		`{"result_code":-1}`:          -1,
		`{"result_code":"7"}`:         7,
		`{"result_code":1.0}`:         1,
		`{"result_code":1e0}`:         1,
		`{"result_code":"2.0"}`:       2,
		`{"result_code":0.0}`:         0,
		`{"result_code":null}`:        0,
		`[1]`:                         0,
		``:                            0,
		`{"result_code":1,"x":[1,2]}`: 1,
	} {
		if got, err := resultCode([]byte(raw)); err != nil || got != want {
			t.Errorf("resultCode(%s) = %d, %v; want %d", raw, got, err, want)
		}
	}
	// Not an integer: never a success.
	for _, raw := range []string{
		`{"result_code":"x"}`, `{"result_code":"fail"}`, `{"result_code":true}`, `{"result_code":0.5}`,
		`{"result_code":{}}`, `{"result_code":[0]}`, `{"result_code":""}`, `{"result_code":"NaN"}`,
		`{"result_code":1e100000000}`, `{"result_code":9223372036854775808}`, `{"result_code":"0x10"}`,
	} {
		if got, err := resultCode([]byte(raw)); err == nil || !strings.Contains(err.Error(), "result_code") {
			t.Errorf("resultCode(%s) = %d, %v; want an error naming result_code", raw, got, err)
		}
	}
}

// TestReadReply_Nothing: absent, null and "" mean the device answered with nothing
// (README.md, "How device replies reach the provider"): no response, no response_json, result_code 0.
func TestReadReply_Nothing(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", " \n\t", "null", " null ", `""`} {
		r := readReply(t.Context(), json.RawMessage(raw))
		expectNoNotes(t, r)
		if !r.JSON.IsNull() || !r.Object.IsNull() || r.ResultCode.ValueInt64() != 0 || r.ResultCode.IsNull() {
			t.Errorf("readReply(%q) = JSON %v, object %v, result_code %v; want null, null, 0", raw, r.JSON, r.Object, r.ResultCode)
		}
	}
	if r := readReply(t.Context(), nil); !r.JSON.IsNull() || !r.Object.IsNull() || r.ResultCode.ValueInt64() != 0 {
		t.Errorf("readReply(nil) = %+v", r)
	}
}

// TestReadReply_OtherValuesKept: any other JSON value is kept, a string as a string.
func TestReadReply_OtherValuesKept(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]attr.Value{
		`"done"`:  types.StringValue("done"),
		`" "`:     types.StringValue(" "),
		`true`:    types.BoolValue(true),
		`0`:       types.NumberValue(big.NewFloat(0)),
		`[]`:      types.TupleValueMust([]attr.Type{}, []attr.Value{}),
		`{}`:      types.ObjectValueMust(map[string]attr.Type{}, map[string]attr.Value{}),
		`["a",1]`: types.TupleValueMust([]attr.Type{types.StringType, types.NumberType}, []attr.Value{types.StringValue("a"), types.NumberValue(big.NewFloat(1))}),
	} {
		r := readReply(t.Context(), json.RawMessage(" "+raw+"\n"))
		expectNoNotes(t, r)
		if r.JSON.ValueString() != raw {
			t.Errorf("readReply(%s) JSON = %s, want it exactly", raw, r.JSON.ValueString())
		}
		if !r.Object.UnderlyingValue().Equal(want) {
			t.Errorf("readReply(%s) object = %v, want %v", raw, r.Object.UnderlyingValue(), want)
		}
	}
}

// TestReadReply_NotJSON: text that is not JSON is kept as a JSON string (IoTDA never sends
// one, but other sources of replies may), and bytes that are not UTF-8 become U+FFFD.
func TestReadReply_NotJSON(t *testing.T) {
	t.Parallel()
	r := readReply(t.Context(), json.RawMessage(`OK <done>`))
	if !r.NotJSON || r.JSON.ValueString() != `"OK <done>"` || !r.Object.UnderlyingValue().Equal(types.StringValue("OK <done>")) {
		t.Errorf("non-JSON reply = %+v", r)
	}
	r = readReply(t.Context(), json.RawMessage("{\"s\":\"a\xffb\"}"))
	expectNoNotes(t, r)
	if want := "{\"s\":\"a\uFFFDb\"}"; r.JSON.ValueString() != want {
		t.Errorf("JSON = %q, want %q", r.JSON.ValueString(), want)
	}
}

// TestReadReply_Numbers: numbers are never changed. Those Terraform holds exactly are
// numbers; the others (too large, too small, too many digits) are strings holding the
// literal in the object form, and response_json keeps them all as the device wrote them.
func TestReadReply_Numbers(t *testing.T) {
	t.Parallel()
	long := "1." + strings.Repeat("0", 180) + "1"
	for lit, exact := range map[string]bool{
		"0": true, "-0": true, "0.0": true, "1": true, "-42": true, "1.000": true, "0.1": true, "1e3": true,
		"12345678901234567890": true, "-9223372036854775809": true, "3.14159265358979323846264338327950288": true,
		"1e400": true, "1e1233": true, "1e-1233": true, "2.5E+10": true, "123e-2": true,
		"1e999999999": false, "1e-999999999": false, "-1e999999999": false, "1e99999999999999999999999": false,
		long: false, "1" + strings.Repeat("0", 180) + "1": false,
	} {
		raw := `{"n":` + lit + `}`
		r := readReply(t.Context(), json.RawMessage(raw))
		if r.JSON.ValueString() != raw || r.Beyond != "" || r.NotJSON {
			t.Errorf("%s: JSON = %s, beyond %q; want the reply exactly", lit, r.JSON.ValueString(), r.Beyond)
			continue
		}
		n := r.Object.UnderlyingValue().(basetypes.ObjectValue).Attributes()["n"] //nolint:forcetypeassert // Checked by the test's own reply.
		if !exact {
			if s, ok := n.(basetypes.StringValue); !ok || s.ValueString() != lit || r.InexactCount != 1 ||
				!strings.Contains(r.Inexact[0], ".n (") {
				t.Errorf("%s: object form %v, inexact %v; want the string %q at .n", shorten(lit, 20), n, r.Inexact, shorten(lit, 20))
			}
			continue
		}
		num, ok := n.(basetypes.NumberValue)
		if !ok || r.InexactCount != 0 {
			t.Errorf("%s: object form %v (%T), inexact %v; want a number", lit, n, n, r.Inexact)
			continue
		}
		back, _ := formatNumber(num.ValueBigFloat())
		if !sameDecimal(lit, back) {
			t.Errorf("%s: the number became %s", lit, back)
		}
	}
}

func TestSameDecimal(t *testing.T) {
	t.Parallel()
	for _, same := range [][2]string{
		{"1", "1.0"}, {"1e3", "1000"}, {"0.001", "1e-3"}, {"-0", "0"}, {"0.0e5", "0"}, {"123.4500", "1234.5e-1"},
		{"10", "1e1"}, {"1E+2", "100"},
	} {
		if !sameDecimal(same[0], same[1]) {
			t.Errorf("sameDecimal(%s, %s) = false", same[0], same[1])
		}
	}
	for _, diff := range [][2]string{{"1", "-1"}, {"1", "10"}, {"0.1", "0.01"}, {"1e3", "1e4"}, {"12", "21"}} {
		if sameDecimal(diff[0], diff[1]) {
			t.Errorf("sameDecimal(%s, %s) = true", diff[0], diff[1])
		}
	}
}

// nestedReply is {"a":{"a":...1...}} nested depth levels deep.
func nestedReply(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

// wideObject is an object with n members.
func wideObject(n int) string {
	members := make([]string, n)
	for i := range members {
		members[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	return "{" + strings.Join(members, ",") + "}"
}

// wideArray is an array with n elements.
func wideArray(n int) string {
	return "[" + strings.TrimSuffix(strings.Repeat(`"x",`, n), ",") + "]"
}

// manyValues is an object of arrays holding total values in all, no container above the
// member limit.
func manyValues(total int) string {
	var parts []string
	left := total - 1 // The object itself.
	for i := 0; left > 0; i++ {
		n := min(left-1, maxReplyMembers) // The array itself counts too.
		if n <= 0 {
			parts = append(parts, fmt.Sprintf(`"s%d":0`, i))
			left--
			continue
		}
		parts = append(parts, fmt.Sprintf(`"a%d":%s`, i, strings.ReplaceAll(wideArray(n), `"x"`, "0")))
		left -= n + 1
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestReadReply_Limits: a reply within every limit has its object form; one beyond any is
// kept exactly in response_json only, with the limit named, and its result_code still read.
func TestReadReply_Limits(t *testing.T) {
	t.Parallel()
	pad := func(reply string) string { return `{"result_code":3,"paras":` + reply + `}` }
	within := map[string]string{
		"depth":         pad(nestedReply(maxReplyDepth - 1)),
		"object":        pad(wideObject(maxReplyMembers)),
		"array":         pad(wideArray(maxReplyMembers)),
		"values":        manyValues(maxReplyValues),
		"size":          `{"result_code":3,"s":"` + strings.Repeat("x", maxReplyBytes-len(`{"result_code":3,"s":""}`)) + `"}`,
		"deep in array": pad(strings.Repeat("[", maxReplyDepth-1) + strings.Repeat("]", maxReplyDepth-1)),
	}
	beyond := map[string]struct{ reply, limit string }{
		"depth":         {pad(nestedReply(maxReplyDepth)), fmt.Sprintf("nested more than %d levels deep", maxReplyDepth)},
		"depth 1000":    {pad(nestedReply(1000)), "nested more than"},
		"object":        {pad(wideObject(maxReplyMembers + 1)), fmt.Sprintf("an object with more than %d members", maxReplyMembers)},
		"20,000 keys":   {pad(wideObject(20000)), "bytes long"}, // The size is checked first.
		"array":         {pad(wideArray(maxReplyMembers + 1)), fmt.Sprintf("an array with more than %d elements", maxReplyMembers)},
		"values":        {`{"result_code":3,"v":` + manyValues(maxReplyValues) + `}`, fmt.Sprintf("more than %d values", maxReplyValues)},
		"size":          {`{"result_code":3,"s":"` + strings.Repeat("x", maxReplyBytes) + `"}`, fmt.Sprintf("bytes long; at most %d", maxReplyBytes)},
		"deep in array": {pad(strings.Repeat("[", maxReplyDepth) + strings.Repeat("]", maxReplyDepth)), "nested more than"},
		// Beyond encoding/json's 10,000 levels, still JSON with its result_code read.
		"depth 20000": {pad(strings.Repeat("[", 20000) + strings.Repeat("]", 20000)), "nested more than"},
	}
	for name, reply := range within {
		if got, deep := replyBeyondLimits([]byte(reply)); got != "" || deep {
			t.Errorf("%s within the limits: %s", name, got)
		}
		r := readReply(t.Context(), json.RawMessage(reply))
		if r.Object.IsNull() || r.JSON.ValueString() != reply || r.Beyond != "" {
			t.Errorf("%s within the limits: object null %v, beyond %q", name, r.Object.IsNull(), r.Beyond)
		}
	}
	for name, tc := range beyond {
		r := readReply(t.Context(), json.RawMessage(tc.reply))
		kept := tc.reply
		if strings.HasPrefix(name, "depth") || strings.HasPrefix(name, "deep") {
			kept = " " + tc.reply // So that Terraform shows it as a string, not a structure.
		}
		if !r.Object.IsNull() || r.JSON.ValueString() != kept || !strings.Contains(r.Beyond, tc.limit) {
			t.Errorf("%s: object null %v, JSON kept %v, beyond %q; want null, kept, %q", name, r.Object.IsNull(),
				r.JSON.ValueString() == kept, r.Beyond, tc.limit)
		}
		if r.ResultCode.ValueInt64() != 3 {
			t.Errorf("%s: result_code = %v, want 3", name, r.ResultCode)
		}
	}
}

// TestReadReply_TextTerraformWouldNormalize: Terraform keeps strings in Unicode normal form
// C, which would turn "e" and a combining accent into "é". response_json writes such text
// with \u escapes, so that it decodes to exactly what the device sent; text already in
// normal form is kept byte for byte.
func TestReadReply_TextTerraformWouldNormalize(t *testing.T) {
	t.Parallel()
	decomposed := "{\"s\":\"e\u0301 \u2713 \U0001F600\",\"n\":1}"
	r := readReply(t.Context(), json.RawMessage(decomposed))
	if want := `{"s":"e\u0301 \u2713 \ud83d\ude00","n":1}`; r.JSON.ValueString() != want {
		t.Errorf("JSON = %s, want %s", r.JSON.ValueString(), want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(r.JSON.ValueString()), &back); err != nil || back["s"] != "e\u0301 \u2713 \U0001F600" {
		t.Errorf("JSON decodes to %q, %v; want the text the device sent", back["s"], err)
	}
	s := r.Object.UnderlyingValue().(basetypes.ObjectValue).Attributes()["s"] //nolint:forcetypeassert // The test's own reply.
	if !s.Equal(types.StringValue("e\u0301 \u2713 \U0001F600")) {
		t.Errorf("object form s = %v", s)
	}
	composed := "{\"s\":\"\u00e9 \u2713\"}"
	if r := readReply(t.Context(), json.RawMessage(composed)); r.JSON.ValueString() != composed {
		t.Errorf("JSON = %s, want %s unchanged", r.JSON.ValueString(), composed)
	}
	if r := readReply(t.Context(), json.RawMessage("e\u0301 ok")); !r.NotJSON || r.JSON.ValueString() != `"e\u0301 ok"` {
		t.Errorf("non-JSON reply JSON = %s", r.JSON.ValueString())
	}
}
