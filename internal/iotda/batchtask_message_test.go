package iotda

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The document of a createMessages task is the CreateMessage body, without the device.
func TestMessageDocument_IsTheBodyWithoutTheDevice(t *testing.T) {
	ttl := int32(60)
	m := Message{DeviceID: "dev-1", MessageID: "m-1", Name: "cfg", Message: json.RawMessage(`{"big":12345678901234567890123, "html":"<a&b>"}`),
		Topic: "config", TTL: &ttl, Secret: true}
	doc, err := MessageDocument(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"message_id":"m-1","name":"cfg","message":{"big":12345678901234567890123,"html":"<a&b>"},"topic":"config","ttl":60}`
	if string(doc) != want {
		t.Fatalf("document %s, want %s", doc, want)
	}
	body, err := messageBody(m)
	if err != nil || string(body) != string(doc) {
		t.Fatalf("the create body %s (%v) differs from the document", body, err)
	}
	for _, bad := range []Message{
		{MessageID: "m 1", Message: json.RawMessage(`"x"`)},
		{MessageID: "m-1", Message: json.RawMessage(`null`)},
		{MessageID: "m-1", Message: json.RawMessage(`"x"`), Topic: "a", TopicFullName: "/b"},
	} {
		if _, err := MessageDocument(bad); err == nil {
			t.Errorf("MessageDocument(%+v) accepted it", bad)
		}
	}
}

func TestMessageOutput(t *testing.T) {
	for output, want := range map[string]string{
		`{"message_id":"m-1","result":{"status":"PENDING","created_time":"20240102T030405Z"}}`:                                      "m-1 PENDING 2024-01-02",
		`{"message_id":"m-1","result":{"status":"DELIVERED","created_time":"20240102T030405Z","finished_time":"20240102T030406Z"}}`: "m-1 DELIVERED 2024-01-02",
		` {"message_id":"m-2","status":"FAILED","error_info":{"error_code":"IOTDA.014112","error_msg":"not subscribed"}}`:           "m-2 FAILED IOTDA.014112",
		`{"result":{"status":"PENDING"}}`: " PENDING",
		``:                                "not an answer",
		`done`:                            "not an answer",
		`"m-1"`:                           "not an answer",
		`{"command_id":"c-1"}`:            "not an answer",
		`{"message_id":`:                  "not an answer",
	} {
		m, ok := MessageOutput(output)
		got := "not an answer"
		if ok {
			got = m.MessageID + " " + m.Status
			switch {
			case m.ErrorCode != "":
				got += " " + m.ErrorCode
			case !m.CreatedAt.IsZero():
				got += " " + m.CreatedAt.Format(time.DateOnly)
			}
		}
		if got != want {
			t.Errorf("MessageOutput(%q) = %q, want %q", output, got, want)
		}
	}
}

// ShowDeviceMessages reads every message, a few at a time, and answers in the order asked.
func TestShowDeviceMessages_BoundedAndInOrder(t *testing.T) {
	var inFlight, most atomic.Int32
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(5 * time.Millisecond) // Holds the read so that others overlap it.
		parts := strings.Split(r.URL.Path, "/")
		device, id := parts[len(parts)-3], parts[len(parts)-1]
		switch device {
		case "gone":
			reply(http.StatusNotFound, `{"error_code":"IOTDA.014000","error_msg":"no device"}`)(w, r)
		case "evicted":
			reply(http.StatusOK, `{}`)(w, r)
		default:
			reply(http.StatusOK, `{"message_id":"`+id+`","status":"DELIVERED"}`)(w, r)
		}
	})
	c := newTestClient(t, ts.URL, nil)
	var refs []MessageRef
	for i := range 40 {
		refs = append(refs, MessageRef{DeviceID: fmt.Sprintf("d%d", i), MessageID: fmt.Sprintf("m%d", i)})
	}
	refs = append(refs, MessageRef{DeviceID: "gone", MessageID: "m"}, MessageRef{DeviceID: "evicted", MessageID: "m"})
	got := c.ShowDeviceMessages(t.Context(), refs, 3)
	if len(got) != len(refs) {
		t.Fatalf("%d readings for %d refs", len(got), len(refs))
	}
	for i, r := range got[:40] {
		if r.Ref != refs[i] || r.Err != nil || r.Message.MessageID != refs[i].MessageID || r.Message.Status != MessageDelivered {
			t.Fatalf("reading %d: %+v %v", i, r.Ref, r.Err)
		}
	}
	if !errors.Is(got[40].Err, ErrNotFound) || !errors.Is(got[41].Err, ErrMessageNotFound) {
		t.Fatalf("an unknown device read %v, an evicted message %v", got[40].Err, got[41].Err)
	}
	if m := most.Load(); m != 3 {
		t.Fatalf("%d reads at once, want 3", m)
	}
}

// A refusal every read would get ends the reads: the rest are not made.
func TestShowDeviceMessages_StopsAtARefusalForGood(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusUnauthorized, `{"error_code":"IOTDA.000002","error_msg":"Authentication failed."}`))
	c := newTestClient(t, ts.URL, nil)
	var refs []MessageRef
	for i := range 50 {
		refs = append(refs, MessageRef{DeviceID: fmt.Sprintf("d%d", i), MessageID: "m"})
	}
	got := c.ShowDeviceMessages(t.Context(), refs, 1)
	for i, r := range got {
		if !errors.Is(r.Err, ErrUnauthorized) {
			t.Fatalf("reading %d: %v, want the refusal", i, r.Err)
		}
	}
	if n := ts.hits.Load(); n != 1 {
		t.Fatalf("%d reads were made, want 1", n)
	}
}
