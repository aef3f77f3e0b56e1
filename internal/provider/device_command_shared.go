package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

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
		"digit preserved (with Terraform 1.5, write whole numbers from 2^63 up with `jsonencode()`: see [Supported " +
		"versions](../resources/device_command.md#supported-terraform-and-opentofu-versions)). Any other type (a list, a number, a plain string) or " +
		"malformed JSON is rejected at plan time."
	descFailOnDeviceError = "Whether a non-zero `result_code` in the device's reply is an error. Defaults to `true`. " +
		"With `false`, a failure reported by the device is only a warning and the result is kept."
	descCommandID = "The command ID IoTDA allocated for this delivery (the `request_id` the device saw)."
	descResponse  = "The device's reply as an object, for example `response.paras.result`: JSON objects become " +
		"objects, arrays tuples, strings strings (a reply that is only a string is a string), and numbers numbers " +
		"with every digit. Null when the device answered with nothing (no reply, `null` or `\"\"`) and when the reply " +
		"is beyond the limits under [Device replies](#device-replies), where `response_json` still holds it. A number " +
		"Terraform cannot hold exactly (an exponent beyond about ±1233, or more than about 155 significant digits) " +
		"is a string holding the number as the device wrote it."
	descResponseJSON = "The device's reply as JSON text, exactly as received, whatever its size or content; read " +
		"it with `jsondecode()`. A reply nested more than 32 levels deep starts with one space, which JSON ignores, " +
		"so that Terraform shows it as a string, and in a reply holding text Terraform would normalize (Unicode " +
		"normal form C) the characters beyond ASCII are `\\u` escapes, so that it decodes to exactly what the device " +
		"sent. Null when the device answered with nothing."
	descResultCode = "The `result_code` in the device's reply: `0` means success, and `0` is also assumed when the " +
		"device omits it. An integer written as a string (`\"1\"`) or as a whole number with a fraction part (`1.0`) " +
		"counts as that integer. Null when the device sent any other `result_code` (`1.5`, `\"fail\"`, `true`), which " +
		"counts as a failure."
	descErrorCode   = "The `error_code` IoTDA returned with the answer, or null when there was none."
	descErrorMsg    = "The `error_msg` IoTDA returned with the answer, or null when there was none."
	descDeliveredAt = "When the device's answer was received, in RFC 3339 format (UTC)."
)

// deviceCommandModel is what the resource and the data source have in common.
type deviceCommandModel struct {
	ID                types.String  `tfsdk:"id"`
	DeviceID          types.String  `tfsdk:"device_id"`
	ServiceID         types.String  `tfsdk:"service_id"`
	CommandName       types.String  `tfsdk:"command_name"`
	Paras             types.Dynamic `tfsdk:"paras"`
	FailOnDeviceError types.Bool    `tfsdk:"fail_on_device_error"`
	CommandID         types.String  `tfsdk:"command_id"`
	Response          types.Dynamic `tfsdk:"response"`
	ResponseJSON      types.String  `tfsdk:"response_json"`
	ResultCode        types.Int64   `tfsdk:"result_code"`
	ErrorCode         types.String  `tfsdk:"error_code"`
	ErrorMsg          types.String  `tfsdk:"error_msg"`
	DeliveredAt       types.String  `tfsdk:"delivered_at"`

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
		diags.AddError("Provider Not Configured", notConfiguredDetail(pd,
			fmt.Sprintf("The command to device %q cannot be delivered", m.DeviceID.ValueString())))
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
	reply := m.setResult(ctx, result, time.Now())
	reportRedaction(cmd, result.CommandID, result.Redacted, diags)
	reportReplyNotes(cmd, result.CommandID, reply, pd.client.MaskSecrets, diags)
	if reply.CodeErr != nil || m.ResultCode.ValueInt64() != 0 {
		reportDeviceFailure(m, result, reply.CodeErr, use, pd.client.MaskSecrets, diags)
	}
	return true
}

// notConfiguredDetail says why there is no API client; blocked says what therefore cannot be
// done, such as `The command to device "d1" cannot be delivered`.
func notConfiguredDetail(pd *providerData, blocked string) string {
	if pd != nil && pd.configUnknown {
		return blocked + " yet: the iotda provider's configuration depends on values that are only known after " +
			"apply, such as attributes of resources that do not exist yet. Configure the provider with values known " +
			"at plan time, or create those resources first (terraform apply -target=...)."
	}
	return blocked + ": the iotda provider was not configured. Please report this issue to the provider developers."
}

// setResult copies a delivery's answer into the computed attributes and returns the reply
// as readReply read it.
func (m *deviceCommandModel) setResult(ctx context.Context, r *iotda.CommandResult, at time.Time) deviceReply {
	reply := readReply(ctx, r.Response)
	m.CommandID = types.StringValue(r.CommandID)
	m.ID = types.StringValue(r.CommandID)
	m.ErrorCode = nullIfEmpty(r.ErrorCode)
	m.ErrorMsg = nullIfEmpty(r.ErrorMsg)
	m.DeliveredAt = types.StringValue(at.UTC().Format(time.RFC3339))
	m.Response, m.ResponseJSON, m.ResultCode = reply.Object, reply.JSON, reply.ResultCode
	return reply
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
