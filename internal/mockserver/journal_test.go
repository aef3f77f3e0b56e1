package mockserver

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

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
	if got := http.Header(e.Header).Get("X-Auth-Token"); got != journal.MaskedValue {
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
	wantError(t, resp, body, http.StatusNotFound, httpapi.CodeNoAPI)
	if e := lastRequest(t, s); e.Path != "/v3/auth/tokens" || e.Status != http.StatusNotFound || e.ErrorCode != httpapi.CodeNoAPI {
		t.Errorf("entry = %+v", e)
	}
}
