package provider

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Interface assertions.
var (
	_ resource.Resource                   = (*deviceCommandResource)(nil)
	_ resource.ResourceWithConfigure      = (*deviceCommandResource)(nil)
	_ resource.ResourceWithImportState    = (*deviceCommandResource)(nil)
	_ resource.ResourceWithValidateConfig = (*deviceCommandResource)(nil)
)

// NewDeviceCommandResource returns the iotda_device_command resource.
func NewDeviceCommandResource() resource.Resource {
	return &deviceCommandResource{}
}

// deviceCommandResource delivers a command once, when it is created.
type deviceCommandResource struct {
	data *providerData
}

// deviceCommandResourceModel is the resource's state.
type deviceCommandResourceModel struct {
	deviceCommandModel

	// ParasWO is write-only: null in the plan and the state, set only in the configuration.
	ParasWO        types.Dynamic  `tfsdk:"paras_wo"`
	ParasWOVersion types.Int64    `tfsdk:"paras_wo_version"`
	Triggers       types.Map      `tfsdk:"triggers"`
	Timeouts       timeouts.Value `tfsdk:"timeouts"`
}

func (r *deviceCommandResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_command"
}

const resourceDescription = "Delivers a command to an IoTDA device through the synchronous command API and " +
	"records the device's reply.\n\n" +
	"The command is delivered when the resource is created: on the first apply; whenever the command the platform " +
	"would receive changes (`device_id`, `service_id`, `command_name`, the JSON sent as `paras`, or " +
	"`paras_wo_version`) or a value in `triggers` changes, which replaces the resource (the plan marks the " +
	"argument with `# forces replacement`); " +
	"and when the resource is tainted or replaced with `-replace`. A change of form only, which sends the same " +
	"command, updates the resource in place and delivers nothing (see [What counts as a change](#what-counts-as-a-change)). " +
	"Refresh and plan never deliver it, and destroying the resource only forgets it. Use `triggers` to deliver the " +
	"same command again when something else changes. To deliver a command on every plan, use the " +
	"`iotda_device_command` data source instead.\n\n" +
	"The platform waits up to 20 seconds for the device to answer. A device that does not answer in time, is " +
	"offline or does not exist is an error and nothing is saved. A device that answers with a non-zero " +
	"`result_code` is an error too (unless `fail_on_device_error = false`), but the result is saved and the " +
	"resource is tainted, so the next apply delivers the command again. A request is never retried once it may " +
	"have reached the platform.\n\n" +
	"For parameters that must stay out of the plan and the state, such as a password, use `paras_wo` with " +
	"`paras_wo_version` instead of `paras` (Terraform 1.11, OpenTofu 1.11 or newer)."

const descParasWO = "Write-only parameters, for a command that carries a secret such as a Wi-Fi password: the same " +
	"as `paras`, but Terraform never stores them in the plan or the state, and the provider never logs them. " +
	"Needs Terraform 1.11 or OpenTofu 1.11 or newer; set `paras_wo_version` with it. Exactly one of `paras` " +
	"and `paras_wo` is required. The device's reply is still stored in `response` and `response_json`: when the " +
	"device echoes its parameters, every string of `paras_wo` of 4 or more characters is replaced by `***` in " +
	"them, in diagnostics and in logs, with a warning. Shorter strings, numbers and booleans cannot be told " +
	"apart from the rest of a reply and are kept (see [Secrets: write-only `paras_wo`](#secrets-write-only-paras_wo))."

func (r *deviceCommandResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	timeoutsBlock := timeouts.Block(ctx, timeouts.Opts{
		Create: true,
		CreateDescription: "How long to wait for the delivery and the device's answer, as a duration such as " +
			"`\"60s\"` or `\"2m\"`. Defaults to `60s`, above the platform's own 20 s limit, so a slow device is " +
			"reported by the platform. When it expires first, the outcome is unknown and the command is not retried.",
	})
	if b, ok := timeoutsBlock.(schema.SingleNestedBlock); ok {
		b.MarkdownDescription = "Time limit for delivering the command. Changing it does not deliver the command again."
		timeoutsBlock = withPositiveTimeouts(b)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: resourceDescription,
		Attributes:          deviceCommandResourceAttributes(),
		Blocks:              map[string]schema.Block{"timeouts": timeoutsBlock},
	}
}

func deviceCommandResourceAttributes() map[string]schema.Attribute {
	keepString := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	replaceString := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	return map[string]schema.Attribute{
		"id": schema.StringAttribute{
			MarkdownDescription: "Same as `command_id`.", Computed: true, PlanModifiers: keepString,
		},
		"device_id": schema.StringAttribute{
			MarkdownDescription: descDeviceID + " Changing it delivers the command to the new device.",
			Required:            true, PlanModifiers: replaceString,
			Validators: []validator.String{deviceIDValidator()},
		},
		"service_id": schema.StringAttribute{
			MarkdownDescription: descServiceID + " Changing it delivers the command again; changing it between " +
				"unset and `\"\"`, which send the same command, does not.",
			Optional: true, PlanModifiers: []planmodifier.String{optionalFieldRequiresReplace{}},
			Validators: []validator.String{stringvalidator.LengthAtMost(64)},
		},
		"command_name": schema.StringAttribute{
			MarkdownDescription: descCommandName + " Changing it delivers the command again; changing it between " +
				"unset and `\"\"`, which send the same command, does not.",
			Optional: true, PlanModifiers: []planmodifier.String{optionalFieldRequiresReplace{}},
			Validators: []validator.String{stringvalidator.LengthAtMost(128)},
		},
		"paras": schema.DynamicAttribute{
			MarkdownDescription: descParas + " Changing the JSON it sends delivers the command again. Changing only " +
				"its form does not: an object, the same object through `tomap()` or `jsonencode()`, and a JSON string " +
				"that differs only in whitespace or in how a character is escaped (`\\u00e9` or `é`) send the same " +
				"bytes. The order of members and how a number is written (`1`, `1.0`, `1e0`) in a JSON string do " +
				"count, since the device receives them as written. Exactly one of `paras` and `paras_wo` is required.",
			Optional:      true,
			PlanModifiers: []planmodifier.Dynamic{parasRequiresReplace{}},
			Validators:    []validator.Dynamic{parasValidator{}},
		},
		"paras_wo": schema.DynamicAttribute{
			MarkdownDescription: descParasWO,
			Optional:            true,
			WriteOnly:           true,
			Validators:          []validator.Dynamic{parasValidator{}},
		},
		"paras_wo_version": schema.Int64Attribute{
			MarkdownDescription: "Required with `paras_wo`, and only with it: any number, changed whenever `paras_wo` " +
				"changes. Terraform cannot see a change in a write-only value, so changing this number is what " +
				"delivers the command again, once.",
			Optional:      true,
			PlanModifiers: []planmodifier.Int64{int64planmodifier.RequiresReplace()},
		},
		"triggers": schema.MapAttribute{
			MarkdownDescription: "Arbitrary map of strings. Any change of a value delivers the command again, for " +
				"example `triggers = { firmware = var.firmware_version }`; changing it between unset and `{}` does not.",
			ElementType: types.StringType, Optional: true,
			PlanModifiers: []planmodifier.Map{triggersRequiresReplace{}},
		},
		"fail_on_device_error": schema.BoolAttribute{
			MarkdownDescription: descFailOnDeviceError + " Changing it does not deliver the command again.",
			Optional:            true, Computed: true, Default: booldefault.StaticBool(true),
		},
		"command_id":    schema.StringAttribute{MarkdownDescription: descCommandID, Computed: true, PlanModifiers: keepString},
		"response":      schema.DynamicAttribute{MarkdownDescription: descResponse, Computed: true, PlanModifiers: []planmodifier.Dynamic{responseFromJSON{}}},
		"response_json": schema.StringAttribute{MarkdownDescription: descResponseJSON, Computed: true, PlanModifiers: keepString},
		"result_code":   schema.Int64Attribute{MarkdownDescription: descResultCode, Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}},
		"error_code":    schema.StringAttribute{MarkdownDescription: descErrorCode, Computed: true, PlanModifiers: keepString},
		"error_msg":     schema.StringAttribute{MarkdownDescription: descErrorMsg, Computed: true, PlanModifiers: keepString},
		"delivered_at":  schema.StringAttribute{MarkdownDescription: descDeliveredAt, Computed: true, PlanModifiers: keepString},
	}
}

func (r *deviceCommandResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	if req.ProviderData == nil {
		return // Not configured yet (validation); Create reports a missing client.
	}
	data, ok := req.ProviderData.(*providerData)
	if !ok {
		resp.Diagnostics.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *provider.providerData, got %T. Please report this issue to the provider developers.", req.ProviderData))
		return
	}
	r.data = data
}

// Create delivers the command. The state is saved whenever the device answered, even with
// a failure, because the command was executed and forgetting it would hide that.
func (r *deviceCommandResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan deviceCommandResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultDeliveryTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The write-only parameters are only in the configuration; the plan holds null.
	delivery := plan.deviceCommandModel
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("paras_wo"), &delivery.Paras)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if delivery.Paras.IsNull() {
		delivery.Paras = plan.Paras
	} else {
		delivery.secretParas = true
		if _, err := parasJSON(delivery.Paras); err != nil {
			// Checked at plan too, unless the value was only known now.
			resp.Diagnostics.AddAttributeError(path.Root("paras_wo"), "Invalid Paras Value", describeParasError(err, "paras_wo"))
			return
		}
	}
	if !deliver(ctx, r.data, &delivery, deliveryForResource, &resp.Diagnostics) {
		return
	}
	plan.copyResults(&delivery)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// ValidateConfig requires exactly one of paras and paras_wo, and paras_wo_version exactly
// with paras_wo. A value not known yet counts as set.
func (r *deviceCommandResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var paras, parasWO types.Dynamic
	var version types.Int64
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("paras"), &paras)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("paras_wo"), &parasWO)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("paras_wo_version"), &version)...)
	if resp.Diagnostics.HasError() {
		return
	}
	hasParas, hasWO := !paras.IsNull(), !parasWO.IsNull()
	switch {
	case hasParas && hasWO:
		resp.Diagnostics.AddAttributeError(path.Root("paras_wo"), "Conflicting Paras",
			"paras and paras_wo are both set. Set paras, or set paras_wo (write-only, for parameters that must "+
				"stay out of the plan and the state) with paras_wo_version, not both.")
	case !hasParas && !hasWO:
		resp.Diagnostics.AddAttributeError(path.Root("paras"), "Missing Paras",
			"The command needs its parameters: set paras, such as paras = { value = \"ON\" }, or set paras_wo "+
				"with paras_wo_version for parameters that must stay out of the plan and the state (Terraform or "+
				"OpenTofu 1.11 or newer).")
	case hasWO && version.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("paras_wo_version"), "Missing Paras Version",
			"paras_wo is write-only, so Terraform cannot see it change. Set paras_wo_version to a number, such as "+
				"paras_wo_version = 1, and change it whenever paras_wo changes to deliver the command again.")
	case !hasWO && !version.IsNull():
		resp.Diagnostics.AddAttributeError(path.Root("paras_wo_version"), "Paras Version Without Write-Only Paras",
			"paras_wo_version only applies with paras_wo. Remove it, or move the parameters from paras to paras_wo.")
	}
}

// Read keeps the state as it is: a synchronous command cannot be queried afterwards, and
// a refresh must never deliver it again. The framework hands Read the prior state as the
// response, so only response is set, from response_json (see responseFromState), and the
// rest is kept without converting it to the model and back on every plan.
func (r *deviceCommandResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	response, diags := responseFromState(ctx, req.State)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("response"), response)...)
}

// Update happens for fail_on_device_error and timeouts, which change nothing on the device,
// and for changes of form only that send the same command (see device_command_plan.go);
// any change in what the platform would receive forces a replacement. It delivers nothing:
// the results of the delivery are kept from the prior state.
func (r *deviceCommandResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state deviceCommandResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.copyResults(&state.deviceCommandModel)
	plan.Response = readReply(ctx, json.RawMessage(state.ResponseJSON.ValueString())).Object
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete only forgets the command: a delivered command cannot be taken back.
func (r *deviceCommandResource) Delete(_ context.Context, _ resource.DeleteRequest, _ *resource.DeleteResponse) {
}

// ImportState refuses: a command is an event, and there is nothing on the platform to import.
func (r *deviceCommandResource) ImportState(_ context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.AddAttributeError(path.Root("id"), "Import Not Supported",
		fmt.Sprintf("iotda_device_command cannot import %q. A command is an event, not an object that exists on the "+
			"platform: IoTDA has no API to look up a synchronous command afterwards, so there is nothing to import. "+
			"Declare the resource in the configuration to deliver a command.", req.ID))
}
