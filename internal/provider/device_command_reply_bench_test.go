package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// BenchmarkReplyPlanSide measures what a reply at the limits costs the provider on every
// later plan: UpgradeResourceState (decoding the state file's JSON), ReadResource (refresh)
// and PlanResourceChange, through the provider's gRPC-level server as Terraform drives it,
// and, once at apply, readReply. Run it with `make bench` or
// `go test -run '^$' -bench BenchmarkReplyPlanSide -benchmem ./internal/provider/`.
// Terraform's own cost for the same state is measured with the CLI (see the CHANGELOG).
func BenchmarkReplyPlanSide(b *testing.B) {
	shapes := map[string]string{
		"typical":          `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`,
		"depth_at_limit":   nestedReply(maxReplyDepth),
		"members_at_limit": wideObject(maxReplyMembers - 1),
		"array_at_limit":   wideArray(maxReplyMembers - 1),
		"values_at_limit":  manyValues(maxReplyValues),
		"size_at_limit":    `{"s":"` + strings.Repeat("x", maxReplyBytes-8) + `"}`,
	}
	for name, reply := range shapes {
		if beyond, _ := replyBeyondLimits([]byte(reply)); beyond != "" {
			b.Fatalf("%s is beyond the limits: %s", name, beyond)
		}
		b.Run(name, func(b *testing.B) { benchmarkReplyPlanSide(b, reply) })
	}
}

func benchmarkReplyPlanSide(b *testing.B, reply string) {
	ctx := context.Background()
	server := providerserver.NewProtocol6(New("bench")())()
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil || len(schemas.Diagnostics) > 0 {
		b.Fatalf("GetProviderSchema: %v %v", err, schemas.Diagnostics)
	}
	configureBenchProvider(b, server, schemas.Provider)
	stateType := schemas.ResourceSchemas["iotda_device_command"].ValueType()
	rawState := benchStateJSON(b, reply)

	upgrade := func() *tfprotov6.DynamicValue {
		resp, err := server.UpgradeResourceState(ctx, &tfprotov6.UpgradeResourceStateRequest{
			TypeName: "iotda_device_command", RawState: &tfprotov6.RawState{JSON: rawState},
		})
		if err != nil || len(resp.Diagnostics) > 0 {
			b.Fatalf("UpgradeResourceState: %v %v", err, resp.Diagnostics)
		}
		return resp.UpgradedState
	}
	state := upgrade()
	config := benchConfig(b, state, stateType)

	b.Run("readReply", func(b *testing.B) {
		for b.Loop() {
			if r := readReply(ctx, json.RawMessage(reply)); r.Object.IsNull() {
				b.Fatal("no object form")
			}
		}
	})
	b.Run("UpgradeResourceState", func(b *testing.B) {
		for b.Loop() {
			upgrade()
		}
	})
	b.Run("ReadResource", func(b *testing.B) {
		for b.Loop() {
			resp, err := server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: "iotda_device_command", CurrentState: state})
			if err != nil || len(resp.Diagnostics) > 0 {
				b.Fatalf("ReadResource: %v %v", err, resp.Diagnostics)
			}
		}
	})
	b.Run("PlanResourceChange", func(b *testing.B) {
		for b.Loop() {
			resp, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
				TypeName: "iotda_device_command", PriorState: state, ProposedNewState: state, Config: config,
			})
			if err != nil || len(resp.Diagnostics) > 0 || len(resp.RequiresReplace) > 0 {
				b.Fatalf("PlanResourceChange: %v %v replace %v", err, resp.Diagnostics, resp.RequiresReplace)
			}
		}
	})
}

// configureBenchProvider configures the provider with a token and an endpoint it never calls.
func configureBenchProvider(b *testing.B, server tfprotov6.ProviderServer, schema *tfprotov6.Schema) {
	b.Helper()
	typ, ok := schema.ValueType().(tftypes.Object)
	if !ok {
		b.Fatal("provider schema is not an object")
	}
	vals := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		vals[name] = tftypes.NewValue(at, nil)
	}
	vals["endpoint"] = tftypes.NewValue(tftypes.String, "http://127.0.0.1:9")
	vals["project_id"] = tftypes.NewValue(tftypes.String, "p1")
	vals["auth_token"] = tftypes.NewValue(tftypes.String, "t")
	cfg, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, vals))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := server.ConfigureProvider(context.Background(), &tfprotov6.ConfigureProviderRequest{Config: &cfg})
	if err != nil || len(resp.Diagnostics) > 0 {
		b.Fatalf("ConfigureProvider: %v %v", err, resp.Diagnostics)
	}
}

// benchStateJSON is the state file's JSON for a resource holding reply, as Terraform writes
// it: a dynamic attribute as {"value": ..., "type": ...}.
func benchStateJSON(b *testing.B, reply string) []byte {
	b.Helper()
	dec := json.NewDecoder(strings.NewReader(reply))
	dec.UseNumber()
	var decoded any
	if err := dec.Decode(&decoded); err != nil {
		b.Fatal(err)
	}
	attrs := map[string]any{
		"id": "c-1", "command_id": "c-1", "device_id": "d1", "service_id": nil, "command_name": nil,
		"paras":                map[string]any{"value": map[string]any{"value": "ON"}, "type": []any{"object", map[string]any{"value": "string"}}},
		"fail_on_device_error": true, "triggers": nil, "timeouts": nil,
		"response":      map[string]any{"value": decoded, "type": ctyTypeOf(decoded)},
		"response_json": reply, "result_code": 0, "error_code": nil, "error_msg": nil,
		"delivered_at": "2026-01-01T00:00:00Z",
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(attrs); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// ctyTypeOf is the type Terraform records for a value decoded from JSON.
func ctyTypeOf(v any) any {
	switch v := v.(type) {
	case nil:
		return "dynamic"
	case string:
		return "string"
	case bool:
		return "bool"
	case json.Number:
		return "number"
	case []any:
		elems := make([]any, len(v))
		for i, e := range v {
			elems[i] = ctyTypeOf(e)
		}
		return []any{"tuple", elems}
	case map[string]any:
		attrs := make(map[string]any, len(v))
		for k, e := range v {
			attrs[k] = ctyTypeOf(e)
		}
		return []any{"object", attrs}
	}
	panic(fmt.Sprintf("unexpected %T", v))
}

// benchConfig is the configuration matching state: its arguments, with the computed
// attributes null.
func benchConfig(b *testing.B, state *tfprotov6.DynamicValue, typ tftypes.Type) *tfprotov6.DynamicValue {
	b.Helper()
	v, err := state.Unmarshal(typ)
	if err != nil {
		b.Fatal(err)
	}
	var attrs map[string]tftypes.Value
	if err := v.As(&attrs); err != nil {
		b.Fatal(err)
	}
	objType, ok := typ.(tftypes.Object)
	if !ok {
		b.Fatal("resource schema is not an object")
	}
	for _, computed := range []string{"id", "command_id", "response", "response_json", "result_code", "error_code",
		"error_msg", "delivered_at", "fail_on_device_error"} {
		attrs[computed] = tftypes.NewValue(objType.AttributeTypes[computed], nil)
	}
	cfg, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, attrs))
	if err != nil {
		b.Fatal(err)
	}
	return &cfg
}
