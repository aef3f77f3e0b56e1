package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestJournal_AddStampsAndSanitizes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := newJournal(func() time.Time { return at }, 0)
	j.add(Entry{Kind: EntryRequest, Body: json.RawMessage(`{"a":1.0}`)})
	j.add(Entry{Kind: EntryReply, Body: json.RawMessage(`not json`)})
	got := j.entries()
	if len(got) != 2 || !got[0].Time.Equal(at) {
		t.Fatalf("entries = %+v", got)
	}
	if string(got[0].Body) != `{"a":1.0}` || string(got[1].Body) != `"not json"` {
		t.Errorf("bodies = %s, %s", got[0].Body, got[1].Body)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("journal does not encode: %v", err)
	}
	got[0].Kind = "changed"
	if j.entries()[0].Kind != EntryRequest {
		t.Error("entries() returned the journal's own slice")
	}
	j.clear()
	if n := len(j.entries()); n != 0 {
		t.Errorf("%d entries after clear", n)
	}
}

func TestJournal_Bounded(t *testing.T) {
	j := newJournal(nil, 0)
	for i := range maxJournalEntries + 5 {
		j.add(Entry{Kind: EntryRequest, RequestID: strconv.Itoa(i)})
	}
	got := j.entries()
	last := strconv.Itoa(maxJournalEntries + 4)
	if len(got) > maxJournalEntries || got[0].RequestID == "0" || got[len(got)-1].RequestID != last {
		t.Errorf("len %d, first %s, last %s", len(got), got[0].RequestID, got[len(got)-1].RequestID)
	}
}

func TestJournal_WaitFor(t *testing.T) {
	j := newJournal(nil, 0)
	j.add(Entry{Kind: EntryConnect, DeviceID: "old"})
	if e, err := j.waitFor(t.Context(), func(e Entry) bool { return e.DeviceID == "old" }); err != nil || e.Kind != EntryConnect {
		t.Errorf("existing entry: %+v, %v", e, err)
	}
	got := make(chan Entry, 1)
	go func() {
		e, err := j.waitFor(t.Context(), func(e Entry) bool { return e.Kind == EntryReply })
		if err == nil {
			got <- e
		}
		close(got)
	}()
	j.clear() // a cleared journal must not make the waiter skip what comes next
	j.add(Entry{Kind: EntryDelivery})
	j.add(Entry{Kind: EntryReply, CommandID: "c1"})
	if e := <-got; e.CommandID != "c1" {
		t.Errorf("waited entry = %+v", e)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := j.waitFor(ctx, func(Entry) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waitFor without a match = %v", err)
	}
}

func TestMaskHeader(t *testing.T) {
	h := http.Header{
		"Authorization":    {"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=abc"},
		"X-Auth-Token":     {"tok"},
		"X-Security-Token": {"sts"},
		"User-Agent":       {"ua"},
	}
	got := http.Header(maskHeader(h))
	want := http.Header{
		"Authorization":    {"SDK-HMAC-SHA256 ***"},
		"X-Auth-Token":     {"***"},
		"X-Security-Token": {"***"},
		"User-Agent":       {"ua"},
	}
	for name := range want {
		if got.Get(name) != want.Get(name) {
			t.Errorf("%s = %q, want %q", name, got.Get(name), want.Get(name))
		}
	}
	if h.Get("X-Auth-Token") != "tok" {
		t.Error("maskHeader changed its input")
	}
}

func TestJournal_RequestEntry(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: "tok", Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	const body = `{"service_id":"S","paras":{"v":1}}`
	req := newCommandRequest(t, commandURL(s, "echo"), body)
	req.Header.Set("X-Auth-Token", "tok")
	resp, respBody := do(t, nil, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, respBody)
	}
	var answer struct {
		CommandID string `json:"command_id"`
	}
	if err := json.Unmarshal(respBody, &answer); err != nil {
		t.Fatal(err)
	}
	kinds := []EntryKind{}
	for _, e := range s.Journal() {
		if e.DeviceID == "echo" && e.Kind != EntryConnect {
			kinds = append(kinds, e.Kind)
		}
	}
	if len(kinds) != 3 || kinds[0] != EntryDelivery || kinds[1] != EntryReply || kinds[2] != EntryRequest {
		t.Errorf("journal kinds = %v, want delivery, reply, request", kinds)
	}
	e := lastRequest(t, s)
	want := Entry{
		Kind: EntryRequest, RequestID: resp.Header.Get("X-Request-Id"), Method: http.MethodPost,
		Path: "/v5/iot/mock-project/devices/echo/commands", Status: http.StatusOK, DeviceID: "echo",
		CommandID: answer.CommandID,
	}
	if e.Kind != want.Kind || e.RequestID != want.RequestID || e.Method != want.Method || e.Path != want.Path ||
		e.Status != want.Status || e.DeviceID != want.DeviceID || e.CommandID != want.CommandID || e.ErrorCode != "" ||
		e.Fault != "" || string(e.Body) != body || e.Time.IsZero() {
		t.Errorf("entry = %+v\nwant  %+v with body %s", e, want, body)
	}
	if got := http.Header(e.Header).Get("X-Auth-Token"); got != maskedValue {
		t.Errorf("token journaled as %q", got)
	}
}

func TestJournal_UnknownRouteIsJournaled(t *testing.T) {
	s := NewForTest(t, Options{})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/v3/auth/tokens", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, nil, req)
	wantError(t, resp, body, http.StatusNotFound, codeNoAPI)
	if e := lastRequest(t, s); e.Path != "/v3/auth/tokens" || e.Status != http.StatusNotFound || e.ErrorCode != codeNoAPI {
		t.Errorf("entry = %+v", e)
	}
}
