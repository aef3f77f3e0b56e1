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
	task, sent, lost, ok := createTask(runCtx, pd, client, w, diags)
	if !ok {
		return
	}
	if task != nil {
		if problem := taskMismatch(w, sent, task, false); problem != "" {
			lost = fmt.Errorf("IoTDA's answer to the request named task %s, but %s", task.TaskID, problem)
			logWarn(ctx, lost.Error()+"; looking the task up by its name")
			task = nil
		}
	}
	// From here on the task may exist: the state keeps it, whatever happens next.
	fp := fleetPrivate{Sent: &sent}
	f.setUnresolved()
	if task != nil {
		f.setTask(task)
	}
	created := time.Now()
	if settleTask(runCtx, client, w, &fp, lost, created, diags) {
		runTask(runCtx, client, w, &fp, run{start: start, since: created, readTimeout: readTimeout}, diags)
	}
	settle(w)
	diags.Append(state.Set(ctx, w)...)
	savePrivate(ctx, private, fp, diags)
}

// refreshFleet is Read: it asks IoTDA only about what the state does not know yet. A task not
// known for certain yet is read back or looked for once (refreshSent); a task still running
// has its status read; an imported one is read whole. A finished task never changes, and its
// results are read by the next apply (the plan says so), not by a refresh. It reports whether
// w changed and should be saved.
func refreshFleet(ctx context.Context, client *iotda.Client, projectID string, w fleetWork, fp *fleetPrivate,
	importing bool, diags *diag.Diagnostics,
) bool {
	ctx = withBatchLog(ctx)
	f := w.fleet()
	switch {
	case importing:
		return adoptFleet(ctx, client, projectID, w, fp, diags)
	case fp.Sent != nil:
		return refreshSent(ctx, client, w, fp)
	case !f.resolved(), f.finished():
		return false
	}
	id := f.TaskID.ValueString()
	task, err := client.ShowBatchTaskSummary(ctx, id)
	switch {
	case errors.Is(err, iotda.ErrNotFound):
		// Removing the resource would make the next apply run the task again.
		fp.Gone = true
		diags.AddWarning(summaryBatchGone, fmt.Sprintf("Batch task %s is not on IoTDA any more (deleted, or "+
			"expired). The resource is kept as it was last seen, so that no apply runs the task again by itself; "+
			"its results cannot be read. %s", id, runAgainAdvice(w)))
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

// refreshSent is refreshFleet for a create whose task is not known for certain: the task its
// answer named is read back once, and checked; a task not found yet, or one that did not
// hold up, is looked for by its name once. What it finds is followed by the next apply; past
// the lookup window, plans stop looking (fp.NeverFound) but refreshes go on.
func refreshSent(ctx context.Context, client *iotda.Client, w fleetWork, fp *fleetPrivate) bool {
	f := w.fleet()
	sent := *fp.Sent
	changed := false
	if f.resolved() {
		id := f.TaskID.ValueString()
		task, err := client.ShowBatchTaskDefinition(ctx, id)
		var problem string
		switch {
		case err == nil:
			problem = taskMismatch(w, sent, task, true)
		case errors.Is(err, iotda.ErrNotFound):
			problem = fmt.Sprintf("IoTDA does not have it (%v)", err)
		default:
			logWarn(ctx, "reading batch task "+id+" failed: "+err.Error())
			return false
		}
		if problem == "" {
			f.setTask(task)
			fp.Sent, fp.NeverFound, fp.Ambiguous = nil, false, nil
			return true
		}
		logWarn(ctx, "IoTDA's answer to the request named task "+id+", but "+problem+"; looking the task up by its name")
		f.setUnresolved()
		changed = true
	}
	look := lookOnce(ctx, client, w, sent)
	switch {
	case look.task != nil:
		logInfo(ctx, "found batch task "+look.task.TaskID+" by its name "+sent.Name)
		f.setTask(look.task)
		f.clearResults()
		fp.Sent, fp.NeverFound, fp.Ambiguous = nil, false, nil
		return true
	case look.err != nil:
		logWarn(ctx, "looking for batch task "+sent.Name+" failed: "+look.err.Error())
		return changed
	}
	fp.Ambiguous = look.ambiguous
	if time.Since(sent.At) > lookupWindow {
		fp.NeverFound = true
	}
	return changed
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
	if _, _, ok := readResults(ctx, client, w, fp, diags); !ok {
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
	r := run{start: start, readTimeout: readTimeout, update: true}
	switch {
	case fp.Sent != nil:
		r.since = fp.Sent.At
		if !settleTask(runCtx, client, plan, fp, nil, r.since, diags) {
			return
		}
	case !pf.resolved():
		diags.AddWarning(summaryBatchNotFoundYet, "The state records no task and no create to look for; "+
			"replace the resource (terraform apply -replace=<address>) to run the task.")
		return
	}
	runTask(runCtx, client, plan, fp, r, diags)
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
