package httpapi

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// echoService is the smallest service a responses layer can be: POST /v5/iot/{project}/echo
// answers its body, after the platform's prelude.
type echoService struct{ api *API }

func (e echoService) Route(escaped string) bool {
	return strings.HasPrefix(escaped, "/v5/iot/") && strings.HasSuffix(escaped, "/echo")
}

func (e echoService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := e.api.Begin(w, r)
	defer x.Finish()
	if r.Method != http.MethodPost {
		x.NotAllowed(http.MethodPost)
		return
	}
	if x.TakeFault("") {
		return
	}
	project := strings.Split(r.URL.Path, "/")[3]
	body, bad := x.Body(0)
	if bad == nil {
		bad = x.CheckTenant(project)
	}
	if bad != nil {
		x.Respond(*bad)
		return
	}
	x.Entry.Body = body
	x.Respond(Answer{Status: http.StatusOK, Body: body})
}

func startServer(t *testing.T, cfg Config) (*Server, *journal.Journal, *faults.Set) {
	t.Helper()
	j, f := journal.New(nil, 0), faults.NewSet()
	api := NewAPI(cfg, j, f)
	admin := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { WriteJSON(w, http.StatusTeapot, "admin") })
	s := NewServer(api, ServerConfig{Addr: "127.0.0.1:0"}, admin, echoService{api})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, j, f
}

func call(t *testing.T, method, url, token, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// TestServer_PreludeInThePlatformsOrder: a service built on the API answers as the
// platform does, in its order (credentials, body limit, project, Instance-Id), journals
// each request once with its status, error code and request id, and never journals the
// body of a request whose credentials failed.
func TestServer_PreludeInThePlatformsOrder(t *testing.T) {
	s, j, _ := startServer(t, Config{ProjectID: "p1", AuthToken: "tok", InstanceID: "i1", MaxBodyBytes: 16})
	base := s.URL() + "/v5/iot/"
	tests := []struct {
		name, project, token, body, instance string
		status                               int
		body0                                string
	}{
		{"no credentials", "p1", "", `{}`, "i1", 401, `"error_code":"IOTDA.000002"`},
		{"bad token, other project", "p2", "bad", `{}`, "i1", 401, `"error_code":"IOTDA.000002"`},
		{"body over the limit", "p1", "tok", strings.Repeat("x", 17), "i1", 400, `"error_code":"IOTDA.000006"`},
		{"other project, no instance", "p2", "tok", `{}`, "", 403, `"error_code":"IOTDA.000004"`},
		{"no instance", "p1", "tok", `{}`, "", 403, `"error_code":"IOTDA.000021"`},
		{"accepted", "p1", "tok", `{"a":1}`, "i1", 200, `{"a":1}`},
	}
	for _, tt := range tests {
		resp, body := call(t, http.MethodPost, base+tt.project+"/echo", tt.token, tt.body, "Instance-Id", tt.instance)
		if resp.StatusCode != tt.status || !strings.Contains(body, tt.body0) || resp.Header.Get(HeaderRequestID) == "" {
			t.Errorf("%s: %d %s (request id %q), want %d with %s", tt.name, resp.StatusCode, body,
				resp.Header.Get(HeaderRequestID), tt.status, tt.body0)
		}
		e := j.Entries()[len(j.Entries())-1]
		if e.Kind != journal.EntryRequest || e.Status != tt.status || e.RequestID != resp.Header.Get(HeaderRequestID) ||
			(tt.status == 401 && len(e.Body) != 0) || e.Header["X-Auth-Token"] != nil && e.Header["X-Auth-Token"][0] != journal.MaskedValue {
			t.Errorf("%s: journal entry %+v", tt.name, e)
		}
	}
	if n := len(j.Entries()); n != len(tests) {
		t.Errorf("%d entries for %d requests", n, len(tests))
	}
}

// TestServer_Routes: /healthz, the admin prefix, a service's 405, and the 404 of a path no
// service routes (journaled, as the platform's gateway answers).
func TestServer_Routes(t *testing.T) {
	s, j, _ := startServer(t, Config{ProjectID: "p1"})
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/healthz", 200, ""},
		{http.MethodPost, "/healthz", 405, "GET, HEAD"},
		{http.MethodGet, AdminPrefix + "anything", http.StatusTeapot, ""},
		{http.MethodGet, "/v5/iot/p1/echo", 405, http.MethodPost},
		{http.MethodGet, "/v3/auth/tokens", 404, ""},
	} {
		resp, body := call(t, tt.method, s.URL()+tt.path, "", "")
		if resp.StatusCode != tt.status || resp.Header.Get("Allow") != tt.allow {
			t.Errorf("%s %s = %d (Allow %q) %s, want %d (Allow %q)", tt.method, tt.path, resp.StatusCode,
				resp.Header.Get("Allow"), body, tt.status, tt.allow)
		}
	}
	var journaled []string
	for _, e := range j.Entries() {
		journaled = append(journaled, e.Method+" "+e.Path+" "+e.ErrorCode)
	}
	if got, want := strings.Join(journaled, "; "), "GET /v5/iot/p1/echo APIG.0101; GET /v3/auth/tokens APIG.0101"; got != want {
		t.Errorf("journaled %q, want %q (health and admin requests are not journaled)", got, want)
	}
}

// TestServer_FaultsApplyBeforeTheBody: a fault with a status answers before the
// credentials are checked and is journaled with its label.
func TestServer_FaultsApplyBeforeTheBody(t *testing.T) {
	s, j, f := startServer(t, Config{ProjectID: "p1", AuthToken: "tok"})
	f.Add(faults.Fault{Status: 503, ErrorCode: "X.1", RetryAfter: "2"})
	resp, body := call(t, http.MethodPost, s.URL()+"/v5/iot/p1/echo", "", `{}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || !strings.Contains(body, `"X.1"`) {
		t.Errorf("faulted answer %d %s (Retry-After %q)", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if e := j.Entries()[0]; e.Fault != "status=503" || e.Status != 503 || e.ErrorCode != "X.1" {
		t.Errorf("journal entry %+v", e)
	}
	if resp, _ := call(t, http.MethodPost, s.URL()+"/v5/iot/p1/echo", "", `{}`); resp.StatusCode != 401 {
		t.Errorf("the fault applied twice: %d", resp.StatusCode)
	}
}
