package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/resourcevalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Interface assertions.
var (
	_ resource.Resource                     = (*batchMessageResource)(nil)
	_ resource.ResourceWithConfigure        = (*batchMessageResource)(nil)
	_ resource.ResourceWithImportState      = (*batchMessageResource)(nil)
	_ resource.ResourceWithModifyPlan       = (*batchMessageResource)(nil)
	_ resource.ResourceWithConfigValidators = (*batchMessageResource)(nil)
	_ resource.ResourceWithValidateConfig   = (*batchMessageResource)(nil)
)

// NewBatchMessageResource returns the iotda_batch_message resource.
func NewBatchMessageResource() resource.Resource {
	return &batchMessageResource{}
}

// batchMessageResource runs one createMessages batch task when it is created, and follows
// each device's message until it is final.
type batchMessageResource struct {
	data *providerData
}

func (r *batchMessageResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_message"
}

func (r *batchMessageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = batchMessageSchema(ctx)
}

// ConfigValidators requires exactly one way of naming the devices.
func (r *batchMessageResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("device_ids"), path.MatchRoot("group_ids")),
	}
}

// ValidateConfig checks the rules that join the message's arguments: a base64 encoding
// takes a string holding base64, and is raw only.
func (r *batchMessageResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var message types.Dynamic
	var encoding, payloadFormat types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("message"), &message)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("encoding"), &encoding)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("payload_format"), &payloadFormat)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateMessageConfig(message, "message", encoding, payloadFormat, &resp.Diagnostics)
}

func (r *batchMessageResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
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

// client returns the API client, or reports why there is none.
func (r *batchMessageResource) client(diags *diag.Diagnostics) *iotda.Client {
	if r.data == nil || r.data.client == nil {
		diags.AddError("Provider Not Configured", notConfiguredDetail(r.data, "The batch task cannot be created, read or deleted"))
		return nil
	}
	return r.data.client
}

// Create generates the message's id, creates the task once, follows it until IoTDA has
// accepted the message for every device, and saves it with every device's result. From the
// moment the task may exist the state holds it, whatever happens next. Devices still
// pending are a warning, not an error.
func (r *batchMessageResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan batchMessageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	client := r.client(&resp.Diagnostics)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	id, err := iotda.NewMessageID()
	if err != nil {
		resp.Diagnostics.AddError("Cannot Generate a Message ID", "Generating a random message_id failed: "+err.Error())
		return
	}
	plan.MessageID = types.StringValue(id)
	createFleet(ctx, r.data, client, &plan, &resp.State, resp.Private, &resp.Diagnostics)
	plan.addPendingWarning(&resp.Diagnostics)
}

// Read asks IoTDA only about what the state does not know yet: a task still running or not
// found yet (see refreshFleet), or the status of the devices whose message is still pending.
// It never sends anything; a final status never changes, and a task or message IoTDA no
// longer has is kept as it is, since removing it would send the message again.
func (r *batchMessageResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var status types.String
	var pending types.List
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("status"), &status)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("pending_device_ids"), &pending)...)
	if resp.Diagnostics.HasError() || (iotda.TaskFinished(status.ValueString()) && len(pending.Elements()) == 0) {
		return // Nothing can have changed; the state stays exactly as it is.
	}
	var state batchMessageModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Read(ctx, defaultBatchReadTimeout)
	resp.Diagnostics.Append(diags...)
	client := r.client(&resp.Diagnostics)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(withBatchLog(ctx), timeout)
	defer cancel()
	fp := loadPrivate(ctx, req.Private)
	importing := state.DeviceIDs.IsNull() && state.GroupIDs.IsNull()
	var changed bool
	if state.finished() && state.resultsRead() && !importing {
		changed = state.refreshPending(ctx, client, &fp, &resp.Diagnostics)
	} else {
		changed = refreshFleet(ctx, client, r.data.projectID, &state, &fp, importing, &resp.Diagnostics)
	}
	if changed {
		state.settle()
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	savePrivate(ctx, resp.Private, fp, &resp.Diagnostics)
}

// Update follows the saved task when the plan says so (its status or results unknown), and
// otherwise changes only what sends nothing (max_failed_devices, delete_task_on_destroy,
// timeouts, and arguments written differently but sent the same).
func (r *batchMessageResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state batchMessageModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	fp := loadPrivate(ctx, req.Private)
	var client *iotda.Client
	following := plan.TaskID.IsUnknown() || plan.Status.IsUnknown() || plan.Results.IsUnknown()
	if following {
		if client = r.client(&resp.Diagnostics); client == nil {
			return
		}
	}
	// The message sent is the one the state knows: its id finds the task and each device's message.
	plan.MessageID = state.MessageID
	updateFleet(ctx, client, &plan, &state, &fp, &resp.Diagnostics)
	plan.settle()
	if following {
		plan.addPendingWarning(&resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	// The import has been reconciled with the configuration.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, nil)...)
	savePrivate(ctx, resp.Private, fp, &resp.Diagnostics)
}

// Delete forgets the task; with delete_task_on_destroy it first deletes the finished task
// from IoTDA. The messages IoTDA holds for pending devices are not taken back: whether
// deleting a task or a message cancels a delivery is not documented.
func (r *batchMessageResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var del types.Bool
	var taskID types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("delete_task_on_destroy"), &del)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("task_id"), &taskID)...)
	if resp.Diagnostics.HasError() || !del.ValueBool() || taskID.ValueString() == "" {
		return
	}
	var state batchMessageModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, diags := state.Timeouts.Delete(ctx, defaultBatchDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	client := r.client(&resp.Diagnostics)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deleteFleetTask(ctx, client, taskID.ValueString(), state.Status.ValueString(), &resp.Diagnostics)
}

// ImportState takes the id of an existing createMessages task; Read then fills the arguments
// from it.
func (r *batchMessageResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importFleetTask(ctx, req, resp)
}
