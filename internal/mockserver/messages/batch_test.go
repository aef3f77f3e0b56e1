package messages

import (
	"net/http"
	"strings"
	"testing"
)

// Check is Create's validation alone: the same refusals, and nothing created or sent.
func TestCheck_RefusesWhatCreateRefuses(t *testing.T) {
	devs := newFakeDevices("d1")
	devs.setOnline("d1", true)
	b, _, events := newBackend(t, devs)
	for body, want := range map[string]string{
		`{"message":"x"}`: "",
		`{"message_id":"m-1","message":{"a":1},"ttl":60}`: "",
		`{"name":"n"}`: "message is required",
		`{"message":"x","topic":"a","topic_full_name":"/b"}`: "cannot both be set",
		`{"message":"x","ttl":7}`:                            "multiple of 5",
		`{"message":"x","encoding":"base64"}`:                "base64",
		`{"message_id":"a b","message":"x"}`:                 "message_id",
	} {
		err := Check([]byte(body))
		_, createErr := b.Create("d1", []byte(strings.Replace(body, `"m-1"`, `"m-2"`, 1)))
		switch {
		case want == "" && (err != nil || createErr != nil):
			t.Errorf("%s: Check %v, Create %v; want both to accept it", body, err, createErr)
		case want != "" && (err == nil || !strings.Contains(err.Msg, want) || createErr == nil || createErr.Msg != err.Msg):
			t.Errorf("%s: Check %v, Create %v; want both to refuse it with %q", body, err, createErr, want)
		}
	}
	if n := len(events.of(EventCreated)); n != 2 {
		t.Fatalf("%d messages created, want the 2 valid ones Create was given (Check creates none)", n)
	}
}

// CreatedBody is the 201 answer.
func TestCreatedBody_IsTheCreateAnswer(t *testing.T) {
	devs := newFakeDevices("d1")
	b, _, _ := newBackend(t, devs)
	r := b.Respond(http.MethodPost, []string{"devices", "d1", "messages"}, "application/json", []byte(`{"message_id":"m-1","message":"x"}`))
	m := get(t, b, "d1", "m-1")
	if r.Status != http.StatusCreated || string(r.Body) != string(CreatedBody(m)) {
		t.Fatalf("answer %d %s, CreatedBody %s", r.Status, r.Body, CreatedBody(m))
	}
	if want := `{"message_id":"m-1","result":{"status":"PENDING","created_time":"20240102T030405Z"}}`; string(CreatedBody(m)) != want {
		t.Fatalf("CreatedBody %s, want %s", CreatedBody(m), want)
	}
}
