package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// batchCommandModel is the state of an iotda_batch_command.
type batchCommandModel struct {
	ID                  types.String   `tfsdk:"id"`
	TaskID              types.String   `tfsdk:"task_id"`
	DeviceIDs           types.List     `tfsdk:"device_ids"`
	GroupIDs            types.List     `tfsdk:"group_ids"`
	ServiceID           types.String   `tfsdk:"service_id"`
	CommandName         types.String   `tfsdk:"command_name"`
	Paras               types.Dynamic  `tfsdk:"paras"`
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

// derivedTaskName returns a task name no other apply uses: tf_, the time in UTC and 8 random
// hex digits, such as tf_20260102T150405_9f8e7d6c. Its uniqueness is what lets Create find
// its task by name when the answer to the creating request is lost.
func derivedTaskName(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms.
	return "tf_" + now.UTC().Format("20060102T150405") + "_" + hex.EncodeToString(b)
}

// newTask builds the CreateBatchTask request, choosing a task name when none is set. It
// reports a paras value it cannot send on its attribute path.
func (m *batchCommandModel) newTask(diags *diag.Diagnostics) (iotda.NewBatchTask, bool) {
	paras, err := parasJSON(m.Paras)
	if err != nil {
		diags.AddAttributeError(path.Root("paras"), "Invalid Paras Value", err.Error())
		return iotda.NewBatchTask{}, false
	}
	doc, err := iotda.CommandDocument(m.ServiceID.ValueString(), m.CommandName.ValueString(), paras)
	if err != nil {
		diags.AddAttributeError(path.Root("paras"), "Invalid Paras Value", err.Error())
		return iotda.NewBatchTask{}, false
	}
	if m.TaskName.IsNull() || m.TaskName.IsUnknown() {
		m.TaskName = types.StringValue(derivedTaskName(time.Now()))
	}
	t := iotda.NewBatchTask{TaskName: m.TaskName.ValueString(), TaskType: iotda.TaskTypeCreateCommands,
		Targets: listStrings(m.DeviceIDs), GroupIDs: listStrings(m.GroupIDs), Document: doc}
	if !m.RetryCount.IsNull() && !m.RetryInterval.IsNull() {
		count, interval := int32(m.RetryCount.ValueInt64()), int32(m.RetryInterval.ValueInt64()) //nolint:gosec // validated: 0-5 and 1-1440
		t.Policy = &iotda.TaskPolicy{RetryCount: &count, RetryInterval: &interval}
	}
	return t, true
}

// setTask copies what the platform says of a task into the computed attributes, leaving the
// results alone.
func (m *batchCommandModel) setTask(t *iotda.BatchTask) {
	m.ID, m.TaskID = types.StringValue(t.TaskID), types.StringValue(t.TaskID)
	m.Status = types.StringValue(t.Status)
	m.StatusDesc = nullIfEmpty(t.StatusDesc)
	m.CreatedAt = types.StringNull()
	if !t.CreatedAt.IsZero() {
		m.CreatedAt = types.StringValue(t.CreatedAt.UTC().Format(time.RFC3339))
	}
	p := t.Progress
	m.Progress = types.ObjectValueMust(progressAttrTypes, map[string]attr.Value{
		"total": types.Int64Value(int64(p.Total)), "processing": types.Int64Value(int64(p.Processing)),
		"success": types.Int64Value(int64(p.Success)), "fail": types.Int64Value(int64(p.Fail)),
		"waitting": types.Int64Value(int64(p.Waitting)), "fail_wait_retry": types.Int64Value(int64(p.FailWaitRetry)),
		"stopped": types.Int64Value(int64(p.Stopped)), "removed": types.Int64Value(int64(p.Removed)),
	})
}

// clearResults marks the results as not read yet.
func (m *batchCommandModel) clearResults() {
	m.Results = types.StringNull()
	m.FailedDeviceIDs = types.ListNull(types.StringType)
}

// deviceFailure is one device the command did not succeed on.
type deviceFailure struct {
	DeviceID, Status, ErrorCode, ErrorMsg string
	// ResultCode is the device's non-zero result_code; Reply its reply, when it answered.
	ResultCode *int64
	Reply      string
}

// setResults fills results and failed_device_ids from the subtasks and returns the
// failures, sorted by device id.
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
func (m *batchCommandModel) setResults(subtasks []iotda.Subtask) []deviceFailure {
	entries := make(map[string][]byte, len(subtasks))
	var failures []deviceFailure
	deep := false
	for _, st := range subtasks {
		entry, failure := subtaskResult(st)
		entries[st.Target] = entry.text
		deep = deep || entry.deep
		if failure != nil {
			failures = append(failures, *failure)
		}
	}
	slices.SortFunc(failures, func(a, b deviceFailure) int { return strings.Compare(a.DeviceID, b.DeviceID) })
	failures = slices.CompactFunc(failures, func(a, b deviceFailure) bool { return a.DeviceID == b.DeviceID })
	ids := make([]attr.Value, len(failures))
	for i, f := range failures {
		ids[i] = types.StringValue(f.DeviceID)
	}
	m.FailedDeviceIDs = types.ListValueMust(types.StringType, ids)

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
	m.Results = types.StringValue(string(text))
	return failures
}

// resultEntry is one device's entry of results; encodeResult writes it as JSON with all six
// members, null when one does not apply.
type resultEntry struct {
	Status     string
	CommandID  string
	ResultCode *int64
	Response   json.RawMessage // valid JSON, or nil
	ErrorCode  string
	ErrorMsg   string
}

// subtaskResult is a subtask's entry of results, and its failure, if it is one. A device
// fails when its subtask did not succeed, or when it answered with a result_code other than
// 0 (or one that is not an integer).
func subtaskResult(st iotda.Subtask) (encodedResult, *deviceFailure) {
	commandID, reply := parseOutput(st.Output)
	entry := resultEntry{Status: st.Status, CommandID: commandID, Response: reply, ErrorCode: st.ErrorCode,
		ErrorMsg: st.ErrorMsg}
	var failure *deviceFailure
	if st.Status == iotda.TaskSuccess {
		code, err := resultCode(reply)
		if err == nil {
			entry.ResultCode = &code
		}
		if err != nil || code != 0 {
			failure = &deviceFailure{DeviceID: st.Target, Status: st.Status, Reply: string(reply)}
			if err == nil {
				failure.ResultCode = &code
			} else {
				failure.ErrorMsg = err.Error()
			}
		}
	} else {
		failure = &deviceFailure{DeviceID: st.Target, Status: st.Status, ErrorCode: st.ErrorCode, ErrorMsg: st.ErrorMsg}
	}
	return encodeResult(entry), failure
}

// encodedResult is an entry of results as compact JSON; deep says whether it holds a reply
// nested beyond maxReplyDepth.
type encodedResult struct {
	text []byte
	deep bool
}

// encodeResult renders an entry as compact JSON by hand, the reply embedded byte for byte
// (encoding/json would re-check it, and give up on one nested beyond 10,000 levels). Every
// entry has the same members, in the same order, so that jsondecode() gives every device an
// object of one type: r.error_code reads as null rather than failing for a device that
// succeeded. The nulls cost about 40 bytes a device in state and nothing measurable in plans.
func encodeResult(e resultEntry) encodedResult {
	var b bytes.Buffer
	b.WriteString(`{"status":`)
	_ = encodeString(&b, e.Status) // A string always encodes.
	b.WriteString(`,"command_id":`)
	encodeStringOrNull(&b, e.CommandID)
	b.WriteString(`,"result_code":`)
	if e.ResultCode != nil {
		b.WriteString(strconv.FormatInt(*e.ResultCode, 10))
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"response":`)
	if len(e.Response) > 0 {
		b.Write(e.Response)
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,"error_code":`)
	encodeStringOrNull(&b, e.ErrorCode)
	b.WriteString(`,"error_msg":`)
	encodeStringOrNull(&b, e.ErrorMsg)
	b.WriteByte('}')
	return encodedResult{text: b.Bytes(), deep: len(e.Response) > 0 && nestedBeyond(e.Response, maxReplyDepth)}
}

// encodeStringOrNull writes s as a JSON string, or null when it is empty.
func encodeStringOrNull(b *bytes.Buffer, s string) {
	if s == "" {
		b.WriteString("null")
		return
	}
	_ = encodeString(b, s) // A string always encodes.
}

// parseOutput reads a subtask's output. The platform's format for createCommands is not
// documented (iotda-batchtask-facts.md §3); the mock sends the synchronous API's answer,
// {"command_id":...,"response":...}, as text. An output in that shape gives the command id
// and the device's reply; any other JSON is taken as the reply itself, and text that is not
// JSON as a reply holding that string. The reply is nil when the device answered with
// nothing: absent, null or "" (CONTRACTS.md C1).
func parseOutput(out string) (commandID string, reply json.RawMessage) {
	raw := bytes.TrimSpace([]byte(out))
	if len(raw) == 0 {
		return "", nil
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if !iotda.ValidJSON(raw) {
		var quoted bytes.Buffer
		_ = encodeString(&quoted, string(raw)) // Valid UTF-8 always encodes.
		return "", quoted.Bytes()
	}
	if members, ok := iotda.ObjectMembers(raw); ok {
		id, hasID := members["command_id"]
		resp, hasResp := members["response"]
		if hasID || hasResp {
			_ = json.Unmarshal(id, &commandID) // A command id that is not a string is none.
			return commandID, emptyReply(resp)
		}
	}
	return "", emptyReply(raw)
}

// emptyReply returns nil for a reply that holds nothing: absent, null or "".
func emptyReply(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || bytes.Equal(raw, []byte(`""`)) {
		return nil
	}
	return raw
}

// adoptTask fills the arguments of an imported resource from the task IoTDA keeps: targets or
// groups, the command in its document, the name and the retry policy. paras becomes a string
// holding the document's paras, which matches an object in the configuration with the same
// JSON without running the task again.
func (m *batchCommandModel) adoptTask(ctx context.Context, t *iotda.BatchTask, diags *diag.Diagnostics) {
	strList := func(ss []string) types.List {
		if len(ss) == 0 {
			return types.ListNull(types.StringType)
		}
		v, d := types.ListValueFrom(ctx, types.StringType, ss)
		diags.Append(d...)
		return v
	}
	m.DeviceIDs, m.GroupIDs = strList(t.Targets), types.ListNull(types.StringType)
	if len(t.Targets) == 0 {
		m.GroupIDs = strList(t.GroupIDs)
	}
	m.TaskName = types.StringValue(t.TaskName)
	var doc struct {
		ServiceID   *string         `json:"service_id"`
		CommandName *string         `json:"command_name"`
		Paras       json.RawMessage `json:"paras"`
	}
	if err := json.Unmarshal(t.Document, &doc); err != nil || len(bytes.TrimSpace(doc.Paras)) == 0 {
		diags.AddError("Batch Task Cannot Be Imported", "Batch task "+t.TaskID+" has no command document with "+
			"paras, so it cannot be described as an iotda_batch_command.")
		return
	}
	m.ServiceID, m.CommandName = types.StringPointerValue(doc.ServiceID), types.StringPointerValue(doc.CommandName)
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc.Paras); err != nil {
		compact.Write(doc.Paras)
	}
	m.Paras = types.DynamicValue(types.StringValue(compact.String()))
	m.RetryCount, m.RetryInterval = types.Int64Null(), types.Int64Null()
	if p := t.Policy; p != nil && p.RetryCount != nil && p.RetryInterval != nil {
		m.RetryCount, m.RetryInterval = types.Int64Value(int64(*p.RetryCount)), types.Int64Value(int64(*p.RetryInterval))
	}
}
