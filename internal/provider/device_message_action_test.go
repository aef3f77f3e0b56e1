package provider

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Protocol-level tests of the iotda_device_message action: they talk to the provider server
// as Terraform 1.14 does (GetProviderSchema, ValidateActionConfig, ConfigureProvider,
// InvokeAction), against messagePlatform, so they run with any CLI, or none.

const messageActionType = "iotda_device_message"

// configureForPlatform runs ConfigureProvider against a message platform.
func (p *protoProvider) configureForPlatform(mp *messagePlatform) {
	p.t.Helper()
	typ := p.schemas.Provider.ValueType()
	cfg := objectValue(typ, map[string]tftypes.Value{
		"endpoint":    str(mp.server.URL),
		"project_id":  str(platformProject),
		"auth_token":  str(platformToken),
		"max_retries": tftypes.NewValue(tftypes.Number, 1),
	})
	resp, err := p.server.ConfigureProvider(p.t.Context(), &tfprotov6.ConfigureProviderRequest{
		TerraformVersion: "1.14.0", Config: p.dynamicValue(typ, cfg),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	if len(resp.Diagnostics) > 0 {
		p.t.Fatalf("ConfigureProvider: %s", formatProtoDiags(resp.Diagnostics))
	}
}

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
		"ttl step":        {with(messageTo("d1"), "ttl", tftypes.NewValue(tftypes.Number, 7)), "ttl", "Invalid Message TTL"},
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
	mp := newMessagePlatform(t, "online", "sleeper", "late", "never")
	mp.devices.setOnline("online", true)
	mp.devices.setOnline("never", true)
	p := newProtoProvider(t)
	p.configureForPlatform(mp)

	progress, diags := p.invokeMessage(messageTo("online"))
	if len(diags) != 0 {
		t.Fatalf("online: %s", formatProtoDiags(diags))
	}
	progressMatches(t, progress, `^Sending message [0-9a-f-]{36} to device "online" on the default topic`,
		`^IoTDA delivered message`, `^Message [0-9a-f-]{36} delivered to device "online"`)
	if got := mp.published("online"); len(got) != 1 || string(got[0].Payload) != `{"id":"`+got[0].MessageID+`","content":"hello"}` {
		t.Fatalf("online: the device received %+v", got)
	}

	// A device that wakes while the action follows its message.
	mp.connectWhenPending(t.Context(), "sleeper")
	progress, diags = p.invokeMessage(with(messageTo("sleeper"), "timeout", str("1m")))
	if len(diags) != 0 {
		t.Fatalf("sleeper: %s", formatProtoDiags(diags))
	}
	progressMatches(t, progress, `holds it \(PENDING\) until device "sleeper" connects`, `delivered to device "sleeper"`)

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
	if list, _ := mp.backend.List("late"); len(list) != 1 || list[0].Status != "PENDING" {
		t.Fatalf("late: the platform holds %+v", list)
	}

	// wait_for_delivery = false: accepted is enough, no warning.
	if _, diags = p.invokeMessage(with(messageTo("late"), "wait_for_delivery", tftypes.NewValue(tftypes.Bool, false))); len(diags) != 0 {
		t.Fatalf("no wait: %s", formatProtoDiags(diags))
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
	if posts, _ := mp.counts(); posts != 6 {
		t.Fatalf("%d creates, want 6 (one per invocation)", posts)
	}
}
