package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The plan of iotda_device_message. A message is sent when the resource is created, so the
// resource is replaced (the message sent again) exactly when what IoTDA would receive
// changes, as for iotda_device_command's paras: a change of form only (the same object
// through tomap(), null and "" for a name, null and the platform's default for encoding,
// payload_format or ttl) is an in-place update that sends nothing and keeps the results. And
// a message that ended FAILED or TIMEOUT is planned for replacement, so that the next apply
// sends it again, as Terraform does with the tainted resource a failed create leaves.

// sentArgument is one argument as IoTDA receives it: known is false when the plan does not
// know it yet, which counts as a change.
type sentArgument struct {
	sent  string
	known bool
}

// sentArguments renders every argument that decides what IoTDA receives; for an imported
// resource not yet adopted, those IoTDA shows but its content.
func sentArguments(ctx context.Context, m *deviceMessageModel, imported bool) map[string]sentArgument {
	out := map[string]sentArgument{
		"device_id":       sentString(m.DeviceID, ""),
		"message":         sentContent(m.Message, "message"),
		"name":            sentString(m.Name, ""),
		"encoding":        sentString(m.Encoding, iotda.EncodingNone),
		"payload_format":  sentString(m.PayloadFormat, iotda.PayloadStandard),
		"properties":      sentProperties(ctx, m),
		"topic":           sentString(m.Topic, ""),
		"topic_full_name": sentString(m.TopicFullName, ""),
	}
	if imported {
		// One topic field stands for both on IoTDA: compare where the message goes. The
		// content is compared by ModifyPlan with what IoTDA shows.
		where := messageTopic(m.DeviceID.ValueString(), m.Topic.ValueString(), m.TopicFullName.ValueString())
		topic := sentArgument{sent: where, known: !m.Topic.IsUnknown() && !m.TopicFullName.IsUnknown()}
		out["topic"], out["topic_full_name"] = topic, topic
		delete(out, "message")
		return out
	}
	out["ttl"] = sentInt(m.TTL, iotda.DefaultMessageTTL)
	out["message_wo_version"] = sentInt(m.MessageWOVersion, -1)
	out["triggers"] = sentTriggers(m.Triggers)
	return out
}

func sentString(v types.String, def string) sentArgument {
	if v.IsUnknown() {
		return sentArgument{}
	}
	if v.IsNull() || v.ValueString() == "" {
		return sentArgument{sent: def, known: true}
	}
	return sentArgument{sent: v.ValueString(), known: true}
}

func sentInt(v types.Int64, def int64) sentArgument {
	switch {
	case v.IsUnknown():
		return sentArgument{}
	case v.IsNull():
		return sentArgument{sent: strconv.FormatInt(def, 10), known: true}
	}
	return sentArgument{sent: strconv.FormatInt(v.ValueInt64(), 10), known: true}
}

// sentContent is the JSON sent for a message; null (the write-only variant in use) sends
// nothing here.
func sentContent(v types.Dynamic, attr string) sentArgument {
	if v.IsNull() {
		return sentArgument{known: true}
	}
	content, err := messageContent(v, attr)
	if err != nil {
		return sentArgument{}
	}
	return sentArgument{sent: string(content), known: true}
}

func sentProperties(ctx context.Context, m *deviceMessageModel) sentArgument {
	if m.Properties.IsUnknown() {
		return sentArgument{}
	}
	var diags diag.Diagnostics
	p := m.properties(ctx, &diags)
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

// sentTriggers renders triggers; null and {} hold no triggers alike.
func sentTriggers(v types.Map) sentArgument {
	if v.IsUnknown() {
		return sentArgument{}
	}
	elems := map[string]string{}
	for k, e := range v.Elements() {
		s, ok := e.(types.String)
		if !ok || s.IsUnknown() {
			return sentArgument{}
		}
		elems[k] = s.ValueString()
	}
	b, err := json.Marshal(elems) // Sorted keys.
	if err != nil {
		return sentArgument{}
	}
	return sentArgument{sent: string(b), known: true}
}

// ModifyPlan replaces the resource when what IoTDA would receive changes or the message
// ended FAILED or TIMEOUT, and otherwise keeps the results of the message already sent.
func (r *deviceMessageResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return // Create (sent at apply) or destroy.
	}
	var plan, state deviceMessageModel
	var messageWO types.Dynamic
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("message_wo"), &messageWO)...)
	if resp.Diagnostics.HasError() {
		return
	}
	imported := loadMessagePrivate(ctx, req.Private).Imported
	before := sentArguments(ctx, &state, imported)
	after := sentArguments(ctx, &plan, imported)
	var replace path.Paths
	for name, a := range after {
		if b := before[name]; !a.known || !b.known || a.sent != b.sent {
			replace = append(replace, path.Root(name))
		}
	}
	if imported && !r.sameImportedContent(ctx, &state, plan.Message, messageWO, &resp.Diagnostics) {
		// Terraform replaces for a path whose value changes: message from null to the
		// configuration's, or, for write-only content, message_wo_version from null (an
		// import sets none) to the configuration's.
		at := path.Root("message")
		if plan.Message.IsNull() {
			at = path.Root("message_wo_version")
		}
		replace = append(replace, at)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if len(replace) == 0 && (state.Status.ValueString() == iotda.MessageFailed ||
		state.Status.ValueString() == iotda.MessageTimeout) {
		replace = path.Paths{path.Root("status")}
	}
	if len(replace) > 0 {
		resp.RequiresReplace = replace
		plan.unknownResults()
		plan.ID = types.StringUnknown()
	} else {
		plan.messageResults = state.messageResults
		plan.ID = state.ID
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// sameImportedContent reports whether the configuration's content (message, or the
// write-only message_wo) is what IoTDA shows for the imported message in state, compared as
// JSON values. The state does not hold the content (see adopt), so the plan reads it: only
// until the first apply adopts the configuration. The content is never logged or shown.
// When IoTDA no longer has the message, the configuration is adopted with a warning: nothing
// can be compared, and sending it again is the user's choice (-replace). A read that fails
// otherwise is an error: the plan cannot tell whether the apply would send the message.
func (r *deviceMessageResource) sameImportedContent(ctx context.Context, state *deviceMessageModel, message,
	messageWO types.Dynamic, diags *diag.Diagnostics,
) bool {
	attrName, v := "message", message
	if message.IsNull() && !messageWO.IsNull() {
		attrName, v = "message_wo", messageWO
	}
	want := sentContent(v, attrName)
	if !want.known {
		return false // Not known until the apply: a new message.
	}
	who := fmt.Sprintf("imported message %s of device %q", state.MessageID.ValueString(), state.DeviceID.ValueString())
	if r.data == nil || r.data.client == nil {
		diags.AddError("Provider Not Configured", notConfiguredDetail(r.data,
			"The content of the "+who+" cannot be compared with "+attrName))
		return true
	}
	got, err := r.data.client.ShowDeviceMessage(ctx, iotda.MessageRef{DeviceID: state.DeviceID.ValueString(),
		MessageID: state.MessageID.ValueString(), Secret: true})
	switch {
	case noSuchMessage(err):
		diags.AddWarning(summaryMessageGone, withRequestID(fmt.Sprintf("IoTDA no longer has the %s (%v), so its "+
			"content cannot be compared with %s. The configuration is adopted as it is, and nothing is sent; to send "+
			"the message, run terraform apply -replace=<address>.", who, err, attrName), requestIDOf(err)))
		return true
	case err != nil:
		diags.AddError(summaryMessageReadFailed, withRequestID(fmt.Sprintf("Reading the %s to compare its content "+
			"with %s failed: %v\n\nNothing was sent. Plan again once IoTDA can be read.", who, attrName, err),
			requestIDOf(err)))
		return true
	}
	return len(got.Message) > 0 && sameJSONValue([]byte(want.sent), got.Message)
}
