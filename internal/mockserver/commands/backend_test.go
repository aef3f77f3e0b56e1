package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

func TestCommandPayload(t *testing.T) {
	tests := []struct {
		cmd     Command
		want    string
		wantErr bool
	}{
		{Command{CommandID: "1", Paras: []byte(`{"a":1}`)}, `{"paras":{"a":1}}`, false},
		{Command{CommandID: "1", CommandName: "X"}, `{"command_name":"X","paras":{}}`, false},
		{Command{CommandID: "1", ServiceID: `s"q`, Paras: []byte(`{}`)}, `{"service_id":"s\"q","paras":{}}`, false},
		{Command{CommandID: "1", Paras: []byte(`{"a":`)}, "", true},
		{Command{CommandID: "", Paras: []byte(`{}`)}, "", true},
		{Command{CommandID: "a/b", Paras: []byte(`{}`)}, "", true},
		{Command{CommandID: "a+", Paras: []byte(`{}`)}, "", true},
	}
	for _, tt := range tests {
		got, err := Payload(tt.cmd)
		if (err != nil) != tt.wantErr || string(got) != tt.want {
			t.Errorf("Payload(%+v) = %s, %v", tt.cmd, got, err)
		}
	}
}

// TestReplyBody_EmptyNullAndNonJSON follows the README's reply rules: JSON verbatim (null
// included), nothing for an empty payload, a JSON string for anything else.
func TestReplyBody_EmptyNullAndNonJSON(t *testing.T) {
	deepArray := strings.Repeat("[", 20000) + strings.Repeat("]", 20000) // Beyond encoding/json's depth.
	for reply, want := range map[string]string{
		`not json`:           `{"command_id":"c","response":"not json"}`,
		` [1, 2] `:           `{"command_id":"c","response":[1, 2]}`,
		`42`:                 `{"command_id":"c","response":42}`,
		`{"a":1.000}` + "\n": `{"command_id":"c","response":{"a":1.000}}`,
		`null`:               `{"command_id":"c","response":null}`,
		`""`:                 `{"command_id":"c","response":""}`,
		``:                   `{"command_id":"c"}`,
		" \t\r\n ":           `{"command_id":"c"}`,
		"<b> & \"x\"\n":      `{"command_id":"c","response":"<b> & \"x\"\n"}`,
		"bad \xff\xfe utf8":  "{\"command_id\":\"c\",\"response\":\"bad \uFFFD utf8\"}",
		`{"a":`:              `{"command_id":"c","response":"{\"a\":"}`,
		deepArray:            `{"command_id":"c","response":` + deepArray + `}`,
		deepArray + "]":      `{"command_id":"c","response":"` + deepArray + `]"}`,
	} {
		if got := string(ReplyBody("c", json.RawMessage(reply))); got != want {
			t.Errorf("ReplyBody(%q) = %s, want %s", reply, got, want)
		}
	}
}

// registered is a registry of ids.
type registered map[string]bool

func (r registered) Registered(id string) bool { return r[id] }

// device is an in-process device on the delivery path: it records each command (topic and
// payload) and answers as answer says, through Path.Reply as the broker's reply intake
// does. A nil answer never answers.
type device struct {
	path   *delivery.Path
	answer func(payload []byte) []byte
	got    chan string
}

func (d *device) Receive(deviceID, topic string, payload []byte) error {
	d.got <- topic + " " + string(payload)
	if d.answer == nil {
		return nil
	}
	requestID, ok := broker.ParseCommandTopic(deviceID, topic)
	if !ok {
		return nil
	}
	d.path.Reply(deviceID, requestID, broker.ResponseTopic(deviceID, requestID), d.answer(payload))
	return nil
}

// newBackend returns a backend over a delivery path where d1 is online as dev, d2 is
// registered but offline, and the platform timeout is timeout.
func newBackend(t *testing.T, dev *device, timeout time.Duration) (*Backend, *journal.Journal) {
	t.Helper()
	j := journal.New(nil, 0)
	path := delivery.New(registered{"d1": true, "d2": true}, j)
	t.Cleanup(path.Close)
	dev.path = path
	path.AttachLocal("local:test", dev, []string{"d1"})
	return New(Config{Path: path, PlatformTimeout: timeout}), j
}

// TestBackend_DeliversThroughThePath: a command goes to the device on its command topic with
// the platform's payload, and the reply on its response topic comes back byte for byte;
// the journal records the delivery and the reply under the command id.
func TestBackend_DeliversThroughThePath(t *testing.T) {
	dev := &device{got: make(chan string, 1), answer: func([]byte) []byte { return []byte(`{"result_code":0, "n":1.50}`) }}
	b, j := newBackend(t, dev, time.Minute)
	reply, err := b.Deliver(t.Context(), Command{DeviceID: "d1", CommandID: "c-1", ServiceID: "S", CommandName: "ON",
		Paras: json.RawMessage(`{"big":12345678901234567890}`)})
	if err != nil || string(reply) != `{"result_code":0, "n":1.50}` {
		t.Fatalf("Deliver = %s, %v", reply, err)
	}
	want := `$oc/devices/d1/sys/commands/request_id=c-1 {"service_id":"S","command_name":"ON","paras":{"big":12345678901234567890}}`
	if got := <-dev.got; got != want {
		t.Errorf("the device received %s\nwant %s", got, want)
	}
	var kinds []string
	for _, e := range j.Entries() {
		kinds = append(kinds, string(e.Kind)+" "+e.DeviceID+" "+e.CommandID)
	}
	if got := strings.Join(kinds, ", "); got != "delivery d1 c-1, reply d1 c-1" {
		t.Errorf("journal %s", got)
	}
}

// TestBackend_Failures: every way a command fails has the platform's code and message, as
// a batch subtask records it.
func TestBackend_Failures(t *testing.T) {
	silent := &device{got: make(chan string, 1)}
	b, _ := newBackend(t, silent, 50*time.Millisecond)
	cmd := func(id string) Command { return Command{DeviceID: id, CommandID: "c", Paras: json.RawMessage(`{}`)} }
	_, timeout := b.Deliver(t.Context(), cmd("d1")) // the platform timeout, not the caller's
	_, offline := b.Deliver(t.Context(), cmd("d2"))
	_, unknown := b.Deliver(t.Context(), cmd("ghost"))
	_, invalid := b.Deliver(t.Context(), Command{DeviceID: "d1", CommandID: "a/b"})
	for _, tt := range []struct {
		name     string
		err      error
		code, in string
	}{
		{"silent device", timeout, CodeTimeout, "Command request timed out."},
		{"offline device", offline, httpapi.CodeDeviceOffline, "The device is not online."},
		{"unknown device", unknown, httpapi.CodeDeviceNotFound, "device_id: ghost"},
		{"closed", delivery.ErrClosed, httpapi.CodeShuttingDown, "shutting down"},
		{"the mock's own failure", invalid, httpapi.CodeInternal, "cannot be used in an MQTT topic"},
	} {
		code, msg := Failure("ghost", tt.err)
		if tt.err == nil || code != tt.code || !strings.Contains(msg, tt.in) {
			t.Errorf("%s: err %v: Failure = %s %q, want %s and %q", tt.name, tt.err, code, msg, tt.code, tt.in)
		}
	}
	if !errors.Is(timeout, context.DeadlineExceeded) {
		t.Errorf("a silent device's command ended with %v, want context.DeadlineExceeded", timeout)
	}
}

func TestCommand_Validate(t *testing.T) {
	for _, tt := range []struct {
		cmd  Command
		want string
	}{
		{Command{Paras: json.RawMessage(`{}`), ServiceID: strings.Repeat("é", 64), CommandName: strings.Repeat("x", 128)}, ""},
		{Command{}, "paras is required"},
		{Command{Paras: json.RawMessage(`[1]`)}, "paras is required"},
		{Command{Paras: json.RawMessage(`{}`), ServiceID: strings.Repeat("s", 65)}, "service_id is longer than 64"},
		{Command{Paras: json.RawMessage(`{}`), CommandName: strings.Repeat("n", 129)}, "command_name is longer than 128"},
	} {
		err := tt.cmd.Validate()
		if (tt.want == "") != (err == nil) || err != nil && (!strings.Contains(err.Error(), tt.want) || strings.HasSuffix(err.Error(), ".")) {
			t.Errorf("Validate(%.40v) = %v, want %q", tt.cmd, err, tt.want)
		}
	}
}
