package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

// admin sends an admin API request and returns the answer.
func adminCall(t *testing.T, s *Server, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return do(t, nil, req)
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d (body %s)", resp.Request.Method, resp.Request.URL.Path,
			resp.StatusCode, status, body)
	}
}

func TestAdmin_Devices(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: "admin-needs-no-token", Devices: []Device{{ID: "registered", Secret: "s3cret"}}})

	resp, body := adminCall(t, s, http.MethodPost, "/_mock/devices",
		`{"id":"sim","secret":"other-s3cret","simulated":{"kind":"echo","delay":"10ms"}}`)
	wantStatus(t, resp, body, http.StatusCreated)
	var created struct { // the admin API's device: no secret
		ID        string    `json:"id"`
		Online    bool      `json:"online"`
		Simulated *Behavior `json:"simulated"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if created.ID != "sim" || !created.Online || created.Simulated == nil || created.Simulated.Delay != 10*time.Millisecond {
		t.Errorf("created = %s", body)
	}

	resp, body = adminCall(t, s, http.MethodGet, "/_mock/devices", "")
	wantStatus(t, resp, body, http.StatusOK)
	want := `[{"id":"registered","online":false},{"id":"sim","online":true,"simulated":{"kind":"echo","delay":"10ms"}}]`
	if string(body) != want {
		t.Errorf("devices = %s\nwant      %s", body, want)
	}
	if strings.Contains(string(body), "s3cret") {
		t.Error("the device list shows secrets")
	}

	// The device the admin API added answers commands.
	if resp, body := do(t, nil, tokenRequest(t, s, "sim")); resp.StatusCode != http.StatusOK {
		t.Errorf("command to the added device: %d %s", resp.StatusCode, body)
	}

	resp, body = adminCall(t, s, http.MethodPost, "/_mock/devices", `{"id":"sim"}`)
	wantError(t, resp, body, http.StatusConflict, "MOCK.000409")
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/devices", `{"id":"bad id"}`)
	wantError(t, resp, body, http.StatusBadRequest, "MOCK.000400")
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/devices", `{"id":"x","simulated":{"kind":"echo","dealy":"1s"}}`)
	wantError(t, resp, body, http.StatusBadRequest, "MOCK.000400")
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/devices", `{"id":"x"} {}`)
	wantError(t, resp, body, http.StatusBadRequest, "MOCK.000400")

	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/devices/sim", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	if resp, body := do(t, nil, tokenRequest(t, s, "sim")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("command to the removed device: %d %s", resp.StatusCode, body)
	}
	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/devices/sim", "")
	wantError(t, resp, body, http.StatusNotFound, "MOCK.000404")

	for _, e := range s.Journal() {
		if e.Kind == EntryRequest && strings.HasPrefix(e.Path, httpapi.AdminPrefix) {
			t.Errorf("admin request journaled: %+v", e)
		}
	}
}

func tokenRequest(t *testing.T, s *Server, deviceID string) *http.Request {
	t.Helper()
	req := newCommandRequest(t, commandURL(s, deviceID), `{"paras":{}}`)
	req.Header.Set("X-Auth-Token", "admin-needs-no-token")
	return req
}

func TestAdmin_Journal(t *testing.T) {
	s := NewForTest(t, Options{Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	if resp, body := postCommand(t, s, "echo", `{"paras":{"n":1.50}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("command: %d %s", resp.StatusCode, body)
	}
	resp, body := adminCall(t, s, http.MethodGet, "/_mock/journal?kind=request&device_id=echo", "")
	wantStatus(t, resp, body, http.StatusOK)
	var entries []Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Kind != EntryRequest || string(entries[0].Body) != `{"paras":{"n":1.50}}` {
		t.Errorf("journal = %s", body)
	}
	_, body = adminCall(t, s, http.MethodGet, "/_mock/journal?kind=delivery", "")
	if err := json.Unmarshal(body, &entries); err != nil || len(entries) != 1 || entries[0].Kind != EntryDelivery {
		t.Errorf("deliveries = %s (%v)", body, err)
	}
	// A filter would suggest clearing only some entries; DELETE clears all, so it is refused.
	for _, query := range []string{"?kind=delivery", "?device_id=echo"} {
		resp, body = adminCall(t, s, http.MethodDelete, "/_mock/journal"+query, "")
		wantError(t, resp, body, http.StatusBadRequest, "MOCK.000400")
	}
	if len(s.Journal()) == 0 {
		t.Error("a refused DELETE cleared the journal")
	}
	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/journal", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	_, body = adminCall(t, s, http.MethodGet, "/_mock/journal", "")
	if string(body) != "[]" {
		t.Errorf("journal after DELETE = %s", body)
	}
}

func TestAdmin_Faults(t *testing.T) {
	s := NewForTest(t, Options{Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	if _, body := adminCall(t, s, http.MethodGet, "/_mock/faults", ""); string(body) != "[]" {
		t.Errorf("faults of a new mock = %s, want []", body)
	}
	resp, body := adminCall(t, s, http.MethodPost, "/_mock/faults",
		`{"device_id":"echo","status":429,"error_code":"APIGW.0308","retry_after":"1","delay":"20ms","times":2}`)
	wantStatus(t, resp, body, http.StatusCreated)
	_, body = adminCall(t, s, http.MethodGet, "/_mock/faults", "")
	var pending []Fault
	if err := json.Unmarshal(body, &pending); err != nil || len(pending) != 1 || pending[0].Delay != 20*time.Millisecond ||
		pending[0].Times != 2 {
		t.Errorf("faults = %s (%v)", body, err)
	}
	resp, body = postCommand(t, s, "echo", `{"paras":{}}`)
	wantError(t, resp, body, 429, "APIGW.0308")
	if resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
	}

	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/faults", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	if resp, body := postCommand(t, s, "echo", `{"paras":{}}`); resp.StatusCode != http.StatusOK {
		t.Errorf("after DELETE /_mock/faults: %d %s", resp.StatusCode, body)
	}

	for _, bad := range []string{`{"status":42}`, `{"delay":"later"}`, `{"stauts":500}`, `not json`,
		`{"status":503,"times":-2}`, `{"delay":"-1s"}`} {
		resp, body = adminCall(t, s, http.MethodPost, "/_mock/faults", bad)
		wantError(t, resp, body, http.StatusBadRequest, "MOCK.000400")
	}
}

func TestAdmin_RoutingErrorsAndCA(t *testing.T) {
	s := NewForTest(t, Options{})
	resp, body := adminCall(t, s, http.MethodGet, "/_mock/nothing", "")
	wantError(t, resp, body, http.StatusNotFound, "MOCK.000404")
	resp, body = adminCall(t, s, http.MethodPut, "/_mock/faults", "")
	wantError(t, resp, body, http.StatusMethodNotAllowed, "MOCK.000405")
	if got := resp.Header.Get("Allow"); got != "GET, POST, DELETE" {
		t.Errorf("Allow = %q", got)
	}
	resp, body = adminCall(t, s, http.MethodGet, "/_mock/ca.pem", "")
	wantError(t, resp, body, http.StatusNotFound, "MOCK.000404")

	tlsMock := NewForTest(t, Options{TLS: true})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tlsMock.URL()+"/_mock/ca.pem", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = do(t, tlsClient(t, tlsMock.CACertPEM()), req)
	if resp.StatusCode != http.StatusOK || string(body) != tlsMock.CACertPEM() {
		t.Errorf("ca.pem = %d %q", resp.StatusCode, body)
	}
}
