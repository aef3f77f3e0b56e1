package provider

import (
	"bytes"
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Interface assertions.
var (
	_ planmodifier.Dynamic = parasRequiresReplace{}
	_ planmodifier.String  = optionalFieldRequiresReplace{}
	_ planmodifier.Map     = triggersRequiresReplace{}
)

// A new delivery (a replacement) follows what the platform would receive, not how the
// configuration writes it: these plan modifiers replace the resource only when the command
// sent would change, and leave form-only changes to an in-place update that delivers
// nothing. Like the framework's RequiresReplace they never act on create or destroy, and a
// value not known yet replaces, since it may change the command.

// sentParas is what parasJSON sends for v; ok is false when that is not known (unknown or
// invalid), which counts as a change.
func sentParas(v types.Dynamic) ([]byte, bool) {
	b, err := parasJSON(v)
	return b, err == nil
}

// parasRequiresReplace replaces the resource when the JSON object sent as paras changes.
// An object, the same object through tomap(), jsonencode() of it, or a JSON string that
// differs only in whitespace or in how a character is escaped, send the same bytes.
type parasRequiresReplace struct{}

func (parasRequiresReplace) Description(context.Context) string {
	return "A change in the JSON sent as paras replaces the resource, delivering the command again; a change " +
		"of form only (an object, tomap(), jsonencode(), whitespace or escapes in a JSON string) updates it in place."
}

func (m parasRequiresReplace) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (parasRequiresReplace) PlanModifyDynamic(_ context.Context, req planmodifier.DynamicRequest, resp *planmodifier.DynamicResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.PlanValue.Equal(req.StateValue) {
		return
	}
	before, okBefore := sentParas(req.StateValue)
	after, okAfter := sentParas(req.PlanValue)
	resp.RequiresReplace = !okBefore || !okAfter || !bytes.Equal(before, after)
}

// optionalFieldRequiresReplace replaces the resource when a field the request body leaves
// out when empty (service_id, command_name) changes: null and "" send the same body.
type optionalFieldRequiresReplace struct{}

func (optionalFieldRequiresReplace) Description(context.Context) string {
	return "A change in the value sent replaces the resource, delivering the command again; null and \"\" send " +
		"the same command (the field is left out), so a change between them updates it in place."
}

func (m optionalFieldRequiresReplace) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (optionalFieldRequiresReplace) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.PlanValue.Equal(req.StateValue) {
		return
	}
	resp.RequiresReplace = req.PlanValue.IsUnknown() || req.PlanValue.ValueString() != req.StateValue.ValueString()
}

// triggersRequiresReplace replaces the resource when a trigger changes. No triggers and an
// empty map hold the same (no) values, so a change between them updates it in place.
type triggersRequiresReplace struct{}

func (triggersRequiresReplace) Description(context.Context) string {
	return "A change in any trigger's value replaces the resource, delivering the command again; null and {} hold " +
		"no triggers alike, so a change between them updates it in place."
}

func (m triggersRequiresReplace) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (triggersRequiresReplace) PlanModifyMap(_ context.Context, req planmodifier.MapRequest, resp *planmodifier.MapResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.PlanValue.Equal(req.StateValue) {
		return
	}
	empty := func(m types.Map) bool { return m.IsNull() || (!m.IsUnknown() && len(m.Elements()) == 0) }
	resp.RequiresReplace = !(empty(req.PlanValue) && empty(req.StateValue))
}
