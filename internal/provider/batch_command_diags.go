package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Diagnostics of iotda_batch_command. Every one that follows the creation of a task names
// the task, because the task exists on IoTDA whatever happens next.

const (
	summaryBatchRejected      = "IoTDA Rejected the Batch Task"
	summaryBatchUnknown       = "Batch Task Outcome Unknown"
	summaryBatchNotCreated    = "Batch Task Not Created"
	summaryBatchStillRunning  = "Batch Task Still Running"
	summaryBatchReadFailed    = "Batch Task Could Not Be Read"
	summaryBatchTaskFailed    = "Batch Task Failed"
	summaryBatchDeviceFailure = "Batch Command Failed on Some Devices"
	summaryBatchDeleteFailed  = "Batch Task Not Deleted"

	// maxListedFailures is how many failed devices a diagnostic names before it counts the rest.
	maxListedFailures = 20
)

// describeBatch names a task's command for messages: `command "REBOOT" of service "Maintenance"`.
func describeBatch(m *batchCommandModel) string {
	return describeCommand(iotda.Command{ServiceID: m.ServiceID.ValueString(), CommandName: m.CommandName.ValueString()})
}

// describeTargets says whom the task goes to: "1,000 devices" or "the devices of 2 groups".
func describeTargets(m *batchCommandModel) string {
	if n := len(m.DeviceIDs.Elements()); n > 0 {
		return plural(n, "device")
	}
	return "the devices of " + plural(len(m.GroupIDs.Elements()), "group")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// diagnoseCreateError reports a CreateBatchTask that did not return a task; ctx is the one it
// ran with. When its answer was lost, looked says whether the provider looked the task up by
// its name, and lookupErr why that failed, if it did.
func diagnoseCreateError(ctx context.Context, pd *providerData, m *batchCommandModel, err error, looked bool, lookupErr error, diags *diag.Diagnostics) {
	var (
		apiErr  *iotda.APIError
		notSent *iotda.NotSentError
		unknown *iotda.DeliveryUnknownError
	)
	name := m.TaskName.ValueString()
	switch {
	case errors.As(err, &notSent):
		diags.AddError(summaryBatchNotCreated, fmt.Sprintf("Could not connect to IoTDA at %s to create batch task "+
			"%q (%d attempt(s)): %v\n\nThe request never reached the platform, so no task was created and no device "+
			"received the command. %s", pd.endpoint, name, notSent.Attempts, notSent.Err,
			connectAdvice(ctx, "Check the endpoint and region settings, the network path and proxy, and the TLS "+
				"settings, then apply again.", "Apply again to create the task.")))
	case errors.As(err, &unknown), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		detail := fmt.Sprintf("The request creating batch task %q (%s to %s) may have reached IoTDA, but no usable "+
			"answer came back: %v\n\n", name, describeBatch(m), describeTargets(m), err)
		switch {
		case !looked:
			detail += "The name was chosen in the configuration, so it may belong to another task as well, and the " +
				"provider cannot tell which one is this apply's.\n\n"
		case lookupErr != nil:
			detail += fmt.Sprintf("Looking the task up by its name failed too: %v\n\n", lookupErr)
		default:
			detail += "No task of that name was found when the provider looked for it, but it may still appear.\n\n"
		}
		detail += "Nothing was saved, and the request was NOT sent again, because a second task would deliver the " +
			"command to every device again. List the createCommands batch tasks on IoTDA (ListBatchTasks) and look " +
			"for this name. If the task exists, import it with `terraform import <address> <task_id>` instead of " +
			"applying again; otherwise apply again."
		diags.AddError(summaryBatchUnknown, withRequestID(detail, requestIDOf(err)))
	case errors.As(err, &apiErr):
		diags.AddError(summaryBatchRejected, withRequestID(fmt.Sprintf("IoTDA refused to create batch task %q "+
			"(%s to %s): HTTP %d %s, error_code %s, error_msg %q.\n\n%s", name, describeBatch(m), describeTargets(m),
			apiErr.StatusCode, http.StatusText(apiErr.StatusCode), firstNonEmpty(apiErr.ErrorCode, "(none)"),
			apiErr.ErrorMsg, batchAPIHint(apiErr)), apiErr.RequestID))
	default:
		diags.AddError(summaryBatchNotCreated, fmt.Sprintf("Creating batch task %q failed: %v", name, err))
	}
}

// requestIDOf returns the X-Request-Id an error carries, if any.
func requestIDOf(err error) string {
	var apiErr *iotda.APIError
	var unknown *iotda.DeliveryUnknownError
	switch {
	case errors.As(err, &apiErr):
		return apiErr.RequestID
	case errors.As(err, &unknown):
		return unknown.RequestID
	}
	return ""
}

// batchAPIHint says what to do about an error answer to a batch task request.
func batchAPIHint(e *iotda.APIError) string {
	switch {
	case errors.Is(e, iotda.ErrBadRequest):
		return "No task was created. Check task_name, device_ids or group_ids, service_id, command_name and paras " +
			"against the platform's rules and the devices' product model."
	case errors.Is(e, iotda.ErrUnauthorized):
		return "Authentication failed, so nothing was created. Check auth_token (IOTDA_AUTH_TOKEN), or access_key " +
			"and secret_key (IOTDA_ACCESS_KEY, IOTDA_SECRET_KEY) and signing_algorithm."
	case errors.Is(e, iotda.ErrForbidden):
		return "The credentials are not allowed to do this (IAM actions iotda:batchtasks:*). Check the IAM " +
			"permissions, the project_id and the instance_id."
	case errors.Is(e, iotda.ErrThrottled):
		return "The request was throttled. Try again later."
	case errors.Is(e, iotda.ErrNoSuchAPI):
		return "The endpoint serves no such API. Check endpoint (or IOTDA_ENDPOINT): it must be an IoTDA API " +
			"address, such as https://iotda.cn-north-4.myhuaweicloud.com or an instance's access address."
	case errors.Is(e, iotda.ErrRedirect):
		return redirectHint(e, "sending the request again to another address could create a second task",
			"the task was most likely not created")
	case errors.Is(e, iotda.ErrServer):
		return "The platform reported an internal error. It does not say whether a task was created: list the " +
			"createCommands batch tasks on IoTDA and look for this name before applying again."
	}
	return ""
}

// addStillRunning reports a task that had not finished when the create timeout expired or the
// apply was interrupted. The state holds the task.
func addStillRunning(ctx context.Context, m *batchCommandModel, elapsed time.Duration, diags *diag.Diagnostics) {
	why := fmt.Sprintf("timeouts.create (%s) expired", elapsed.Round(time.Second))
	if errors.Is(ctx.Err(), context.Canceled) {
		why = "the apply was interrupted"
	}
	diags.AddError(summaryBatchStillRunning, fmt.Sprintf("Batch task %s (%q, %s to %s) was still %s when %s; %s.\n\n"+
		"The task keeps running on IoTDA. It is saved in the state with its task_id, and Terraform marks the "+
		"resource as tainted, so the next apply would create a new task and deliver the command to every device "+
		"again. To keep this task instead, run `terraform untaint <address>` (for example terraform untaint "+
		"iotda_batch_command.this): the next refresh reads the task, and its results once it has finished. For "+
		"large fleets or long retries, raise timeouts.create.",
		m.TaskID.ValueString(), m.TaskName.ValueString(), describeBatch(m), describeTargets(m), m.Status.ValueString(),
		why, progressText(m)))
}

// progressText renders the progress counters: "120 of 1000 devices done (success 100, fail 20)".
func progressText(m *batchCommandModel) string {
	c := progressCounts(m)
	done := c["success"] + c["fail"] + c["stopped"] + c["removed"]
	return fmt.Sprintf("%d of %d devices done (success %d, fail %d, processing %d, waiting %d, waiting to retry %d)",
		done, c["total"], c["success"], c["fail"], c["processing"], c["waitting"], c["fail_wait_retry"])
}

// progressCounts returns the progress attribute as a map of counters.
func progressCounts(m *batchCommandModel) map[string]int64 {
	out := map[string]int64{}
	if m.Progress.IsNull() || m.Progress.IsUnknown() {
		return out
	}
	for k, v := range m.Progress.Attributes() {
		if n, ok := v.(interface{ ValueInt64() int64 }); ok {
			out[k] = n.ValueInt64()
		}
	}
	return out
}

// addReadFailed reports a task that exists but could not be read (state saved).
func addReadFailed(m *batchCommandModel, what string, err error, diags *diag.Diagnostics) {
	diags.AddError(summaryBatchReadFailed, withRequestID(fmt.Sprintf("Batch task %s (%q) was created, but %s "+
		"failed: %v\n\nThe task is saved in the state with its task_id. Terraform marks the resource as tainted, so "+
		"the next apply would create a new task; to keep this one, run `terraform untaint <address>`: the next "+
		"refresh reads the task and its results.", m.TaskID.ValueString(), m.TaskName.ValueString(), what, err),
		requestIDOf(err)))
}

// reportFailures turns the failed devices of a finished task into a warning within
// max_failed_devices, and an error beyond it. A task that failed as a whole (no subtask, a
// status_desc) is always an error.
func reportFailures(m *batchCommandModel, failures []deviceFailure, subtasks int, diags *diag.Diagnostics) {
	if m.Status.ValueString() == iotda.TaskFail && subtasks == 0 {
		diags.AddError(summaryBatchTaskFailed, fmt.Sprintf("Batch task %s (%q, %s to %s) failed as a whole: %s\n\n"+
			"No device received the command. The state is saved and Terraform marks the resource as tainted, so "+
			"the next apply creates a new task; fix the cause first (for example a device group that does not exist).",
			m.TaskID.ValueString(), m.TaskName.ValueString(), describeBatch(m), describeTargets(m),
			firstNonEmpty(m.StatusDesc.ValueString(), "IoTDA gave no reason (status_desc is empty).")))
		return
	}
	if len(failures) == 0 {
		return
	}
	limit := m.MaxFailedDevices.ValueInt64()
	var b strings.Builder
	fmt.Fprintf(&b, "Batch task %s (%q) ended %s: %s failed out of %d.\n\n", m.TaskID.ValueString(),
		m.TaskName.ValueString(), m.Status.ValueString(), plural(len(failures), "device"), subtasks)
	for i, f := range failures {
		if i == maxListedFailures {
			fmt.Fprintf(&b, "  ... and %d more (see failed_device_ids and results)\n", len(failures)-maxListedFailures)
			break
		}
		b.WriteString("  - " + describeFailure(f) + "\n")
	}
	if int64(len(failures)) <= limit {
		fmt.Fprintf(&b, "\nThat is within max_failed_devices (%d), so this is only a warning. The results are saved; "+
			"failed_device_ids lists the devices to retry.", limit)
		diags.AddWarning(summaryBatchDeviceFailure, b.String())
		return
	}
	fmt.Fprintf(&b, "\nThat is more than max_failed_devices (%d). The results are saved, and Terraform marks the "+
		"resource as tainted, so the next apply runs the task again on every device. To retry only the failed "+
		"devices instead, keep this task (terraform untaint <address>) and give failed_device_ids to a second "+
		"iotda_batch_command; or raise max_failed_devices.", limit)
	diags.AddError(summaryBatchDeviceFailure, b.String())
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
