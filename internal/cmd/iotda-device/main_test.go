package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// wait bounds every wait in these tests.
const wait = 20 * time.Second

// lines is a writer that hands each complete line to a channel.
type lines struct {
	mu   sync.Mutex
	rest string
	ch   chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 256)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rest += string(p)
	for {
		line, rest, ok := strings.Cut(l.rest, "\n")
		if !ok {
			return len(p), nil
		}
		l.ch <- line
		l.rest = rest
	}
}

// next returns the next line holding want, failing the test after wait.
func (l *lines) next(t *testing.T, want string) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case line := <-l.ch:
			if strings.Contains(line, want) {
				return line
			}
		case <-timeout:
			t.Fatalf("no line with %q", want)
			return ""
		}
	}
}

// device runs the program with args against s's broker (unless args name another) until
// the test ends, and waits until it is connected.
func device(t *testing.T, s *mockserver.Server, args ...string) *lines {
	t.Helper()
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	env := func(k string) string {
		if k == "IOTDA_DEVICE_SECRET" {
			return "dev-secret"
		}
		return ""
	}
	go func() { done <- run(ctx, append([]string{"-mqtt", s.MQTTAddr()}, args...), env, out, out) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit status %d after the context ended, want 0", code)
			}
		case <-time.After(wait):
			t.Error("the device did not stop when its context ended")
		}
	})
	out.next(t, "iotda-device: connected to ")
	return out
}

// command posts a command to the mock and returns the status and the answer.
func command(t *testing.T, s *mockserver.Server, deviceID, body string) (int, map[string]json.RawMessage) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		s.URL()+"/v5/iot/"+s.ProjectID()+"/devices/"+deviceID+"/commands", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(data, &answer); err != nil {
		t.Fatalf("answer %s: %v", data, err)
	}
	return resp.StatusCode, answer
}

// TestDevice_BackToBackCommandsOneSession is the README's case: three commands one after the
// other, as three depends_on resources send them, all answered on one session.
func TestDevice_BackToBackCommandsOneSession(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{PlatformTimeout: wait, Devices: []mockserver.Device{{ID: "my-real-device", Secret: "dev-secret"}}})
	out := device(t, s, "-device-id", "my-real-device")
	for i, name := range []string{"FIRST", "SECOND", "THIRD"} {
		status, answer := command(t, s, "my-real-device", `{"service_id":"Switch","command_name":"`+name+`","paras":{"value":"ON"}}`)
		if status != http.StatusOK || string(answer["response"]) != `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}` {
			t.Fatalf("command %d: %d %v", i+1, status, answer)
		}
		var id string
		if err := json.Unmarshal(answer["command_id"], &id); err != nil {
			t.Fatal(err)
		}
		if line := out.next(t, "iotda-device: command request_id="+id); !strings.Contains(line, `"command_name":"`+name+`"`) {
			t.Errorf("printed %q", line)
		}
		out.next(t, "iotda-device: replied request_id="+id)
	}
	var connects int
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryConnect && e.DeviceID == "my-real-device" {
			connects++
		}
	}
	if connects != 1 {
		t.Errorf("the device connected %d times, want one session for all three commands", connects)
	}
}

func TestDevice_Replies(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{PlatformTimeout: wait, Devices: []mockserver.Device{
		{ID: "echo", Secret: "dev-secret"}, {ID: "fixed", Secret: "dev-secret"}, {ID: "raw", Secret: "dev-secret"}, {ID: "slow", Secret: "dev-secret"},
	}})
	device(t, s, "-device-id", "echo", "-echo", "-result-code", "7")
	device(t, s, "-device-id", "fixed", "-reply", `{"result_code":0,"paras":{"big":12345678901234567890}}`)
	device(t, s, "-device-id", "raw", "-raw-reply", "OK")
	device(t, s, "-device-id", "slow", "-delay", "200ms")
	for _, tt := range []struct{ device, want string }{
		{"echo", `{"result_code":7,"response_name":"GO","paras":{"n":1.50}}`},
		{"fixed", `{"result_code":0,"paras":{"big":12345678901234567890}}`},
		{"raw", `"OK"`}, // a reply that is not JSON comes back as a JSON string
		{"slow", `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`},
	} {
		start := time.Now()
		status, answer := command(t, s, tt.device, `{"command_name":"GO","paras":{"n":1.50}}`)
		if status != http.StatusOK || string(answer["response"]) != tt.want {
			t.Errorf("%s: %d %s, want %s", tt.device, status, answer["response"], tt.want)
		}
		if tt.device == "slow" && time.Since(start) < 200*time.Millisecond {
			t.Errorf("the slow device answered after %v, before its delay", time.Since(start))
		}
	}
}

// TestDevice_ReconnectsAfterTheSessionEnds removes and re-adds the device: the broker drops
// its session, and the program logs in again on its own.
func TestDevice_ReconnectsAfterTheSessionEnds(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{PlatformTimeout: wait, Devices: []mockserver.Device{{ID: "d", Secret: "dev-secret"}}})
	out := device(t, s, "-device-id", "d")
	s.RemoveDevice("d")
	if err := s.AddDevice(mockserver.Device{ID: "d", Secret: "dev-secret"}); err != nil {
		t.Fatal(err)
	}
	out.next(t, "iotda-device: disconnected")
	out.next(t, "iotda-device: connected to ")
	if status, answer := command(t, s, "d", `{"paras":{}}`); status != http.StatusOK {
		t.Fatalf("after reconnecting: %d %v", status, answer)
	}
}

// message posts a device message to the mock and returns the status the mock answered.
func message(t *testing.T, s *mockserver.Server, deviceID, body string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		s.URL()+"/v5/iot/"+s.ProjectID()+"/devices/"+deviceID+"/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var created struct {
		Result struct {
			Status string `json:"status"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create a message: %d, %v", resp.StatusCode, err)
	}
	return created.Result.Status
}

// TestDevice_PrintsMessages: a standard message prints its id, name, topic and content; a
// raw one its whole payload, Go-quoted when it is not text; a custom topic it subscribed to
// with -subscribe reaches it.
func TestDevice_PrintsMessages(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{Devices: []mockserver.Device{{ID: "d", Secret: "dev-secret"}}})
	out := device(t, s, "-device-id", "d", "-subscribe", "/device/message/down", "-subscribe", "$oc/devices/d/user/cfg")
	// Messages on those topics need the subscriptions, which come after the connected line.
	if line := out.next(t, "iotda-device: subscribed to "); !strings.HasSuffix(line, "/device/message/down, $oc/devices/d/user/cfg") {
		t.Fatalf("printed %q", line)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"message_id":"m1","name":"set_interval","message":{"interval":900}}`,
			`iotda-device: message id=m1 name=set_interval on $oc/devices/d/sys/messages/down: {"interval":900}`},
		{`{"message_id":"m2","message":"line one","payload_format":"raw"}`,
			`iotda-device: message on $oc/devices/d/sys/messages/down (raw, 8 bytes): line one`},
		{`{"message_id":"m3","message":"AAH/","encoding":"base64"}`,
			`iotda-device: message on $oc/devices/d/sys/messages/down (raw, 3 bytes): "\x00\x01\xff"`},
		{`{"message_id":"m4","message":"hi","topic_full_name":"/device/message/down"}`,
			`iotda-device: message id=m4 on /device/message/down: hi`},
		{`{"message_id":"m5","message":"cfg","topic":"cfg"}`, `iotda-device: message id=m5 on $oc/devices/d/user/cfg: cfg`},
	} {
		if st := message(t, s, "d", tt.body); st != "DELIVERED" {
			t.Fatalf("%s: %s", tt.body, st)
		}
		if line := out.next(t, "iotda-device: message"); line != tt.want {
			t.Errorf("printed %q\n want %q", line, tt.want)
		}
	}
}

// TestDevice_SleepsAndWakes: with -sleep and -awake the device goes offline on its own, and a
// message sent meanwhile waits for it and is printed when it is back.
func TestDevice_SleepsAndWakes(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{Devices: []mockserver.Device{{ID: "d", Secret: "dev-secret"}}})
	out := device(t, s, "-device-id", "d", "-sleep", "1s", "-awake", "200ms")
	out.next(t, "iotda-device: asleep; waking in 1s")
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if _, err := s.WaitJournal(ctx, func(e mockserver.Entry) bool {
		return e.Kind == mockserver.EntryDisconnect && e.DeviceID == "d"
	}); err != nil {
		t.Fatal(err)
	}
	if st := message(t, s, "d", `{"message_id":"m1","message":"while you slept"}`); st != "PENDING" {
		t.Fatalf("a message to the sleeping device: %s", st)
	}
	// The device prints that it is connected before the message, which the platform sends
	// as soon as the CONNACK is out; its subscribed line may come before or after it.
	out.next(t, "iotda-device: connected to ")
	line := out.next(t, "iotda-device: ")
	if strings.HasPrefix(line, "iotda-device: subscribed to ") {
		line = out.next(t, "iotda-device: ")
	}
	if line != "iotda-device: message id=m1 on $oc/devices/d/sys/messages/down: while you slept" {
		t.Errorf("after connecting the device printed %q, want the message", line)
	}
	out.next(t, "iotda-device: asleep")
}

// TestDevice_WakesToPendingMessages: messages kept for a device, on the system topic and on
// the custom topics it subscribes to, come after its connected line, once each, and its
// subscriptions are granted while the platform's publications are in flight.
func TestDevice_WakesToPendingMessages(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{Devices: []mockserver.Device{{ID: "meter-17", Secret: "dev-secret"}}})
	var want []string
	for i := range 3 {
		if st := message(t, s, "meter-17", fmt.Sprintf(`{"message_id":"s%d","message":"sys %d"}`, i, i)); st != "PENDING" {
			t.Fatalf("message to an offline device: %s", st)
		}
		want = append(want, fmt.Sprintf("iotda-device: message id=s%d on $oc/devices/meter-17/sys/messages/down: sys %d", i, i))
	}
	if st := message(t, s, "meter-17", `{"message_id":"c1","message":"custom","topic":"cfg"}`); st != "PENDING" {
		t.Fatalf("message to an offline device: %s", st)
	}
	want = append(want, "iotda-device: message id=c1 on $oc/devices/meter-17/user/cfg: custom")
	out := newLines()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-mqtt", s.MQTTAddr(), "-device-id", "meter-17", "-subscribe", "$oc/devices/meter-17/user/cfg"},
			func(k string) string { return map[string]string{"IOTDA_DEVICE_SECRET": "dev-secret"}[k] }, out, out)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exit status %d", code)
		}
	}()
	if line := out.next(t, "iotda-device: "); !strings.HasPrefix(line, "iotda-device: connected to ") {
		t.Fatalf("first line %q, want the connected line", line)
	}
	subscribed := false
	for _, w := range want {
		line := out.next(t, "iotda-device: ")
		if strings.HasPrefix(line, "iotda-device: subscribed to ") { // Told once, among the messages.
			subscribed = true
			line = out.next(t, "iotda-device: ")
		}
		if line != w {
			t.Fatalf("printed %q, want %q", line, w)
		}
	}
	if !subscribed {
		if line := out.next(t, "iotda-device: "); line != "iotda-device: subscribed to $oc/devices/meter-17/sys/commands/#, $oc/devices/meter-17/user/cfg" {
			t.Fatalf("printed %q, want the subscribed line", line)
		}
	}
	if n := len(s.MessageDeliveries("meter-17")); n != len(want) {
		t.Errorf("%d messages published, want %d", n, len(want))
	}
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryDisconnect && e.DeviceID == "meter-17" {
			t.Errorf("the device's session ended: %+v", e)
		}
	}
}

func TestDevice_RefusedCredentials(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{Devices: []mockserver.Device{{ID: "d", Secret: "right"}}})
	out := newLines()
	code := run(t.Context(), []string{"-mqtt", s.MQTTAddr(), "-device-id", "d", "-secret", "wrong"},
		func(string) string { return "" }, out, out)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if line := out.next(t, "iotda-device:"); !strings.Contains(line, "bad device id or secret") || strings.Contains(line, "wrong") {
		t.Errorf("message %q, want the refusal without the secret", line)
	}
}

func TestParseArgs_Errors(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{
		{},                                       // no device id
		{"-device-id", "d"},                      // no secret
		{"-device-id", "d", "-secret", "s", "x"}, // extra argument
		{"-device-id", "d", "-secret", "s", "-reply", "{"},
		{"-device-id", "d", "-secret", "s", "-echo", "-silent"},
		{"-device-id", "d", "-secret", "s", "-reply", "{}", "-raw-reply", "x"},
		{"-device-id", "d", "-secret", "s", "-raw-reply", "x", "-result-code", "1"},
		{"-device-id", "d", "-secret", "s", "-delay", "-1s"},
		{"-device-id", "d", "-secret", "s", "-ca-file", "/nonexistent/ca.pem"},
		{"-device-id", "d", "-secret", "s", "-sleep", "1s"},
		{"-device-id", "d", "-secret", "s", "-awake", "1s"},
		{"-device-id", "d", "-secret", "s", "-subscribe", ""},
	} {
		if _, err := parseArgs(args, env, io.Discard); err == nil {
			t.Errorf("parseArgs(%q) accepted", args)
		}
	}
	if code := run(t.Context(), []string{"-device-id", "bad/id", "-secret", "s"}, env, io.Discard, io.Discard); code != 1 {
		t.Errorf("an invalid device id: exit status %d, want 1", code)
	}
	o, err := parseArgs([]string{"-device-id", "d", "-raw-reply", ""}, func(string) string { return "from-env" }, io.Discard)
	if err != nil || o.Secret != "from-env" || o.Behavior.RawResponse == nil || *o.Behavior.RawResponse != "" {
		t.Errorf("parseArgs = %+v, %v; want the secret from the environment and an empty raw reply", o, err)
	}
}

// TestDevice_TLS connects over TLS to the mock's MQTTS listener with -ca-file naming the
// mock's CA, and refuses a broker whose certificate another CA signed.
func TestDevice_TLS(t *testing.T) {
	s := mockserver.NewForTest(t, mockserver.Options{PlatformTimeout: wait, MQTTTLSAddr: "127.0.0.1:0",
		Devices: []mockserver.Device{{ID: "tls-dev", Secret: "dev-secret"}}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(s.CACertPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-mqtt", s.MQTTTLSAddr(), "-ca-file", caFile, "-device-id", "tls-dev", "-secret", "dev-secret"},
			func(string) string { return "" }, out, out)
	}()
	out.next(t, "iotda-device: connected to "+s.MQTTTLSAddr())
	if status, answer := command(t, s, "tls-dev", `{"paras":{}}`); status != http.StatusOK {
		t.Fatalf("command over TLS: %d %v", status, answer)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit status %d", code)
	}

	// A CA that did not sign the mock's certificate: the handshake fails, and the device
	// keeps trying (it prints why) rather than connecting.
	out = newLines()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() {
		done <- run(ctx2, []string{"-mqtt", s.MQTTTLSAddr(), "-ca-file", otherCA(t), "-device-id", "tls-dev", "-secret", "dev-secret"},
			func(string) string { return "" }, out, out)
	}()
	if line := out.next(t, "iotda-device: disconnected"); !strings.Contains(line, "certificate") {
		t.Errorf("printed %q, want a certificate error", line)
	}
	cancel2()
	<-done
}

// otherCA writes the certificate of a new CA, which signed nothing the mock serves, to a
// PEM file.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
