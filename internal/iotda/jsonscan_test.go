package iotda

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// deep is a JSON array nested n levels deep, beyond encoding/json's 10,000 for large n.
func deep(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestValidJSON(t *testing.T) {
	for _, ok := range []string{`{}`, ` 1 `, `"s"`, `null`, deep(10), deep(20000), `{"a":` + deep(20000) + `}`} {
		if !ValidJSON([]byte(ok)) {
			t.Errorf("ValidJSON(%.40s) = false", ok)
		}
	}
	for _, bad := range []string{``, ` `, `{`, `{}}`, `1 2`, `[1,]`, deep(20000) + "]", deep(20000)[1:], `{"a" 1}`, `nope`} {
		if ValidJSON([]byte(bad)) {
			t.Errorf("ValidJSON(%.40s) = true", bad)
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

// A device's reply nested beyond what encoding/json reads is still the device's reply: the
// delivery is a success with the reply kept byte for byte, never an unknown outcome.
func TestCreateCommand_ReplyNestedBeyondEncodingJSON(t *testing.T) {
	deviceReply := `{"result_code":0,"paras":` + deep(20000) + `}`
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c-deep","response":`+deviceReply+`}`))
	c := newTestClient(t, ts.URL, nil)
	res, err := c.CreateCommand(t.Context(), simpleCommand)
	if err != nil || res.CommandID != "c-deep" || string(res.Response) != deviceReply {
		t.Fatalf("res %+v, err %v", res, err)
	}
	if json.Valid([]byte(deviceReply)) {
		t.Fatal("the test's reply is not beyond encoding/json's depth")
	}
}

// FuzzObjectMembers: within encoding/json's depth, ObjectMembers reads what json.Unmarshal
// reads, and ValidJSON agrees with json.Valid.
func FuzzObjectMembers(f *testing.F) {
	for _, seed := range []string{`{"command_id":"c","response":{"a":[1,2]}}`, `{"a":1,"a":2}`, `{} `, `{"a":"\u00e9"}`, `[1]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if ValidJSON([]byte(text)) != json.Valid([]byte(text)) {
			t.Fatalf("ValidJSON(%q) disagrees with json.Valid", text)
		}
		var want map[string]json.RawMessage
		wantOK := json.Unmarshal([]byte(text), &want) == nil && want != nil && strings.HasPrefix(strings.TrimSpace(text), "{")
		got, ok := ObjectMembers([]byte(strings.TrimSpace(text)))
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
			if string(got[k]) != strings.TrimSpace(string(w)) {
				t.Fatalf("ObjectMembers(%q)[%q] = %s, want %s", text, k, got[k], w)
			}
		}
	})
}
