package iotda

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestCreateCommand_SuccessKeepsBytes(t *testing.T) {
	const reply200 = `{"command_id":"cmd-9","response":{"result_code":0,"paras":{"n":98765432109876543210.000,"s":"<&>"}}}`
	ts := newTestServer(t, reply(http.StatusOK, reply200))
	c := newTestClient(t, ts.URL+"/", func(c *Config) { c.InstanceID = "inst-1" })
	paras := `{"big":12345678901234567890123,"f":1.0000000000000000001,"html":"<a&b>", "nested":{"x":[1,2]}}`
	cmd := Command{DeviceID: "dev-1", ServiceID: "Switch", CommandName: "ON_OFF", Paras: []byte(paras)}

	res, err := c.CreateCommand(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	got := ts.lastRequest()
	if got.method != http.MethodPost || got.escapedPath != "/v5/iot/proj-1/devices/dev-1/commands" {
		t.Fatalf("request %s %s", got.method, got.escapedPath)
	}
	wantBody := `{"service_id":"Switch","command_name":"ON_OFF","paras":` + paras + `}`
	if string(got.body) != wantBody {
		t.Fatalf("body\n got %s\nwant %s", got.body, wantBody)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "X-Auth-Token": testToken,
		"User-Agent": "test-agent/1.0", "Instance-Id": "inst-1"} {
		if v := got.header.Get(k); v != want {
			t.Errorf("header %s = %q, want %q", k, v, want)
		}
	}
	if got.header.Get("Authorization") != "" || got.header.Get("X-Project-Id") != "" {
		t.Error("token requests must not carry AK/SK headers")
	}
	if res.CommandID != "cmd-9" || res.RequestID != "req-123" || res.StatusCode != 200 || res.ErrorCode != "" {
		t.Fatalf("result %+v", res)
	}
	if want := `{"result_code":0,"paras":{"n":98765432109876543210.000,"s":"<&>"}}`; string(res.Response) != want {
		t.Fatalf("response\n got %s\nwant %s", res.Response, want)
	}
}

func TestCreateCommand_OmitsEmptyFieldsAndEscapesPath(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c","response":null}`))
	c := newTestClient(t, ts.URL+"/prefix/", func(c *Config) { c.ProjectID = "p 1" })
	res, err := c.CreateCommand(t.Context(), Command{DeviceID: "d/1", Paras: []byte(` {"a":1} `)})
	if err != nil {
		t.Fatal(err)
	}
	got := ts.lastRequest()
	if got.escapedPath != "/prefix/v5/iot/p%201/devices/d%2F1/commands" {
		t.Fatalf("path %s", got.escapedPath)
	}
	if string(got.body) != `{"paras":{"a":1}}` {
		t.Fatalf("body %s", got.body)
	}
	if got.header.Get("Instance-Id") != "" {
		t.Fatal("Instance-Id sent although unset")
	}
	if res.Response != nil {
		t.Fatalf("null response = %s, want nil", res.Response)
	}
}

func TestCreateCommand_RejectsBadInputWithoutSending(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{}`))
	c := newTestClient(t, ts.URL, nil)
	for _, cmd := range []Command{
		{DeviceID: "", Paras: []byte(`{}`)},
		{DeviceID: "..", Paras: []byte(`{}`)},
		{DeviceID: "d", Paras: nil},
		{DeviceID: "d", Paras: []byte(`"on"`)},
		{DeviceID: "d", Paras: []byte(`[1]`)},
		{DeviceID: "d", Paras: []byte(`{"a":`)},
	} {
		if _, err := c.CreateCommand(t.Context(), cmd); err == nil {
			t.Errorf("%+v accepted", cmd)
		}
	}
	if n := ts.hits.Load(); n != 0 {
		t.Fatalf("server hit %d times", n)
	}
}

func TestCreateCommand_DeviceTimeoutReturnsResultAndError(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"cmd-t","error_code":"IOTDA.014111",`+
		`"error_msg":"Command request timed out."}`))
	c := newTestClient(t, ts.URL, nil)
	res, err := c.CreateCommand(t.Context(), simpleCommand)
	if !errors.Is(err, ErrDeviceTimeout) {
		t.Fatalf("err = %v, want ErrDeviceTimeout", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.CommandID != "cmd-t" || apiErr.RequestID != "req-123" || apiErr.StatusCode != 200 {
		t.Fatalf("APIError %+v", apiErr)
	}
	if res == nil || res.CommandID != "cmd-t" || res.ErrorCode != "IOTDA.014111" || res.ErrorMsg != "Command request timed out." {
		t.Fatalf("result %+v", res)
	}
	if errors.Is(err, ErrServer) || errors.Is(err, ErrForbidden) {
		t.Fatal("timeout matches unrelated sentinels")
	}
}

func TestCreateCommand_OtherErrorCodeIn200(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c2","error_code":"IOTDA.014112","error_msg":{"detail":[1, 2]}}`))
	c := newTestClient(t, ts.URL, nil)
	res, err := c.CreateCommand(t.Context(), simpleCommand)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || errors.Is(err, ErrDeviceTimeout) {
		t.Fatalf("err = %v", err)
	}
	if res == nil || res.ErrorMsg != `{"detail":[1,2]}` || apiErr.ErrorMsg != `{"detail":[1,2]}` {
		t.Fatalf("result %+v, error %+v", res, apiErr)
	}
}

func TestCreateCommand_MalformedOrHugeSuccessBodyIsOutcomeUnknown(t *testing.T) {
	for name, body := range map[string]string{
		"not-json":  `<html>gateway</html>`,
		"truncated": `{"command_id":"c","response":{"a":`,
		"null":      `null`,
		"oversize":  `{"command_id":"c","response":{"pad":"` + strings.Repeat("x", maxResponseBytes) + `"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, reply(http.StatusOK, body))
			c := newTestClient(t, ts.URL, nil)
			res, err := c.CreateCommand(t.Context(), simpleCommand)
			var unknown *DeliveryUnknownError
			if !errors.As(err, &unknown) || res != nil {
				t.Fatalf("err = %v, res = %+v", err, res)
			}
			if unknown.RequestID != "req-123" || !strings.Contains(err.Error(), "127.0.0.1") {
				t.Fatalf("error %q lacks request id or host", err)
			}
			if ts.hits.Load() != 1 {
				t.Fatalf("hits = %d", ts.hits.Load())
			}
		})
	}
}

// IoTDA allocates a command_id for every command it delivers, so a 200 without a usable one
// is not its answer: the outcome is unknown, never a success with an empty id.
func TestCreateCommand_SuccessWithoutCommandIDIsOutcomeUnknown(t *testing.T) {
	for name, body := range map[string]string{
		"empty object":    `{}`,
		"status only":     `{"status":"ok"}`,
		"reply only":      `{"response":{"result_code":0}}`,
		"empty id":        `{"command_id":"","response":{"result_code":0}}`,
		"null id":         `{"command_id":null,"response":{"result_code":0}}`,
		"number id":       `{"command_id":42,"response":{"result_code":0}}`,
		"object id":       `{"command_id":{"id":"c"},"response":{"result_code":0}}`,
		"blank id":        `{"command_id":"   ","response":{"result_code":0}}`,
		"control char id": `{"command_id":"c\n1","response":{"result_code":0}}`,
		"overlong id":     `{"command_id":"` + strings.Repeat("c", 300) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, reply(http.StatusOK, body))
			c := newTestClient(t, ts.URL, nil)
			res, err := c.CreateCommand(t.Context(), simpleCommand)
			var unknown *DeliveryUnknownError
			if !errors.As(err, &unknown) || res != nil {
				t.Fatalf("err = %v, res = %+v; want an unknown outcome and no result", err, res)
			}
			if !strings.Contains(err.Error(), "no usable command_id") || unknown.RequestID != "req-123" {
				t.Errorf("error %q does not say the command_id is missing or lacks the request id", err)
			}
			if n := ts.hits.Load(); n != 1 {
				t.Errorf("server hit %d times, want exactly 1 (never retried)", n)
			}
		})
	}
}

// A delivery exception in a 200 stays the platform's error even without a command_id.
func TestCreateCommand_ErrorCodeWithoutCommandID(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"error_code":"IOTDA.014111","error_msg":"Command request timed out."}`))
	c := newTestClient(t, ts.URL, nil)
	res, err := c.CreateCommand(t.Context(), simpleCommand)
	if !errors.Is(err, ErrDeviceTimeout) || res == nil || res.CommandID != "" {
		t.Fatalf("res %+v, err %v; want the device timeout", res, err)
	}
}

// A device's reply nested beyond what encoding/json reads is still the device's reply: the
// delivery is a success with the reply kept byte for byte, never an unknown outcome.
func TestCreateCommand_ReplyNestedBeyondEncodingJSON(t *testing.T) {
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	deviceReply := `{"result_code":0,"paras":` + deep + `}`
	ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c-deep","response":`+deviceReply+`}`))
	c := newTestClient(t, ts.URL, nil)
	res, err := c.CreateCommand(t.Context(), simpleCommand)
	if err != nil || res.CommandID != "c-deep" || string(res.Response) != deviceReply {
		t.Fatalf("res %+v, err %v", res, err)
	}
	if json.Valid([]byte(deviceReply)) {
		t.Fatal("the test's reply is not beyond encoding/json's depth")
	}
}
