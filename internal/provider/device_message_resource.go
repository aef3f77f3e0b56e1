package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Interface assertions.
var (
	_ resource.Resource                   = (*deviceMessageResource)(nil)
	_ resource.ResourceWithConfigure      = (*deviceMessageResource)(nil)
	_ resource.ResourceWithImportState    = (*deviceMessageResource)(nil)
	_ resource.ResourceWithValidateConfig = (*deviceMessageResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*deviceMessageResource)(nil)
)

// NewDeviceMessageResource returns the iotda_device_message resource.
func NewDeviceMessageResource() resource.Resource {
	return &deviceMessageResource{}
}

// deviceMessageResource sends a message once, when it is created, and follows its status.
type deviceMessageResource struct {
	data *providerData
}

func (r *deviceMessageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_message"
}

func (r *deviceMessageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return // Not configured yet (validation); Create reports a missing client.
	}
	data, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *provider.providerData, got %T. Please report this issue to the provider developers.", req.ProviderData))
		return
	}
	r.data = data
}

// Create sends the message once and follows it. From the moment IoTDA has accepted it the
// state holds it, whatever happens next: FAILED and TIMEOUT are errors with the state saved
// (so the next apply sends it again), and a message still PENDING is a warning.
func (r *deviceMessageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan deviceMessageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultMessageCreateTimeout)
	resp.Diagnostics.Append(diags...)
	content, secret, ok := plan.contentFromConfig(ctx, req.Config, &resp.Diagnostics)
	if !ok || resp.Diagnostics.HasError() {
		return
	}
	msg, ok := plan.request(ctx, content, secret, &resp.Diagnostics)
	if !ok {
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := messageDelivery{pd: r.data, msg: msg, wait: plan.WaitForDelivery.ValueBool(), use: messageForResource,
		timeout: timeout, progress: func(s string) { tflog.Info(ctx, s) }}
	res, accepted := d.run(runCtx, &resp.Diagnostics)
	if !accepted {
		return
	}
	plan.clearResults()
	plan.MessageID = types.StringValue(msg.MessageID)
	plan.Status = types.StringValue(iotda.MessagePending)
	plan.setResult(res)
	plan.ID = types.StringValue(messageImportID(msg.DeviceID, msg.MessageID))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// ValidateConfig requires exactly one of message and message_wo, message_wo_version exactly
// with message_wo, and base64 content where encoding asks for it. A value not known yet
// counts as set.
func (r *deviceMessageResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var message, messageWO types.Dynamic
	var version types.Int64
	var encoding, payloadFormat types.String
	for name, target := range map[string]any{"message": &message, "message_wo": &messageWO,
		"message_wo_version": &version, "encoding": &encoding, "payload_format": &payloadFormat} {
		resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root(name), target)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	hasMessage, hasWO := !message.IsNull(), !messageWO.IsNull()
	switch {
	case hasMessage && hasWO:
		resp.Diagnostics.AddAttributeError(path.Root("message_wo"), "Conflicting Message",
			"message and message_wo are both set. Set message, or set message_wo (write-only, for content that must "+
				"stay out of the plan and the state) with message_wo_version, not both.")
	case !hasMessage && !hasWO:
		resp.Diagnostics.AddAttributeError(path.Root("message"), "Missing Message",
			"The message needs its content: set message, such as message = { interval = 900 } or message = \"reboot\", "+
				"or set message_wo with message_wo_version for content that must stay out of the plan and the state "+
				"(Terraform or OpenTofu 1.11 or newer).")
	case hasWO && version.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("message_wo_version"), "Missing Message Version",
			"message_wo is write-only, so Terraform cannot see it change. Set message_wo_version to a number, such as "+
				"message_wo_version = 1, and change it whenever message_wo changes to send the message again.")
	case !hasWO && !version.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("message_wo_version"), "Message Version Without Write-Only Message",
			"message_wo_version only applies with message_wo. Remove it, or move the content from message to message_wo.")
	}
	if hasWO {
		validateMessageConfig(messageWO, "message_wo", encoding, payloadFormat, &resp.Diagnostics)
	} else {
		validateMessageConfig(message, "message", encoding, payloadFormat, &resp.Diagnostics)
	}
}

// Read asks IoTDA only about a message that is not final yet (or is being imported): a final
// status never changes. It never sends anything, and a message or a device IoTDA no longer
// has keeps its last known state, since removing it would send the message again.
func (r *deviceMessageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var status types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("status"), &status)...)
	if resp.Diagnostics.HasError() || iotda.MessageFinal(status.ValueString()) {
		return // Nothing can have changed; the state stays exactly as it is.
	}
	var state deviceMessageModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// ImportState sets no status: the first read fills the resource from IoTDA.
	importing := state.Status.IsNull()
	timeout, diags := state.Timeouts.Read(ctx, defaultMessageReadTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.data == nil || r.data.client == nil {
		resp.Diagnostics.AddError("Provider Not Configured", notConfiguredDetail(r.data,
			fmt.Sprintf("Message %s of device %q cannot be read", state.MessageID.ValueString(), state.DeviceID.ValueString())))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if !r.refresh(ctx, &state, importing, &resp.Diagnostics) {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// refresh reads the message in m and records its status; for an import also its arguments.
// It reports whether m should be saved.
func (r *deviceMessageResource) refresh(ctx context.Context, m *deviceMessageModel, importing bool, diags *diag.Diagnostics) bool {
	deviceID, messageID := m.DeviceID.ValueString(), m.MessageID.ValueString()
	who := fmt.Sprintf("message %s of device %q", messageID, deviceID)
	got, err := r.data.client.ShowDeviceMessage(ctx, iotda.MessageRef{DeviceID: deviceID, MessageID: messageID,
		Secret: m.secret()})
	switch {
	case err != nil && importing && (errors.Is(err, iotda.ErrMessageNotFound) || errors.Is(err, iotda.ErrNotFound)):
		diags.AddAttributeError(path.Root("id"), "Message Not Found", withRequestID(fmt.Sprintf("IoTDA has no %s in "+
			"project %q (%v), so there is nothing to import. IoTDA keeps the last 20 messages of a device, for at most "+
			"their ttl; check the IDs (ListDeviceMessages lists them) and the provider's project_id and instance_id.",
			who, r.data.projectID, err), requestIDOf(err)))
		return false
	case errors.Is(err, iotda.ErrMessageNotFound), errors.Is(err, iotda.ErrNotFound):
		diags.AddWarning(summaryMessageGone, withRequestID(fmt.Sprintf("IoTDA no longer has %s: %v. It keeps the "+
			"last 20 messages of a device, for at most their ttl, and forgets those of a deleted device.\n\nThe "+
			"resource keeps its last known status (%s) and is not sent again because of this. Remove it with "+
			"terraform state rm once it is no longer needed, or replace it (terraform apply -replace=...) to send "+
			"the message again.", who, err, firstNonEmpty(m.Status.ValueString(), "unknown")), requestIDOf(err)))
		return false
	case err != nil:
		diags.AddError(summaryMessageReadFailed, withRequestID(fmt.Sprintf("Reading the status of %s failed: %v",
			who, err), requestIDOf(err)))
		return false
	}
	if importing {
		m.adopt(ctx, got, diags)
		m.WaitForDelivery = types.BoolValue(true)
	}
	before := m.Status.ValueString()
	m.setResult(got)
	if now := m.Status.ValueString(); now != before && (now == iotda.MessageFailed || now == iotda.MessageTimeout) && !importing {
		summary, detail := notDeliveredDetail(deviceID, messageID, got, int(sentInt64(m.TTL, iotda.DefaultMessageTTL)))
		diags.AddWarning(summary, withRequestID(detail+"\n\nThe next apply sends the message again (the plan shows a "+
			"replacement).", got.RequestID))
	}
	tflog.Debug(ctx, "read the message's status", map[string]any{"device_id": deviceID, "message_id": messageID,
		"status": m.Status.ValueString()})
	return !diags.HasError()
}

// sentInt64 is v, or def when it is null or unknown.
func sentInt64(v types.Int64, def int64) int64 {
	if v.IsNull() || v.IsUnknown() {
		return def
	}
	return v.ValueInt64()
}

// Update happens for wait_for_delivery and timeouts, which send nothing, for changes of form
// only, and for an imported resource adopting its configuration (see ModifyPlan). It sends
// nothing: the results are kept from the state.
func (r *deviceMessageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state deviceMessageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.messageResults = state.messageResults
	plan.ID = state.ID
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, nil)...)
}

// Delete only forgets the message: a sent message cannot be taken back, and IoTDA keeps its
// record until newer messages replace it.
func (r *deviceMessageResource) Delete(_ context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
}

// ImportState takes device_id/message_id; Read then fills the arguments from IoTDA.
func (r *deviceMessageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	deviceID, messageID, err := parseMessageImportID(req.ID)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Invalid Message Import ID", fmt.Sprintf("%v. Import a "+
			"message as device_id/message_id, such as meter-17/99b32da9-cd17-4cdf-a286-f6e849cbc364 (the message_id "+
			"of ListDeviceMessages, or of another resource's state).", err))
		return
	}
	for attr, v := range map[string]any{"id": req.ID, "device_id": deviceID, "message_id": messageID} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, []byte(`true`))...)
}
