package registry

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateBehavior(t *testing.T) {
	valid := []Behavior{{}, {Kind: BehaviorEcho}, {Kind: BehaviorSilent}, {Response: json.RawMessage(`{"a":1}`), DisconnectAfter: 1}}
	for _, b := range valid {
		if err := b.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", b, err)
		}
	}
	invalid := []Behavior{{Kind: "Echo"}, {Response: json.RawMessage(`{`)}, {Delay: -1}, {DisconnectAfter: -1}}
	for _, b := range invalid {
		if err := b.Validate(); err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("Validate(%+v) = %v, want an error", b, err)
		}
	}
}

func TestValidateBehavior_RawResponse(t *testing.T) {
	text := "plain"
	for _, b := range []Behavior{
		{Kind: BehaviorEcho, RawResponse: &text},
		{Kind: BehaviorSilent, RawResponse: &text},
		{RawResponse: &text, Response: json.RawMessage(`{}`)},
		{RawResponse: &text, ResultCode: 1},
	} {
		if err := b.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", b)
		}
	}
	if err := (Behavior{Kind: BehaviorReply, RawResponse: &text}).Validate(); err != nil {
		t.Errorf("a raw reply: %v", err)
	}
}

func TestBehavior_RawResponseJSON(t *testing.T) {
	var b Behavior
	if err := json.Unmarshal([]byte(`{"kind":"reply","raw_response":""}`), &b); err != nil || b.RawResponse == nil || *b.RawResponse != "" {
		t.Fatalf("unmarshal = %+v, %v; want an empty raw_response", b, err)
	}
	out, err := json.Marshal(b)
	if err != nil || string(out) != `{"kind":"reply","raw_response":""}` {
		t.Errorf("marshal = %s, %v", out, err)
	}
}

func TestBehavior_JSON(t *testing.T) {
	var b Behavior
	if err := json.Unmarshal([]byte(`{"kind":"reply","response":{"result_code":1},"result_code":3,"delay":"1m","disconnect_after":2}`), &b); err != nil {
		t.Fatal(err)
	}
	if b.Kind != BehaviorReply || string(b.Response) != `{"result_code":1}` || b.ResultCode != 3 || b.Delay != time.Minute ||
		b.DisconnectAfter != 2 {
		t.Errorf("decoded %+v", b)
	}
	out, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"kind":"reply","response":{"result_code":1},"result_code":3,"disconnect_after":2,"delay":"1m0s"}`
	if string(out) != want {
		t.Errorf("encoded %s, want %s", out, want)
	}
	if err := json.Unmarshal([]byte(`{"delay":1000}`), &b); err != nil || b.Delay != time.Microsecond {
		t.Errorf("numeric delay: %v %v", b.Delay, err)
	}
}
