package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

const batchResourceDescription = "Delivers one command to a fleet of IoTDA devices through the platform's batch " +
	"task engine (a `createCommands` batch task) and records every device's result.\n\n" +
	"IoTDA does the fan-out: one resource covers up to 30,000 devices (listed in `device_ids`, or the members " +
	"of `group_ids`), and an apply sends one request, then follows the task until every device has answered, " +
	"failed, or run out of retries. Use it instead of one `iotda_device_command` per device whenever the same " +
	"command goes to more than a handful of devices.\n\n" +
	"The task runs once. It runs when the resource is created: on the first apply, when an argument that " +
	"changes what the platform would run changes (which replaces the resource), and when the resource is " +
	"replaced with `-replace`. A creating request whose answer is lost is resolved by finding the task by its " +
	"name, never by sending it again. Once the task exists, an interrupt, `timeouts.create` or a failed read " +
	"keeps it in state with a warning, and the next plan follows the same task to its end. Refresh and plan " +
	"never run it again, and destroying the resource only forgets it unless `delete_task_on_destroy` is set.\n\n" +
	"Devices that fail (offline, unknown, silent past the platform's 20 s, or answering with a non-zero " +
	"`result_code`) are listed in `failed_device_ids`. Up to `max_failed_devices` of them are a warning; more " +
	"are an error, with the results saved, and the next plan runs the task again (a replacement that says why)."

func batchCommandSchema(ctx context.Context) schema.Schema {
	return schema.Schema{
		MarkdownDescription: batchResourceDescription,
		Attributes:          batchCommandAttributes(),
		Blocks: map[string]schema.Block{"timeouts": fleetTimeoutsBlock(ctx,
			"How long reading a finished task's results may take, and a refresh of a task that had not finished or is "+
				"being imported. Defaults to `5m`.")},
	}
}

func batchCommandAttributes() map[string]schema.Attribute {
	attrs := batchCommandArguments()
	for name, a := range fleetComputedAttributes() {
		attrs[name] = a
	}
	keepString := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	attrs["failed_device_ids"] = schema.ListAttribute{
		MarkdownDescription: "The devices the command did not succeed on, sorted: their subtask failed or was " +
			"stopped, or they answered with a `result_code` other than `0`. Use it to retry only those devices " +
			"with a second resource. Null while the task's results have not been read.",
		ElementType: types.StringType, Computed: true,
		PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
	}
	attrs["results"] = schema.StringAttribute{
		MarkdownDescription: "Every device's result, as JSON text: an object keyed by device ID, read with `jsondecode()`, " +
			"for example `jsondecode(iotda_batch_command.this.results)[\"d-1\"].status`. Each device's result has " +
			"the same six members, null where they do not apply: `status` (its subtask's status: `Success`, `Fail` " +
			"or `Stopped`), `command_id`, `result_code` (from the device's reply; `0` when the reply omits it or is " +
			"empty; null when the device did not answer or its `result_code` is not an integer), `response` (the " +
			"device's reply as a JSON value, exactly as it was sent; null when it did not answer or answered with " +
			"nothing), and `error_code` and `error_msg` (why the subtask failed, such as `IOTDA.014016` for an " +
			"offline device; null when it did not fail). Null while the task's results have not been read.\n\n" +
			resultsTextReason + ", whose state is about 0.28 KB per device plus its reply.",
		Computed: true, PlanModifiers: keepString,
	}
	return attrs
}

func batchCommandArguments() map[string]schema.Attribute {
	replaceString := []planmodifier.String{optionalFieldRequiresReplace{}}
	attrs := fleetArguments("command", "How many times IoTDA retries the command on a device it failed on (offline, "+
		"silent): 0 to 5.")
	for name, a := range map[string]schema.Attribute{
		"service_id": schema.StringAttribute{
			MarkdownDescription: descServiceID + " Changing it runs the task again.",
			Optional:            true, PlanModifiers: replaceString,
			Validators: []validator.String{stringvalidator.LengthAtMost(64)},
		},
		"command_name": schema.StringAttribute{
			MarkdownDescription: descCommandName + " Changing it runs the task again.",
			Optional:            true, PlanModifiers: replaceString,
			Validators: []validator.String{stringvalidator.LengthAtMost(128)},
		},
		"paras": schema.DynamicAttribute{
			MarkdownDescription: descParas + " The same rules as `iotda_device_command`. Changing what IoTDA " +
				"would receive runs the task again; writing the same JSON another way (an object or `jsonencode()` " +
				"of it) does not.",
			Required:      true,
			PlanModifiers: []planmodifier.Dynamic{importedParasRequiresReplace{}},
			Validators:    []validator.Dynamic{parasValidator{}},
		},
	} {
		attrs[name] = a
	}
	return attrs
}
