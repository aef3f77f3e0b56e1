// Package commands is the IoTDA mock's synchronous command API,
// POST /v5/iot/{project_id}/devices/{device_id}/commands (deliver-command-api.txt,
// iotda-platform-facts.md §1-§2), in the shape of the trusted cloud fakes:
//
//   - the Backend (backend.go) owns the rules: what a valid command is, the payload the
//     platform publishes on $oc/devices/{device_id}/sys/commands/request_id={command_id}
//     (paras byte for byte), the wait for the device's reply on its response topic within
//     the platform timeout, and what each outcome is in the platform's codes;
//   - the Responses (responses.go) turn an HTTP request into a Backend call, after the
//     platform API's prelude (package httpapi), and the outcome into the platform's exact
//     body: the device's reply, or an error body.
//
// The Backend delivers through the one device-side path (package delivery), as batch tasks
// do: the mockserver package wires the batch executor to Backend.Deliver.
package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// DefaultPlatformTimeout is how long the platform waits for a device's reply.
const DefaultPlatformTimeout = 20 * time.Second

// Codes and messages of the command API beyond httpapi's (iotda-platform-facts.md §1).
const (
	CodeTimeout = "IOTDA.014111"
	MsgTimeout  = "Command request timed out. Check whether the device returns a response " +
		"within the specified time after receiving the request."
	// MsgDeliveryFailed is followed by the error.
	MsgDeliveryFailed = "The mock failed to deliver: "
)

// Command is a command on its way to a device.
type Command struct {
	DeviceID    string
	CommandID   string
	ServiceID   string
	CommandName string
	// Paras is the command's parameters, a JSON object kept byte for byte.
	Paras json.RawMessage
}

// Validate checks the command's fields as the platform does, in its order: paras is a JSON
// object, service_id has at most 64 characters, command_name at most 128. Its error is the
// tail of the platform's IOTDA.000006 message, without its final period.
func (c Command) Validate() error {
	switch {
	case !httpapi.IsJSONObject(c.Paras):
		return errors.New("paras is required and must be a JSON object")
	case utf8.RuneCountInString(c.ServiceID) > 64:
		return errors.New("service_id is longer than 64 characters")
	case utf8.RuneCountInString(c.CommandName) > 128:
		return errors.New("command_name is longer than 128 characters")
	}
	return nil
}

// Config configures a Backend. Path is required.
type Config struct {
	// Path is the delivery path commands go through.
	Path *delivery.Path
	// PlatformTimeout is how long a command waits for the device's reply
	// (DefaultPlatformTimeout when not positive).
	PlatformTimeout time.Duration
}

// Backend delivers commands. It holds no state of its own: a command lives as long as
// its wait for the reply.
type Backend struct {
	path    *delivery.Path
	timeout time.Duration
}

// New returns a Backend.
func New(cfg Config) *Backend {
	if cfg.PlatformTimeout <= 0 {
		cfg.PlatformTimeout = DefaultPlatformTimeout
	}
	return &Backend{path: cfg.Path, timeout: cfg.PlatformTimeout}
}

// Deliver publishes cmd on its device's command topic and waits for the reply on the
// response topic until the platform timeout, ctx, or the mock's close. The device need not
// have subscribed to its command topic. It returns the reply byte for byte, or the
// delivery path's error (see Failure).
func (b *Backend) Deliver(ctx context.Context, cmd Command) (json.RawMessage, error) {
	payload, err := Payload(cmd)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > b.timeout {
		// The batch executor's context already ends within the platform timeout: a timer
		// of its own would cost every subtask an allocation or three for nothing.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, b.timeout)
		defer cancel()
	}
	return b.path.Publish(ctx, delivery.Publication{
		DeviceID:   cmd.DeviceID,
		Topic:      broker.CommandTopic(cmd.DeviceID, cmd.CommandID),
		Payload:    payload,
		ReplyTopic: broker.ResponseTopic(cmd.DeviceID, cmd.CommandID),
		Journal:    journal.Entry{CommandID: cmd.CommandID},
	})
}

// Failure is the platform's error code and message for a delivery error, as a batch
// subtask records it (the synchronous API answers the same code and message, with an HTTP
// status of its own): an unknown device, an offline one, no reply within the platform
// timeout, the mock shutting down, or a failure of the mock itself.
func Failure(deviceID string, err error) (code, msg string) {
	switch {
	case errors.Is(err, delivery.ErrDeviceNotFound):
		return httpapi.CodeDeviceNotFound, httpapi.MsgDeviceNotFound + deviceID
	case errors.Is(err, delivery.ErrDeviceOffline):
		return httpapi.CodeDeviceOffline, httpapi.MsgDeviceOffline
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout, MsgTimeout
	case errors.Is(err, delivery.ErrClosed), errors.Is(err, context.Canceled):
		return httpapi.CodeShuttingDown, httpapi.MsgShuttingDown
	default:
		return httpapi.CodeInternal, MsgDeliveryFailed + err.Error()
	}
}

// Payload builds the platform's downstream payload by hand so that paras reach the device
// byte for byte (re-encoding would turn large integers into float64):
// {"service_id":...,"command_name":...,"paras":{...}}, leaving out an empty service_id or
// command_name.
func Payload(cmd Command) ([]byte, error) {
	if cmd.CommandID == "" || strings.ContainsAny(cmd.CommandID, "/+#\x00") {
		return nil, fmt.Errorf("mockserver: command id %q cannot be used in an MQTT topic", cmd.CommandID)
	}
	paras := []byte(cmd.Paras)
	if len(bytes.TrimSpace(paras)) == 0 {
		paras = []byte("{}")
	}
	if !json.Valid(paras) {
		return nil, errors.New("mockserver: command paras are not valid JSON")
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for _, f := range []struct{ name, value string }{
		{"service_id", cmd.ServiceID},
		{"command_name", cmd.CommandName},
	} {
		if f.value == "" {
			continue
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`"` + f.name + `":`)
		buf.Write(v)
		buf.WriteByte(',')
	}
	buf.WriteString(`"paras":`)
	buf.Write(paras)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// ReplyBody is the 200 answer to a command the device replied to (the README's reply rules), and a
// batch subtask's output: a payload that is valid JSON is embedded verbatim as "response"
// (any JSON value, null included); an empty payload (no bytes, or whitespace only) leaves
// "response" out; a payload that is not JSON is embedded as a JSON string holding its text,
// with bytes that are not UTF-8 as U+FFFD. JSON nested beyond the 10,000 levels
// encoding/json accepts is JSON all the same, and is embedded verbatim too.
func ReplyBody(commandID string, reply json.RawMessage) []byte {
	id, _ := json.Marshal(commandID)
	out := make([]byte, 0, len(id)+len(reply)+32)
	out = append(out, `{"command_id":`...)
	out = append(out, id...)
	resp := bytes.TrimSpace(reply)
	if len(resp) == 0 {
		return append(out, '}')
	}
	if !jsonscan.Valid(resp) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(strings.ToValidUTF8(string(reply), "\uFFFD")) // A valid string always encodes.
		resp = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	out = append(out, `,"response":`...)
	out = append(out, resp...)
	return append(out, '}')
}
