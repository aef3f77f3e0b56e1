package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-jsontypes/jsontypes"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// defaultDeliveryTimeout bounds one delivery. It is longer than the platform's own 20 s
// wait for the device, so users normally see the platform's clear timeout answer rather
// than an unknown outcome.
const defaultDeliveryTimeout = 60 * time.Second

// Descriptions shared by the resource and the data source, so both documents agree.
const (
	descDeviceID = "ID of the device that receives the command, as allocated by IoTDA when the device was " +
		"registered. 1 to 128 characters: letters, digits, underscores (`_`) and hyphens (`-`)."
	descServiceID = "ID of the service in the device's product model that defines the command. At most " +
		"64 characters. Omit it to send a command in a custom format."
	descCommandName = "Name of the command, as defined in the product model. At most 128 characters."
	descParas       = "The command's parameters: an object of any depth, such as `{ value = \"ON\" }`, or a " +
		"string containing a JSON object, such as `jsonencode({ value = \"ON\" })`. Numbers are sent with every " +
		"digit preserved. Any other type (a list, a number, a plain string) or malformed JSON is rejected at plan time."
	descFailOnDeviceError = "Whether a non-zero `result_code` in the device's reply is an error. Defaults to `true`. " +
		"With `false`, a failure reported by the device is only a warning and the result is kept."
	descCommandID    = "The command ID IoTDA allocated for this delivery (the `request_id` the device saw)."
	descResponse     = "The device's reply as an object, for example `response.paras.result`. JSON objects become objects, arrays become tuples, numbers keep their full precision. Null when the device's reply was empty."
	descResponseJSON = "The device's reply as normalized JSON, for use with `jsondecode()`."
	descResultCode   = "The `result_code` in the device's reply: `0` means success, and `0` is also assumed when the " +
		"device omits it. Null when the device sent a `result_code` that is not an integer, which counts as a failure."
	descErrorCode   = "The `error_code` IoTDA returned with the answer, or null when there was none."
	descErrorMsg    = "The `error_msg` IoTDA returned with the answer, or null when there was none."
	descDeliveredAt = "When the device's answer was received, in RFC 3339 format (UTC)."
)

// deviceCommandModel is what the resource and the data source have in common.
type deviceCommandModel struct {
	ID                types.String         `tfsdk:"id"`
	DeviceID          types.String         `tfsdk:"device_id"`
	ServiceID         types.String         `tfsdk:"service_id"`
	CommandName       types.String         `tfsdk:"command_name"`
	Paras             types.Dynamic        `tfsdk:"paras"`
	FailOnDeviceError types.Bool           `tfsdk:"fail_on_device_error"`
	CommandID         types.String         `tfsdk:"command_id"`
	Response          types.Dynamic        `tfsdk:"response"`
	ResponseJSON      jsontypes.Normalized `tfsdk:"response_json"`
	ResultCode        types.Int64          `tfsdk:"result_code"`
	ErrorCode         types.String         `tfsdk:"error_code"`
	ErrorMsg          types.String         `tfsdk:"error_msg"`
	DeliveredAt       types.String         `tfsdk:"delivered_at"`

	// secretParas marks Paras as write-only parameters, which are never logged.
	secretParas bool `tfsdk:"-"`
}

// failOnDeviceError reads the flag, defaulting to true when it is not set (the data source
// has no schema default).
func (m *deviceCommandModel) failOnDeviceError() bool {
	if m.FailOnDeviceError.IsNull() || m.FailOnDeviceError.IsUnknown() {
		return true
	}
	return m.FailOnDeviceError.ValueBool()
}

// copyResults copies the computed results of a delivery from another model.
func (m *deviceCommandModel) copyResults(from *deviceCommandModel) {
	m.ID, m.CommandID, m.Response, m.ResponseJSON = from.ID, from.CommandID, from.Response, from.ResponseJSON
	m.ResultCode, m.ErrorCode, m.ErrorMsg, m.DeliveredAt = from.ResultCode, from.ErrorCode, from.ErrorMsg, from.DeliveredAt
}

// command builds the API request, reporting a bad paras value on its attribute path.
func (m *deviceCommandModel) command(diags *diag.Diagnostics) (iotda.Command, bool) {
	paras, err := parasJSON(m.Paras)
	if err != nil {
		if errors.Is(err, errParasUnknown) {
			diags.AddAttributeError(path.Root("paras"), "Paras Not Known",
				"The value of paras must be known before the command can be delivered.")
		} else {
			diags.AddAttributeError(path.Root("paras"), "Invalid Paras Value", err.Error())
		}
		return iotda.Command{}, false
	}
	return iotda.Command{
		DeviceID:    m.DeviceID.ValueString(),
		ServiceID:   m.ServiceID.ValueString(),
		CommandName: m.CommandName.ValueString(),
		Paras:       paras,
		SecretParas: m.secretParas,
	}, true
}

// deliveryUse is the way in that delivers a command, which words its diagnostics.
type deliveryUse int

const (
	deliveryForResource deliveryUse = iota
	deliveryForDataSource
	deliveryForAction
)

// deliver sends the command described by m and records the result in m; use selects the
// wording for the resource, the data source or the action. It reports
// whether m now holds a delivery that must be kept in state: true after the device
// answered (even when it reported a failure, so Terraform taints the resource rather
// than forgetting a command the device executed), false when nothing usable came back.
func deliver(ctx context.Context, pd *providerData, m *deviceCommandModel, use deliveryUse, diags *diag.Diagnostics) bool {
	if pd == nil || pd.client == nil {
		diags.AddError("Provider Not Configured", notConfiguredDetail(pd, m.DeviceID.ValueString()))
		return false
	}
	cmd, ok := m.command(diags)
	if !ok {
		return false
	}
	tflog.Debug(ctx, "delivering command", map[string]any{
		"device_id": cmd.DeviceID, "service_id": cmd.ServiceID, "command_name": cmd.CommandName,
	})
	result, err := pd.client.CreateCommand(ctx, cmd)
	if err != nil || result == nil {
		diagnoseDeliveryError(ctx, pd, cmd, result, err, diags)
		return false
	}
	codeErr := m.setResult(ctx, result, time.Now(), diags)
	if codeErr != nil || m.ResultCode.ValueInt64() != 0 {
		reportDeviceFailure(m, result, codeErr, use, diags)
	}
	return true
}

func notConfiguredDetail(pd *providerData, deviceID string) string {
	if pd != nil && pd.configUnknown {
		return fmt.Sprintf("The command to device %q cannot be delivered yet: the iotda provider's configuration "+
			"depends on values that are only known after apply, such as attributes of resources that do not exist "+
			"yet. Configure the provider with values known at plan time, or create those resources first "+
			"(terraform apply -target=...).", deviceID)
	}
	return fmt.Sprintf("The command to device %q cannot be delivered: the iotda provider was not configured. "+
		"Please report this issue to the provider developers.", deviceID)
}

// setResult copies a delivery's answer into the computed attributes. It returns the error
// of a result_code that is not an integer, which leaves result_code null.
func (m *deviceCommandModel) setResult(ctx context.Context, r *iotda.CommandResult, at time.Time, diags *diag.Diagnostics) error {
	m.CommandID = types.StringValue(r.CommandID)
	m.ID = types.StringValue(r.CommandID)
	if r.CommandID == "" {
		// The platform always allocates a command id; keep the resource identifiable anyway.
		m.ID = types.StringValue(m.DeviceID.ValueString() + "@" + at.UTC().Format(time.RFC3339Nano))
	}
	m.ErrorCode = nullIfEmpty(r.ErrorCode)
	m.ErrorMsg = nullIfEmpty(r.ErrorMsg)
	m.DeliveredAt = types.StringValue(at.UTC().Format(time.RFC3339))
	code, codeErr := resultCode(r.Response)
	m.ResultCode = types.Int64Value(code)
	if codeErr != nil {
		m.ResultCode = types.Int64Null()
	}
	m.Response = types.DynamicNull()
	m.ResponseJSON = jsontypes.NewNormalizedNull()
	raw := bytes.TrimSpace(r.Response)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return codeErr
	}
	resp, err := jsonToDynamic(ctx, raw)
	if err != nil {
		diags.AddWarning("Device Reply Could Not Be Read",
			fmt.Sprintf("Device %q answered command %s, but its reply could not be read (%v), so response "+
				"and response_json are null. The reply was: %s", m.DeviceID.ValueString(), r.CommandID, err, raw))
		return codeErr
	}
	m.Response = resp
	m.ResponseJSON = jsontypes.NewNormalizedValue(string(raw))
	return codeErr
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// resultCode reads result_code from a device reply. The platform treats a missing (or
// null) result_code as success, and so does this. A number, or a string holding one, must
// be an integer (1.0 is 1). Anything else is an error: the caller reports it as a failure
// the device reported, never as a success.
func resultCode(raw json.RawMessage) (int64, error) {
	var reply struct {
		ResultCode json.RawMessage `json:"result_code"`
	}
	// A reply that is not a JSON object has no result_code either.
	_ = json.Unmarshal(raw, &reply)
	if len(reply.ResultCode) == 0 || string(reply.ResultCode) == "null" {
		return 0, nil
	}
	text := reply.ResultCode
	var s string
	if json.Unmarshal(text, &s) == nil {
		text = []byte(s)
	}
	var n json.Number
	if json.Unmarshal(text, &n) == nil {
		if code, err := n.Int64(); err == nil {
			return code, nil
		}
		// ParseFloat gives ±Inf, with an error, for exponents beyond float64: no big numbers.
		if f, err := n.Float64(); err == nil && f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
			return int64(f), nil
		}
	}
	shown := string(reply.ResultCode)
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	return 0, fmt.Errorf("result_code %s is not an integer", shown)
}
