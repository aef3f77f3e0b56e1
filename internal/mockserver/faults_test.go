package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

func newFaultServer(t *testing.T) *Server {
	t.Helper()
	return NewForTest(t, Options{Devices: []Device{
		{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}},
		{ID: "other", Simulated: &Behavior{Kind: BehaviorEcho}},
	}})
}

// sendRaw posts a command and returns the response (body unread) or the transport error.
func sendRaw(t *testing.T, s *Server, deviceID string) (*http.Response, error) {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(newCommandRequest(t, commandURL(s, deviceID), `{"paras":{"v":1}}`))
	if err == nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	return resp, err
}

func TestFault_StatusWithoutDelivery(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{Status: 429, ErrorCode: "APIGW.0308", ErrorMsg: "throttled", RetryAfter: "2", Times: 2})
	for i := range 2 {
		resp, body := postCommand(t, s, "echo", `{"paras":{}}`)
		wantError(t, resp, body, 429, "APIGW.0308")
		if resp.Header.Get("Retry-After") != "2" {
			t.Errorf("request %d: Retry-After = %q", i, resp.Header.Get("Retry-After"))
		}
	}
	if n := len(s.Deliveries("")); n != 0 {
		t.Errorf("%d deliveries during the fault, want none", n)
	}
	e := lastRequest(t, s)
	if e.Fault != "status=429" || e.Status != 429 || e.ErrorCode != "APIGW.0308" {
		t.Errorf("journal entry = %+v", e)
	}
	// Used up after two requests.
	if resp, body := postCommand(t, s, "echo", `{"paras":{}}`); resp.StatusCode != http.StatusOK {
		t.Errorf("after the fault: %d %s", resp.StatusCode, body)
	}
	if f := lastRequest(t, s).Fault; f != "" {
		t.Errorf("fault %q recorded after it was used up", f)
	}
}

func TestFault_StatusDefaultsAndRawBody(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{Status: 503})
	resp, body := postCommand(t, s, "echo", `{"paras":{}}`)
	if e := wantError(t, resp, body, 503, "MOCK.FAULT"); e.ErrorMsg != "Service Unavailable" {
		t.Errorf("error_msg = %q", e.ErrorMsg)
	}
	s.InjectFault(Fault{Name: "gateway page", Status: 502, Body: "<html>bad gateway</html>"})
	resp, body = postCommand(t, s, "echo", `{"paras":{}}`)
	if resp.StatusCode != 502 || string(body) != "<html>bad gateway</html>" {
		t.Errorf("raw body fault = %d %q", resp.StatusCode, body)
	}
	if e := lastRequest(t, s); e.Fault != "gateway page" {
		t.Errorf("fault label = %q", e.Fault)
	}
	if n := len(s.Deliveries("")); n != 0 {
		t.Errorf("%d deliveries, want none", n)
	}
}

func TestFault_MalformedBodyAfterDelivery(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{Body: `{"command_id":`})
	resp, body := postCommand(t, s, "echo", `{"paras":{}}`)
	if resp.StatusCode != http.StatusOK || string(body) != `{"command_id":` {
		t.Errorf("answer = %d %q", resp.StatusCode, body)
	}
	if n := len(s.Deliveries("echo")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestFault_DeviceScopedAndForever(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{DeviceID: "other", Status: 500, Times: -1})
	for range 3 {
		resp, body := postCommand(t, s, "other", `{"paras":{}}`)
		wantError(t, resp, body, 500, "MOCK.FAULT")
	}
	if resp, body := postCommand(t, s, "echo", `{"paras":{}}`); resp.StatusCode != http.StatusOK {
		t.Errorf("unscoped device hit the fault: %d %s", resp.StatusCode, body)
	}
	if n := len(s.faults.Pending()); n != 1 {
		t.Errorf("%d pending faults, want the forever fault", n)
	}
	s.ClearFaults()
	if resp, body := postCommand(t, s, "other", `{"paras":{}}`); resp.StatusCode != http.StatusOK {
		t.Errorf("after ClearFaults: %d %s", resp.StatusCode, body)
	}
}

func TestFault_AppliesOnlyToTheCommandRoute(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{Status: 500})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, commandURL(s, "echo"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, nil, req)
	wantError(t, resp, body, http.StatusMethodNotAllowed, httpapi.CodeNoAPI)
	if n := len(s.faults.Pending()); n != 1 {
		t.Errorf("a GET used up the fault: %d pending", n)
	}
}

func TestFault_ResetBeforeBody(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{ResetBeforeBody: true})
	resp, err := sendRaw(t, s, "echo")
	if err == nil {
		t.Fatalf("got an answer %d, want a connection error", resp.StatusCode)
	}
	t.Logf("client error: %v", err)
	if n := len(s.Deliveries("")); n != 0 {
		t.Errorf("%d deliveries, want none", n)
	}
	e, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryRequest })
	if err != nil {
		t.Fatal(err)
	}
	if e.Fault != "reset_before_body" || e.Status != 0 || e.Body != nil {
		t.Errorf("journal entry = %+v", e)
	}
}

func TestFault_ResetAfterDelivery(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{ResetAfterDelivery: true})
	resp, err := sendRaw(t, s, "echo")
	if err == nil {
		t.Fatalf("got an answer %d, want a connection error", resp.StatusCode)
	}
	t.Logf("client error: %v", err)
	if n := len(s.Deliveries("echo")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	e, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryRequest })
	if err != nil {
		t.Fatal(err)
	}
	if e.Fault != "reset_after_delivery" || e.Status != 0 || e.CommandID == "" {
		t.Errorf("journal entry = %+v", e)
	}
}

func TestFault_Truncate(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{Truncate: true})
	resp, err := sendRaw(t, s, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	body, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading the body: %v (read %q), want unexpected EOF", err, body)
	}
	if json.Valid(body) {
		t.Errorf("truncated body %q is valid JSON", body)
	}
	if n := len(s.Deliveries("echo")); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestFault_Delay(t *testing.T) {
	s := newFaultServer(t)
	const delay = 150 * time.Millisecond
	s.InjectFault(Fault{Delay: delay})
	start := time.Now()
	resp, body := postCommand(t, s, "echo", `{"paras":{}}`)
	if took := time.Since(start); took < delay {
		t.Errorf("answered after %s, want at least %s", took, delay)
	}
	if resp.StatusCode != http.StatusOK || lastRequest(t, s).Fault != "delay=150ms" {
		t.Errorf("answer %d %s, journal %+v", resp.StatusCode, body, lastRequest(t, s))
	}
}

func TestFault_DelayEndsWhenTheClientLeaves(t *testing.T) {
	s := newFaultServer(t)
	s.InjectFault(Fault{Delay: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	req := newCommandRequest(t, commandURL(s, "echo"), `{"paras":{}}`).WithContext(ctx)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		errc <- err
	}()
	if _, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryReply }); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v", err)
	}
	e, err := s.WaitJournal(t.Context(), func(e Entry) bool { return e.Kind == EntryRequest })
	if err != nil {
		t.Fatal(err)
	}
	if e.Status != 0 || e.Fault != "delay=1h0m0s" {
		t.Errorf("journal entry = %+v", e)
	}
}
