package provider

import (
	"context"
	"encoding/json"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The plan of iotda_batch_message. The resource is replaced, that is the message sent to
// the whole fleet again, exactly when what IoTDA would receive changes, as for
// iotda_device_message: the message (compared as sent; right after an import, as a JSON
// value, since IoTDA answers the document in its own member order and number spelling), its
// name, topic, encoding, payload format, ttl and properties, with null and the platform's
// default alike. A change of form only is an in-place update that sends nothing. The fleet's
// own arguments (targets, task name and policy, triggers) replace it through their plan
// modifiers, and planFleet plans what the saved task still needs.

// ModifyPlan replaces the resource when the message IoTDA would receive changes, and
// otherwise plans what the saved task needs (see planFleet): following it, reading its
// results, or replacing it once it ended beyond max_failed_devices.
func (r *batchMessageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var plan, state batchMessageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	justImported := imported(ctx, req.Private)
	replace := state.replacedPaths(ctx, &plan, justImported)
	resp.RequiresReplace = append(resp.RequiresReplace, replace...)
	replacing := len(replace) > 0 || state.replacedBy(&plan.fleetTask, justImported)
	planFleet(ctx, req, resp, &state, replacing)
	if replacing {
		return
	}
	var results types.String
	resp.Diagnostics.Append(resp.Plan.GetAttribute(ctx, path.Root("results"), &results)...)
	if results.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("pending_device_ids"),
			types.ListUnknown(types.StringType))...)
	}
}

// replacedPaths are the message's arguments whose change in plan sends the message again.
func (m *batchMessageModel) replacedPaths(ctx context.Context, plan *batchMessageModel, justImported bool) path.Paths {
	before, after := m.sentMessage(ctx), plan.sentMessage(ctx)
	var out path.Paths
	for _, name := range []string{"message", "name", "topic", "topic_full_name", "encoding", "payload_format", "ttl",
		"properties"} {
		b, a := before[name], after[name]
		switch {
		case !a.known || !b.known:
			out = append(out, path.Root(name))
		case name == "message" && justImported:
			if !sameJSONValue([]byte(b.sent), []byte(a.sent)) {
				out = append(out, path.Root(name))
			}
		case a.sent != b.sent:
			out = append(out, path.Root(name))
		}
	}
	return out
}

// sentMessage renders each argument of the message as IoTDA receives it (see sentArgument).
func (m *batchMessageModel) sentMessage(ctx context.Context) map[string]sentArgument {
	return map[string]sentArgument{
		"message":         sentContent(m.Message, "message"),
		"name":            sentString(m.Name, ""),
		"topic":           sentString(m.Topic, ""),
		"topic_full_name": sentString(m.TopicFullName, ""),
		"encoding":        sentString(m.Encoding, iotda.EncodingNone),
		"payload_format":  sentString(m.PayloadFormat, iotda.PayloadStandard),
		"ttl":             sentInt(m.TTL, iotda.DefaultMessageTTL),
		"properties":      sentMessageProperties(ctx, m.Properties),
	}
}

// sentMessageProperties renders properties as sent; null and an object holding nothing alike.
func sentMessageProperties(ctx context.Context, v types.Object) sentArgument {
	if v.IsUnknown() {
		return sentArgument{}
	}
	var diags diag.Diagnostics
	p := (&messageArgs{Properties: v}).properties(ctx, &diags)
	if diags.HasError() {
		return sentArgument{}
	}
	if p == nil {
		return sentArgument{known: true}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return sentArgument{}
	}
	return sentArgument{sent: string(b), known: true}
}
