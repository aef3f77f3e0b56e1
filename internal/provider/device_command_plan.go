package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"math/big"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Interface assertions.
var (
	_ planmodifier.Dynamic = responseFromJSON{}
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
	resp.RequiresReplace = !empty(req.PlanValue) || !empty(req.StateValue)
}

// responseFromJSON plans response as readReply makes it from the response_json in state,
// where UseStateForUnknown would copy the prior response (a replacement plans it again as
// a create, unknown). The two agree, except where Terraform itself changed the prior value:
// Terraform 1.5 (go-cty before 1.14.4) sends a whole number from 2^63 up that a float64
// holds exactly, such as 9223372036854775808, as a float64, which the provider can only
// write back as 9223372036854776000. Rebuilding response from the exact JSON keeps every
// number as the device sent it and the plan empty. When the resource is updated in place,
// Terraform 1.5 also stores the planned value that way and then finds it changed at apply
// ("inconsistent final plan"); for a reply holding such a number the planned response is
// left unknown then, and Update sets it from response_json again.
type responseFromJSON struct{}

func (responseFromJSON) Description(context.Context) string {
	return "The reply's object form, made again from response_json, which keeps every number exactly."
}

func (m responseFromJSON) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

func (responseFromJSON) PlanModifyDynamic(ctx context.Context, req planmodifier.DynamicRequest, resp *planmodifier.DynamicResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return // Create (delivered at apply) or destroy.
	}
	response, diags := responseFromState(ctx, req.State)
	resp.Diagnostics.Append(diags...)
	if req.PlanValue.IsUnknown() && holdsFloat64Whole(response) {
		return
	}
	// Also when the plan holds a value: Terraform proposes the prior one, which may be the
	// changed number.
	resp.PlanValue = response
}

// holdsFloat64Whole reports whether v holds a whole number beyond int64 that a float64
// holds exactly: the numbers Terraform 1.5 passes on as float64.
func holdsFloat64Whole(v attr.Value) bool {
	switch v := v.(type) {
	case types.Dynamic:
		return holdsFloat64Whole(v.UnderlyingValue())
	case types.Number:
		f := v.ValueBigFloat()
		if f == nil || !f.IsInt() {
			return false
		}
		_, intAcc := f.Int64()
		_, floatAcc := f.Float64()
		return intAcc != big.Exact && floatAcc == big.Exact
	case types.Object:
		for _, e := range v.Attributes() {
			if holdsFloat64Whole(e) {
				return true
			}
		}
	case types.Tuple:
		for _, e := range v.Elements() {
			if holdsFloat64Whole(e) {
				return true
			}
		}
	}
	return false
}

// responseFromState is the reply's object form made from the response_json in state.
func responseFromState(ctx context.Context, state tfsdk.State) (types.Dynamic, diag.Diagnostics) {
	var responseJSON types.String
	diags := state.GetAttribute(ctx, path.Root("response_json"), &responseJSON)
	if diags.HasError() || responseJSON.IsNull() || responseJSON.IsUnknown() {
		return types.DynamicNull(), diags
	}
	return readReply(ctx, json.RawMessage(responseJSON.ValueString())).Object, diags
}
