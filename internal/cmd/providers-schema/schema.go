package main

import (
	"context"
	"errors"
	"fmt"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/zclconf/go-cty/cty"
)

// providerKey is the key of the provider in the output. tfplugindocs looks the schema up by
// the provider's short name (or registry.terraform.io/hashicorp/{name}), not by its full
// address, when it reads a schema file.
const providerKey = "iotda"

// formatVersion is the format version `terraform providers schema -json` writes.
const formatVersion = "1.0"

// providersSchema asks the provider server for its schema and converts it to the JSON
// document `terraform providers schema -json` would print for it.
func providersSchema(ctx context.Context, server tfprotov6.ProviderServer) (*tfjson.ProviderSchemas, error) {
	resp, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, d := range resp.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			errs = append(errs, fmt.Errorf("%s: %s", d.Summary, d.Detail))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("the provider's schema has errors: %w", errors.Join(errs...))
	}
	ps := &tfjson.ProviderSchema{}
	var c converter
	ps.ConfigSchema = c.schema(resp.Provider)
	ps.ResourceSchemas = c.schemas(resp.ResourceSchemas)
	ps.DataSourceSchemas = c.schemas(resp.DataSourceSchemas)
	ps.EphemeralResourceSchemas = c.schemas(resp.EphemeralResourceSchemas)
	if len(resp.ActionSchemas) > 0 {
		ps.ActionSchemas = map[string]*tfjson.ActionSchema{}
		for name, a := range resp.ActionSchemas {
			ps.ActionSchemas[name] = &tfjson.ActionSchema{Block: c.block(a.Schema.Block)}
		}
	}
	if len(resp.Functions) > 0 {
		c.fail(errors.New("provider functions are not converted; extend providers-schema"))
	}
	if c.err != nil {
		return nil, c.err
	}
	return &tfjson.ProviderSchemas{FormatVersion: formatVersion, Schemas: map[string]*tfjson.ProviderSchema{providerKey: ps}}, nil
}

// converter turns protocol schemas into their JSON form, keeping the first error.
type converter struct {
	err error
}

func (c *converter) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *converter) schemas(in map[string]*tfprotov6.Schema) map[string]*tfjson.Schema {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]*tfjson.Schema, len(in))
	for name, s := range in {
		out[name] = c.schema(s)
	}
	return out
}

func (c *converter) schema(s *tfprotov6.Schema) *tfjson.Schema {
	if s == nil {
		return nil
	}
	if s.Version < 0 {
		c.fail(fmt.Errorf("negative schema version %d", s.Version))
	}
	return &tfjson.Schema{Version: uint64(max(s.Version, 0)), Block: c.block(s.Block)}
}

func (c *converter) block(b *tfprotov6.SchemaBlock) *tfjson.SchemaBlock {
	if b == nil {
		return &tfjson.SchemaBlock{DescriptionKind: tfjson.SchemaDescriptionKindPlain}
	}
	out := &tfjson.SchemaBlock{
		Description:     b.Description,
		DescriptionKind: descriptionKind(b.DescriptionKind),
		Deprecated:      b.Deprecated,
	}
	if len(b.Attributes) > 0 {
		out.Attributes = c.attributes(b.Attributes)
	}
	if len(b.BlockTypes) > 0 {
		out.NestedBlocks = map[string]*tfjson.SchemaBlockType{}
		for _, nb := range b.BlockTypes {
			out.NestedBlocks[nb.TypeName] = &tfjson.SchemaBlockType{
				NestingMode: c.blockNesting(nb.Nesting),
				Block:       c.block(nb.Block),
				MinItems:    uint64(max(nb.MinItems, 0)),
				MaxItems:    uint64(max(nb.MaxItems, 0)),
			}
		}
	}
	return out
}

func (c *converter) attributes(attrs []*tfprotov6.SchemaAttribute) map[string]*tfjson.SchemaAttribute {
	out := make(map[string]*tfjson.SchemaAttribute, len(attrs))
	for _, a := range attrs {
		sa := &tfjson.SchemaAttribute{
			Description:     a.Description,
			DescriptionKind: descriptionKind(a.DescriptionKind),
			Deprecated:      a.Deprecated,
			Required:        a.Required,
			Optional:        a.Optional,
			Computed:        a.Computed,
			Sensitive:       a.Sensitive,
			WriteOnly:       a.WriteOnly,
		}
		if a.NestedType != nil {
			sa.AttributeNestedType = &tfjson.SchemaNestedAttributeType{
				Attributes:  c.attributes(a.NestedType.Attributes),
				NestingMode: c.objectNesting(a.NestedType.Nesting),
			}
		} else {
			sa.AttributeType = c.ctyType(a.Name, a.Type)
		}
		out[a.Name] = sa
	}
	return out
}

// ctyType converts a protocol type to the cty type Terraform writes for it.
func (c *converter) ctyType(name string, t tftypes.Type) cty.Type {
	ct, err := toCty(t)
	if err != nil {
		c.fail(fmt.Errorf("attribute %q: %w", name, err))
		return cty.NilType
	}
	return ct
}

func toCty(t tftypes.Type) (cty.Type, error) {
	switch {
	case t == nil:
		return cty.NilType, errors.New("no type")
	case t.Is(tftypes.String):
		return cty.String, nil
	case t.Is(tftypes.Number):
		return cty.Number, nil
	case t.Is(tftypes.Bool):
		return cty.Bool, nil
	case t.Is(tftypes.DynamicPseudoType):
		return cty.DynamicPseudoType, nil
	}
	switch t := t.(type) {
	case tftypes.List:
		et, err := toCty(t.ElementType)
		return cty.List(et), err
	case tftypes.Set:
		et, err := toCty(t.ElementType)
		return cty.Set(et), err
	case tftypes.Map:
		et, err := toCty(t.ElementType)
		return cty.Map(et), err
	case tftypes.Tuple:
		elems := make([]cty.Type, len(t.ElementTypes))
		for i, e := range t.ElementTypes {
			et, err := toCty(e)
			if err != nil {
				return cty.NilType, err
			}
			elems[i] = et
		}
		return cty.Tuple(elems), nil
	case tftypes.Object:
		attrs := make(map[string]cty.Type, len(t.AttributeTypes))
		for name, a := range t.AttributeTypes {
			at, err := toCty(a)
			if err != nil {
				return cty.NilType, err
			}
			attrs[name] = at
		}
		if len(t.OptionalAttributes) == 0 {
			return cty.Object(attrs), nil
		}
		optional := make([]string, 0, len(t.OptionalAttributes))
		for name := range t.OptionalAttributes {
			optional = append(optional, name)
		}
		return cty.ObjectWithOptionalAttrs(attrs, optional), nil
	}
	return cty.NilType, fmt.Errorf("unsupported type %s", t)
}

func descriptionKind(k tfprotov6.StringKind) tfjson.SchemaDescriptionKind {
	if k == tfprotov6.StringKindMarkdown {
		return tfjson.SchemaDescriptionKindMarkdown
	}
	return tfjson.SchemaDescriptionKindPlain
}

func (c *converter) blockNesting(m tfprotov6.SchemaNestedBlockNestingMode) tfjson.SchemaNestingMode {
	switch m {
	case tfprotov6.SchemaNestedBlockNestingModeSingle:
		return tfjson.SchemaNestingModeSingle
	case tfprotov6.SchemaNestedBlockNestingModeGroup:
		return tfjson.SchemaNestingModeGroup
	case tfprotov6.SchemaNestedBlockNestingModeList:
		return tfjson.SchemaNestingModeList
	case tfprotov6.SchemaNestedBlockNestingModeSet:
		return tfjson.SchemaNestingModeSet
	case tfprotov6.SchemaNestedBlockNestingModeMap:
		return tfjson.SchemaNestingModeMap
	}
	c.fail(fmt.Errorf("unknown block nesting mode %v", m))
	return ""
}

func (c *converter) objectNesting(m tfprotov6.SchemaObjectNestingMode) tfjson.SchemaNestingMode {
	switch m {
	case tfprotov6.SchemaObjectNestingModeSingle:
		return tfjson.SchemaNestingModeSingle
	case tfprotov6.SchemaObjectNestingModeList:
		return tfjson.SchemaNestingModeList
	case tfprotov6.SchemaObjectNestingModeSet:
		return tfjson.SchemaNestingModeSet
	case tfprotov6.SchemaObjectNestingModeMap:
		return tfjson.SchemaNestingModeMap
	}
	c.fail(fmt.Errorf("unknown attribute nesting mode %v", m))
	return ""
}
