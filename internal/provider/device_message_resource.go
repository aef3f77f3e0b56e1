package provider

import (
	"context"
	"fmt"
	"time"

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
	res, outcome := d.run(runCtx, &resp.Diagnostics)
	if outcome == messageNotSent {
		return
	}
	plan.clearResults()
	plan.MessageID = types.StringValue(msg.MessageID)
	plan.ID = types.StringValue(messageImportID(msg.DeviceID, msg.MessageID))
	if outcome == messageUnresolved {
		// No status: refreshes read the message by its id until IoTDA shows it.
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		setMessagePrivate(ctx, resp.Private, messagePrivate{Sent: &sentMessage{At: time.Now().UTC()}}, &resp.Diagnostics)
		return
	}
	plan.Status = types.StringValue(iotda.MessagePending)
	plan.setResult(res)
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

// Read asks IoTDA only about a message that is not final yet (or is being imported, or was
// sent without a usable answer): a final status never changes. It never sends anything, and a
// message or a device IoTDA no longer has keeps its last known state, since removing it would
// send the message again. A read that fails is a warning: the state is kept, so that plans
// still work while IoTDA cannot be read.
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
	mp := loadMessagePrivate(ctx, req.Private)
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
	var changed bool
	switch {
	case mp.Imported && state.Status.IsNull():
		changed = r.adopt(ctx, &state, &resp.Diagnostics)
	case state.Status.IsNull():
		changed = r.resolve(ctx, &state, &mp, &resp.Diagnostics)
	default:
		changed = r.refresh(ctx, &state, &resp.Diagnostics)
	}
	if !changed || resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	setMessagePrivate(ctx, resp.Private, mp, &resp.Diagnostics)
}

// show reads the message in m.
func (r *deviceMessageResource) show(ctx context.Context, m *deviceMessageModel) (*iotda.DeviceMessage, error) {
	return r.data.client.ShowDeviceMessage(ctx, iotda.MessageRef{DeviceID: m.DeviceID.ValueString(),
		MessageID: m.MessageID.ValueString(), Secret: m.secret()})
}

// adopt reads an imported message: its status and its arguments. It reports whether m
// should be saved.
func (r *deviceMessageResource) adopt(ctx context.Context, m *deviceMessageModel, diags *diag.Diagnostics) bool {
	got, err := r.show(ctx, m)
	who := fmt.Sprintf("message %s of device %q", m.MessageID.ValueString(), m.DeviceID.ValueString())
	switch {
	case noSuchMessage(err):
		diags.AddAttributeError(path.Root("id"), "Message Not Found", withRequestID(fmt.Sprintf("IoTDA has no %s in "+
			"project %q (%v), so there is nothing to import. IoTDA keeps the last 20 messages of a device, for at most "+
			"their ttl; check the IDs (ListDeviceMessages lists them) and the provider's project_id and instance_id.",
			who, r.data.projectID, err), requestIDOf(err)))
		return false
	case err != nil:
		diags.AddError(summaryMessageReadFailed, withRequestID(fmt.Sprintf("Reading %s to import it failed: %v",
			who, err), requestIDOf(err)))
		return false
	}
	m.adopt(ctx, got, diags)
	m.WaitForDelivery = types.BoolValue(true)
	m.setResult(got)
	if !knownStatus(m.Status.ValueString()) {
		diags.AddWarning(summaryMessageStatusUnknown, unknownStatusDetail(who, m.Status.ValueString(), true))
	}
	return !diags.HasError()
}

// refresh reads the message in m and records its status. It reports whether m should be
// saved.
func (r *deviceMessageResource) refresh(ctx context.Context, m *deviceMessageModel, diags *diag.Diagnostics) bool {
	deviceID, messageID := m.DeviceID.ValueString(), m.MessageID.ValueString()
	who := fmt.Sprintf("message %s of device %q", messageID, deviceID)
	got, err := r.show(ctx, m)
	switch {
	case noSuchMessage(err):
		diags.AddWarning(summaryMessageGone, withRequestID(fmt.Sprintf("IoTDA no longer has %s: %v. It keeps the "+
			"last 20 messages of a device, for at most their ttl, and forgets those of a deleted device.\n\nThe "+
			"resource keeps its last known status (%s) and is not sent again because of this. Remove it with "+
			"terraform state rm once it is no longer needed, or replace it (terraform apply -replace=...) to send "+
			"the message again.", who, err, firstNonEmpty(m.Status.ValueString(), "unknown")), requestIDOf(err)))
		return false
	case err != nil:
		diags.AddWarning(summaryMessageReadFailed, withRequestID(fmt.Sprintf("Reading the status of %s failed: %v"+
			"\n\nThe state keeps the status last seen (%s), so that plans go on; the next refresh reads it again. "+
			"Nothing is sent because of this.", who, err, m.Status.ValueString()), requestIDOf(err)))
		return false
	}
	before := m.Status.ValueString()
	m.setResult(got)
	now := m.Status.ValueString()
	switch {
	case !knownStatus(now):
		diags.AddWarning(summaryMessageStatusUnknown, withRequestID(unknownStatusDetail(who, now, true), got.RequestID))
	case now != before && (now == iotda.MessageFailed || now == iotda.MessageTimeout):
		summary, detail := notDeliveredDetail(deviceID, messageID, got, m.ttlMinutes())
		diags.AddWarning(summary, withRequestID(detail+"\n\nThe next apply sends the message again (the plan shows a "+
			"replacement).", got.RequestID))
	}
	tflog.Debug(ctx, "read the message's status", map[string]any{"device_id": deviceID, "message_id": messageID,
		"status": now})
	return true
}

// messageAppearWithin is how long after its send a message whose create got no usable answer
// may first be shown by IoTDA. How long its gateway may hold a request before passing it on
// is not documented (UNCONFIRMED); two minutes is well beyond an API gateway's usual time
// limit for a backend (60 s), as for a batch task. Past it, a message still not found is
// most likely not on IoTDA: the warning then says how to send it.
const messageAppearWithin = 2 * time.Minute

// resolve looks for a message whose create got no usable answer, by its id: found, its
// status is recorded from then on; not found, the resource is kept as it is, and never sent
// again because of this. It reports whether m should be saved.
func (r *deviceMessageResource) resolve(ctx context.Context, m *deviceMessageModel, mp *messagePrivate,
	diags *diag.Diagnostics,
) bool {
	deviceID, messageID := m.DeviceID.ValueString(), m.MessageID.ValueString()
	who := fmt.Sprintf("message %s to device %q", messageID, deviceID)
	got, err := r.show(ctx, m)
	if err == nil {
		m.setResult(got)
		if m.Status.IsNull() {
			m.Status = types.StringValue(iotda.MessagePending) // Shown without a status: it is there.
		}
		mp.Sent = nil
		diags.AddWarning(summaryMessageFoundByID, withRequestID(fmt.Sprintf("The request sending %s got no usable "+
			"answer, so the message was saved without a status. IoTDA now shows it by its ID, with status %s: it "+
			"was sent once, and is followed from now on like any other.", who, m.Status.ValueString()), got.RequestID))
		if !knownStatus(m.Status.ValueString()) {
			diags.AddWarning(summaryMessageStatusUnknown, unknownStatusDetail(who, m.Status.ValueString(), true))
		}
		return true
	}
	sent := "at an unknown time"
	late := true
	if mp.Sent != nil {
		sent = "at " + mp.Sent.At.Format(time.RFC3339)
		late = time.Since(mp.Sent.At) > messageAppearWithin
	}
	detail := fmt.Sprintf("The request sending %s %s got no usable answer, and the message is saved without a "+
		"status. ", who, sent)
	switch {
	case err != nil && !noSuchMessage(err):
		detail += fmt.Sprintf("Reading it by its ID failed: %v. The next refresh reads it again.", err)
	case late:
		detail += fmt.Sprintf("IoTDA still does not show it (%v), %s after the request: most likely IoTDA did not "+
			"take the request (or has already dropped the message: it keeps the last 20 messages of a device, for "+
			"at most their ttl).", err, messageAppearWithin)
	default:
		detail += fmt.Sprintf("IoTDA does not show it yet (%v); a request held on its way may still deliver it. The "+
			"next refresh reads it again.", err)
	}
	detail += "\n\nThe message is not sent again on its own: a second request could reach the device twice. To " +
		"send it, run terraform apply -replace=<address>; to forget it, terraform state rm <address>."
	diags.AddWarning(summaryMessageNotFoundYet, withRequestID(detail, requestIDOf(err)))
	return false
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
	mp := loadMessagePrivate(ctx, req.Private)
	mp.Imported = false // The configuration is adopted.
	setMessagePrivate(ctx, resp.Private, mp, &resp.Diagnostics)
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
	setMessagePrivate(ctx, resp.Private, messagePrivate{Imported: true}, &resp.Diagnostics)
}
