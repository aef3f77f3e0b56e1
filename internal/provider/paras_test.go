package provider

import (
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"
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
		// The binary value Terraform holds for 1e400 is another integer beyond the 155th
		// digit; jsonencode writes the shortest form, and so must the object form.
		"integers beyond 512 bits as jsonencode writes them": {
			in:   obj(t, map[string]attr.Value{"n": num(t, "1e400"), "m": num(t, "-123456789e300")}),
			want: `{"m":-123456789` + strings.Repeat("0", 300) + `,"n":1` + strings.Repeat("0", 400) + `}`,
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

// TestParasJSON_StringsAsTheObjectFormWritesThem: a JSON string and the object form send
// the same bytes for the same value, whatever escapes the string uses; numbers and member
// order stay as written, and an escaped lone surrogate, which has no character, stays too.
func TestParasJSON_StringsAsTheObjectFormWritesThem(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`{"a":"\u00e9\u003c\/\u0026"}`:                `{"a":"é</&"}`,
		`{"\u0061":1.50,"b":[ "x\ty" ]}`:              `{"a":1.50,"b":["x\ty"]}`,
		`{"e":"\ud83d\ude00","q":"\"\\"}`:             `{"e":"😀","q":"\"\\"}`,
		`{"lone":"\ud800x","low":"\udc00"}`:           `{"lone":"\ud800x","low":"\udc00"}`,
		`{"z":1,"a":2}`:                               `{"z":1,"a":2}`,
		`{"ls":"\u2028","nul":"\u0000","c":"\u001f"}`: `{"ls":"\u2028","nul":"\u0000","c":"\u001f"}`,
	} {
		got, err := parasJSON(types.DynamicValue(types.StringValue(in)))
		if err != nil || string(got) != want {
			t.Errorf("parasJSON(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	// jsonencode escapes <, > and & as \u003c, \u003e and \u0026; the object form does not.
	object, _ := parasJSON(types.DynamicValue(obj(t, map[string]attr.Value{"note": types.StringValue("<b> & \u2028")})))
	encoded, _ := parasJSON(types.DynamicValue(types.StringValue(`{"note":"\u003cb\u003e \u0026 \u2028"}`)))
	if string(object) != string(encoded) {
		t.Errorf("object form %s and jsonencode form %s differ", object, encoded)
	}
}

// Errors about paras_wo name paras_wo, also below its top level, and never quote its text.
func TestDescribeParasError(t *testing.T) {
	t.Parallel()
	_, syntax := parasJSON(types.DynamicValue(types.StringValue(`{"psk":Secret}`)))
	for _, tc := range []struct {
		err        error
		attr, want string
	}{
		{&parasError{Msg: "paras must be set to an object"}, "paras_wo", "paras_wo must be set to an object"},
		{&parasError{Where: ".a[0]", Msg: "infinity cannot be sent as a JSON number"}, "paras_wo",
			"paras_wo.a[0]: infinity cannot be sent as a JSON number"},
		{&parasError{Where: ".a", Msg: "m"}, "paras", "paras.a: m"},
		{syntax, "paras", "the paras string is not valid JSON: invalid character 'S' looking for beginning of value (at byte 8)"},
		{syntax, "paras_wo", "the paras_wo string is not valid JSON (at byte 8)"},
	} {
		if got := describeParasError(tc.err, tc.attr); got != tc.want {
			t.Errorf("describeParasError(%v, %s) = %q, want %q", tc.err, tc.attr, got, tc.want)
		}
	}
}
