package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/datasource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// Interface assertions.
var (
	_ datasource.DataSource              = (*deviceCommandDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*deviceCommandDataSource)(nil)
)

// NewDeviceCommandDataSource returns the iotda_device_command data source.
func NewDeviceCommandDataSource() datasource.DataSource {
	return &deviceCommandDataSource{}
}

// deviceCommandDataSource delivers a command every time Terraform reads it.
type deviceCommandDataSource struct {
	data *providerData
}

// deviceCommandDataSourceModel is the data source's configuration and result.
type deviceCommandDataSourceModel struct {
	deviceCommandModel

	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

func (d *deviceCommandDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_command"
}

const dataSourceDescription = "Delivers a command to an IoTDA device **every time Terraform reads this data " +
	"source**: on every `terraform plan` (also with `-refresh=false`), `terraform apply` (when it plans), " +
	"`terraform refresh` and `terraform destroy` (its refresh), once its arguments are known. Applying a saved " +
	"plan (`terraform apply tfplan`) does not read it again, and `terraform destroy -refresh=false` does not read " +
	"it at all. Use the `iotda_device_command` resource to deliver a command once.\n\n" +
	"This suits commands without side effects, such as asking a device for its current status. The platform " +
	"waits up to 20 seconds for the device to answer; a device that does not answer in time, is offline or " +
	"does not exist is an error. A non-zero `result_code` in the reply is an error too, or only a warning with " +
	"`fail_on_device_error = false`."

func (d *deviceCommandDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	timeoutsBlock := timeouts.BlockWithOpts(ctx, timeouts.Opts{
		ReadDescription: "How long to wait for the delivery and the device's answer, as a duration such as " +
			"`\"60s\"`. Defaults to `60s`, above the platform's own 20 s limit. When it expires first, the outcome " +
			"is unknown and the command is not retried.",
	})
	if b, ok := timeoutsBlock.(schema.SingleNestedBlock); ok {
		b.MarkdownDescription = "Time limit for delivering the command."
		timeoutsBlock = withPositiveDataSourceTimeouts(b)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: dataSourceDescription,
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{MarkdownDescription: "Same as `command_id`.", Computed: true},
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
			"fail_on_device_error": schema.BoolAttribute{MarkdownDescription: descFailOnDeviceError, Optional: true},
			"command_id":           schema.StringAttribute{MarkdownDescription: descCommandID, Computed: true},
			"response":             schema.DynamicAttribute{MarkdownDescription: descResponse, Computed: true},
			"response_json":        schema.StringAttribute{MarkdownDescription: descResponseJSON, Computed: true},
			"result_code":          schema.Int64Attribute{MarkdownDescription: descResultCode, Computed: true},
			"error_code":           schema.StringAttribute{MarkdownDescription: descErrorCode, Computed: true},
			"error_msg":            schema.StringAttribute{MarkdownDescription: descErrorMsg, Computed: true},
			"delivered_at":         schema.StringAttribute{MarkdownDescription: descDeliveredAt, Computed: true},
		},
		Blocks: map[string]schema.Block{"timeouts": timeoutsBlock},
	}
}

func (d *deviceCommandDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	if req.ProviderData == nil {
		return
	}
	data, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *provider.providerData, got %T. Please report this issue to the provider developers.", req.ProviderData))
		return
	}
	d.data = data
}

// Read delivers the command. A failure reported by the device is an error unless
// fail_on_device_error is false, in which case the result is returned with a warning.
func (d *deviceCommandDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.data != nil && d.data.configUnknown && req.ClientCapabilities.DeferralAllowed {
		// Terraform can read the data source again once the provider configuration is known.
		resp.Deferred = &datasource.Deferred{Reason: datasource.DeferredReasonProviderConfigUnknown}
		return
	}
	var config deviceCommandDataSourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := config.Timeouts.Read(ctx, defaultDeliveryTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if !deliver(ctx, d.data, &config.deviceCommandModel, deliveryForDataSource, &resp.Diagnostics) || resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &config)...)
}
