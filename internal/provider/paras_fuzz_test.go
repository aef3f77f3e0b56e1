package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// FuzzReplyRoundTrip feeds arbitrary JSON objects through the reply conversion and back to
// JSON (the path a device reply takes into state and a paras object takes onto the wire),
// and requires the same document: same structure, same strings, numerically equal numbers,
// and a number Terraform cannot hold exactly as a string holding its literal.
func FuzzReplyRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"result_code":0,"paras":{"result":"success"}}`,
		`{"a":[1,2.5,-3e-7,{"b":null}],"c":"\u00e9<>&","d":true,"e":{},"f":[]}`,
		`{"big":123456789012345678901234567890,"frac":0.30000000000000000000000001,"neg":-0}`,
		`{"":{"nested":{"deeper":[[],[{}]]}},"esc":"\"\\\/\b\f\n\r\t"}`,
		`{"edge":1e1233,"small":1e-1233}`,
		// Issue 15: the check compared numbers through big.ParseFloat, which fails on such
		// exponents, so a reply kept exactly was reported as changed.
		`{"0000":1e7000000000}`,
		`{"z":-0e99999999999999999999,"n":[1E+7000000000,-25e-7000000001,0.0e7]}`,
		`{"huge":1e999999999,"tiny":1e-999999999,"long":1.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// Bytes that are not UTF-8 become U+FFFD, a run of them one U+FFFD (readReply).
		valid := strings.ToValidUTF8(raw, "\uFFFD")
		want, ok := decodeObject([]byte(valid))
		if !ok || len(raw) > 4096 {
			return // Only JSON objects of a reasonable size are replies.
		}
		r := readReply(t.Context(), []byte(raw))
		if r.Beyond != "" {
			return // Beyond the limits there is no object form to compare.
		}
		// response_json is the reply byte for byte, but for text Terraform would normalize,
		// which it writes with \u escapes: either way it decodes to the same document.
		if norm.NFC.IsNormalString(valid) && r.JSON.ValueString() != strings.TrimSpace(valid) {
			t.Fatalf("response_json %s is not the reply %s", r.JSON.ValueString(), raw)
		}
		if kept, ok := decodeObject([]byte(r.JSON.ValueString())); !ok || sameJSON(want, kept) != nil {
			t.Fatalf("response_json %s does not decode to the reply %s", r.JSON.ValueString(), raw)
		}
		encoded, err := parasJSON(r.Object)
		if err != nil {
			t.Fatalf("parasJSON of %s: %v", raw, err)
		}
		got, ok := decodeObject(encoded)
		if !ok {
			t.Fatalf("parasJSON wrote invalid JSON %s for %s", encoded, raw)
		}
		if err := sameJSON(want, got); err != nil {
			t.Fatalf("round trip of %s gave %s: %v", raw, encoded, err)
		}
	})
}

// decodeObject decodes a single JSON object, keeping numbers as written.
func decodeObject(b []byte) (map[string]any, bool) {
	if !json.Valid(b) {
		return nil, false // The decoder alone would take "{}}" for an object.
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

// sameJSON compares two decoded documents, numbers by value.
func sameJSON(want, got any) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("object %v became %v", w, got)
		}
		for k, wv := range w {
			if err := sameJSON(wv, g[k]); err != nil {
				return fmt.Errorf("%q: %w", k, err)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Errorf("array %v became %v", w, got)
		}
		for i := range w {
			if err := sameJSON(w[i], g[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case json.Number:
		if s, isString := got.(string); isString {
			if _, exact := exactNumber(string(w)); exact || s != string(w) {
				return fmt.Errorf("number %s became the string %q", w, s)
			}
			return nil // Kept as its literal, as readReply promises for inexact numbers.
		}
		g, ok := got.(json.Number)
		if !ok {
			return fmt.Errorf("number %s became %v", w, got)
		}
		if !sameDecimalNumber(string(w), string(g)) {
			return fmt.Errorf("number %s became %s", w, g)
		}
	default:
		if want != got {
			return fmt.Errorf("%#v became %#v", want, got)
		}
	}
	return nil
}

// sameDecimalNumber reports whether two JSON number literals have the same value, at any exponent.
// It compares their decimal parts as text (big.ParseFloat fails on an exponent such as
// 1e7000000000, and big.Rat would compute ten to that power), independently of the
// provider's own decimalParts.
func sameDecimalNumber(a, b string) bool {
	an, ad, ae := splitDecimal(a)
	bn, bd, be := splitDecimal(b)
	if ad == "" || bd == "" {
		return ad == bd // Zero equals zero whatever its sign and exponent.
	}
	return an == bn && ad == bd && ae.Cmp(be) == 0
}

// splitDecimal splits a valid JSON number literal into its sign, its significant digits
// without leading or trailing zeros, and e such that the value is 0.digits × 10^e.
func splitDecimal(lit string) (neg bool, digits string, e *big.Int) {
	neg = strings.HasPrefix(lit, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(strings.TrimPrefix(lit, "-")), "e")
	e, _ = new(big.Int).SetString(strings.TrimPrefix(exp, "+"), 10)
	if e == nil {
		e = new(big.Int)
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	all := intPart + frac
	// 0.digits × 10^e: the point moves left by the integer part's length.
	e.Add(e, big.NewInt(int64(len(intPart))))
	trimmed := strings.TrimLeft(all, "0")
	e.Sub(e, big.NewInt(int64(len(all)-len(trimmed))))
	return neg, strings.TrimRight(trimmed, "0"), e
}

// The fuzz target's own number comparison, on the literals that broke it and their kin.
func TestSameNumber(t *testing.T) {
	t.Parallel()
	for _, eq := range [][2]string{
		{"1e7000000000", "1e7000000000"}, {"10e6999999999", "1e7000000000"}, {"0.1e1", "1"}, {"1.0", "1"},
		{"-0", "0"}, {"0e99999999999999999999", "0"}, {"-0.000e-7000000000", "0"}, {"100", "1e2"},
		{"1E+2", "100"}, {"0.0012", "12e-4"}, {"-25e-7000000001", "-2.5e-7000000000"},
	} {
		if !sameDecimalNumber(eq[0], eq[1]) || !sameDecimalNumber(eq[1], eq[0]) {
			t.Errorf("sameDecimalNumber(%s, %s) = false", eq[0], eq[1])
		}
	}
	for _, ne := range [][2]string{
		{"1", "-1"}, {"1e7000000000", "1e7000000001"}, {"12", "21"}, {"0", "1e-7000000000"}, {"10", "1"}, {"0.5", "5"},
	} {
		if sameDecimalNumber(ne[0], ne[1]) || sameDecimalNumber(ne[1], ne[0]) {
			t.Errorf("sameDecimalNumber(%s, %s) = true", ne[0], ne[1])
		}
	}
}
