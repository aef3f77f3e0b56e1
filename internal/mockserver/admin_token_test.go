package mockserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// adminAs sends an admin request with the given Authorization header ("" for none).
func adminAs(t *testing.T, s *Server, authorization, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return do(t, nil, req)
}

func TestAdmin_TokenRequiredBeyondLoopback(t *testing.T) {
	for name, opts := range map[string]Options{
		"HTTP on every interface":      {HTTPAddr: "0.0.0.0:0"},
		"HTTP on an empty host":        {HTTPAddr: ":8080"},
		"HTTP on every IPv6 interface": {HTTPAddr: "[::]:0"},
		"MQTT on a LAN address":        {MQTTAddr: "192.0.2.10:1883"},
		"MQTTS on every interface":     {MQTTTLSAddr: "0.0.0.0:8883"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(opts)
			if err == nil || !strings.Contains(err.Error(), "admin token") || !strings.Contains(err.Error(), "IOTDA_MOCK_ADMIN_TOKEN") {
				t.Fatalf("New = %v, want a refusal naming the admin token and how to set it", err)
			}
			opts.AdminToken, opts.AuthToken = "adm", "tok"
			if _, err := New(opts); err != nil {
				t.Errorf("with an admin token and an API token: %v", err)
			}
		})
	}
	if _, err := New(Options{HTTPAddr: "localhost:0", MQTTAddr: "[::1]:0", MQTTTLSAddr: "127.0.0.1:0"}); err != nil {
		t.Errorf("loopback listeners need no admin token: %v", err)
	}
}

// TestAdmin_Token: with a token set (here on loopback, where it is optional), every admin
// request needs it, and the mock says so at start. The command API keeps its own
// authentication.
func TestAdmin_Token(t *testing.T) {
	var logs syncLog
	s := NewForTest(t, Options{AdminToken: "adm-secret", AuthToken: testToken,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	if !strings.Contains(logs.String(), "requires the admin token") || strings.Contains(logs.String(), "adm-secret") {
		t.Errorf("start-up log %q, want it to say the admin API needs the token, without the token", logs.String())
	}
	for _, path := range []string{"/_mock/devices", "/_mock/journal", "/_mock/faults", "/_mock/ca.pem", "/_mock/nothing"} {
		for name, authz := range map[string]string{
			"no token":        "",
			"wrong token":     "Bearer adm-secretx",
			"not bearer":      "Basic adm-secret",
			"the API's token": "Bearer " + testToken,
			"token as scheme": "adm-secret",
		} {
			resp, body := adminAs(t, s, authz, http.MethodGet, path)
			e := wantError(t, resp, body, http.StatusUnauthorized, "MOCK.000401")
			if resp.Header.Get("WWW-Authenticate") == "" || strings.Contains(e.ErrorMsg, "adm-secret") {
				t.Errorf("%s %s: WWW-Authenticate %q, error_msg %q", path, name, resp.Header.Get("WWW-Authenticate"), e.ErrorMsg)
			}
		}
	}
	resp, body := adminAs(t, s, "Bearer adm-secret", http.MethodGet, "/_mock/devices")
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = adminAs(t, s, "bearer  adm-secret", http.MethodDelete, "/_mock/journal")
	wantStatus(t, resp, body, http.StatusNoContent)
	// The admin token is not a credential of the command API, nor the reverse.
	req := newCommandRequest(t, commandURL(s, "echo"), `{"paras":{}}`)
	req.Header.Set("X-Auth-Token", testToken)
	if resp, body := do(t, nil, req); resp.StatusCode != http.StatusOK {
		t.Errorf("command with the API token: %d %s", resp.StatusCode, body)
	}
	resp, body = adminAs(t, s, "", http.MethodGet, "/_mock/devices")
	wantError(t, resp, body, http.StatusUnauthorized, "MOCK.000401")
}

// syncLog is a log sink safe for concurrent writers.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestAPI_CredentialsRequiredBeyondLoopback: a mock with an admin token but no API
// credentials is refused as soon as any listener (HTTP, MQTT or MQTTS) binds beyond
// loopback, with a message naming every way to set them; a token or AK/SK pairs suffice;
// on loopback none is needed.
func TestAPI_CredentialsRequiredBeyondLoopback(t *testing.T) {
	for name, opts := range map[string]Options{
		"HTTP on every interface":  {HTTPAddr: "0.0.0.0:0"},
		"HTTP on an empty host":    {HTTPAddr: ":0"},
		"MQTT on every interface":  {MQTTAddr: "0.0.0.0:0"},
		"MQTT on a LAN address":    {MQTTAddr: "192.0.2.10:1883"},
		"MQTTS on every interface": {MQTTTLSAddr: "[::]:0"},
	} {
		t.Run(name, func(t *testing.T) {
			opts.AdminToken = "adm"
			_, err := New(opts)
			if err == nil {
				t.Fatal("New accepted a mock beyond loopback without API credentials")
			}
			for _, want := range []string{"platform API", "Options.AuthToken", "IOTDA_MOCK_AUTH_TOKEN", `"auth_token"`,
				`"credentials"`, "-token", "127.0.0.1"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal %q does not name %s", err, want)
				}
			}
			withToken, withKeys := opts, opts
			withToken.AuthToken = "tok"
			withKeys.Credentials = map[string]string{"AK": "SK"}
			for _, o := range []Options{withToken, withKeys} {
				if _, err := New(o); err != nil {
					t.Errorf("with API credentials: %v", err)
				}
			}
		})
	}
	if _, err := New(Options{HTTPAddr: "127.0.0.1:0", MQTTAddr: "localhost:0", MQTTTLSAddr: "[::1]:0"}); err != nil {
		t.Errorf("loopback listeners need no API credentials: %v", err)
	}
}
