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
	_ resource.Resource                = (*batchCommandResource)(nil)
	_ resource.ResourceWithConfigure   = (*batchCommandResource)(nil)
	_ resource.ResourceWithImportState = (*batchCommandResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*batchCommandResource)(nil)

	_ resource.ResourceWithConfigValidators = (*batchCommandResource)(nil)
)

// NewBatchCommandResource returns the iotda_batch_command resource.
func NewBatchCommandResource() resource.Resource {
	return &batchCommandResource{}
}

// batchCommandResource runs one createCommands batch task when it is created.
type batchCommandResource struct {
	data *providerData
}

func (r *batchCommandResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_batch_command"
}

func (r *batchCommandResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = batchCommandSchema(ctx)
}

// ConfigValidators requires exactly one way of naming the devices.
func (r *batchCommandResource) ConfigValidators(context.Context) []resource.ConfigValidator {
	return []resource.ConfigValidator{
		resourcevalidator.ExactlyOneOf(path.MatchRoot("device_ids"), path.MatchRoot("group_ids")),
	}
}

func (r *batchCommandResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
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
func (r *batchCommandResource) client(diags *diag.Diagnostics) *iotda.Client {
	if r.data == nil || r.data.client == nil {
		diags.AddError("Provider Not Configured", notConfiguredDetail(r.data, "The batch task cannot be created, read or deleted"))
		return nil
	}
	return r.data.client
}

// Create creates the task once, follows it to its end, and saves it with every device's
// result. From the moment the task may exist the state holds it, whatever happens next.
func (r *batchCommandResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan batchCommandModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	client := r.client(&resp.Diagnostics)
	if resp.Diagnostics.HasError() || client == nil {
		return
	}
	createFleet(ctx, r.data, client, &plan, &resp.State, resp.Private, &resp.Diagnostics)
}

// Read asks IoTDA only about what the state does not know yet (see refreshFleet): a finished
// task never changes, and a task IoTDA no longer has is kept as it is, since removing it would
// run the command again.
func (r *batchCommandResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var status types.String
	var failed types.List
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("status"), &status)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("failed_device_ids"), &failed)...)
	if resp.Diagnostics.HasError() || iotda.TaskFinished(status.ValueString()) {
		return // Nothing can have changed; the state stays exactly as it is.
	}
	var state batchCommandModel
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fp := loadPrivate(ctx, req.Private)
	importing := state.DeviceIDs.IsNull() && state.GroupIDs.IsNull()
	if refreshFleet(ctx, client, r.data.projectID, &state, &fp, importing, &resp.Diagnostics) {
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	savePrivate(ctx, resp.Private, fp, &resp.Diagnostics)
}

// ModifyPlan plans what the saved task still needs (see planFleet): following it, reading its
// results, or replacing it once it ended beyond max_failed_devices.
func (r *batchCommandResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var plan, state batchCommandModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	planFleet(ctx, req, resp, &state, state.replacedBy(&plan, imported(ctx, req.Private)))
}

// Update follows the saved task when the plan says so (its status or results unknown), and
// otherwise changes only what runs nothing on IoTDA (max_failed_devices,
// delete_task_on_destroy, timeouts, and arguments written differently but sent the same).
func (r *batchCommandResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state batchCommandModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	fp := loadPrivate(ctx, req.Private)
	var client *iotda.Client
	if plan.TaskID.IsUnknown() || plan.Status.IsUnknown() || plan.Results.IsUnknown() {
		if client = r.client(&resp.Diagnostics); client == nil {
			return
		}
	}
	updateFleet(ctx, client, &plan, &state, &fp, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	// The import has been reconciled with the configuration.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, nil)...)
	savePrivate(ctx, resp.Private, fp, &resp.Diagnostics)
}

// Delete forgets the task; with delete_task_on_destroy it first deletes the finished task
// from IoTDA.
func (r *batchCommandResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var del types.Bool
	var taskID types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("delete_task_on_destroy"), &del)...)
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("task_id"), &taskID)...)
	if resp.Diagnostics.HasError() || !del.ValueBool() || taskID.ValueString() == "" {
		return
	}
	var state batchCommandModel
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

// ImportState takes the id of an existing createCommands task; Read then fills the arguments
// from it.
func (r *batchCommandResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importFleetTask(ctx, req, resp)
}
