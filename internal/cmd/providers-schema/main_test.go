package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/zclconf/go-cty/cty"
)

// readSchema runs the command and parses what it wrote as tfplugindocs does.
func readSchema(t *testing.T) *tfjson.ProviderSchema {
	t.Helper()
	out := filepath.Join(t.TempDir(), "schema.json")
	var stderr bytes.Buffer
	if code := run([]string{"-o", out}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var schemas tfjson.ProviderSchemas
	// UnmarshalJSON also validates the format version, as tfplugindocs's reader does.
	if err := json.Unmarshal(b, &schemas); err != nil {
		t.Fatalf("the output is not a providers schema document: %v", err)
	}
	ps, ok := schemas.Schemas[providerKey]
	if !ok {
		t.Fatalf("no schema under %q: %s", providerKey, b)
	}
	return ps
}

func TestRun_WritesEverySchema(t *testing.T) {
	t.Parallel()
	ps := readSchema(t)

	if ps.ConfigSchema == nil || ps.ConfigSchema.Block.Attributes["auth_token"] == nil ||
		!ps.ConfigSchema.Block.Attributes["auth_token"].Sensitive {
		t.Errorf("the provider schema lacks the sensitive auth_token: %+v", ps.ConfigSchema)
	}
	res := ps.ResourceSchemas["iotda_device_command"]
	if res == nil {
		t.Fatalf("no resource iotda_device_command in %v", keys(ps.ResourceSchemas))
	}
	attrs := res.Block.Attributes
	if a := attrs["device_id"]; a == nil || !a.Required || !a.AttributeType.Equals(cty.String) ||
		a.DescriptionKind != tfjson.SchemaDescriptionKindMarkdown || !strings.Contains(a.Description, "128 characters") {
		t.Errorf("device_id = %+v, want a required markdown-described string", a)
	}
	if a := attrs["paras"]; a == nil || !a.AttributeType.Equals(cty.DynamicPseudoType) {
		t.Errorf("paras = %+v, want a dynamic attribute", a)
	}
	if a := attrs["triggers"]; a == nil || !a.AttributeType.Equals(cty.Map(cty.String)) {
		t.Errorf("triggers = %+v, want a map of strings", a)
	}
	if b := res.Block.NestedBlocks["timeouts"]; b == nil || b.NestingMode != tfjson.SchemaNestingModeSingle ||
		b.Block.Attributes["create"] == nil {
		t.Errorf("timeouts = %+v, want a single nested block with create", b)
	}
	if ps.DataSourceSchemas["iotda_device_command"] == nil {
		t.Errorf("no data source iotda_device_command in %v", keys(ps.DataSourceSchemas))
	}
}

func TestRun_Stdout(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr.String())
	}
	if !json.Valid(stdout.Bytes()) || !strings.Contains(stdout.String(), `"format_version": "1.0"`) {
		t.Errorf("standard output is not the schema document: %.200s", stdout.String())
	}
}

func TestRun_BadFlag(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	if code := run([]string{"-nope"}, &bytes.Buffer{}, &stderr); code != 2 {
		t.Errorf("exit status %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "-nope") {
		t.Errorf("stderr does not name the flag: %s", stderr.String())
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestToCty(t *testing.T) {
	t.Parallel()
	obj := tftypes.Object{AttributeTypes: map[string]tftypes.Type{"a": tftypes.String, "b": tftypes.Number}}
	tests := []struct {
		in   tftypes.Type
		want cty.Type
	}{
		{tftypes.String, cty.String},
		{tftypes.Number, cty.Number},
		{tftypes.Bool, cty.Bool},
		{tftypes.DynamicPseudoType, cty.DynamicPseudoType},
		{tftypes.List{ElementType: tftypes.String}, cty.List(cty.String)},
		{tftypes.Set{ElementType: tftypes.Bool}, cty.Set(cty.Bool)},
		{tftypes.Map{ElementType: obj}, cty.Map(cty.Object(map[string]cty.Type{"a": cty.String, "b": cty.Number}))},
		{tftypes.Tuple{ElementTypes: []tftypes.Type{tftypes.String, tftypes.Number}}, cty.Tuple([]cty.Type{cty.String, cty.Number})},
		{tftypes.Object{AttributeTypes: obj.AttributeTypes, OptionalAttributes: map[string]struct{}{"b": {}}},
			cty.ObjectWithOptionalAttrs(map[string]cty.Type{"a": cty.String, "b": cty.Number}, []string{"b"})},
	}
	for _, tc := range tests {
		got, err := toCty(tc.in)
		if err != nil || !got.Equals(tc.want) {
			t.Errorf("toCty(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	if _, err := toCty(nil); err == nil {
		t.Error("toCty(nil) gave no error")
	}
}
