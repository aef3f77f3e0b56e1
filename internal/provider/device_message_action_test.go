package provider

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Protocol-level tests of the iotda_device_message action: they talk to the provider server
// as Terraform 1.14 does (GetProviderSchema, ValidateActionConfig, ConfigureProvider,
// InvokeAction), against the mock platform, so they run with any CLI, or none.

const messageActionType = "iotda_device_message"

func (p *protoProvider) messageActionConfig(args map[string]tftypes.Value) *tfprotov6.DynamicValue {
	p.t.Helper()
	s, ok := p.schemas.ActionSchemas[messageActionType]
	if !ok {
		p.t.Fatalf("GetProviderSchema has no action %s", messageActionType)
	}
	typ := s.Schema.ValueType()
	return p.dynamicValue(typ, objectValue(typ, args))
}

func (p *protoProvider) validateMessage(args map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	p.t.Helper()
	resp, err := p.server.ValidateActionConfig(p.t.Context(), &tfprotov6.ValidateActionConfigRequest{
		ActionType: messageActionType, Config: p.messageActionConfig(args),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.Diagnostics
}

// invokeMessage runs InvokeAction and collects the progress messages and the diagnostics.
func (p *protoProvider) invokeMessage(args map[string]tftypes.Value) (progress []string, diags []*tfprotov6.Diagnostic) {
	p.t.Helper()
	stream, err := p.server.InvokeAction(p.t.Context(), &tfprotov6.InvokeActionRequest{
		ActionType: messageActionType, Config: p.messageActionConfig(args),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	completed := false
	for ev := range stream.Events {
		switch e := ev.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			if completed {
				p.t.Fatal("progress after the completed event")
			}
			progress = append(progress, e.Message)
		case tfprotov6.CompletedInvokeActionEventType:
			completed, diags = true, e.Diagnostics
		}
	}
	if !completed {
		p.t.Fatal("InvokeAction ended without a completed event")
	}
	return progress, diags
}

func messageTo(deviceID string) map[string]tftypes.Value {
	return map[string]tftypes.Value{"device_id": str(deviceID), "message": str("hello")}
}

func TestDeviceMessageAction_Schema(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	s, ok := p.schemas.ActionSchemas[messageActionType]
	if !ok {
		t.Fatalf("no action %s", messageActionType)
	}
	if !strings.Contains(s.Schema.Block.Description, "Terraform 1.14") {
		t.Errorf("the description does not say which Terraform it needs")
	}
	want := map[string]bool{"device_id": true, "message": true, "name": false, "topic": false, "topic_full_name": false,
		"encoding": false, "payload_format": false, "ttl": false, "properties": false, "wait_for_delivery": false,
		"timeout": false}
	got := map[string]bool{}
	for _, a := range s.Schema.Block.Attributes {
		got[a.Name] = true
		required, ok := want[a.Name]
		if !ok || a.Required != required || a.Computed || a.Description == "" {
			t.Errorf("attribute %s: %+v", a.Name, a)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("attribute %s is missing", name)
		}
	}
}

func TestDeviceMessageAction_ValidateConfig(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	for name, tc := range map[string]struct {
		args          map[string]tftypes.Value
		attr, summary string
	}{
		"ttl step":     {with(messageTo("d1"), "ttl", tftypes.NewValue(tftypes.Number, 7)), "ttl", "Invalid Message TTL"},
		"ttl fraction": {with(messageTo("d1"), "ttl", tftypes.NewValue(tftypes.Number, 2.5)), "ttl", "Invalid Message TTL"},
		"system topic": {with(messageTo("d1"), "topic_full_name", str("$oc/devices/d1/sys/commands/request_id=x")),
			"topic_full_name", "Invalid Topic"},
		"bad device":      {messageTo("d 1"), "device_id", "Invalid Attribute Value Match"},
		"bad timeout":     {with(messageTo("d1"), "timeout", str("soon")), "timeout", "Invalid Timeout"},
		"number message":  {with(messageTo("d1"), "message", tftypes.NewValue(tftypes.Number, 5)), "message", "Invalid Message Value"},
		"base64 message":  {with(messageTo("d1"), "encoding", str("base64")), "message", "Invalid Message Value"},
		"wildcard topic":  {with(messageTo("d1"), "topic_full_name", str("a/+")), "topic_full_name", "Invalid Topic"},
		"conflict topics": {with(with(messageTo("d1"), "topic", str("a")), "topic_full_name", str("b")), "topic", "Invalid Attribute Combination"},
	} {
		t.Run(name, func(t *testing.T) {
			diags := p.validateMessage(tc.args)
			if len(diags) != 1 || diags[0].Severity != tfprotov6.DiagnosticSeverityError || diags[0].Summary != tc.summary ||
				diags[0].Attribute == nil || !strings.HasPrefix(diags[0].Attribute.String(), "AttributeName(\""+tc.attr+"\")") {
				t.Fatalf("diagnostics %s; want one error %q at %s", formatProtoDiags(diags), tc.summary, tc.attr)
			}
		})
	}
	if diags := p.validateMessage(messageTo("d1")); len(diags) != 0 {
		t.Fatalf("a valid configuration: %s", formatProtoDiags(diags))
	}
}

// countMatches counts the progress messages that match pattern.
func countMatches(progress []string, pattern string) int {
	n := 0
	for _, msg := range progress {
		if regexp.MustCompile(pattern).MatchString(msg) {
			n++
		}
	}
	return n
}

// progressMatches checks that each pattern matches one progress message, in order.
func progressMatches(t *testing.T, progress []string, patterns ...string) {
	t.Helper()
	i := 0
	for _, msg := range progress {
		if i < len(patterns) && regexp.MustCompile(patterns[i]).MatchString(msg) {
			i++
		}
	}
	if i < len(patterns) {
		t.Fatalf("progress %q does not show %q (in order)", progress, patterns[i:])
	}
}

func TestDeviceMessageAction_Invoke(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"online", "sleeper", "late", "never"}, "sleeper", "late")
	s := target.Server
	p := newProtoProvider(t)
	p.configure(s, "test-token")

	progress, diags := p.invokeMessage(messageTo("online"))
	if len(diags) != 0 {
		t.Fatalf("online: %s", formatProtoDiags(diags))
	}
	progressMatches(t, progress, `^Sending message [0-9a-f-]{36} to device "online" on the default topic`,
		`^IoTDA delivered message [0-9a-f-]{36} to device "online"`)
	if n := countMatches(progress, `delivered`); n != 1 {
		t.Fatalf("progress %q says delivered %d times, want once", progress, n)
	}
	if err := checkMessages(s, "online", 1, 1)(nil); err != nil {
		t.Fatal(err)
	}
	if d := s.MessageDeliveries("online"); string(d[0].Body) != `{"id":"`+d[0].MessageID+`","content":"hello"}` {
		t.Fatalf("online: published %s", d[0].Body)
	}

	// A device that wakes while the action follows its message.
	wakeWhenCreated(t, s, "sleeper")
	progress, diags = p.invokeMessage(with(messageTo("sleeper"), "timeout", str("1m")))
	if len(diags) != 0 {
		t.Fatalf("sleeper: %s", formatProtoDiags(diags))
	}
	progressMatches(t, progress, `holds it \(PENDING\) until device "sleeper" connects`, `delivered to device "sleeper"`)
	if n := countMatches(progress, `delivered`); n != 1 {
		t.Fatalf("progress %q says delivered %d times, want once", progress, n)
	}
	if err := checkMessages(s, "sleeper", 1, 1)(nil); err != nil {
		t.Fatal(err)
	}

	// A device that sleeps past the timeout: a warning; IoTDA keeps the message.
	start := time.Now()
	progress, diags = p.invokeMessage(with(messageTo("late"), "timeout", str("1s")))
	if len(diags) != 1 || diags[0].Severity != tfprotov6.DiagnosticSeverityWarning || diags[0].Summary != summaryMessagePending ||
		!strings.Contains(diags[0].Detail, "IoTDA still delivers it") {
		t.Fatalf("late: %s", formatProtoDiags(diags))
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("the action took %v with a 1s timeout", time.Since(start))
	}
	progressMatches(t, progress, `PENDING`)
	if got := messageStatuses(t, s, "late"); !slices.Equal(got, []string{"PENDING"}) {
		t.Fatalf("late: the mock holds %v", got)
	}
	if strings.Contains(diags[0].Detail, "read of its status") {
		t.Fatalf("late: the warning speaks of failed reads: %s", diags[0].Detail)
	}

	// The same when every read of the status fails: the warning says so, and why.
	s.InjectFault(mockserver.Fault{Operation: "ShowDeviceMessage", Times: -1, Status: http.StatusInternalServerError,
		ErrorCode: "IOTDA.000500", ErrorMsg: "internal"})
	_, diags = p.invokeMessage(with(messageTo("late"), "timeout", str("2s")))
	if len(diags) != 1 || diags[0].Summary != summaryMessagePending ||
		!regexp.MustCompile(`Every read of its status while waiting failed \([1-9][0-9]* of [1-9][0-9]*\).*HTTP 500`).
			MatchString(diags[0].Detail) {
		t.Fatalf("late, reads failing: %s", formatProtoDiags(diags))
	}
	s.ClearFaults()

	// wait_for_delivery = false: accepted is enough, no warning.
	if _, diags = p.invokeMessage(with(messageTo("late"), "wait_for_delivery", tftypes.NewValue(tftypes.Bool, false))); len(diags) != 0 {
		t.Fatalf("no wait: %s", formatProtoDiags(diags))
	}
	// All three reach the device when it wakes, in order.
	wakeAndDeliver(t, s, "late", 3)
	if err := checkMessages(s, "late", 3, 3)(nil); err != nil {
		t.Fatal(err)
	}

	// FAILED is an error.
	_, diags = p.invokeMessage(with(messageTo("never"), "topic", str("cfg")))
	if len(diags) != 1 || diags[0].Summary != summaryMessageFailed || !strings.Contains(diags[0].Detail, "IOTDA.014112") ||
		strings.Contains(diags[0].Detail, "resource is saved") {
		t.Fatalf("failed: %s", formatProtoDiags(diags))
	}
	// An unknown device is an error, and nothing is sent.
	_, diags = p.invokeMessage(messageTo("ghost"))
	if len(diags) != 1 || diags[0].Summary != summaryDeviceNotFound {
		t.Fatalf("unknown device: %s", formatProtoDiags(diags))
	}
	posts := 0
	for _, id := range []string{"online", "sleeper", "late", "never", "ghost"} {
		posts += messageRequests(s, id, http.MethodPost)
	}
	if posts != 7 {
		t.Fatalf("%d creates, want 7 (one per invocation)", posts)
	}
	if n := len(s.MessageDeliveries("never")); n != 0 {
		t.Errorf("%d messages published to a device that did not subscribe", n)
	}
}
