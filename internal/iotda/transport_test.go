package iotda

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

func TestLoggingTransport_MasksSecrets(t *testing.T) {
	// The server echoes the credentials in its body, as a misbehaving gateway might.
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		reply(http.StatusOK, `{"command_id":"c-log","response":{"seen":"`+r.Header.Get("X-Auth-Token")+
			r.Header.Get("X-Security-Token")+`"}}`)(w, r)
	})
	for name, mutate := range map[string]func(*Config){
		"token": nil,
		"aksk": func(c *Config) {
			c.AuthToken, c.AccessKey, c.SecretKey, c.SecurityToken = "", testAK, testSK, testSecTok
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			ctx := tflogtest.RootLogger(t.Context(), &buf)
			c := newTestClient(t, ts.URL, mutate)
			cmd := simpleCommand
			inBody := testToken
			if name == "aksk" {
				inBody = testSK
			}
			cmd.Paras = []byte(`{"note":"` + inBody + `"}`) // Even a configured secret in the body is masked.
			res, err := c.CreateCommand(ctx, cmd)
			if err != nil {
				t.Fatal(err)
			}
			// The echoed credential is hidden in the reply the caller sees too, and named.
			wantAttr := AttrAuthToken
			if name == "aksk" {
				wantAttr = AttrSecurityToken
			}
			if string(res.Response) != `{"seen":"***"}` || !slices.Equal(res.Redacted.Attributes, []string{wantAttr}) {
				t.Fatalf("response %s, redacted %v; want the credential hidden and %s named", res.Response,
					res.Redacted.Attributes, wantAttr)
			}
			out := buf.String() // Read before decoding, which drains the buffer.
			entries, err := tflogtest.MultilineJSONDecode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 2 {
				t.Fatalf("%d log entries, want request and response: %s", len(entries), out)
			}
			for _, secret := range []string{testToken, testSK, testSecTok} {
				if strings.Contains(out, secret) {
					t.Errorf("log leaks %q:\n%s", secret, out)
				}
			}
			wantHeader := "X-Auth-Token: ***"
			if name == "aksk" {
				wantHeader = "Authorization: ***"
			}
			for _, want := range []string{wantHeader, `"@module":"provider.iotda"`, `"status":200`, `"request_id":"req-123"`,
				`"method":"POST"`, "/v5/iot/proj-1/devices/dev-1/commands", "c-log", `"@level":"debug"`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func TestLoggingTransport_LogsFailures(t *testing.T) {
	var buf bytes.Buffer
	ctx := tflogtest.RootLogger(t.Context(), &buf)
	c := newTestClient(t, "http://"+testutil.ClosedAddr(t), func(c *Config) { c.MaxRetries = 0 })
	if _, err := c.CreateCommand(ctx, simpleCommand); err == nil {
		t.Fatal("expected an error")
	}
	if out := buf.String(); !strings.Contains(out, "IoTDA API request failed") || strings.Contains(out, testToken) {
		t.Fatalf("log:\n%s", out)
	}
}

func TestLoggingTransport_NoLoggerIsNoop(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c"}`))
	c := newTestClient(t, ts.URL, nil)
	if _, err := c.CreateCommand(context.WithoutCancel(t.Context()), simpleCommand); err != nil {
		t.Fatal(err)
	}
}

func TestPeekBodyKeepsLongBodies(t *testing.T) {
	long := strings.Repeat("a", maxLoggedBody*3)
	resp := &http.Response{Body: nopCloser{strings.NewReader(long)}}
	logged := peekBody(resp, nil)
	if !strings.HasSuffix(logged, "…(truncated)") || len(logged) > maxLoggedBody+20 {
		t.Fatalf("logged %d bytes", len(logged))
	}
	var rest bytes.Buffer
	if _, err := rest.ReadFrom(resp.Body); err != nil || rest.String() != long {
		t.Fatalf("body changed: %d bytes, err %v", rest.Len(), err)
	}
}

// A secret crossing the point where the logged body is cut is not left in part: tflog's
// masks only see what is logged, so the cut must not split a secret.
func TestPeekBodyMasksASecretAtTheCut(t *testing.T) {
	const secret = "SECRETKEY-0123456789abcdefghijklmnop"
	for _, at := range []int{maxLoggedBody - len(secret)/2, maxLoggedBody - 3, maxLoggedBody - 1, maxLoggedBody - len(secret)} {
		body := strings.Repeat("a", at) + secret + strings.Repeat("b", maxLoggedBody)
		logged := peekBody(&http.Response{Body: nopCloser{strings.NewReader(body)}}, credentialsRedaction([]string{secret}))
		for k := 4; k <= len(secret); k++ {
			if strings.Contains(logged, secret[:k]) {
				t.Fatalf("secret at %d: the log holds its first %d bytes", at, k)
			}
		}
		if !strings.HasSuffix(logged, "…(truncated)") {
			t.Errorf("secret at %d: the log is not marked truncated", at)
		}
	}
	// Cut off by the read window itself, not only by the log's limit.
	body := strings.Repeat("a", maxLoggedBody-5) + secret
	if logged := requestBodyOf(t, body, secret); strings.Contains(logged, secret[:5]) {
		t.Fatalf("request body: the log holds the start of the secret: …%s", logged[len(logged)-30:])
	}
}

func requestBodyOf(t *testing.T, body, secret string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://127.0.0.1/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return requestBody(req, credentialsRedaction([]string{secret}))
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

// A command with secret (write-only) paras is logged without its body, on every attempt,
// while an ordinary command's body is logged.
func TestLoggingTransport_SecretParasNotLogged(t *testing.T) {
	const secret = "wifi-psk-NOT-IN-LOGS"
	attempts := 0
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		attempts++
		if attempts == 1 {
			w.Header().Set("Retry-After", "0")
			reply(http.StatusTooManyRequests, `{"error_code":"IOTDA.000005","error_msg":"throttled"}`)(w, r)
			return
		}
		reply(http.StatusOK, `{"command_id":"c-wo","response":{"result_code":0}}`)(w, r)
	})
	for _, secretParas := range []bool{true, false} {
		var buf bytes.Buffer
		ctx := tflogtest.RootLogger(t.Context(), &buf)
		c := newTestClient(t, ts.URL, nil)
		attempts = 0
		cmd := simpleCommand
		cmd.Paras = []byte(`{"psk":"` + secret + `"}`)
		cmd.SecretParas = secretParas
		if _, err := c.CreateCommand(ctx, cmd); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if got := strings.Contains(out, secret); got == secretParas {
			t.Errorf("SecretParas %v: the log holds the paras: %v\n%s", secretParas, got, out)
		}
		if n := strings.Count(out, secretBodyLogged); secretParas && n != 2 {
			t.Errorf("SecretParas: %d request entries say the body is not logged, want 2 (both attempts):\n%s", n, out)
		}
		if !strings.Contains(out, `c-wo`) {
			t.Errorf("SecretParas %v: the response is not logged:\n%s", secretParas, out)
		}
	}
}

// A 200 whose body ends before its Content-Length is a lost answer, not a success, whether
// or not the logging transport peeks at the body (it always does under Terraform's debug log).
func TestCreateCommand_ShortBodyIsOutcomeUnknownWithAndWithoutLogging(t *testing.T) {
	const full = `{"command_id":"c-short","response":{"result_code":0}}`
	ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		hj, ok := w.(http.Hijacker)
		if !ok {
			t.Error("no hijacker")
			return
		}
		conn, rw, err := hj.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer func() { _ = conn.Close() }()
		// The whole JSON object, but the header promises ten more bytes that never come.
		_, _ = fmt.Fprintf(rw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Request-Id: req-short\r\n"+
			"Content-Length: %d\r\n\r\n%s", len(full)+10, full)
		_ = rw.Flush()
	})
	for name, logged := range map[string]bool{"bare": false, "logging": true} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			ctx := t.Context()
			if logged {
				ctx = tflogtest.RootLogger(ctx, &buf)
			}
			c := newTestClient(t, ts.URL, nil)
			res, err := c.CreateCommand(ctx, simpleCommand)
			var unknown *DeliveryUnknownError
			if !errors.As(err, &unknown) || !errors.Is(err, io.ErrUnexpectedEOF) || res != nil {
				t.Fatalf("res %+v, err %v; want an unknown outcome caused by unexpected EOF", res, err)
			}
			if logged && !strings.Contains(buf.String(), "c-short") {
				t.Errorf("the debug log lacks the body it read:\n%s", buf.String())
			}
		})
	}
}

func TestPeekBodyPassesTheBodysOwnEnd(t *testing.T) {
	for name, tc := range map[string]struct {
		body    io.Reader
		wantErr error
	}{
		"clean end":    {body: strings.NewReader("short"), wantErr: nil},
		"cut short":    {body: io.MultiReader(strings.NewReader("short"), errReader{io.ErrUnexpectedEOF}), wantErr: io.ErrUnexpectedEOF},
		"reset midway": {body: io.MultiReader(strings.NewReader("short"), errReader{syscall.ECONNRESET}), wantErr: syscall.ECONNRESET},
	} {
		t.Run(name, func(t *testing.T) {
			resp := &http.Response{Body: io.NopCloser(tc.body)}
			if logged := peekBody(resp, nil); logged != "short" {
				t.Errorf("logged %q", logged)
			}
			got, err := io.ReadAll(resp.Body)
			if string(got) != "short" || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("read %q, %v; want \"short\", %v", got, err, tc.wantErr)
			}
		})
	}
}
