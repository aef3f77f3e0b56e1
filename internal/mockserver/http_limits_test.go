package mockserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

// limitWait bounds the waits of the limit tests so that a failure cannot hang.
const limitWait = 10 * time.Second

// rawHTTP opens a TCP connection to the mock's HTTP listener.
func rawHTTP(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "http://"), limitWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(limitWait)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// requestHead is the start of a command request for device with a token and a body length.
func requestHead(s *Server, device string, contentLength int) string {
	return fmt.Sprintf("POST /v5/iot/%s/devices/%s/commands HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n"+
		"X-Auth-Token: %s\r\nContent-Length: %d\r\n\r\n", s.ProjectID(), device, testToken, contentLength)
}

// wantClosed fails the test unless the peer closes conn (a read ends with EOF or a reset)
// before limitWait.
func wantClosed(t *testing.T, r *bufio.Reader, what string) {
	t.Helper()
	_, err := r.ReadByte()
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		t.Fatalf("%s: the connection is still open after %s", what, limitWait)
	case err == nil:
		t.Fatalf("%s: the server sent data, want the connection closed", what)
	}
}

func limitServer(t *testing.T, lim Limits, devices ...Device) *Server {
	t.Helper()
	return NewForTest(t, Options{AuthToken: testToken, Limits: lim, Devices: devices})
}

func TestHTTPLimits_BodySize(t *testing.T) {
	s := limitServer(t, Limits{MaxBodyBytes: 1024}, Device{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}})
	big := `{"paras":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	for name, chunked := range map[string]bool{"content-length": false, "chunked": true} {
		t.Run(name, func(t *testing.T) {
			req := newCommandRequest(t, commandURL(s, "echo"), big)
			req.Header.Set("X-Auth-Token", testToken)
			if chunked {
				req.ContentLength = -1 // the client sends it chunked, with no length up front
			}
			resp, body := do(t, nil, req)
			e := wantError(t, resp, body, http.StatusBadRequest, httpapi.CodeInvalidInput)
			if !strings.Contains(e.ErrorMsg, "exceeds 1024 bytes") {
				t.Errorf("error_msg = %q", e.ErrorMsg)
			}
		})
	}
	ok := newCommandRequest(t, commandURL(s, "echo"), `{"paras":{"pad":"`+strings.Repeat("x", 900)+`"}}`)
	ok.Header.Set("X-Auth-Token", testToken)
	if resp, body := do(t, nil, ok); resp.StatusCode != http.StatusOK {
		t.Errorf("a body within the limit: %d %s", resp.StatusCode, body)
	}
	if n := len(s.Deliveries("echo")); n != 1 {
		t.Errorf("%d deliveries, want only the one within the limit", n)
	}
}

func TestHTTPLimits_HeaderSize(t *testing.T) {
	s := limitServer(t, Limits{MaxHeaderBytes: 4 << 10})
	req := newCommandRequest(t, commandURL(s, "nobody"), `{"paras":{}}`)
	req.Header.Set("X-Auth-Token", testToken)
	req.Header.Set("X-Padding", strings.Repeat("p", 16<<10))
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
	if n := len(s.Journal()); n != 0 {
		t.Errorf("%d journal entries for a refused request", n)
	}
}

func TestHTTPLimits_ReadHeaderTimeout(t *testing.T) {
	s := limitServer(t, Limits{HTTPReadHeaderTimeout: 200 * time.Millisecond})
	conn, r := rawHTTP(t, s)
	// A request line and one header, then nothing: the slow-headers attack.
	if _, err := io.WriteString(conn, "POST /v5/iot/mock-project/devices/d/commands HTTP/1.1\r\nHost: mock\r\n"); err != nil {
		t.Fatal(err)
	}
	wantClosed(t, r, "headers never finished")
}

func TestHTTPLimits_BodyReadTimeout(t *testing.T) {
	s := limitServer(t, Limits{HTTPReadTimeout: 300 * time.Millisecond}, Device{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}})
	conn, r := rawHTTP(t, s)
	// Whole headers, then a tenth of the announced body, then nothing: the dripping body.
	if _, err := io.WriteString(conn, requestHead(s, "echo", 100)+`{"paras":`); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("no answer to a body that stopped coming: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	e := wantError(t, resp, body, http.StatusBadRequest, httpapi.CodeBadRequest)
	if !strings.Contains(e.ErrorMsg, "not received within 300ms") {
		t.Errorf("error_msg = %q", e.ErrorMsg)
	}
	wantClosed(t, r, "after the answer")
	if n := len(s.Deliveries("echo")); n != 0 {
		t.Errorf("%d deliveries of an incomplete body", n)
	}
}

// TestHTTPLimits_WaitingForTheDeviceIsNotReading: the read timeout bounds receiving the
// request, not the platform's wait for the device's reply.
func TestHTTPLimits_WaitingForTheDeviceIsNotReading(t *testing.T) {
	s := limitServer(t, Limits{HTTPReadTimeout: 200 * time.Millisecond},
		Device{ID: "slow", Simulated: &Behavior{Kind: BehaviorEcho, Delay: time.Second}})
	req := newCommandRequest(t, commandURL(s, "slow"), `{"command_name":"WAIT","paras":{"n":1}}`)
	req.Header.Set("X-Auth-Token", testToken)
	resp, body := do(t, nil, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"response":{"result_code":0,"response_name":"WAIT"`) {
		t.Fatalf("answer %d %s, want the device's reply", resp.StatusCode, body)
	}
}

// TestHTTPLimits_WaitingForTheDeviceIsNotWriting: the write timeout bounds writing the
// answer, from its first byte, not the platform's wait for the device's reply nor the
// simulated latency.
func TestHTTPLimits_WaitingForTheDeviceIsNotWriting(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: testToken, Latency: 400 * time.Millisecond,
		Limits:  Limits{HTTPWriteTimeout: 200 * time.Millisecond},
		Devices: []Device{{ID: "slow", Simulated: &Behavior{Kind: BehaviorEcho, Delay: time.Second}}}})
	req := newCommandRequest(t, commandURL(s, "slow"), `{"command_name":"WAIT","paras":{"n":1}}`)
	req.Header.Set("X-Auth-Token", testToken)
	resp, body := do(t, nil, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"response":{"result_code":0,"response_name":"WAIT"`) {
		t.Fatalf("answer %d %s, want the device's reply", resp.StatusCode, body)
	}
}

func TestHTTPLimits_IdleTimeout(t *testing.T) {
	s := limitServer(t, Limits{HTTPIdleTimeout: 200 * time.Millisecond})
	conn, r := rawHTTP(t, s)
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: mock\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("healthz: %d, close %v; want a kept-alive 200", resp.StatusCode, resp.Close)
	}
	wantClosed(t, r, "an idle keep-alive connection")
}
