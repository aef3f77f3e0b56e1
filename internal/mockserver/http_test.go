package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

var (
	uuidV4Pattern    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// commandURL is the command API URL for a device of the server's project.
func commandURL(s *Server, deviceID string) string {
	return s.URL() + "/v5/iot/" + s.ProjectID() + "/devices/" + deviceID + "/commands"
}

// newCommandRequest builds a JSON POST request with the given body.
func newCommandRequest(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// do sends req with a fresh client and returns the response and its body. Every answer of
// the mock must carry an X-Request-Id and a JSON content type; do checks that too.
func do(t *testing.T, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	if client == nil {
		client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if id := resp.Header.Get("X-Request-Id"); !requestIDPattern.MatchString(id) {
		t.Errorf("X-Request-Id = %q, want 32 hex digits", id)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusNoContent && ct != "application/json" &&
		ct != "application/x-pem-file" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return resp, body
}

// postCommand posts body to the device's command URL.
func postCommand(t *testing.T, s *Server, deviceID, body string) (*http.Response, []byte) {
	t.Helper()
	return do(t, nil, newCommandRequest(t, commandURL(s, deviceID), body))
}

// wantError checks an IoTDA error answer.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) httpapi.ErrorBody {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, status, body)
	}
	var e httpapi.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", body, err)
	}
	if e.ErrorCode != code {
		t.Errorf("error_code = %q, want %q (body %s)", e.ErrorCode, code, body)
	}
	if e.ErrorMsg == "" {
		t.Errorf("error_msg is empty (body %s)", body)
	}
	return e
}

// lastRequest is the newest EntryRequest in the journal.
func lastRequest(t *testing.T, s *Server) Entry {
	t.Helper()
	j := s.Journal()
	for i := len(j) - 1; i >= 0; i-- {
		if j[i].Kind == EntryRequest {
			return j[i]
		}
	}
	t.Fatal("no request in the journal")
	return Entry{}
}

func TestCommand_EchoPreservesParasByteForByte(t *testing.T) {
	s := NewForTest(t, Options{Devices: []Device{{ID: "echo-1", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	// Numbers a float64 round trip would change, and a key order json.Marshal would sort.
	paras := `{"z":1,"big":123456789012345678901234567890,"exact":0.10000000000000000001,"nested":{"a":[1e400]}}`
	resp, body := postCommand(t, s, "echo-1", `{"service_id":"Switch","command_name":"ON_OFF","paras":`+paras+`}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	var got struct {
		CommandID string `json:"command_id"`
		Response  struct {
			ResultCode   json.Number     `json:"result_code"`
			ResponseName string          `json:"response_name"`
			Paras        json.RawMessage `json:"paras"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if !uuidV4Pattern.MatchString(got.CommandID) {
		t.Errorf("command_id = %q, want a UUID v4", got.CommandID)
	}
	if string(got.Response.Paras) != paras {
		t.Errorf("echoed paras = %s, want %s", got.Response.Paras, paras)
	}
	if got.Response.ResponseName != "ON_OFF" || got.Response.ResultCode != "0" {
		t.Errorf("response = %s", body)
	}
	deliveries := s.Deliveries("echo-1")
	if len(deliveries) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(deliveries))
	}
	if d := deliveries[0]; d.CommandID != got.CommandID || !bytes.Contains(d.Body, []byte(`"paras":`+paras)) {
		t.Errorf("delivery = %+v, want command %s with paras %s", d, got.CommandID, paras)
	}
}

func TestCommand_ReplyReturnedAsSent(t *testing.T) {
	reply := `{"result_code":0,"response_name":"R","paras":{"big":9007199254740993,"f":1.50,"s":"<&>"}}`
	s := NewForTest(t, Options{Devices: []Device{{ID: "d1", Simulated: &Behavior{Response: json.RawMessage(reply)}}}})
	resp, body := postCommand(t, s, "d1", `{"paras":{}}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	if !bytes.HasSuffix(body, []byte(`,"response":`+reply+`}`)) {
		t.Errorf("body = %s, want the reply %s embedded as sent", body, reply)
	}
	e := lastRequest(t, s)
	if e.Status != http.StatusOK || e.ErrorCode != "" || e.DeviceID != "d1" || e.CommandID == "" ||
		!bytes.Contains(body, []byte(e.CommandID)) || e.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("journal entry = %+v", e)
	}
}

func TestCommand_Timeout(t *testing.T) {
	s := NewForTest(t, Options{
		PlatformTimeout: 100 * time.Millisecond,
		Devices:         []Device{{ID: "mute", Simulated: &Behavior{Kind: BehaviorSilent}}},
	})
	resp, body := postCommand(t, s, "mute", `{"paras":{"v":1}}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200 (body %s)", resp.StatusCode, body)
	}
	var got struct {
		CommandID string `json:"command_id"`
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !uuidV4Pattern.MatchString(got.CommandID) || got.ErrorCode != commands.CodeTimeout || got.ErrorMsg != commands.MsgTimeout {
		t.Errorf("timeout body = %s", body)
	}
	if e := lastRequest(t, s); e.Status != http.StatusOK || e.ErrorCode != commands.CodeTimeout || e.CommandID != got.CommandID {
		t.Errorf("journal entry = %+v", e)
	}
}

func TestCommand_DeviceErrors(t *testing.T) {
	s := NewForTest(t, Options{Devices: []Device{{ID: "offline-1"}}})

	resp, body := postCommand(t, s, "nobody", `{"paras":{}}`)
	if e := wantError(t, resp, body, http.StatusNotFound, httpapi.CodeDeviceNotFound); !strings.Contains(e.ErrorMsg, "nobody") {
		t.Errorf("error_msg %q does not name the device", e.ErrorMsg)
	}
	resp, body = postCommand(t, s, "offline-1", `{"paras":{}}`)
	if e := wantError(t, resp, body, http.StatusForbidden, httpapi.CodeDeviceOffline); e.ErrorMsg != httpapi.MsgDeviceOffline {
		t.Errorf("error_msg = %q", e.ErrorMsg)
	}
	if e := lastRequest(t, s); e.ErrorCode != httpapi.CodeDeviceOffline || e.Status != http.StatusForbidden {
		t.Errorf("journal entry = %+v", e)
	}
}

func TestCommand_RequestValidation(t *testing.T) {
	s := NewForTest(t, Options{InstanceID: "inst-1", Devices: []Device{{ID: "d1"}}})
	base := s.URL() + "/v5/iot/" + s.ProjectID() + "/devices/"
	long := strings.Repeat("x", 129)
	tests := map[string]struct {
		method, url, contentType, instance, body string
		status                                   int
		code, msg                                string
	}{
		"unknown path": {url: s.URL() + "/v5/iot/p/devices/d1/properties", status: 404, code: httpapi.CodeNoAPI},
		"wrong method": {method: http.MethodGet, url: base + "d1/commands", status: 405, code: httpapi.CodeNoAPI},
		"other project": {url: s.URL() + "/v5/iot/other/devices/d1/commands", status: 403, code: httpapi.CodeProject,
			msg: `"other" in the request path is not this endpoint's project "mock-project"`},
		"no instance":        {instance: "-", status: 403, code: httpapi.CodeInstance, msg: `header "" does not name`},
		"other instance":     {instance: "inst-2", status: 403, code: httpapi.CodeInstance, msg: `"inst-2" does not name this endpoint's instance "inst-1"`},
		"device id too long": {url: base + long + "/commands", status: 400, code: httpapi.CodeInvalidInput},
		"device id escaped":  {url: base + "a%2Fb/commands", status: 400, code: httpapi.CodeInvalidInput},
		"device id charset":  {url: base + "a.b/commands", status: 400, code: httpapi.CodeInvalidInput},
		"text content type":  {contentType: "text/plain", status: 400, code: httpapi.CodeBadRequest},
		"no content type":    {contentType: "-", status: 400, code: httpapi.CodeBadRequest},
		"invalid json":       {body: `{"paras":`, status: 400, code: httpapi.CodeBadRequest},
		"not an object":      {body: `[{"paras":{}}]`, status: 400, code: httpapi.CodeInvalidInput},
		"no paras":           {body: `{"service_id":"s"}`, status: 400, code: httpapi.CodeInvalidInput},
		"null paras":         {body: `{"paras":null}`, status: 400, code: httpapi.CodeInvalidInput},
		"string paras":       {body: `{"paras":"{\"v\":1}"}`, status: 400, code: httpapi.CodeInvalidInput},
		"array paras":        {body: `{"paras":[1]}`, status: 400, code: httpapi.CodeInvalidInput},
		"numeric service":    {body: `{"service_id":7,"paras":{}}`, status: 400, code: httpapi.CodeInvalidInput},
		"long service_id":    {body: `{"service_id":"` + strings.Repeat("s", 65) + `","paras":{}}`, status: 400, code: httpapi.CodeInvalidInput},
		"long command_name":  {body: `{"command_name":"` + long + `","paras":{}}`, status: 400, code: httpapi.CodeInvalidInput},
		"body too large":     {body: `{"paras":{"v":"` + strings.Repeat("x", 1<<20) + `"}}`, status: 400, code: httpapi.CodeInvalidInput},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			method, url, ct, inst, body := tc.method, tc.url, tc.contentType, tc.instance, tc.body
			if method == "" {
				method = http.MethodPost
			}
			if url == "" {
				url = base + "d1/commands"
			}
			if body == "" {
				body = `{"paras":{}}`
			}
			req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if ct != "-" {
				req.Header.Set("Content-Type", orDefault(ct, "application/json; charset=UTF-8"))
			}
			if inst != "-" {
				req.Header.Set("Instance-Id", orDefault(inst, "inst-1"))
			}
			resp, respBody := do(t, nil, req)
			if e := wantError(t, resp, respBody, tc.status, tc.code); !strings.Contains(e.ErrorMsg, tc.msg) {
				t.Errorf("error_msg = %q, want it to contain %q", e.ErrorMsg, tc.msg)
			}
			if tc.status == 405 && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow = %q, want POST", resp.Header.Get("Allow"))
			}
		})
	}
	if n := len(s.Deliveries("")); n != 0 {
		t.Errorf("%d deliveries, want none", n)
	}
	// The length limits count characters, not bytes: 64 two-byte characters pass validation.
	resp, body := do(t, nil, withInstance(newCommandRequest(t, base+"d1/commands",
		`{"service_id":"`+strings.Repeat("é", 64)+`","paras":{}}`)))
	wantError(t, resp, body, http.StatusForbidden, httpapi.CodeDeviceOffline)
}

func withInstance(req *http.Request) *http.Request {
	req.Header.Set("Instance-Id", "inst-1")
	return req
}

// orDefault returns a unless it is empty, then b.
func orDefault(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestHealthz(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: "tok"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, nil, req)
	if resp.StatusCode != http.StatusOK || string(body) != `{"status":"ok"}` {
		t.Errorf("healthz = %d %s", resp.StatusCode, body)
	}
	req.Method = http.MethodPost
	resp, body = do(t, nil, req)
	wantError(t, resp, body, http.StatusMethodNotAllowed, httpapi.CodeNoAPI)
	if n := len(s.Journal()); n != 0 {
		t.Errorf("healthz was journaled: %d entries", n)
	}
}

func TestCommand_ClientGoneIsJournaledWithoutStatus(t *testing.T) {
	s := NewForTest(t, Options{Devices: []Device{{ID: "mute", Simulated: &Behavior{Kind: BehaviorSilent}}}})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req := newCommandRequest(t, commandURL(s, "mute"), `{"paras":{}}`).WithContext(ctx)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	if _, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryDelivery }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("client error = %v, want context.Canceled", err)
	}
	e, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryRequest })
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != 0 || e.CommandID == "" {
		t.Errorf("journal entry = %+v, want no status and the command id", e)
	}
}

func TestClose_EndsRequestsInFlight(t *testing.T) {
	s, err := New(Options{Devices: []Device{{ID: "mute", Simulated: &Behavior{Kind: BehaviorSilent}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	req := newCommandRequest(t, commandURL(s, "mute"), `{"paras":{}}`)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		_ = resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	if _, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryDelivery }); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %s: it waited for the platform timeout", took)
	}
	// The in-flight request is either answered 503 or cut; it must not wait 20 s.
	if r := <-done; r.err == nil && r.status != http.StatusServiceUnavailable {
		t.Errorf("in-flight request got %d, want 503 or a connection error", r.status)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
