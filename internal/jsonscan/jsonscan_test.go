package jsonscan

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// deep is a JSON array nested n levels deep, beyond encoding/json's 10,000 for large n.
func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestValid(t *testing.T) {
	for _, ok := range []string{`{}`, ` 1 `, `"s"`, `null`, deep(10), deep(20000), `{"a":` + deep(20000) + `}`} {
		if !Valid([]byte(ok)) {
			t.Errorf("Valid(%.40s) = false", ok)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `{}}`, `1 2`, `[1,]`, deep(20000) + "]", deep(20000)[1:], `{"a" 1}`, `nope`} {
		if Valid([]byte(bad)) {
			t.Errorf("Valid(%.40s) = true", bad)
		}
	}
}

func TestObjectMembers(t *testing.T) {
	got, ok := ObjectMembers([]byte(` { "a" : 1 , "b":{"c":[true, null]},"s":"x\"}" , "a": 2, "d":` + deep(20000) + `} `))
	if !ok {
		t.Fatal("not an object")
	}
	for k, want := range map[string]string{"a": "2", "b": `{"c":[true, null]}`, "s": `"x\"}"`, "d": deep(20000)} {
		if string(got[k]) != want {
			t.Errorf("member %s = %.60s, want %.60s", k, got[k], want)
		}
	}
	for _, bad := range []string{`[]`, `{"a":1`, `{"a":1} {}`, `{1:2}`, `"s"`, `{"a":}`} {
		if _, ok := ObjectMembers([]byte(bad)); ok {
			t.Errorf("ObjectMembers(%s) ok", bad)
		}
	}
}

// jsonSpace is the whitespace JSON allows between tokens (RFC 8259, section 2).
const jsonSpace = " \t\n\r"

// FuzzObjectMembers: within encoding/json's depth, ObjectMembers reads what json.Unmarshal
// reads, and Valid agrees with json.Valid.
func FuzzObjectMembers(f *testing.F) {
	for _, seed := range []string{`{"command_id":"c","response":{"a":[1,2]}}`, `{"a":1,"a":2}`, `{} `, `{"a":"\u00e9"}`, `[1]`,
		// Issue 15: the check trimmed Unicode spaces, which JSON does not allow around a value.
		"\f{}", "\u00a0{}", "{}\v", " \t\r\n{\"a\" :\n1 }\n", "\u0085{}", "{}\u2028"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if Valid([]byte(text)) != json.Valid([]byte(text)) {
			t.Fatalf("Valid(%q) disagrees with json.Valid", text)
		}
		var want map[string]json.RawMessage
		// Only JSON's own whitespace may surround a value: strings.TrimSpace would also drop
		// a form feed or U+00A0, which make the text invalid JSON.
		trimmed := strings.Trim(text, jsonSpace)
		wantOK := json.Unmarshal([]byte(text), &want) == nil && want != nil && strings.HasPrefix(trimmed, "{")
		got, ok := ObjectMembers([]byte(trimmed))
		if ok != wantOK {
			t.Fatalf("ObjectMembers(%q) ok = %v, json.Unmarshal ok = %v", text, ok, wantOK)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("ObjectMembers(%q) = %d members, want %d", text, len(got), len(want))
		}
		for k, w := range want {
			if string(got[k]) != strings.Trim(string(w), jsonSpace) {
				t.Fatalf("ObjectMembers(%q)[%q] = %s, want %s", text, k, got[k], w)
			}
		}
	})
}

func TestRewriteStrings(t *testing.T) {
	upper := func(s string) (string, bool) {
		if !strings.Contains(s, "pw") {
			return s, false
		}
		return strings.ReplaceAll(s, "pw", "***"), true
	}
	for in, want := range map[string]string{
		// Keys and values, escaped forms of the same text, at any depth; other bytes kept.
		`{"pw" : [ "my pw", "\u0070w", "p\u0077!", "x" ] , "n":1e400}`: `{"***" : [ "my ***", "***", "***!", "x" ] , "n":1e400}`,
		`"\"pw\\"`:                  `"\"***\\"`,
		`{"a":"no"}`:                `{"a":"no"}`,
		`["pw<&>"]`:                 `["***<&>"]`,
		`{"d":` + deep(20000) + `}`: `{"d":` + deep(20000) + `}`,
		`[` + strings.Repeat(`{"k":"pw"},`, 3) + `"pw"]`: `[` + strings.Repeat(`{"k":"***"},`, 3) + `"***"]`,
	} {
		got, ok := RewriteStrings([]byte(in), upper)
		if !ok || string(got) != want {
			t.Errorf("RewriteStrings(%.60s) = %.60s, %v; want %.60s", in, got, ok, want)
		}
	}
	for _, bad := range []string{`{"pw"`, `"pw`, `pw`, `{"a":"pw"}}`} {
		if got, ok := RewriteStrings([]byte(bad), upper); ok || string(got) != bad {
			t.Errorf("RewriteStrings(%s) = %s, %v; want it unchanged and not ok", bad, got, ok)
		}
	}
}

// FuzzRewriteStrings: rewriting every string to itself re-encodes each one and must leave
// the same document; text that is not JSON is refused and returned as it is.
func FuzzRewriteStrings(f *testing.F) {
	for _, seed := range []string{`{"a":"\u00e9\ud83d\ude00","b":["\"\\\/\b\f\n\r\t"]}`, `"\u2028<>&"`, `{"\u0000":1}`, `[`, `"\x"`, `["a","b"]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got, ok := RewriteStrings([]byte(text), func(s string) (string, bool) { return s, true })
		if ok != Valid([]byte(text)) {
			t.Fatalf("RewriteStrings(%q) ok = %v, Valid = %v", text, ok, !ok)
		}
		if !ok {
			if string(got) != text {
				t.Fatalf("RewriteStrings(%q) changed text that is not JSON: %q", text, got)
			}
			return
		}
		var want, have any
		if json.Unmarshal([]byte(text), &want) != nil {
			return // Beyond encoding/json's depth.
		}
		if err := json.Unmarshal(got, &have); err != nil || !reflect.DeepEqual(want, have) {
			t.Fatalf("RewriteStrings(%q) = %q (%v), a different document", text, got, err)
		}
	})
}
