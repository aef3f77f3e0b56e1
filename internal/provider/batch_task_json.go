package provider

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strings"
)

// sameJSONValue reports whether two JSON texts hold the same value: objects with the same members
// in any order, arrays with the same elements in order, strings with the same characters
// however escaped, and numbers of the same value however spelled (1, 1.0 and 1e0 are equal;
// compared at Terraform's own precision). It is how a task's document as IoTDA answers it is
// compared with what the configuration would send, when the bytes once sent are not known (an
// imported task, a task found by its name): IoTDA does not promise to answer with the
// member order or number spelling it was sent. Text that is not valid JSON equals only itself.
func sameJSONValue(a, b []byte) bool {
	if bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b)) {
		return true
	}
	va, errA := decodeJSONValue(a)
	vb, errB := decodeJSONValue(b)
	if errA != nil || errB != nil {
		return false
	}
	return sameValue(va, vb)
}

func decodeJSONValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func sameValue(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !sameValue(av, bv) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) {
			return false
		}
		for i := range a {
			if !sameValue(a[i], bs[i]) {
				return false
			}
		}
		return true
	case json.Number:
		bn, ok := b.(json.Number)
		return ok && sameNumber(string(a), string(bn))
	default: // string, bool, nil
		return a == b
	}
}

// sameNumber compares two JSON number literals by value, at Terraform's precision. A literal
// whose exponent is too large to render (see maxBinaryExponent) equals only itself.
func sameNumber(a, b string) bool {
	if a == b {
		return true
	}
	fa, okA := parseBounded(a)
	fb, okB := parseBounded(b)
	return okA && okB && fa.Cmp(fb) == 0
}

func parseBounded(s string) (*big.Float, bool) {
	if i := strings.IndexAny(s, "eE"); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-0")) > 4 {
		return nil, false // An exponent beyond 9999: too costly to parse, and beyond any bound.
	}
	f, _, err := big.ParseFloat(s, 10, numberPrecision, big.ToNearestEven)
	if err != nil || !inRange(f) {
		return nil, false
	}
	return f, true
}
