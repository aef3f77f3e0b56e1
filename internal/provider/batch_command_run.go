package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Polling a running task: the first look soon (a task of a few thousand devices that answer
// at once takes well under a second), then twice as long each time, up to pollMaxInterval,
// which the Huawei Cloud provider also uses for its batch tasks: eight reads in the first
// ten seconds, then one every ten.
const (
	pollFirstInterval = 50 * time.Millisecond
	pollMaxInterval   = 10 * time.Second
)

// waitForTask polls the task in m until it has finished, logging its progress. It reports
// whether it has; if not (the create timeout expired, the apply was interrupted, or the task
// could no longer be read), it has added the error, and m holds what was last seen.
func waitForTask(ctx context.Context, client *iotda.Client, m *batchCommandModel, start time.Time, diags *diag.Diagnostics) bool {
	interval := pollFirstInterval
	for !iotda.TaskFinished(m.Status.ValueString()) {
		if !sleepCtx(ctx, interval) {
			addStillRunning(ctx, m, time.Since(start), diags)
			return false
		}
		interval = min(2*interval, pollMaxInterval)
		task, err := client.ShowBatchTaskSummary(ctx, m.TaskID.ValueString())
		switch {
		case err == nil:
			m.setTask(task)
			logProgress(ctx, m, start)
		case ctx.Err() != nil:
			addStillRunning(ctx, m, time.Since(start), diags)
			return false
		case permanentReadError(err):
			addReadFailed(m, "following it", err, diags)
			return false
		default:
			// A throttled, failed or lost answer (already retried by the client): the task is
			// still there, so keep following it until the timeout.
			tflog.Warn(ctx, "reading the batch task failed; trying again", map[string]any{
				"task_id": m.TaskID.ValueString(), "error": err.Error()})
		}
	}
	return true
}

// permanentReadError reports an answer that asking again will not change: the task is gone,
// or the request is refused (authentication, permissions, a malformed request).
func permanentReadError(err error) bool {
	var apiErr *iotda.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 &&
		!errors.Is(err, iotda.ErrThrottled) // 429, and the platform's throttling 403s
}

// logProgress logs the task's counts per status, so that a long apply is not silent under
// TF_LOG=INFO.
func logProgress(ctx context.Context, m *batchCommandModel, start time.Time) {
	fields := map[string]any{"task_id": m.TaskID.ValueString(), "status": m.Status.ValueString(),
		"elapsed_s": int(time.Since(start).Seconds())}
	for k, v := range progressCounts(m) {
		fields[k] = v
	}
	tflog.Info(ctx, "batch task progress: "+progressText(m), fields)
}

// sleepCtx waits for d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// refreshTask reads the task in m for Read: its status, and its results once it has finished;
// for an imported resource also its arguments. It reports whether m should be saved.
func refreshTask(ctx context.Context, client *iotda.Client, projectID string, m *batchCommandModel, diags *diag.Diagnostics) bool {
	id := m.TaskID.ValueString()
	if id == "" {
		id = m.ID.ValueString()
	}
	task, err := client.ShowBatchTaskSummary(ctx, id)
	importing := m.DeviceIDs.IsNull() && m.GroupIDs.IsNull()
	switch {
	case errors.Is(err, iotda.ErrNotFound) && importing:
		diags.AddAttributeError(path.Root("id"), "Batch Task Not Found", withRequestID(fmt.Sprintf("IoTDA has no batch "+
			"task %s in project %s, so there is nothing to import. Check the task ID (ListBatchTasks lists them) and "+
			"the provider's project_id and instance_id.", id, projectID), requestIDOf(err)))
		return false
	case errors.Is(err, iotda.ErrNotFound):
		// Removing the resource would make the next apply run the command again.
		diags.AddWarning("Batch Task No Longer on IoTDA", fmt.Sprintf("Batch task %s is not on IoTDA any more "+
			"(deleted, or expired). The resource is kept as it was last seen, so that the next apply does not run "+
			"the command again; remove it with terraform state rm when it is no longer needed.", id))
		return false
	case err != nil:
		diags.AddError(summaryBatchReadFailed, withRequestID(fmt.Sprintf("Reading batch task %s failed: %v", id, err),
			requestIDOf(err)))
		return false
	case task.TaskType != "" && task.TaskType != iotda.TaskTypeCreateCommands:
		diags.AddAttributeError(path.Root("id"), "Not a Command Batch Task", fmt.Sprintf("Batch task %s is a %s "+
			"task; iotda_batch_command manages createCommands tasks only.", id, task.TaskType))
		return false
	}
	if importing {
		m.adoptTask(ctx, task, diags)
		if diags.HasError() {
			return false
		}
	}
	m.setTask(task)
	m.clearResults()
	if !iotda.TaskFinished(task.Status) {
		return true
	}
	details, err := client.ShowBatchTask(ctx, id)
	if err != nil {
		diags.AddError(summaryBatchReadFailed, withRequestID(fmt.Sprintf("Reading the results of batch task %s "+
			"failed: %v", id, err), requestIDOf(err)))
		return false
	}
	m.setTask(&details.Task)
	m.setResults(details.Subtasks)
	warnIncomplete(m, details, diags)
	return true
}

// warnIncomplete warns when the platform said there are more subtasks than were read.
func warnIncomplete(m *batchCommandModel, d *iotda.BatchTaskDetails, diags *diag.Diagnostics) {
	if d.Count > int64(len(d.Subtasks)) {
		diags.AddWarning("Batch Task Results Incomplete", fmt.Sprintf("IoTDA reported %d subtasks for batch task %s "+
			"but returned %d while paging through them; results and failed_device_ids hold those %d.",
			d.Count, m.TaskID.ValueString(), len(d.Subtasks), len(d.Subtasks)))
	}
}
