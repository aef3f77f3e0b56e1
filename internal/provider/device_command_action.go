package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Interface assertions.
var (
	_ action.Action              = (*deviceCommandAction)(nil)
	_ action.ActionWithConfigure = (*deviceCommandAction)(nil)
)

// maxProgressReply bounds the device's reply quoted in a progress message, in bytes.
const maxProgressReply = 200

// NewDeviceCommandAction returns the iotda_device_command action.
func NewDeviceCommandAction() action.Action {
	return &deviceCommandAction{}
}

// deviceCommandAction delivers a command each time Terraform invokes it, and stores nothing.
type deviceCommandAction struct {
	data *providerData
}

// deviceCommandActionModel is the action's configuration.
type deviceCommandActionModel struct {
	DeviceID          types.String  `tfsdk:"device_id"`
	ServiceID         types.String  `tfsdk:"service_id"`
	CommandName       types.String  `tfsdk:"command_name"`
	Paras             types.Dynamic `tfsdk:"paras"`
	FailOnDeviceError types.Bool    `tfsdk:"fail_on_device_error"`
	Timeout           types.String  `tfsdk:"timeout"`
}

func (a *deviceCommandAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_command"
}

const actionDescription = "Delivers a command to an IoTDA device through the synchronous command API each time " +
	"the action is invoked, and stores nothing. Needs Terraform 1.14 or newer.\n\n" +
	"Invoke it on its own with `terraform apply -invoke=action.iotda_device_command.NAME`, or from another " +
	"resource's `lifecycle { action_trigger { ... } }`, for example to reboot a device after its firmware " +
	"resource changes. While it runs, Terraform shows what is being delivered and the device's answer " +
	"(its `result_code` and the start of its reply).\n\n" +
	"The delivery, its retries and its errors are those of the `iotda_device_command` resource: a device that " +
	"does not answer within the platform's 20 seconds, is offline or does not exist is an error, and so is a " +
	"non-zero `result_code` (only a warning with `fail_on_device_error = false`). A request is never retried " +
	"once it may have reached the platform. Nothing is kept in state, so use the resource when the reply must " +
	"be read by other resources."

func (a *deviceCommandAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: actionDescription,
		Attributes: map[string]schema.Attribute{
			"device_id": schema.StringAttribute{
				MarkdownDescription: descDeviceID, Required: true,
				Validators: []validator.String{deviceIDValidator()},
			},
			"service_id": schema.StringAttribute{
				MarkdownDescription: descServiceID, Optional: true,
				Validators: []validator.String{stringvalidator.LengthAtMost(64)},
			},
			"command_name": schema.StringAttribute{
				MarkdownDescription: descCommandName, Optional: true,
				Validators: []validator.String{stringvalidator.LengthAtMost(128)},
			},
			"paras": schema.DynamicAttribute{
				MarkdownDescription: descParas, Required: true,
				Validators: []validator.Dynamic{parasValidator{}},
			},
			"fail_on_device_error": schema.BoolAttribute{
				MarkdownDescription: "Whether a non-zero `result_code` in the device's reply is an error. Defaults to " +
					"`true`. With `false`, a failure reported by the device is only a warning and the action succeeds.",
				Optional: true,
			},
			"timeout": schema.StringAttribute{
				MarkdownDescription: "How long to wait for the delivery and the device's answer, as a duration such " +
					"as `\"60s\"` or `\"2m\"`. Defaults to `60s`, above the platform's own 20 s limit, so a slow device " +
					"is reported by the platform. When it expires first, the outcome is unknown and the command is not " +
					"retried.",
				Optional:   true,
				Validators: []validator.String{durationValidator()},
			},
		},
	}
}

func (a *deviceCommandAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	if req.ProviderData == nil {
		return // Not configured yet (validation); Invoke reports a missing client.
	}
	data, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *provider.providerData, got %T. Please report this issue to the provider developers.", req.ProviderData))
		return
	}
	a.data = data
}

// Invoke delivers the command, telling Terraform what it is delivering and what the device
// answered, or why the delivery failed.
func (a *deviceCommandAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var config deviceCommandActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, err := parseTimeout(config.Timeout)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("timeout"), "Invalid Timeout", err.Error())
		return
	}
	m := deviceCommandModel{
		DeviceID: config.DeviceID, ServiceID: config.ServiceID, CommandName: config.CommandName,
		Paras: config.Paras, FailOnDeviceError: config.FailOnDeviceError,
	}
	cmd := iotda.Command{DeviceID: m.DeviceID.ValueString(), ServiceID: m.ServiceID.ValueString(),
		CommandName: m.CommandName.ValueString()}
	progress(resp, fmt.Sprintf("Delivering %s to device %q", describeCommand(cmd), cmd.DeviceID))

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var diags diag.Diagnostics
	answered := deliver(ctx, a.data, &m, deliveryForAction, &diags)
	resp.Diagnostics.Append(diags...)
	if answered {
		progress(resp, answerMessage(&m, a.data.client.MaskSecrets))
		return
	}
	progress(resp, failureMessage(cmd, diags))
}

// progress sends a message Terraform shows while the action runs. SendProgress is nil when
// the framework does not stream (it always does for InvokeAction; this guards direct calls).
func progress(resp *action.InvokeResponse, msg string) {
	if resp.SendProgress != nil {
		resp.SendProgress(action.InvokeProgressEvent{Message: msg})
	}
}

// answerMessage says what the device answered: its result code and the start of its reply,
// with the provider's credentials masked (a device may echo a token it was sent).
func answerMessage(m *deviceCommandModel, mask func(string) string) string {
	code := "a result_code that is not an integer"
	if !m.ResultCode.IsNull() {
		code = fmt.Sprintf("result_code %d", m.ResultCode.ValueInt64())
	}
	reply := "no reply"
	if !m.ResponseJSON.IsNull() {
		reply = "reply " + shorten(mask(m.ResponseJSON.ValueString()), maxProgressReply)
	}
	return fmt.Sprintf("Device %q answered (command_id %s) with %s and %s",
		m.DeviceID.ValueString(), m.CommandID.ValueString(), code, reply)
}

// failureMessage names the delivery's failure by the summary of its first error.
func failureMessage(cmd iotda.Command, diags diag.Diagnostics) string {
	summary := "no answer"
	if errs := diags.Errors(); len(errs) > 0 {
		summary = errs[0].Summary()
	}
	return fmt.Sprintf("Delivering %s to device %q failed: %s", describeCommand(cmd), cmd.DeviceID, summary)
}

// parseTimeout reads the timeout argument; null means the default.
func parseTimeout(v types.String) (time.Duration, error) {
	if v.IsNull() || v.IsUnknown() {
		return defaultDeliveryTimeout, nil
	}
	return checkDuration(v.ValueString())
}

// checkDuration accepts a positive Go duration such as "60s" or "2m".
func checkDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: use a number with a unit, such as \"60s\" or \"2m\"", s)
	}
	if d <= 0 {
		return 0, errors.New("the timeout must be longer than zero, such as \"60s\"")
	}
	return d, nil
}

// durationValidator checks the timeout at plan time.
func durationValidator() validator.String {
	return stringCheck{
		description: "value must be a positive duration, such as \"60s\"",
		summary:     "Invalid Timeout",
		check:       func(s string) error { _, err := checkDuration(s); return err },
	}
}
