package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Diagnostics of the fleet resources. Every one that follows the creation of a task names
// the task, because the task exists on IoTDA whatever happens next, and says what the next
// plan does with it. A warning means the task is on its way and the next apply picks it up;
// an error means the task failed or was never created.

const (
	summaryBatchRejected       = "IoTDA Rejected the Batch Task"
	summaryBatchNotCreated     = "Batch Task Not Created"
	summaryBatchNotFoundYet    = "Batch Task Not Found Yet"
	summaryBatchNeverFound     = "Batch Task Never Found"
	summaryBatchAmbiguous      = "Several Batch Tasks Match"
	summaryBatchAnswers        = "IoTDA Answers Do Not Match the Batch Task"
	summaryBatchFoundByName    = "Batch Task Found by Its Name"
	summaryBatchStillRunning   = "Batch Task Still Running"
	summaryBatchReadFailed     = "Batch Task Could Not Be Read"
	summaryBatchResultsNotRead = "Batch Task Results Not Read"
	summaryBatchGone           = "Batch Task No Longer on IoTDA"
	summaryBatchTaskFailed     = "Batch Task Failed"
	summaryBatchRunAgain       = "Batch Task Runs Again"
	summaryBatchDeleteFailed   = "Batch Task Not Deleted"

	// maxListedFailures is how many failed devices a diagnostic names before it counts the rest.
	maxListedFailures = 20
)

// nextApplyFollows is what the state and the next plan do with a task that could not be
// followed to its end.
const nextApplyFollows = "The task is saved in the state with its task_id. The next plan shows an update that " +
	"follows this same task to its end and reads its results: run terraform apply again (no terraform untaint " +
	"needed). It does not run the task again."

// diagnoseCreateError reports a CreateBatchTask that provably created no task: refused, or
// never sent.
func diagnoseCreateError(ctx context.Context, pd *providerData, w fleetWork, err error, diags *diag.Diagnostics) {
	var (
		apiErr  *iotda.APIError
		notSent *iotda.NotSentError
	)
	f := w.fleet()
	name := f.TaskName.ValueString()
	switch {
	case errors.As(err, &notSent):
		diags.AddError(summaryBatchNotCreated, fmt.Sprintf("Could not connect to IoTDA at %s to create batch task "+
			"%q (%d attempt(s)): %v\n\nThe request never reached the platform, so no task was created and no device "+
			"received anything. %s", pd.endpoint, name, notSent.Attempts, notSent.Err,
			connectAdvice(ctx, "Check the endpoint and region settings, the network path and proxy, and the TLS "+
				"settings, then apply again.", "Apply again to create the task.")))
	case errors.As(err, &apiErr):
		diags.AddError(summaryBatchRejected, withRequestID(fmt.Sprintf("IoTDA refused to create batch task %q "+
			"(%s to %s): HTTP %d %s, error_code %s, error_msg %q.\n\n%s", name, w.describeWork(), f.describeTargets(),
			apiErr.StatusCode, http.StatusText(apiErr.StatusCode), firstNonEmpty(apiErr.ErrorCode, "(none)"),
			apiErr.ErrorMsg, batchAPIHint(apiErr)), apiErr.RequestID))
	default:
		diags.AddError(summaryBatchNotCreated, fmt.Sprintf("Creating batch task %q failed: %v", name, err))
	}
}

// batchAPIHint says what to do about a refused batch task request.
func batchAPIHint(e *iotda.APIError) string {
	switch {
	case errors.Is(e, iotda.ErrBadRequest):
		return "No task was created. Check task_name, device_ids or group_ids, and the arguments the task sends " +
			"against the platform's rules and the devices' product model."
	case errors.Is(e, iotda.ErrUnauthorized):
		return "Authentication failed, so nothing was created. Check auth_token (IOTDA_AUTH_TOKEN), or access_key " +
			"and secret_key (IOTDA_ACCESS_KEY, IOTDA_SECRET_KEY) and signing_algorithm."
	case errors.Is(e, iotda.ErrThrottled):
		return "The request was throttled, so nothing was created. Try again later."
	case errors.Is(e, iotda.ErrForbidden):
		return "The credentials are not allowed to do this (IAM actions iotda:batchtasks:*), or IoTDA refuses more " +
			"tasks now. Check the IAM permissions, the project_id and the instance_id."
	case errors.Is(e, iotda.ErrNoSuchAPI):
		return "The endpoint serves no such API. Check endpoint (or IOTDA_ENDPOINT): it must be an IoTDA API " +
			"address, such as https://iotda.cn-north-4.myhuaweicloud.com or an instance's access address."
	case errors.Is(e, iotda.ErrRedirect):
		return redirectHint(e, "sending the request again to another address could create a second task",
			"the task was most likely not created")
	}
	return "No task was created."
}

// warnFoundByName says that a task whose creating request got no usable answer (why: the
// answer lost, or one that did not hold up) was found by its name, and names any further task
// the same request made.
func warnFoundByName(look lookup, why error, diags *diag.Diagnostics) {
	t := look.task
	detail := fmt.Sprintf("The request creating batch task %q got no usable answer", t.TaskName)
	if why != nil {
		detail += fmt.Sprintf(" (%v)", why)
	}
	detail += fmt.Sprintf(", so the provider looked for it by its name instead of sending it again, and found task %s "+
		"with the targets and document sent.", t.TaskID)
	if len(look.others) > 0 {
		detail += fmt.Sprintf("\n\nIoTDA also holds %s of that name with the same targets and document (%s): the "+
			"request reached IoTDA more than once on its way (a proxy or gateway repeated it), and each task ran. "+
			"The state follows the first one.", plural(len(look.others), "more task"), strings.Join(look.others, ", "))
	}
	diags.AddWarning(summaryBatchFoundByName, withRequestID(detail, requestIDOf(why)))
}

// describeSent names a create whose outcome is not known, and why: `The request creating
// batch task "x" (command "REBOOT" to 4 devices) at 2026-01-02T15:04:05Z got no usable answer:
// ...`.
func describeSent(w fleetWork, sent sentTask, why error) string {
	detail := fmt.Sprintf("The request creating batch task %q (%s to %s) at %s got no usable answer", sent.Name,
		w.describeWork(), w.fleet().describeTargets(), sent.At.Format(time.RFC3339))
	if why != nil {
		detail += fmt.Sprintf(": %v", why)
	}
	return detail + "."
}

// notSentAgain is what every diagnostic of a create not known for certain says of sending it
// again.
const notSentAgain = "The request was NOT sent again: a second task would reach every device again."

// sendAgainAdvice says how the user sends a create again once they have checked that IoTDA
// did not make its task.
func sendAgainAdvice(w fleetWork, sent sentTask) string {
	return fmt.Sprintf("If you have checked that IoTDA did not create it (the console, or ListBatchTasks of "+
		"task_type %s: no task named %q), terraform apply -replace=<address> sends the request again, once.",
		w.taskType(), sent.Name)
}

// addNotFoundYet warns that a task that may exist has not been found yet; the state keeps the
// create (fleetPrivate.Sent), and the next plan looks for it again.
func addNotFoundYet(ctx context.Context, w fleetWork, sent sentTask, why error, look lookup, diags *diag.Diagnostics) {
	detail := describeSent(w, sent, why) + " It may have reached IoTDA.\n\n"
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		detail += "The apply was interrupted before the provider could look the task up by its name."
	case look.err != nil:
		detail += fmt.Sprintf("Looking the task up by its name failed: %v", look.err)
	default:
		detail += "No task of that name has appeared on IoTDA yet; a request held on its way may still create it."
	}
	detail += "\n\n" + notSentAgain + " The state records it, and the next plan shows an update that looks for " +
		"the task by its name and follows it: run terraform apply again. From " + lookupWindow.String() + " after " +
		"the request on, plans stop looking by themselves and say so (every refresh still looks)."
	diags.AddWarning(summaryBatchNotFoundYet, withRequestID(detail, requestIDOf(why)))
}

// neverFoundDetail says that no task of a create's name appeared within lookupWindow, and
// what to do.
func neverFoundDetail(w fleetWork, sent sentTask, why error) string {
	return describeSent(w, sent, why) + fmt.Sprintf("\n\nNo task of that name has appeared on IoTDA in the "+
		"%s since. %s A request held on its way may still create it: every refresh (terraform plan, terraform "+
		"apply) keeps looking for it, and a task found is followed by the next apply. Until then, plans show no "+
		"change.\n\n%s", lookupWindow, notSentAgain, sendAgainAdvice(w, sent))
}

// addNeverFound warns that no task of the create's name appeared within lookupWindow.
func addNeverFound(w fleetWork, sent sentTask, why error, diags *diag.Diagnostics) {
	diags.AddWarning(summaryBatchNeverFound, withRequestID(neverFoundDetail(w, sent, why), requestIDOf(why)))
}

// ambiguousDetail says that several tasks match a create of a name chosen in the
// configuration, the way out first.
func ambiguousDetail(w fleetWork, sent sentTask, why error, ids []string) string {
	detail := fmt.Sprintf("IoTDA holds %d tasks named %q with the devices and %s this apply sent, which its "+
		"request may have created: %s. Which one the request created cannot be told, so none is followed and "+
		"nothing is sent again.\n\nImport the right one: terraform state rm <address>, then terraform import <address> "+
		"<task_id>. Or, once you have checked that none of them is this create's, terraform apply "+
		"-replace=<address> sends the request again. To avoid this, leave task_name out: the provider then "+
		"chooses a name no other task has.\n\n", len(ids), sent.Name, w.describeWork(), strings.Join(ids, ", "))
	detail += describeSent(w, sent, why)
	if sent.Mark.Local {
		detail += fmt.Sprintf(" The task list could not be read just before the request, so the tasks of that name "+
			"created in the %s before it count as well.", iotda.LocalClockSlack)
	}
	return detail
}

// addAmbiguous warns that several tasks match a create of a name chosen in the configuration.
func addAmbiguous(w fleetWork, sent sentTask, why error, ids []string, diags *diag.Diagnostics) {
	diags.AddWarning(summaryBatchAmbiguous, withRequestID(ambiguousDetail(w, sent, why, ids), requestIDOf(why)))
}

// addNotConfirmed warns that the task the create's answer named could not be read back
// before the apply ended; the state keeps it with the create, and the next apply reads it.
func addNotConfirmed(w fleetWork, id string, err error, diags *diag.Diagnostics) {
	f := w.fleet()
	detail := fmt.Sprintf("IoTDA answered the request creating batch task %q (%s to %s) with task %s, but the "+
		"provider could not read that task back to check it before the apply ended", f.TaskName.ValueString(),
		w.describeWork(), f.describeTargets(), id)
	if err != nil {
		detail += fmt.Sprintf(": %v", err)
	}
	detail += ".\n\n"
	summary := summaryBatchStillRunning
	if errors.Is(err, iotda.ErrMalformedAnswer) {
		summary = summaryBatchAnswers
		detail += fmt.Sprintf("%d answers in a row did not match the task: %s ", malformedInARow, notTheNetwork)
	}
	detail += "The task is saved in the state with its task_id. The next plan shows an update that reads it, " +
		"checks it is the task sent (or, if it is not, looks for that task by its name) and follows it to its " +
		"end: run terraform apply again. It does not send the request again."
	diags.AddWarning(summary, withRequestID(detail, requestIDOf(err)))
}

// notTheNetwork says what answers that do not match their task are.
const notTheNetwork = "that is what IoTDA (or a proxy between this machine and IoTDA) answered, not a network " +
	"failure: a proxy may garble one answer, not every one."

// runAgainAdvice says how to run a task IoTDA no longer has again, and what that costs.
func runAgainAdvice(w fleetWork) string {
	return "To run it again, use terraform apply -replace=<address>: that creates a new task, sending " +
		w.describeWork() + " to every device again, including those that received it already."
}

// addNotFollowed warns that a task could not be followed to its end: the create timeout
// expired, the apply was interrupted, its reads failed, or IoTDA no longer has it.
func addNotFollowed(w fleetWork, res followResult, elapsed time.Duration, diags *diag.Diagnostics) {
	f := w.fleet()
	task := fmt.Sprintf("Batch task %s (%q, %s to %s)", f.TaskID.ValueString(), f.TaskName.ValueString(),
		w.describeWork(), f.describeTargets())
	seen := fmt.Sprintf("%s, %s", f.Status.ValueString(), progressText(f))
	readsFailed := res.reads > 0 && res.failed == res.reads
	switch {
	case res.end == followGone:
		diags.AddWarning(summaryBatchGone, fmt.Sprintf("%s is not on IoTDA any more: reading it answered %v\n\n"+
			"It was last seen %s. The resource is kept as it was, so that no apply runs the task again by itself; "+
			"its results cannot be read. %s", task, res.lastErr, seen, runAgainAdvice(w)))
	case res.end == followMalformed:
		diags.AddWarning(summaryBatchAnswers, withRequestID(fmt.Sprintf("%s was created, but %d answers in a row "+
			"about it did not match the task, so the provider stopped following it. The last: %v\n\nThat is %s "+
			"The task was last seen %s, and keeps running on IoTDA. %s", task, malformedInARow, res.lastErr,
			notTheNetwork, seen, nextApplyFollows), requestIDOf(res.lastErr)))
	case res.end == followRefused:
		diags.AddWarning(summaryBatchReadFailed, withRequestID(fmt.Sprintf("%s was created, but IoTDA refused to "+
			"show it: %v\n\nIt was last seen %s. Fix the cause (credentials, permissions). %s", task, res.lastErr,
			seen, nextApplyFollows), requestIDOf(res.lastErr)))
	case readsFailed:
		why := "the apply was interrupted"
		if res.end == followTimedOut {
			why = fmt.Sprintf("timeouts.create (%s) expired", elapsed.Round(time.Second))
		}
		diags.AddWarning(summaryBatchStillRunning, withRequestID(fmt.Sprintf("%s was created, but every read of it "+
			"failed (%d of %d) until %s; the last: %v\n\nIt was last seen %s, and keeps running on IoTDA. Check the "+
			"network path to IoTDA and its status. %s", task, res.failed, res.reads, why, res.lastErr, seen,
			nextApplyFollows), requestIDOf(res.lastErr)))
	case res.end == followInterrupted:
		diags.AddWarning(summaryBatchStillRunning, fmt.Sprintf("%s was still %s when the apply was interrupted. It "+
			"keeps running on IoTDA. %s", task, seen, nextApplyFollows))
	default:
		diags.AddWarning(summaryBatchStillRunning, fmt.Sprintf("%s was still %s when timeouts.create (%s) expired. "+
			"It keeps running on IoTDA. %s For large fleets or long retries, raise timeouts.create.", task, seen,
			elapsed.Round(time.Second), nextApplyFollows))
	}
}

// addResultsNotRead warns that a finished task's results could not be read, or did not match
// the task; the state keeps the task with its results unread.
func addResultsNotRead(w fleetWork, problem string, diags *diag.Diagnostics) {
	f := w.fleet()
	diags.AddWarning(summaryBatchResultsNotRead, fmt.Sprintf("Batch task %s (%q, %s to %s) has ended (%s), but its "+
		"results were not saved: %s\n\nThe task is saved in the state with its results unread (results and "+
		"failed_device_ids are null). The next plan shows an update that reads them again: run terraform apply "+
		"again. It does not run the task again.", f.TaskID.ValueString(), f.TaskName.ValueString(), w.describeWork(),
		f.describeTargets(), f.Status.ValueString(), problem))
}

// addResultsRedacted warns that devices echoed a credential of the provider in their
// replies, which the client replaced by "***" (iotda.Subtask.Redacted): it names the
// attributes and the devices, never the values.
func addResultsRedacted(w fleetWork, subtasks []iotda.Subtask, diags *diag.Diagnostics) {
	var devices, attrs []string
	for _, st := range subtasks {
		if len(st.Redacted) > 0 {
			devices = append(devices, st.Target)
			attrs = append(attrs, st.Redacted...)
		}
	}
	if len(devices) == 0 {
		return
	}
	slices.Sort(devices)
	slices.Sort(attrs)
	f := w.fleet()
	diags.AddWarning(summaryReplyRedacted, fmt.Sprintf("%s of batch task %s (%q) answered %s with a reply that holds "+
		"the provider's %s: %s. Each such value is replaced by *** in results, the provider's diagnostics and its "+
		"logs, so that it is never stored or shown; the rest of each reply is kept.", plural(len(devices), "device"),
		f.TaskID.ValueString(), f.TaskName.ValueString(), w.describeWork(), strings.Join(slices.Compact(attrs), " and "),
		iotda.ListSome(devices, maxListedFailures)))
}

// reportFailures turns the failed devices of a finished task into a warning within
// max_failed_devices, and an error beyond it. A task that failed as a whole (no device, a
// status_desc) is always an error. It returns whether it reported an error: the next plan
// then replaces the resource (in a create, Terraform taints it; in an update, planFleet does).
func reportFailures(w fleetWork, failures []deviceFailure, devices int, update bool, diags *diag.Diagnostics) bool {
	f := w.fleet()
	next := "The state is saved and Terraform marks the resource as tainted, so the next apply creates a new task"
	keep := "To keep this task instead, run terraform untaint <address> and raise max_failed_devices"
	if update {
		next = "The state is saved, and the next plan replaces the resource, creating a new task"
		keep = "To keep this task instead, raise max_failed_devices"
	}
	if f.Status.ValueString() == iotda.TaskFail && devices == 0 {
		diags.AddError(summaryBatchTaskFailed, fmt.Sprintf("Batch task %s (%q, %s to %s) failed as a whole: %s\n\n"+
			"No device received anything. %s; fix the cause first (for example a device group that does not exist).",
			f.TaskID.ValueString(), f.TaskName.ValueString(), w.describeWork(), f.describeTargets(),
			firstNonEmpty(f.StatusDesc.ValueString(), "IoTDA gave no reason (status_desc is empty)."), next))
		return true
	}
	if len(failures) == 0 {
		return false
	}
	limit := f.MaxFailedDevices.ValueInt64()
	var b strings.Builder
	fmt.Fprintf(&b, "Batch task %s (%q) ended %s: %s failed out of %d.\n\n", f.TaskID.ValueString(),
		f.TaskName.ValueString(), f.Status.ValueString(), plural(len(failures), "device"), devices)
	for i, fl := range failures {
		if i == maxListedFailures {
			fmt.Fprintf(&b, "  ... and %d more (see failed_device_ids and results)\n", len(failures)-maxListedFailures)
			break
		}
		b.WriteString("  - " + describeFailure(fl) + "\n")
	}
	summary := w.kindTitle() + " Failed on Some Devices"
	if int64(len(failures)) <= limit {
		fmt.Fprintf(&b, "\nThat is within max_failed_devices (%d), so this is only a warning. The results are saved; "+
			"failed_device_ids lists the devices to retry.", limit)
		diags.AddWarning(summary, b.String())
		return false
	}
	fmt.Fprintf(&b, "\nThat is more than max_failed_devices (%d). %s, running it again on every device. %s, and to "+
		"retry only the failed devices give failed_device_ids to another resource.", limit, next, keep)
	diags.AddError(summary, b.String())
	return true
}

// describeFailure renders one failed device: `sensor-7: Fail, IOTDA.014016 (the device is offline)`.
func describeFailure(f deviceFailure) string {
	switch {
	case f.ResultCode != nil:
		return fmt.Sprintf("%s: answered with result_code %d", f.DeviceID, *f.ResultCode)
	case f.Status == iotda.TaskSuccess:
		return fmt.Sprintf("%s: answered, but %s", f.DeviceID, f.ErrorMsg)
	case f.ErrorCode != "":
		return fmt.Sprintf("%s: %s, %s (%s)", f.DeviceID, f.Status, f.ErrorCode, firstNonEmpty(f.ErrorMsg, "no message"))
	default:
		return fmt.Sprintf("%s: %s", f.DeviceID, f.Status)
	}
}
