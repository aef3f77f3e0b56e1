package provider

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// num parses a number the way Terraform does (512-bit mantissa).
func num(t *testing.T, s string) types.Number {
	t.Helper()
	f, _, err := big.ParseFloat(s, 10, numberPrecision, big.ToNearestEven)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return types.NumberValue(f)
}

func obj(t *testing.T, attrs map[string]attr.Value) types.Object {
	t.Helper()
	attrTypes := make(map[string]attr.Type, len(attrs))
	for k, v := range attrs {
		attrTypes[k] = v.Type(t.Context())
	}
	o, diags := types.ObjectValue(attrTypes, attrs)
	if diags.HasError() {
		t.Fatalf("object: %v", diags)
	}
	return o
}

func tuple(t *testing.T, elems ...attr.Value) types.Tuple {
	t.Helper()
	elemTypes := make([]attr.Type, len(elems))
	for i, e := range elems {
		elemTypes[i] = e.Type(t.Context())
	}
	v, diags := types.TupleValue(elemTypes, elems)
	if diags.HasError() {
		t.Fatalf("tuple: %v", diags)
	}
	return v
}

func TestParasJSON_Encodes(t *testing.T) {
	t.Parallel()
	strMap, diags := types.MapValue(types.StringType, map[string]attr.Value{
		"b": types.StringValue("2"), "a": types.StringValue("1"),
	})
	if diags.HasError() {
		t.Fatal(diags)
	}
	numList, diags := types.ListValue(types.NumberType, []attr.Value{num(t, "1"), num(t, "2.5")})
	if diags.HasError() {
		t.Fatal(diags)
	}
	tests := map[string]struct {
		in   attr.Value
		want string
	}{
		"flat object": {
			in:   obj(t, map[string]attr.Value{"value": types.StringValue("ON")}),
			want: `{"value":"ON"}`,
		},
		"empty object": {in: obj(t, map[string]attr.Value{}), want: `{}`},
		"map":          {in: strMap, want: `{"a":"1","b":"2"}`},
		"exact numbers": {
			in: obj(t, map[string]attr.Value{
				"big": num(t, "12345678901234567890"), "frac": num(t, "0.1"), "neg": num(t, "-42"),
				"tiny": num(t, "1e-7"), "pi": num(t, "3.14159265358979323846264338327950288"),
			}),
			want: `{"big":12345678901234567890,"frac":0.1,"neg":-42,"pi":3.14159265358979323846264338327950288,"tiny":0.0000001}`,
		},
		"nesting, tuples, lists, null and bool": {
			in: obj(t, map[string]attr.Value{
				"cfg": obj(t, map[string]attr.Value{
					"steps": tuple(t, types.StringValue("a"), num(t, "1"), types.BoolValue(false),
						obj(t, map[string]attr.Value{"deep": types.StringNull()})),
					"levels": numList,
				}),
				"on": types.BoolValue(true),
			}),
			want: `{"cfg":{"levels":[1,2.5],"steps":["a",1,false,{"deep":null}]},"on":true}`,
		},
		"unicode and html characters stay as written": {
			in:   obj(t, map[string]attr.Value{"msg": types.StringValue("héllo ✓ <b>&\"\n")}),
			want: `{"msg":"héllo ✓ <b>&\"\n"}`,
		},
		"json string is compacted, numbers untouched": {
			in:   types.StringValue("  {\n \"a\" : 12345678901234567890,\n \"b\": [0.1, 1e400, {\"c\": null}] }\n"),
			want: `{"a":12345678901234567890,"b":[0.1,1e400,{"c":null}]}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := parasJSON(types.DynamicValue(tc.in))
			if err != nil {
				t.Fatalf("parasJSON: %v", err)
			}
			if string(got) != tc.want {
				t.Errorf("parasJSON\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
}

func TestParasJSON_Rejects(t *testing.T) {
	t.Parallel()
	inf := types.NumberValue(new(big.Float).SetInf(false))
	tests := map[string]struct {
		in      types.Dynamic
		wantErr string
	}{
		"number":          {in: types.DynamicValue(num(t, "1")), wantErr: "got a number"},
		"list":            {in: types.DynamicValue(tuple(t, types.StringValue("a"))), wantErr: "got a list"},
		"bool":            {in: types.DynamicValue(types.BoolValue(true)), wantErr: "got a bool"},
		"null":            {in: types.DynamicNull(), wantErr: "must be set"},
		"json array":      {in: types.DynamicValue(types.StringValue(`[1,2]`)), wantErr: "must hold a JSON object"},
		"plain string":    {in: types.DynamicValue(types.StringValue(`ON`)), wantErr: "must hold a JSON object"},
		"malformed json":  {in: types.DynamicValue(types.StringValue(`{"a":`)), wantErr: "not valid JSON"},
		"trailing data":   {in: types.DynamicValue(types.StringValue(`{"a":1} {"b":2}`)), wantErr: "not valid JSON"},
		"bad json syntax": {in: types.DynamicValue(types.StringValue(`{a:1}`)), wantErr: "at byte 2"},
		"infinity inside": {
			in:      types.DynamicValue(obj(t, map[string]attr.Value{"x": tuple(t, inf)})),
			wantErr: "paras.x[0]: infinity",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := parasJSON(tc.in)
			var pe *parasError
			if !errors.As(err, &pe) {
				t.Fatalf("parasJSON error = %v, want a *parasError", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("parasJSON error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestParasJSON_Unknown(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]types.Dynamic{
		"unknown":            types.DynamicUnknown(),
		"unknown underlying": types.DynamicValue(types.StringUnknown()),
		"unknown inside":     types.DynamicValue(obj(t, map[string]attr.Value{"a": types.NumberUnknown()})),
	} {
		if _, err := parasJSON(in); !errors.Is(err, errParasUnknown) {
			t.Errorf("%s: parasJSON error = %v, want errParasUnknown", name, err)
		}
	}
}

func TestJSONToDynamic_Types(t *testing.T) {
	t.Parallel()
	raw := `{"result_code":0,"paras":{"result":"success","n":12345678901234567890,"f":0.1,` +
		`"arr":[1,"a",null,{"x":true}],"nil":null,"u":"héllo ✓","empty":{},"none":[]}}`
	got, err := jsonToDynamic(t.Context(), []byte(raw))
	if err != nil {
		t.Fatalf("jsonToDynamic: %v", err)
	}
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

// TestJSONToDynamic_RoundTrip checks that a reply converted to a Terraform value encodes
// back to the same JSON, so nothing is lost in between.
func TestJSONToDynamic_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`{"a":[1,2.5,-3e-7,{"b":null}],"c":"\u00e9\u2713<>&","d":true,"e":{}}`,
		`{"big":123456789012345678901234567890,"frac":0.30000000000000000000000001}`,
	} {
		v, err := jsonToDynamic(t.Context(), []byte(raw))
		if err != nil {
			t.Fatalf("jsonToDynamic(%s): %v", raw, err)
		}
		got, err := parasJSON(v)
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

func TestJSONToDynamic_Edges(t *testing.T) {
	t.Parallel()
	if v, err := jsonToDynamic(t.Context(), []byte("  ")); err != nil || !v.IsNull() {
		t.Errorf("empty reply = %v, %v; want null, nil", v, err)
	}
	if v, err := jsonToDynamic(t.Context(), []byte(`"done"`)); err != nil || v.UnderlyingValue().String() != `"done"` {
		t.Errorf("string reply = %v, %v; want \"done\"", v, err)
	}
	for _, bad := range []string{`{"a":`, `{"a":1} x`, `nope`, `{"huge":1e100000000}`, `{"tiny":1e-100000000}`} {
		if _, err := jsonToDynamic(t.Context(), []byte(bad)); err == nil {
			t.Errorf("jsonToDynamic(%q) succeeded, want an error", bad)
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
