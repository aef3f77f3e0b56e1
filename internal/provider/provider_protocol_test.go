package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Helpers for protocol-level tests: they talk to the provider server as Terraform does
// (GetProviderSchema, Validate*Config, ConfigureProvider, InvokeAction), so they run with
// any CLI, or none.

const actionType = "iotda_device_command"

// actionProviderServer is a provider server that serves actions too.
type actionProviderServer interface {
	tfprotov6.ProviderServer
	tfprotov6.ActionServer
}

// protoProvider is a provider server with its schemas, for protocol-level tests.
type protoProvider struct {
	t       *testing.T
	server  actionProviderServer
	schemas *tfprotov6.GetProviderSchemaResponse
}

func newProtoProvider(t *testing.T) *protoProvider {
	t.Helper()
	server, ok := providerserver.NewProtocol6(New("test")())().(actionProviderServer)
	if !ok {
		t.Fatal("the provider server does not serve actions")
	}
	schemas, err := server.GetProviderSchema(t.Context(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(schemas.Diagnostics) > 0 {
		t.Fatalf("GetProviderSchema: %s", formatProtoDiags(schemas.Diagnostics))
	}
	return &protoProvider{t: t, server: server, schemas: schemas}
}

// objectValue builds a value of an object type from the attributes given, every other
// attribute null, as Terraform sends a configuration.
func objectValue(typ tftypes.Type, set map[string]tftypes.Value) tftypes.Value {
	obj, ok := typ.(tftypes.Object)
	if !ok {
		panic(fmt.Sprintf("%s is not an object type", typ))
	}
	vals := make(map[string]tftypes.Value, len(obj.AttributeTypes))
	for name, at := range obj.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range set {
		if _, ok := obj.AttributeTypes[name]; !ok {
			panic(fmt.Sprintf("no attribute %q in %s", name, typ))
		}
		vals[name] = v
	}
	return tftypes.NewValue(obj, vals)
}

func (p *protoProvider) dynamicValue(typ tftypes.Type, v tftypes.Value) *tfprotov6.DynamicValue {
	p.t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		p.t.Fatal(err)
	}
	return &dv
}

// configure runs ConfigureProvider against the mock, failing the test on any error.
func (p *protoProvider) configure(s *mockserver.Server, token string) {
	p.t.Helper()
	typ := p.schemas.Provider.ValueType()
	cfg := objectValue(typ, map[string]tftypes.Value{
		"endpoint":    tftypes.NewValue(tftypes.String, s.URL()),
		"project_id":  tftypes.NewValue(tftypes.String, s.ProjectID()),
		"auth_token":  tftypes.NewValue(tftypes.String, token),
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

func (p *protoProvider) actionType() tftypes.Type {
	p.t.Helper()
	s, ok := p.schemas.ActionSchemas[actionType]
	if !ok {
		p.t.Fatalf("GetProviderSchema has no action %s", actionType)
	}
	return s.Schema.ValueType()
}

// actionConfig builds the action's configuration from the arguments given.
func (p *protoProvider) actionConfig(args map[string]tftypes.Value) *tfprotov6.DynamicValue {
	p.t.Helper()
	typ := p.actionType()
	return p.dynamicValue(typ, objectValue(typ, args))
}

func (p *protoProvider) validate(args map[string]tftypes.Value) []*tfprotov6.Diagnostic {
	p.t.Helper()
	resp, err := p.server.ValidateActionConfig(p.t.Context(), &tfprotov6.ValidateActionConfigRequest{
		ActionType: actionType, Config: p.actionConfig(args),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.Diagnostics
}

// invoke runs InvokeAction and collects the progress messages, in order, and the
// diagnostics of the completed event, which must be the last event.
func (p *protoProvider) invoke(args map[string]tftypes.Value) (progress []string, diags []*tfprotov6.Diagnostic) {
	p.t.Helper()
	stream, err := p.server.InvokeAction(p.t.Context(), &tfprotov6.InvokeActionRequest{
		ActionType: actionType, Config: p.actionConfig(args),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	completed := false
	for ev := range stream.Events {
		if completed {
			p.t.Fatalf("an event after the completed event: %#v", ev.Type)
		}
		switch e := ev.Type.(type) {
		case tfprotov6.ProgressInvokeActionEventType:
			progress = append(progress, e.Message)
		case tfprotov6.CompletedInvokeActionEventType:
			completed, diags = true, e.Diagnostics
		default:
			p.t.Fatalf("unexpected event %#v", ev.Type)
		}
	}
	if !completed {
		p.t.Fatal("InvokeAction ended without a completed event")
	}
	return progress, diags
}

func str(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }

// parasON is paras = { value = "ON" }.
func parasON() tftypes.Value {
	return tftypes.NewValue(tftypes.Object{AttributeTypes: map[string]tftypes.Type{"value": tftypes.String}},
		map[string]tftypes.Value{"value": str("ON")})
}

// switchOn is the configuration of an ON_OFF command of service Switch to deviceID.
func switchOn(deviceID string) map[string]tftypes.Value {
	return map[string]tftypes.Value{
		"device_id": str(deviceID), "service_id": str("Switch"), "command_name": str("ON_OFF"),
		"paras": parasON(),
	}
}

func with(args map[string]tftypes.Value, name string, v tftypes.Value) map[string]tftypes.Value {
	out := make(map[string]tftypes.Value, len(args)+1)
	for k, a := range args {
		out[k] = a
	}
	out[name] = v
	return out
}

func formatProtoDiags(diags []*tfprotov6.Diagnostic) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "\n[%v] %s: %s (at %v)", d.Severity, d.Summary, d.Detail, d.Attribute)
	}
	return b.String()
}
