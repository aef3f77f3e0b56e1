package provider

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Validators and plan modifiers of iotda_batch_command. The plan modifiers replace the
// resource, that is run the task again, only when what IoTDA would receive changes.

// Interface assertions.
var (
	_ validator.List       = uniqueStringsValidator{}
	_ validator.String     = runeLengthAtMost{}
	_ planmodifier.List    = sameElementsRequiresReplace{}
	_ planmodifier.Map     = importedTriggersRequiresReplace{}
	_ planmodifier.Dynamic = importedParasRequiresReplace{}
)

// uniqueStringsValidator refuses a list that holds the same string twice, pointing at the
// second one, or a null, which names no target (listStrings could not send the list).
type uniqueStringsValidator struct{ what string }

func (v uniqueStringsValidator) Description(context.Context) string {
	return "each " + v.what + " must be listed once"
}

func (v uniqueStringsValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v uniqueStringsValidator) ValidateList(_ context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	first := map[string]int{}
	for i, e := range req.ConfigValue.Elements() {
		s, ok := e.(types.String)
		if ok && s.IsNull() {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Null "+titleWord(v.what)+" ID",
				fmt.Sprintf("Element %d of the list is null. Every element must be a %s ID: remove the null, "+
					"for example with compact().", i, v.what))
			return
		}
		if !ok || s.IsUnknown() {
			continue
		}
		if j, dup := first[s.ValueString()]; dup {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i), "Duplicate "+titleWord(v.what)+" ID",
				fmt.Sprintf("%s %q is listed twice, at index %d and at index %d. List each %s once.",
					titleWord(v.what), s.ValueString(), j, i, v.what))
			return
		}
		first[s.ValueString()] = i
	}
}

func titleWord(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// runeLengthAtMost limits a string's length in characters, as the platform counts them
// (stringvalidator.LengthAtMost counts bytes, and a Chinese character takes three).
type runeLengthAtMost struct{ max int }

func (v runeLengthAtMost) Description(context.Context) string {
	return fmt.Sprintf("string length must be at most %d characters", v.max)
}

func (v runeLengthAtMost) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v runeLengthAtMost) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if n := utf8.RuneCountInString(req.ConfigValue.ValueString()); n > v.max {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Attribute Value Length",
			fmt.Sprintf("Attribute %s %s, got: %d", req.Path, v.Description(ctx), n))
	}
}

// sameElementsRequiresReplace replaces the resource when a list's elements change, in any
// order: IoTDA runs a task's targets in its own order, so a reordered list is the same task.
type sameElementsRequiresReplace struct{}

func (sameElementsRequiresReplace) Description(context.Context) string {
	return "adding or removing an element runs the task again; reordering does not"
}

func (m sameElementsRequiresReplace) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (sameElementsRequiresReplace) PlanModifyList(_ context.Context, req planmodifier.ListRequest, resp *planmodifier.ListResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return // Create or destroy.
	}
	if req.PlanValue.IsUnknown() {
		resp.RequiresReplace = true
		return
	}
	resp.RequiresReplace = !sameStrings(req.PlanValue, req.StateValue)
}

// sameStrings reports whether two lists of known strings hold the same strings, in any order.
func sameStrings(a, b types.List) bool {
	if a.IsNull() || b.IsNull() {
		return a.IsNull() == b.IsNull()
	}
	as, bs := listStrings(a), listStrings(b)
	if as == nil || bs == nil || len(as) != len(bs) {
		return false
	}
	slices.Sort(as)
	slices.Sort(bs)
	return slices.Equal(as, bs)
}

// listStrings returns the strings of a list, or nil when one is null or unknown.
func listStrings(l types.List) []string {
	out := make([]string, 0, len(l.Elements()))
	for _, e := range l.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			return nil
		}
		out = append(out, s.ValueString())
	}
	return out
}

// importedTriggersRequiresReplace is triggersRequiresReplace, except on the first plan after
// an import: IoTDA does not keep triggers, so an imported resource has none and adopts the
// configuration's without running the task again.
type importedTriggersRequiresReplace struct{}

func (importedTriggersRequiresReplace) Description(ctx context.Context) string {
	return triggersRequiresReplace{}.Description(ctx) + " An imported task adopts the configuration's triggers."
}

func (m importedTriggersRequiresReplace) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (importedTriggersRequiresReplace) PlanModifyMap(ctx context.Context, req planmodifier.MapRequest, resp *planmodifier.MapResponse) {
	if !req.State.Raw.IsNull() && req.StateValue.IsNull() && req.Private != nil {
		if imported, diags := req.Private.GetKey(ctx, privateImported); !diags.HasError() && len(imported) > 0 {
			return
		}
	}
	triggersRequiresReplace{}.PlanModifyMap(ctx, req, resp)
}

// importedParasRequiresReplace is parasRequiresReplace, except right after an import: paras
// then holds the document as IoTDA answered it, not the bytes once sent, and IoTDA does not
// promise to answer with the member order or number spelling it was sent. The configuration
// then replaces the resource only when what it would send is another JSON value
// ({"b":1,"a":2} and {"a":2,"b":1}, or 1.0 and 1, are the same).
type importedParasRequiresReplace struct{}

func (importedParasRequiresReplace) Description(ctx context.Context) string {
	return parasRequiresReplace{}.Description(ctx) + " An imported task is compared as a JSON value."
}

func (m importedParasRequiresReplace) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (importedParasRequiresReplace) PlanModifyDynamic(ctx context.Context, req planmodifier.DynamicRequest, resp *planmodifier.DynamicResponse) {
	if !req.State.Raw.IsNull() && !req.Plan.Raw.IsNull() && imported(ctx, req.Private) {
		before, okBefore := sentParas(req.StateValue)
		after, okAfter := sentParas(req.PlanValue)
		resp.RequiresReplace = !okBefore || !okAfter || !sameJSONValue(before, after)
		return
	}
	parasRequiresReplace{}.PlanModifyDynamic(ctx, req, resp)
}

// replacedBy reports whether plan replaces the resource whose state is m: whether the
// arguments' plan modifiers (the same comparisons) ask for it. planFleet leaves such a plan
// alone.
func (m *batchCommandModel) replacedBy(plan *batchCommandModel, justImported bool) bool {
	sameString := func(a, b types.String) bool { return !a.IsUnknown() && a.ValueString() == b.ValueString() }
	paras := func() bool {
		before, okBefore := sentParas(m.Paras)
		after, okAfter := sentParas(plan.Paras)
		if justImported {
			return okBefore && okAfter && sameJSONValue(before, after)
		}
		return okBefore && okAfter && bytes.Equal(before, after)
	}
	same := sameString(plan.ServiceID, m.ServiceID) && sameString(plan.CommandName, m.CommandName) && paras()
	return !same || m.fleetTask.replacedBy(&plan.fleetTask, justImported)
}

// replacedBy reports whether the arguments every fleet resource has replace the resource
// whose state is f: the targets, the task's name and policy, and triggers.
func (f *fleetTask) replacedBy(plan *fleetTask, justImported bool) bool {
	triggers := func() bool {
		empty := func(v types.Map) bool { return v.IsNull() || (!v.IsUnknown() && len(v.Elements()) == 0) }
		return (justImported && f.Triggers.IsNull()) || plan.Triggers.Equal(f.Triggers) ||
			(empty(plan.Triggers) && empty(f.Triggers))
	}
	same := sameStrings(plan.DeviceIDs, f.DeviceIDs) && sameStrings(plan.GroupIDs, f.GroupIDs) &&
		(plan.TaskName.IsUnknown() || plan.TaskName.Equal(f.TaskName)) && plan.RetryCount.Equal(f.RetryCount) &&
		plan.RetryInterval.Equal(f.RetryInterval) && triggers()
	return !same
}
