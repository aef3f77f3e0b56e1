package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// planFleet is the resource-level plan of a fleet resource whose arguments do not replace it
// (replacing tells whether they do). It keeps the promise that a whole fleet runs again only
// when a plan shows why:
//
//   - a task not found yet, not read back yet, still running, or whose results were not read
//     is followed by an in-place update (its status and results unknown in the plan), with a
//     warning naming it;
//   - a task this resource's apply reported as failed beyond max_failed_devices is replaced,
//     with a warning naming the task, its status and the failed count;
//   - a create whose task never appeared within the lookup window, or that several tasks
//     of its name match, plans no change, with a warning saying how to send it again
//     (-replace) once the user has checked: it is never sent again on a guess;
//   - a task IoTDA no longer has is kept as it was, with a warning.
//
// It reads nothing but the prior state and private state (which Read sets), so the plan
// made again at apply is the same.
func planFleet(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse,
	state fleetWork, replacing bool,
) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || replacing {
		return // Create, destroy, or a replacement the arguments already make.
	}
	fp := loadPrivate(ctx, req.Private)
	f := state.fleet()
	var maxFailed types.Int64
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("max_failed_devices"), &maxFailed)...)
	id, name := f.TaskID.ValueString(), f.TaskName.ValueString()
	switch {
	case !f.resolved() && fp.Sent != nil && len(fp.Ambiguous) > 0:
		resp.Diagnostics.AddWarning(summaryBatchAmbiguous, ambiguousDetail(state, *fp.Sent, nil, fp.Ambiguous))
	case !f.resolved() && fp.Sent != nil && fp.NeverFound:
		resp.Diagnostics.AddWarning(summaryBatchNeverFound, neverFoundDetail(state, *fp.Sent, nil))
	case !f.resolved():
		resp.Diagnostics.AddWarning(summaryBatchNotFoundYet, fmt.Sprintf("The request that created batch task %q "+
			"(%s to %s) got no usable answer, and the task has not been found on IoTDA yet. This apply looks for it "+
			"by its name again and follows it; it does not send the request again.", name, state.describeWork(),
			f.describeTargets()))
		planUnknown(ctx, resp, "id", "task_id", "status", "status_desc", "created_at", "progress",
			"failed_device_ids", "results")
	case fp.Sent != nil:
		resp.Diagnostics.AddWarning(summaryBatchStillRunning, fmt.Sprintf("IoTDA answered the request creating batch "+
			"task %q (%s to %s) with task %s, which has not been read back yet. This apply reads it, checks that it "+
			"is the task sent (if it is not, it looks for that task by its name), and follows it to its end; it does "+
			"not send the request again.", name, state.describeWork(), f.describeTargets(), id))
		planUnknown(ctx, resp, "id", "task_id", "status", "status_desc", "created_at", "progress",
			"failed_device_ids", "results")
	case fp.Gone && (!f.finished() || !f.resultsRead()):
		resp.Diagnostics.AddWarning(summaryBatchGone, fmt.Sprintf("Batch task %s (%q) is not on IoTDA any more, "+
			"so it cannot be followed and its results cannot be read. The resource is kept as it was last seen "+
			"(%s), and no apply runs the task again by itself. %s", id, name,
			firstNonEmpty(f.Status.ValueString(), "status unknown"), runAgainAdvice(state)))
	case !f.finished():
		resp.Diagnostics.AddWarning(summaryBatchStillRunning, fmt.Sprintf("Batch task %s (%q) had not finished "+
			"when it was last read (%s, %s). This apply follows the same task to its end and reads its results; it "+
			"does not run it again.", id, name, f.Status.ValueString(), progressText(f)))
		planUnknown(ctx, resp, "status", "status_desc", "progress", "failed_device_ids", "results")
	case !f.resultsRead():
		detail := fmt.Sprintf("Batch task %s (%q) has ended (%s), but its results have not been read", id, name,
			f.Status.ValueString())
		if fp.ResultsProblem != "" {
			detail += ": " + fp.ResultsProblem
		}
		resp.Diagnostics.AddWarning(summaryBatchResultsNotRead, detail+". This apply reads them; it does not run "+
			"the task again.")
		planUnknown(ctx, resp, "status", "status_desc", "progress", "failed_device_ids", "results")
	case fp.FailedRun && !fp.Adopted && (f.failedAsAWhole() || int64(f.failedCount()) > maxFailed.ValueInt64()):
		what := fmt.Sprintf("%s failed, more than max_failed_devices (%d)", plural(f.failedCount(), "device"),
			maxFailed.ValueInt64())
		if f.failedAsAWhole() {
			what = "it failed as a whole: " + firstNonEmpty(f.StatusDesc.ValueString(), "IoTDA gave no reason")
		}
		resp.Diagnostics.AddWarning(summaryBatchRunAgain, fmt.Sprintf("Batch task %s (%q) ended %s: %s. This plan "+
			"replaces the resource, running %s again on every device as a new task. To keep the task instead, raise "+
			"max_failed_devices; to retry only the failed devices, give failed_device_ids to another resource.",
			id, name, f.Status.ValueString(), what, state.describeWork()))
		planUnknown(ctx, resp, "failed_device_ids")
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("failed_device_ids"))
	}
}

// planUnknown plans the attributes as unknown: they are known after the apply.
func planUnknown(ctx context.Context, resp *resource.ModifyPlanResponse, names ...string) {
	for _, name := range names {
		var v attr.Value
		switch name {
		case "progress":
			v = types.ObjectUnknown(progressAttrTypes)
		case "failed_device_ids":
			v = types.ListUnknown(types.StringType)
		default:
			v = types.StringUnknown()
		}
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root(name), v)...)
	}
}
