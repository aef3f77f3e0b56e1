package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
)

// batchCommandModel is the state of an iotda_batch_command: the fleet task (the targets, the
// task and its results) and the command every device receives.
type batchCommandModel struct {
	fleetTask
	ServiceID   types.String  `tfsdk:"service_id"`
	CommandName types.String  `tfsdk:"command_name"`
	Paras       types.Dynamic `tfsdk:"paras"`
}

var _ fleetWork = (*batchCommandModel)(nil)

func (m *batchCommandModel) fleet() *fleetTask { return &m.fleetTask }

func (m *batchCommandModel) taskType() string { return iotda.TaskTypeCreateCommands }

func (m *batchCommandModel) kindTitle() string { return "Batch Command" }

// describeWork names the command: `command "REBOOT" of service "Maintenance"`.
func (m *batchCommandModel) describeWork() string {
	return describeCommand(iotda.Command{ServiceID: m.ServiceID.ValueString(), CommandName: m.CommandName.ValueString()})
}

// document is the createCommands document: the command as the synchronous API takes it. A
// paras value that cannot be sent is reported on its attribute.
func (m *batchCommandModel) document() (json.RawMessage, diag.Diagnostics) {
	var diags diag.Diagnostics
	paras, err := parasJSON(m.Paras)
	if err == nil {
		var doc []byte
		if doc, err = iotda.CommandDocument(m.ServiceID.ValueString(), m.CommandName.ValueString(), paras); err == nil {
			return doc, nil
		}
	}
	diags.AddAttributeError(path.Root("paras"), "Invalid Paras Value", err.Error())
	return nil, diags
}

// sameDocument compares a document IoTDA answers with the one this model sends, as JSON values.
func (m *batchCommandModel) sameDocument(doc json.RawMessage) bool {
	mine, diags := m.document()
	return !diags.HasError() && sameJSONValue(mine, doc)
}

// fillResults fills the results from each subtask's output; see subtaskResult.
func (m *batchCommandModel) fillResults(_ context.Context, _ *iotda.Client, subtasks []iotda.Subtask) []deviceFailure {
	return m.setResults(subtasks, subtaskResult)
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
// nothing: absent, null or "" (the README's reply rules).
func parseOutput(out string) (commandID string, reply json.RawMessage) {
	raw := bytes.TrimSpace([]byte(out))
	if len(raw) == 0 {
		return "", nil
	}
	if !utf8.Valid(raw) {
		raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
	}
	if !jsonscan.Valid(raw) {
		var quoted bytes.Buffer
		_ = encodeString(&quoted, string(raw)) // Valid UTF-8 always encodes.
		return "", quoted.Bytes()
	}
	if members, ok := jsonscan.ObjectMembers(raw); ok {
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

// adoptTargets fills device_ids or group_ids, task_name and the retry policy of an imported
// resource from the task IoTDA keeps.
func adoptTargets(ctx context.Context, f *fleetTask, t *iotda.BatchTask, diags *diag.Diagnostics) {
	strList := func(ss []string) types.List {
		if len(ss) == 0 {
			return types.ListNull(types.StringType)
		}
		v, d := types.ListValueFrom(ctx, types.StringType, ss)
		diags.Append(d...)
		return v
	}
	f.DeviceIDs, f.GroupIDs = strList(t.Targets), types.ListNull(types.StringType)
	if len(t.Targets) == 0 {
		f.GroupIDs = strList(t.GroupIDs)
	}
	f.TaskName = types.StringValue(t.TaskName)
	f.RetryCount, f.RetryInterval = types.Int64Null(), types.Int64Null()
	if p := t.Policy; p != nil && p.RetryCount != nil && p.RetryInterval != nil {
		f.RetryCount, f.RetryInterval = types.Int64Value(int64(*p.RetryCount)), types.Int64Value(int64(*p.RetryInterval))
	}
}

// adoptDocument fills the command of an imported resource from the task's document. paras
// becomes a string holding the document's paras as IoTDA answers it; the plan compares it
// with the configuration as JSON values (importedParasRequiresReplace), so neither another
// member order nor another spelling of a number runs the task again.
func (m *batchCommandModel) adoptDocument(t *iotda.BatchTask, diags *diag.Diagnostics) {
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
}
