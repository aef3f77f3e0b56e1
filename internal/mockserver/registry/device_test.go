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

func TestBehavior_SleepAndSubscribe(t *testing.T) {
	var b Behavior
	if err := json.Unmarshal([]byte(`{"subscribe":["/device/message/down"],"sleep":"30s","awake":"2s"}`), &b); err != nil {
		t.Fatal(err)
	}
	if b.Sleep != 30*time.Second || b.Awake != 2*time.Second || len(b.Subscribe) != 1 || b.Validate() != nil {
		t.Fatalf("decoded %+v (%v)", b, b.Validate())
	}
	out, err := json.Marshal(b)
	if want := `{"subscribe":["/device/message/down"],"sleep":"30s","awake":"2s"}`; err != nil || string(out) != want {
		t.Errorf("encoded %s, %v; want %s", out, err, want)
	}
	for _, bad := range []Behavior{
		{Sleep: time.Second}, {Awake: time.Second}, {Sleep: -1, Awake: time.Second},
		{Sleep: time.Second, Awake: time.Second, DisconnectAfter: 1},
		{Subscribe: []string{""}}, {Subscribe: []string{strings.Repeat("a", 513)}}, {Subscribe: []string{"a\x00"}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", bad)
		}
	}
	// The registry keeps copies of its own.
	r := New(Limits{})
	subs := []string{"a/b"}
	if _, _, err := r.Add(Device{ID: "d", Simulated: &Behavior{Subscribe: subs}}); err != nil {
		t.Fatal(err)
	}
	subs[0] = "changed"
	if got := r.Devices()[0].Simulated.Subscribe[0]; got != "a/b" {
		t.Errorf("the registry's copy changed to %q", got)
	}
}
