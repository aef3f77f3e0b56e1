package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The batch task machinery shared by the fleet resources (iotda_batch_command, task type
// createCommands, and iotda_batch_message, createMessages). A fleet resource runs one IoTDA batch
// task when it is created and keeps the promise DESIGN.md calls Run once:
//
//   - a create that may have reached IoTDA is resolved by finding the task by its unique
//     name, never by sending it again (batch_task_create.go);
//   - once a task exists, an interrupt, a timeout or a failed read keeps it in state, and the
//     next plan follows the same task (batch_task_plan.go, batch_task_follow.go);
//   - every answer is checked against the task id and the targets it belongs to.
//
// What differs per task type (the document, the shape of one device's result and what more
// must be read for it, how an imported task's document becomes arguments) is the fleetWork a
// resource's model implements.

// fleetTask is the part of a fleet resource's model the machinery owns: the targets, the
// task's name and policy, the failure limit, and what IoTDA says of the task.
type fleetTask struct {
	ID                  types.String   `tfsdk:"id"`
	TaskID              types.String   `tfsdk:"task_id"`
	DeviceIDs           types.List     `tfsdk:"device_ids"`
	GroupIDs            types.List     `tfsdk:"group_ids"`
	TaskName            types.String   `tfsdk:"task_name"`
	RetryCount          types.Int64    `tfsdk:"retry_count"`
	RetryInterval       types.Int64    `tfsdk:"retry_interval"`
	MaxFailedDevices    types.Int64    `tfsdk:"max_failed_devices"`
	Triggers            types.Map      `tfsdk:"triggers"`
	DeleteTaskOnDestroy types.Bool     `tfsdk:"delete_task_on_destroy"`
	Status              types.String   `tfsdk:"status"`
	StatusDesc          types.String   `tfsdk:"status_desc"`
	CreatedAt           types.String   `tfsdk:"created_at"`
	Progress            types.Object   `tfsdk:"progress"`
	FailedDeviceIDs     types.List     `tfsdk:"failed_device_ids"`
	Results             types.String   `tfsdk:"results"`
	Timeouts            timeouts.Value `tfsdk:"timeouts"`
}

// fleetWork is what a fleet resource's model gives the machinery: the part of a task that
// depends on its type.
type fleetWork interface {
	fleet() *fleetTask
	// taskType is the batch task type, such as iotda.TaskTypeCreateCommands.
	taskType() string
	// kindTitle names the kind of task in diagnostic summaries: "Batch Command".
	kindTitle() string
	// describeWork names what every device receives, for messages:
	// `command "REBOOT" of service "Maintenance"`.
	describeWork() string
	// document is the task's document, or the error of the argument that cannot be sent.
	document() (json.RawMessage, diag.Diagnostics)
	// sameDocument reports whether doc, as IoTDA answers it, is the document this model
	// sends: the same JSON value, whatever member order or number spelling IoTDA answers with.
	sameDocument(doc json.RawMessage) bool
	// fillResults fills results and failed_device_ids from a finished task's subtasks,
	// checked against the task, and returns the failed devices, sorted by device id. ctx
	// bounds what it may still read (a message's status; the read timeout).
	fillResults(ctx context.Context, client *iotda.Client, subtasks []iotda.Subtask) []deviceFailure
	// adoptDocument fills the arguments the document holds from an imported task's.
	adoptDocument(t *iotda.BatchTask, diags *diag.Diagnostics)
}

// settler is a fleetWork with attributes of its own that follow from results (a fleet
// message's pending_device_ids): settle sets them before the model is saved.
type settler interface {
	settle()
}

// settle sets what follows from w's results, when w has such attributes.
func settle(w fleetWork) {
	if s, ok := w.(settler); ok {
		s.settle()
	}
}

// derivedTaskName returns a task name no other apply uses: tf_, the time in UTC and 8 random
// hex digits, such as tf_20260102T150405_9f8e7d6c. Its uniqueness is what lets Create find
// its task by name when the answer to the creating request is lost.
func derivedTaskName(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return "tf_" + now.UTC().Format("20060102T150405") + "_" + hex.EncodeToString(b)
}

// targets returns the device ids, or nil for group targets.
func (f *fleetTask) targets() []string {
	if f.DeviceIDs.IsNull() || f.DeviceIDs.IsUnknown() {
		return nil
	}
	return listStrings(f.DeviceIDs)
}

// newTask builds the CreateBatchTask request, choosing a task name when none is set.
func (f *fleetTask) newTask(taskType string, doc json.RawMessage) iotda.NewBatchTask {
	if f.TaskName.IsNull() || f.TaskName.IsUnknown() {
		f.TaskName = types.StringValue(derivedTaskName(time.Now()))
	}
	t := iotda.NewBatchTask{TaskName: f.TaskName.ValueString(), TaskType: taskType, Targets: f.targets(),
		GroupIDs: listStrings(f.GroupIDs), Document: doc}
	if f.GroupIDs.IsNull() {
		t.GroupIDs = nil
	}
	if !f.RetryCount.IsNull() && !f.RetryInterval.IsNull() {
		count, interval := int32(f.RetryCount.ValueInt64()), int32(f.RetryInterval.ValueInt64()) //nolint:gosec // validated: 0-5 and 1-1440
		t.Policy = &iotda.TaskPolicy{RetryCount: &count, RetryInterval: &interval}
	}
	return t
}

// setTask copies what the platform says of a task into the computed attributes, leaving the
// results alone.
func (f *fleetTask) setTask(t *iotda.BatchTask) {
	f.ID, f.TaskID = types.StringValue(t.TaskID), types.StringValue(t.TaskID)
	f.Status = types.StringValue(t.Status)
	f.StatusDesc = nullIfEmpty(t.StatusDesc)
	f.CreatedAt = types.StringNull()
	if !t.CreatedAt.IsZero() {
		f.CreatedAt = types.StringValue(t.CreatedAt.UTC().Format(time.RFC3339))
	}
	f.setProgress(t.Progress)
}

func (f *fleetTask) setProgress(p iotda.TaskProgress) {
	f.Progress = types.ObjectValueMust(progressAttrTypes, map[string]attr.Value{
		"total": types.Int64Value(int64(p.Total)), "processing": types.Int64Value(int64(p.Processing)),
		"success": types.Int64Value(int64(p.Success)), "fail": types.Int64Value(int64(p.Fail)),
		"waitting": types.Int64Value(int64(p.Waitting)), "fail_wait_retry": types.Int64Value(int64(p.FailWaitRetry)),
		"stopped": types.Int64Value(int64(p.Stopped)), "removed": types.Int64Value(int64(p.Removed)),
	})
}

// setUnresolved records a create whose task has not been found: no task id, no status.
func (f *fleetTask) setUnresolved() {
	f.ID, f.TaskID = types.StringNull(), types.StringNull()
	f.Status, f.StatusDesc, f.CreatedAt = types.StringNull(), types.StringNull(), types.StringNull()
	f.Progress = types.ObjectNull(progressAttrTypes)
	f.clearResults()
}

// clearResults marks the results as not read yet.
func (f *fleetTask) clearResults() {
	f.Results = types.StringNull()
	f.FailedDeviceIDs = types.ListNull(types.StringType)
}

// resolved reports whether the state names a task.
func (f *fleetTask) resolved() bool { return f.TaskID.ValueString() != "" }

// finished reports whether the saved task has ended.
func (f *fleetTask) finished() bool { return iotda.TaskFinished(f.Status.ValueString()) }

// resultsRead reports whether the saved task's results are in the state.
func (f *fleetTask) resultsRead() bool { return !f.Results.IsNull() && !f.Results.IsUnknown() }

// deviceFailure is one device the task did not succeed on.
type deviceFailure struct {
	DeviceID, Status, ErrorCode, ErrorMsg string
	// ResultCode is the device's non-zero result_code; Reply its reply, when it answered.
	ResultCode *int64
	Reply      string
}

// encodedResult is an entry of results as compact JSON; deep says whether it holds a reply
// nested beyond maxReplyDepth.
type encodedResult struct {
	text []byte
	deep bool
}

// setResults fills results and failed_device_ids from the subtasks, through result, and
// returns the failures, sorted by device id.
//
// results is one JSON object, keyed by device id in sorted order, rather than a map of one
// value per device: Terraform and the plugin framework spend time on every value of a
// resource in every plan (reading, refreshing and planning the state). For 10,000 devices in
// ten resources (Terraform 1.5.7, 2 cores), a follow-up plan took 2.2 s of CPU with
// one text, 3.3 to 3.5 s with a map of JSON texts and 12.3 s with a map of objects, of which
// the provider spent 8.6 s: terraform-plugin-framework v1.19.0 looks up the schema of every
// value it walks, copying the resource's attribute map each time. As for response_json (see
// readReply), text Terraform would normalize to NFC is written with \u escapes, and results
// holding a reply nested beyond maxReplyDepth start with a space, so that Terraform shows it
// as a string rather than laying it out at a cost that grows with the square of its depth.
func (f *fleetTask) setResults(subtasks []iotda.Subtask, result func(iotda.Subtask) (encodedResult, *deviceFailure)) []deviceFailure {
	entries := make(map[string][]byte, len(subtasks))
	var failures []deviceFailure
	deep := false
	for _, st := range subtasks {
		entry, failure := result(st)
		entries[st.Target] = entry.text
		deep = deep || entry.deep
		if failure != nil {
			failures = append(failures, *failure)
		}
	}
	failures = f.setFailures(failures)
	f.Results = types.StringValue(renderResults(entries, deep))
	return failures
}

// setFailures sorts the failures by device id, keeps one per device, and lists them in
// failed_device_ids.
func (f *fleetTask) setFailures(failures []deviceFailure) []deviceFailure {
	slices.SortFunc(failures, func(a, b deviceFailure) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	failures = slices.CompactFunc(failures, func(a, b deviceFailure) bool { return a.DeviceID == b.DeviceID })
	ids := make([]attr.Value, len(failures))
	for i, fl := range failures {
		ids[i] = types.StringValue(fl.DeviceID)
	}
	f.FailedDeviceIDs = types.ListValueMust(types.StringType, ids)
	return failures
}

// renderResults renders the entries (each device's result as compact JSON) as the results
// text: one object keyed by device id in sorted order, escaped and marked as setResults says.
func renderResults(entries map[string][]byte, deep bool) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, id := range slices.Sorted(maps.Keys(entries)) {
		if i > 0 {
			b.WriteByte(',')
		}
		_ = encodeString(&b, id) // A string always encodes.
		b.WriteByte(':')
		b.Write(entries[id])
	}
	b.WriteByte('}')
	text := b.Bytes()
	if !norm.NFC.IsNormal(text) {
		text = escapeNonASCII(text)
	}
	if deep {
		text = append([]byte{' '}, text...)
	}
	return string(text)
}

// failedCount is how many devices failed_device_ids lists; -1 when it is not known.
func (f *fleetTask) failedCount() int {
	if f.FailedDeviceIDs.IsNull() || f.FailedDeviceIDs.IsUnknown() {
		return -1
	}
	return len(f.FailedDeviceIDs.Elements())
}

// failedAsAWhole reports a finished task that failed with no device run: IoTDA could not
// start it (a device group that does not exist).
func (f *fleetTask) failedAsAWhole() bool {
	return f.Status.ValueString() == iotda.TaskFail && f.resultsRead() && strings.TrimSpace(f.Results.ValueString()) == "{}"
}

// describeTargets says whom the task goes to: "1000 devices" or "the devices of 2 groups".
func (f *fleetTask) describeTargets() string {
	if n := len(f.DeviceIDs.Elements()); n > 0 {
		return plural(n, "device")
	}
	return "the devices of " + plural(len(f.GroupIDs.Elements()), "group")
}

// expectedSubtasks is how many subtasks the task should have: its device ids, or for group
// targets what IoTDA counted (progress.total).
func (f *fleetTask) expectedSubtasks() int {
	if ids := f.targets(); ids != nil {
		return len(ids)
	}
	return int(progressCounts(f)["total"])
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// progressText renders the progress counters in a few words: "120/1000 done: 20 failed,
// 880 running", naming only the counters that are not zero (waiting counts the subtasks
// waiting to run and to be retried; stopped the stopped and removed ones).
func progressText(f *fleetTask) string {
	c := progressCounts(f)
	done := c["success"] + c["fail"] + c["stopped"] + c["removed"]
	var parts []string
	for _, k := range []struct {
		n    int64
		word string
	}{{c["fail"], "failed"}, {c["stopped"] + c["removed"], "stopped"}, {c["processing"], "running"},
		{c["waitting"] + c["fail_wait_retry"], "waiting"}} {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k.n, k.word))
		}
	}
	text := fmt.Sprintf("%d/%d done", done, c["total"])
	if len(parts) > 0 {
		text += ": " + strings.Join(parts, ", ")
	}
	return text
}

// progressCounts returns the progress attribute as a map of counters.
func progressCounts(f *fleetTask) map[string]int64 {
	out := map[string]int64{}
	if f.Progress.IsNull() || f.Progress.IsUnknown() {
		return out
	}
	for k, v := range f.Progress.Attributes() {
		if n, ok := v.(interface{ ValueInt64() int64 }); ok {
			out[k] = n.ValueInt64()
		}
	}
	return out
}

// privateFleetKey is the private state key of the machinery; its value is a fleetPrivate.
const privateFleetKey = "fleet_task"

// fleetPrivate is what the machinery keeps between applies besides the attributes.
type fleetPrivate struct {
	// Sent records a create whose task is not known for certain: not found yet (no task_id;
	// it may exist), or named by the create's answer (task_id) but not read back yet.
	Sent *sentTask `json:"sent,omitempty"`
	// NeverFound says no task of Sent's name appeared within lookupWindow of the request:
	// plans stop looking for it (refreshes go on) and say how to send it again.
	NeverFound bool `json:"never_found,omitempty"`
	// Ambiguous lists the tasks that match Sent, of a name chosen in the configuration, as
	// the last lookup found them: which one the create made cannot be told.
	Ambiguous []string `json:"ambiguous,omitempty"`
	// Gone says IoTDA answered 404 for the saved task at the last read.
	Gone bool `json:"gone,omitempty"`
	// Adopted says the task was imported rather than run by this resource, so a failure
	// beyond max_failed_devices does not replace it.
	Adopted bool `json:"adopted,omitempty"`
	// ResultsProblem is why the last read of the results was not saved (they did not match
	// the task, or could not be read); "" when nothing went wrong.
	ResultsProblem string `json:"results_problem,omitempty"`
	// FailedRun says this resource's apply reported the task's failures as an error: the
	// next plan replaces it while they stay beyond max_failed_devices.
	FailedRun bool `json:"failed_run,omitempty"`
	// Unreadable lists the devices of a fleet message whose message IoTDA no longer has
	// while it was pending (replaced by 20 newer ones, or the device deleted): their last
	// known status is kept, and refreshes do not read them again.
	Unreadable []string `json:"unreadable,omitempty"`
	// NotFound counts, per device of a fleet message, the reads in a row that did not find
	// its pending message: one answer without it may be a proxy's or a moment's, so a device
	// joins Unreadable only after goneAfterReads of them.
	NotFound map[string]int `json:"not_found,omitempty"`
	// PendingCursor is the last device whose pending message a refresh read: the next one
	// reads the devices after it first (pendingOrder).
	PendingCursor string `json:"pending_cursor,omitempty"`
}

// sentTask is a create whose outcome is not known.
type sentTask struct {
	Name string `json:"name"`
	// At is when it was sent, by this machine's clock; Mark where the task list stood then.
	At   time.Time      `json:"at"`
	Mark iotda.TaskMark `json:"mark"`
	// Derived says the name was chosen by the provider, and so is this create's alone.
	Derived bool `json:"derived"`
}

// loadPrivate reads the machinery's private state; the zero value when there is none.
func loadPrivate(ctx context.Context, p privateGetter) fleetPrivate {
	var fp fleetPrivate
	if p == nil {
		return fp
	}
	if b, diags := p.GetKey(ctx, privateFleetKey); !diags.HasError() && len(b) > 0 {
		_ = json.Unmarshal(b, &fp) // A value this provider did not write holds nothing.
	}
	return fp
}

// savePrivate writes the machinery's private state.
func savePrivate(ctx context.Context, p privateSetter, fp fleetPrivate, diags *diag.Diagnostics) {
	if p == nil {
		return
	}
	b, err := json.Marshal(fp)
	if err != nil {
		diags.AddError("Internal Error", "Encoding the private state failed: "+err.Error())
		return
	}
	if string(b) == "{}" {
		b = nil
	}
	diags.Append(p.SetKey(ctx, privateFleetKey, b)...)
}
