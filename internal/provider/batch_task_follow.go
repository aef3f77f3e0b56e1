package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Following a task: polling it until it ends, then reading every device's result. Whatever
// stops the apply before that (an interrupt, the create timeout, reads that fail, the task
// gone from IoTDA), the state keeps the task as last seen, and the next plan follows it again.

// Polling a running task: the first look soon (a task of a few thousand devices that answer
// at once takes well under a second), then twice as long each time, up to pollMaxInterval,
// which the Huawei Cloud provider also uses for its batch tasks: eight reads in the first
// ten seconds, then one every ten.
const (
	pollFirstInterval = 50 * time.Millisecond
	pollMaxInterval   = 10 * time.Second
	// resultReadAttempts is how many times the results are read when a read fails or does not
	// match the task, within the read timeout, before they are left for the next apply.
	resultReadAttempts = 3
)

// followEnd is why following a task stopped.
type followEnd int

const (
	followFinished followEnd = iota
	followTimedOut
	followInterrupted
	followGone      // IoTDA answered 404 (past notFoundSettle): it no longer has the task
	followRefused   // IoTDA refused to show it (401, 403, 400): asking again will not help
	followMalformed // IoTDA's answers did not match the task, malformedInARow times in a row
)

// followResult is how following a task ended. lastErr is the last failed read, if the last
// read failed; reads is how many reads were made, failed how many of them failed.
type followResult struct {
	end     followEnd
	lastErr error
	reads   int
	failed  int
}

// followTask polls the task until it has finished or ctx ends, logging its progress; f holds
// what was last seen. since is when the task was created, when this apply created it (zero
// otherwise): a 404 within notFoundSettle of it is read again rather than taken as the task
// gone. Reads whose answers do not match the task (iotda.ErrMalformedAnswer) end it after
// malformedInARow in a row: they are the server's answers, not the network's.
func followTask(ctx context.Context, client *iotda.Client, f *fleetTask, start, since time.Time) followResult {
	var res followResult
	interval := pollFirstInterval
	malformed := 0
	for !f.finished() {
		if !sleepCtx(ctx, interval) {
			res.end = ctxEnd(ctx)
			return res
		}
		interval = min(2*interval, pollMaxInterval)
		task, err := client.ShowBatchTaskSummary(ctx, f.TaskID.ValueString())
		res.reads++
		switch {
		case err == nil:
			f.setTask(task)
			res.lastErr, malformed = nil, 0
			logInfo(ctx, progressLine(f, start))
			continue
		case ctx.Err() != nil:
			res.end = ctxEnd(ctx)
			return res
		}
		res.failed++
		res.lastErr = err
		if errors.Is(err, iotda.ErrMalformedAnswer) {
			malformed++
		} else {
			malformed = 0
		}
		switch {
		case errors.Is(err, iotda.ErrNotFound) && time.Since(since) >= notFoundSettle:
			res.end = followGone
			return res
		case permanentReadError(err) && !errors.Is(err, iotda.ErrNotFound):
			res.end = followRefused
			return res
		case malformed == malformedInARow:
			res.end = followMalformed
			return res
		}
		// A throttled, failed or lost answer (already retried by the client), one garbled on
		// its way, or a 404 just after the create: the task is still there, so keep following it.
		logWarn(ctx, "reading batch task "+f.TaskID.ValueString()+" failed, trying again: "+err.Error())
	}
	res.end = followFinished
	logInfo(ctx, fmt.Sprintf("task %s ended after %d status reads", f.TaskID.ValueString(), res.reads))
	return res
}

func ctxEnd(ctx context.Context) followEnd {
	if errors.Is(ctx.Err(), context.Canceled) {
		return followInterrupted
	}
	return followTimedOut
}

// The machinery logs to the subsystem "batch" of the provider's log (TF_LOG_PROVIDER=INFO
// shows it), without the fields every RPC's log carries (request id, resource type, RPC),
// so that the progress of a long apply reads one short line at a time in a terminal. A
// subsystem takes the root logger's location setting whatever its options say; main.go
// serves the provider without locations (tf6server.WithoutLogLocation), and what is left
// of a line besides the message is what Terraform adds: the time, the level, the
// provider's name, @module and timestamp.
const logBatch = "batch"

// withBatchLog adds the subsystem to ctx.
func withBatchLog(ctx context.Context) context.Context {
	return tflog.NewSubsystem(ctx, logBatch)
}

func logInfo(ctx context.Context, msg string) { tflog.SubsystemInfo(ctx, logBatch, msg) }

func logWarn(ctx context.Context, msg string) { tflog.SubsystemWarn(ctx, logBatch, msg) }

// progressLine is one short line of a task's progress, for TF_LOG_PROVIDER=INFO, under 120
// characters: "task 64f1c2a9e4b0a1b2c3d4e5f6 Processing 120/1000 done: 20 failed, 880 running (12s)".
func progressLine(f *fleetTask, start time.Time) string {
	return fmt.Sprintf("task %s %s %s (%s)", f.TaskID.ValueString(), f.Status.ValueString(), progressText(f),
		time.Since(start).Round(time.Second))
}

// readResults reads every device's result of a finished task into w, checks them against the
// task's targets, and returns the failures and the number of devices; ok is false when they
// could not be read or did not match the task, which fp.ResultsProblem then says (and the
// state keeps the results unread). A failed read, or one that does not match, is tried again
// up to resultReadAttempts times within ctx. A credential a device echoed is hidden in its
// result (iotda.Subtask.Redacted), with a warning.
func readResults(ctx context.Context, client *iotda.Client, w fleetWork, fp *fleetPrivate, diags *diag.Diagnostics,
) (failures []deviceFailure, devices int, ok bool) {
	f := w.fleet()
	id := f.TaskID.ValueString()
	var problem error
	for attempt := 1; attempt <= resultReadAttempts; attempt++ {
		if attempt > 1 && !sleepCtx(ctx, time.Duration(attempt-1)*time.Second) {
			break
		}
		details, err := client.ShowBatchTask(ctx, id, iotda.ReadOptions{Expected: f.expectedSubtasks()})
		if err != nil {
			problem = err
			if errors.Is(err, iotda.ErrNotFound) || permanentReadError(err) {
				break
			}
			continue
		}
		if !iotda.TaskFinished(details.Task.Status) {
			problem = fmt.Errorf("IoTDA reported the finished task as %s while its results were read", details.Task.Status)
			continue
		}
		if p := iotda.CheckSubtasks(f.targets(), details.Task.Progress.Total, details.Subtasks); p != nil {
			problem = p
			logWarn(ctx, "batch task "+id+": "+p.Error())
			continue
		}
		f.setTask(&details.Task)
		failures = w.fillResults(ctx, client, details.Subtasks)
		addResultsRedacted(w, details.Subtasks, diags)
		fp.ResultsProblem, fp.Gone = "", false
		logInfo(ctx, fmt.Sprintf("batch task %s %s: %d devices, %d failed (%d requests in %d rounds)", id,
			f.Status.ValueString(), len(details.Subtasks), len(failures), details.Requests, details.Rounds))
		return failures, len(details.Subtasks), true
	}
	f.clearResults()
	fp.ResultsProblem = problem.Error()
	fp.Gone = errors.Is(problem, iotda.ErrNotFound)
	return nil, 0, false
}

// run is how runTask follows a task: start is when the apply began and since when the task
// was created, if this apply created it (followTask); readTimeout bounds reading the results;
// update says whether this is an apply's update (whose errors do not taint the resource)
// rather than its create.
type run struct {
	start, since time.Time
	readTimeout  time.Duration
	update       bool
}

// runTask follows a known task to its end and reads its results, within ctx (the create
// timeout) and r.readTimeout for the results, and reports what happened: a warning when the
// task could not be followed to its end (the state keeps it), the failed devices once it has
// ended.
func runTask(ctx context.Context, client *iotda.Client, w fleetWork, fp *fleetPrivate, r run, diags *diag.Diagnostics) {
	f := w.fleet()
	start, readTimeout, update := r.start, r.readTimeout, r.update
	res := followTask(ctx, client, f, start, r.since)
	if res.end != followFinished {
		fp.Gone = res.end == followGone
		addNotFollowed(w, res, time.Since(start), diags)
		return
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		addNotFollowed(w, followResult{end: followInterrupted}, time.Since(start), diags)
		return
	}
	// The task has ended: its results are worth reading even if little of the create timeout
	// is left, so reading them has the read timeout of its own; an interrupt still stops it.
	readCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			cancel()
		}
	})
	defer stop()
	failures, devices, ok := readResults(readCtx, client, w, fp, diags)
	if !ok {
		addResultsNotRead(w, fp.ResultsProblem, diags)
		return
	}
	fp.FailedRun = reportFailures(w, failures, devices, update, diags)
}
