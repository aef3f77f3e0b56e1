package iotda

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCreateCommand_ErrorStatuses(t *testing.T) {
	all := []error{ErrDeviceTimeout, ErrDeviceOffline, ErrNotFound, ErrNoSuchAPI, ErrUnauthorized, ErrForbidden, ErrThrottled,
		ErrBadRequest, ErrServer, ErrRedirect}
	cases := []struct {
		name   string
		status int
		body   string
		want   error
		code   string
		msg    string
	}{
		{"offline", 403, `{"error_code":"IOTDA.014016","error_msg":"Operation not allowed. The device is not online."}`,
			ErrDeviceOffline, "IOTDA.014016", "Operation not allowed. The device is not online."},
		{"forbidden", 403, `{"error_code":"IOTDA.000021","error_msg":"not subscribed"}`, ErrForbidden, "IOTDA.000021", "not subscribed"},
		{"not-found", 404, `{"error_code":"IOTDA.014000","error_msg":"device not found"}`, ErrNotFound, "IOTDA.014000", "device not found"},
		{"no-such-api", 404, `{"error_code":"APIG.0101","error_msg":"The API does not exist or has not been published in the environment"}`,
			ErrNoSuchAPI, "APIG.0101", "The API does not exist or has not been published in the environment"},
		{"unauthorized", 401, `{"error_code":"IOTDA.000002","error_msg":"Authentication failed"}`, ErrUnauthorized, "IOTDA.000002", "Authentication failed"},
		{"gateway-code-message", 401, `{"code":"APIGW.0301","message":"Incorrect IAM authentication information"}`,
			ErrUnauthorized, "APIGW.0301", "Incorrect IAM authentication information"},
		{"bad-request", 400, `{"error_code":"IOTDA.000006","error_msg":"Invalid input data."}`, ErrBadRequest, "IOTDA.000006", "Invalid input data."},
		{"server-500", 500, `{"error_code":"IOTDA.000001","error_msg":"internal"}`, ErrServer, "IOTDA.000001", "internal"},
		{"server-502-html", 502, "<html><body>Bad\tGateway\n</body></html>", ErrServer, "", "<html><body>Bad Gateway </body></html>"},
		{"server-503-empty", 503, "", ErrServer, "", ""},
		{"throttled-429", 429, `{"error_code":"APIGW.0308","error_msg":"throttled"}`, ErrThrottled, "APIGW.0308", "throttled"},
		{"redirect-not-followed", 307, "", ErrRedirect, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 307 {
					w.Header().Set("Location", "/elsewhere")
				}
				reply(tc.status, tc.body)(w, r)
			})
			c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 0 })
			res, err := c.CreateCommand(t.Context(), simpleCommand)
			var apiErr *APIError
			if res != nil || !errors.As(err, &apiErr) {
				t.Fatalf("res %+v, err %v", res, err)
			}
			if apiErr.StatusCode != tc.status || apiErr.RequestID != "req-123" || apiErr.ErrorCode != tc.code || apiErr.ErrorMsg != tc.msg {
				t.Fatalf("APIError %+v", apiErr)
			}
			for _, s := range all {
				if got := errors.Is(err, s); got != (s == tc.want) {
					t.Errorf("errors.Is(err, %v) = %v", s, got)
				}
			}
			if n := ts.hits.Load(); n != 1 {
				t.Fatalf("server hit %d times, want exactly 1", n)
			}
		})
	}
}

func TestAPIError_MessageAndThrottleCodes(t *testing.T) {
	e := &APIError{StatusCode: 403, ErrorCode: "IOTDA.014016", ErrorMsg: "device offline", RequestID: "r1"}
	if got, want := e.Error(), "IoTDA API error: HTTP 403, error_code IOTDA.014016: device offline, request id r1"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got := (&APIError{StatusCode: 502}).Error(); got != "IoTDA API error: HTTP 502" {
		t.Fatalf("Error() = %q", got)
	}
	for _, code := range []string{"IOTDA.021101", "IOTDA.021102"} {
		e := &APIError{StatusCode: 403, ErrorCode: code}
		if !errors.Is(e, ErrThrottled) || errors.Is(e, ErrForbidden) {
			t.Errorf("403 %s not classified as throttling only", code)
		}
	}
	if !errors.Is(&APIError{StatusCode: 500, ErrorCode: "APIGW.0308"}, ErrThrottled) {
		t.Error("APIGW.0308 not throttling")
	}
	if errors.Is(&APIError{StatusCode: 500, ErrorCode: "IOTDA.014111"}, ErrDeviceTimeout) {
		t.Error("a 5xx must not count as a device timeout")
	}
}

func TestSanitize(t *testing.T) {
	got := sanitize("bad token "+testToken+"\x00\r\n"+strings.Repeat("é", 600)+"\xff", []string{testToken, ""})
	if strings.Contains(got, testToken) || strings.ContainsAny(got, "\x00\r\n") {
		t.Fatalf("not sanitized: %q", got)
	}
	if !strings.HasPrefix(got, "bad token ***") || !strings.HasSuffix(got, "…") {
		t.Fatalf("sanitize = %q", got)
	}
}

// A non-JSON error page is shown as an excerpt; a token it echoes across the excerpt's end
// must not show in part.
func TestAPIError_ExcerptDoesNotCutASecret(t *testing.T) {
	page := strings.Repeat("x", 200-len(testToken)/2) + testToken + strings.Repeat("y", 300)
	ts := newTestServer(t, reply(502, page))
	c := newTestClient(t, ts.URL, nil)
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	if err == nil {
		t.Fatal("no error")
	}
	for k := 4; k <= len(testToken); k++ {
		if strings.Contains(err.Error(), testToken[:k]) {
			t.Fatalf("the error holds the first %d bytes of the token: %v", k, err)
		}
	}
	if !strings.Contains(err.Error(), "***") {
		t.Errorf("the masked token is not in the excerpt: %v", err)
	}
}

func TestAPIError_BodyEchoingSecretIsMasked(t *testing.T) {
	ts := newTestServer(t, reply(401, `{"error_code":"APIGW.0301","error_msg":"token `+testToken+` rejected"}`))
	c := newTestClient(t, ts.URL, nil)
	_, err := c.CreateCommand(t.Context(), simpleCommand)
	if err == nil || strings.Contains(err.Error(), testToken) || !strings.Contains(err.Error(), "token *** rejected") {
		t.Fatalf("err = %v", err)
	}
}

// A redirect is never followed, and the error says where it pointed: resolved against the
// endpoint, without a password, with the client's secrets masked.
func TestCreateCommand_RedirectNamesLocation(t *testing.T) {
	for name, tc := range map[string]struct {
		status           int
		location         string
		want, wantAbsent string
	}{
		"https upgrade": {status: http.StatusMovedPermanently, location: "https://iotda.example.com/v5/iot/proj-1/devices/dev-1/commands",
			want: "redirect to https://iotda.example.com/v5/iot/proj-1/devices/dev-1/commands not followed"},
		"relative":     {status: http.StatusTemporaryRedirect, location: "/other/commands", want: "/other/commands not followed"},
		"password":     {status: http.StatusFound, location: "https://user:pa55word@iotda.example.com/", want: "https://user:xxxxx@iotda.example.com/", wantAbsent: "pa55word"},
		"echoed token": {status: http.StatusSeeOther, location: "https://iotda.example.com/?t=" + testToken, want: "?t=***", wantAbsent: testToken},
		"no location":  {status: http.StatusPermanentRedirect, want: "redirect to (no Location header) not followed"},
		"not modified": {status: http.StatusNotModified, want: "HTTP 304, redirect to (no Location header)"},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.location != "" {
					w.Header().Set("Location", tc.location)
				}
				reply(tc.status, "")(w, r)
			})
			c := newTestClient(t, ts.URL, nil)
			_, err := c.CreateCommand(t.Context(), simpleCommand)
			var apiErr *APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, ErrRedirect) || apiErr.StatusCode != tc.status {
				t.Fatalf("err = %v; want a redirect APIError with status %d", err, tc.status)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if tc.wantAbsent != "" && (strings.Contains(err.Error(), tc.wantAbsent) || strings.Contains(apiErr.Location, tc.wantAbsent)) {
				t.Errorf("error %q holds %q", err, tc.wantAbsent)
			}
			if n := ts.hits.Load(); n != 1 {
				t.Errorf("server hit %d times, want 1: redirects are not followed nor retried", n)
			}
		})
	}
}

func TestClient_MaskSecrets(t *testing.T) {
	c := newTestClient(t, "https://iotda.example.com", func(c *Config) {
		c.AuthToken, c.AccessKey, c.SecretKey, c.SecurityToken = "", testAK, testSK, testSecTok
	})
	got := c.MaskSecrets(`{"paras":{"sk":"` + testSK + `","st":"` + testSecTok + `","ak":"` + testAK + `"}}`)
	if want := `{"paras":{"sk":"***","st":"***","ak":"` + testAK + `"}}`; got != want {
		t.Errorf("MaskSecrets = %s, want %s (the access key is not secret)", got, want)
	}
	if got := (*Client)(nil).MaskSecrets("x"); got != "x" {
		t.Errorf("nil client MaskSecrets = %q", got)
	}
}
