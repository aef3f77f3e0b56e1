package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The CRUD steps of a fleet resource, over its fleetWork. A resource reads the plan or state
// into its model, calls these, and saves the model; they hold no Terraform glue of their own
// beyond the private state.

// createFleet creates the task of w (the plan), follows it and reads its results. From the
// moment the task may exist the state keeps it, whatever happens next.
func createFleet(ctx context.Context, pd *providerData, client *iotda.Client, w fleetWork, state *tfsdk.State,
	private privateSetter, diags *diag.Diagnostics,
) {
	ctx = withBatchLog(ctx)
	f := w.fleet()
	createTimeout, d := f.Timeouts.Create(ctx, defaultBatchCreateTimeout)
	diags.Append(d...)
	readTimeout, d := f.Timeouts.Read(ctx, defaultBatchReadTimeout)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	start := time.Now()
	var fp fleetPrivate
	task, outcome := createTask(runCtx, pd, client, w, &fp, diags)
	switch outcome {
	case notCreated:
		return
	case unresolved:
		f.setUnresolved()
	case created:
		f.setTask(task)
		f.clearResults()
		runTask(runCtx, client, w, &fp, start, readTimeout, false, diags)
	}
	settle(w)
	diags.Append(state.Set(ctx, w)...)
	savePrivate(ctx, private, fp, diags)
}

// refreshFleet is Read: it asks IoTDA only about what the state does not know yet. A task not
// found yet is looked for once; a task still running has its status read; an imported one
// is read whole. A finished task never changes, and its results are read by the next apply
// (the plan says so), not by a refresh. It reports whether w changed and should be saved.
func refreshFleet(ctx context.Context, client *iotda.Client, projectID string, w fleetWork, fp *fleetPrivate,
	importing bool, diags *diag.Diagnostics,
) bool {
	ctx = withBatchLog(ctx)
	f := w.fleet()
	switch {
	case importing:
		return adoptFleet(ctx, client, projectID, w, fp, diags)
	case !f.resolved():
		if fp.Sent == nil {
			return false
		}
		windowOver := time.Since(fp.Sent.At) > taskAppearWithin
		look := lookOnce(ctx, client, w, *fp.Sent)
		switch {
		case look.task != nil:
			logInfo(ctx, "found batch task "+look.task.TaskID+" by its name "+fp.Sent.Name)
			f.setTask(look.task)
			f.clearResults()
			fp.Sent = nil
			return true
		case windowOver && look.err == nil && len(look.ambiguous) == 0:
			fp.NotCreated = true
		case look.err != nil:
			logWarn(ctx, "looking for batch task "+fp.Sent.Name+" failed: "+look.err.Error())
		}
		return false
	case f.finished():
		return false
	}
	id := f.TaskID.ValueString()
	task, err := client.ShowBatchTaskSummary(ctx, id)
	switch {
	case errors.Is(err, iotda.ErrNotFound):
		// Removing the resource would make the next apply run the task again.
		fp.Gone = true
		diags.AddWarning(summaryBatchGone, fmt.Sprintf("Batch task %s is not on IoTDA any more (deleted, or "+
			"expired). The resource is kept as it was last seen, so that the next apply does not run the task "+
			"again; its results cannot be read. Run it again with terraform apply -replace=<address>, or remove it "+
			"with terraform state rm when it is no longer needed.", id))
		return false
	case err != nil:
		// The state keeps what was last seen; the plan follows the task all the same.
		diags.AddWarning(summaryBatchReadFailed, withRequestID(fmt.Sprintf("Refreshing batch task %s failed: %v\n\n"+
			"The state keeps the task as it was last seen (%s, %s); the next apply follows it.", id, err,
			f.Status.ValueString(), progressText(f)), requestIDOf(err)))
		return false
	}
	fp.Gone = false
	f.setTask(task)
	return true
}

// adoptFleet reads an imported task whole: its arguments, status and, once it has finished,
// its results.
func adoptFleet(ctx context.Context, client *iotda.Client, projectID string, w fleetWork, fp *fleetPrivate,
	diags *diag.Diagnostics,
) bool {
	f := w.fleet()
	id := f.TaskID.ValueString()
	if id == "" {
		id = f.ID.ValueString()
	}
	task, err := client.ShowBatchTaskDefinition(ctx, id)
	switch {
	case errors.Is(err, iotda.ErrNotFound):
		diags.AddAttributeError(path.Root("id"), "Batch Task Not Found", withRequestID(fmt.Sprintf("IoTDA has no batch "+
			"task %s in project %s, so there is nothing to import. Check the task ID (ListBatchTasks lists them) and "+
			"the provider's project_id and instance_id.", id, projectID), requestIDOf(err)))
		return false
	case err != nil:
		diags.AddError(summaryBatchReadFailed, withRequestID(fmt.Sprintf("Reading batch task %s failed: %v", id, err),
			requestIDOf(err)))
		return false
	case task.TaskType != "" && task.TaskType != w.taskType():
		diags.AddAttributeError(path.Root("id"), "Not a "+w.taskType()+" Batch Task", fmt.Sprintf("Batch task %s is "+
			"a %s task; this resource manages %s tasks only.", id, task.TaskType, w.taskType()))
		return false
	}
	adoptTargets(ctx, f, task, diags)
	w.adoptDocument(task, diags)
	if diags.HasError() {
		return false
	}
	f.setTask(task)
	f.clearResults()
	fp.Adopted = true
	if !iotda.TaskFinished(task.Status) {
		return true
	}
	if _, _, ok := readResults(ctx, client, w, fp); !ok {
		addResultsNotRead(w, fp.ResultsProblem, diags)
	}
	return true
}

// updateFleet is Update. When the plan follows the task (its status or results unknown,
// planFleet), it looks for the task, follows it and reads its results, as createFleet does;
// otherwise it changes only what runs nothing on IoTDA. plan is saved, state is what was.
func updateFleet(ctx context.Context, client *iotda.Client, plan, state fleetWork, fp *fleetPrivate,
	diags *diag.Diagnostics,
) {
	ctx = withBatchLog(ctx)
	pf, sf := plan.fleet(), state.fleet()
	following := pf.TaskID.IsUnknown() || pf.Status.IsUnknown() || pf.Results.IsUnknown()
	pf.ID, pf.TaskID, pf.Status, pf.StatusDesc = sf.ID, sf.TaskID, sf.Status, sf.StatusDesc
	pf.CreatedAt, pf.Progress, pf.FailedDeviceIDs, pf.Results = sf.CreatedAt, sf.Progress, sf.FailedDeviceIDs, sf.Results
	if pf.TaskName.IsUnknown() {
		pf.TaskName = sf.TaskName
	}
	if fp.FailedRun && pf.failedCount() <= int(pf.MaxFailedDevices.ValueInt64()) {
		fp.FailedRun = false // max_failed_devices was raised: the task is kept.
	}
	if !following || fp.Gone {
		return
	}
	createTimeout, d := pf.Timeouts.Create(ctx, defaultBatchCreateTimeout)
	diags.Append(d...)
	readTimeout, d := pf.Timeouts.Read(ctx, defaultBatchReadTimeout)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	runCtx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	start := time.Now()
	if !pf.resolved() {
		if fp.Sent == nil {
			diags.AddWarning(summaryBatchNotFoundYet, "The state records no task and no create to look for; "+
				"replace the resource (terraform apply -replace=<address>) to run the task.")
			return
		}
		sent := *fp.Sent
		look := lookForTask(runCtx, client, plan, sent, false)
		switch {
		case look.task != nil:
			warnFoundByName(look, nil, diags)
			pf.setTask(look.task)
			pf.clearResults()
		case look.windowOver && look.err == nil && len(look.ambiguous) == 0:
			fp.NotCreated = true
			addNotCreated(plan, sent, nil, true, diags)
			return
		default:
			addNotFoundYet(ctx, plan, sent, nil, look, diags)
			return
		}
	}
	runTask(runCtx, client, plan, fp, start, readTimeout, true, diags)
}

// deleteFleetTask deletes a fleet resource's task from IoTDA, for delete_task_on_destroy: a
// task already gone is fine; a task still running cannot be deleted, and says what to do.
func deleteFleetTask(ctx context.Context, client *iotda.Client, taskID, status string, diags *diag.Diagnostics) {
	err := client.DeleteBatchTask(ctx, taskID)
	switch {
	case err == nil:
		tflog.Info(ctx, "batch task deleted", map[string]any{"task_id": taskID})
	case errors.Is(err, iotda.ErrNotFound):
		tflog.Info(ctx, "batch task already gone", map[string]any{"task_id": taskID})
	case errors.Is(err, iotda.ErrForbidden) && !iotda.TaskFinished(status):
		diags.AddError(summaryBatchDeleteFailed, withRequestID(fmt.Sprintf("Batch task %s is still running (%s), "+
			"and IoTDA deletes only finished tasks: %v\n\nWait for it to finish (terraform refresh shows its status) "+
			"and destroy again, or set delete_task_on_destroy = false and apply, so that destroying only forgets it.",
			taskID, status, err), requestIDOf(err)))
	default:
		diags.AddError(summaryBatchDeleteFailed, withRequestID(fmt.Sprintf("Deleting batch task %s from IoTDA "+
			"failed: %v\n\nThe resource is still in the state. Fix the cause and destroy again, or set "+
			"delete_task_on_destroy = false and apply, so that destroying only forgets it.", taskID, err),
			requestIDOf(err)))
	}
}

// importFleetTask starts the import of a fleet resource from a task id: Read fills in the rest.
func importFleetTask(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !taskIDPattern.MatchString(req.ID) {
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Invalid Batch Task ID",
			fmt.Sprintf("%q is not a batch task ID: IoTDA's task IDs are up to 24 characters of 0-9 and a-f, such as "+
				"64f1c2a9e4b0a1b2c3d4e5f6 (the task_id of ListBatchTasks or of the console).", req.ID))
		return
	}
	for attr, v := range map[string]any{"id": req.ID, "task_id": req.ID, "max_failed_devices": int64(0),
		"delete_task_on_destroy": false} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, []byte(`true`))...)
}
