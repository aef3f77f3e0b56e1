package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

const batchMessageDescription = "Sends one message to a fleet of IoTDA devices through the platform's batch task " +
	"engine (a `createMessages` batch task), and follows each device's message until it is delivered, for fleets " +
	"that sleep, sit behind poor links or are offline for a while.\n\n" +
	"IoTDA does the fan-out: one resource covers up to 30,000 devices (listed in `device_ids`, or the members of " +
	"`group_ids`), and an apply sends one request, then follows the task until IoTDA has accepted the message for " +
	"every device. A device that is online receives it at once; for one that is asleep or offline, IoTDA keeps it " +
	"for up to `ttl` minutes (one day by default) and delivers it when the device connects. The apply does not wait " +
	"for those: they are listed in `pending_device_ids` with a warning, and every later refresh (`terraform plan`, " +
	"`terraform refresh`) reads their status again, without sending anything, until it is final. Use it instead of " +
	"one `iotda_device_message` per device whenever the same message goes to more than a handful of devices; for a " +
	"command with a reply, use `iotda_batch_command` (see [Commands, messages or batch tasks](../guides/choosing.md)).\n\n" +
	"The task runs once. It runs when the resource is created: on the first apply, when an argument that changes " +
	"what the platform would send changes (which replaces the resource), and when the resource is replaced with " +
	"`-replace`. The provider generates the message's `message_id` and sends it in the task's document, so that every " +
	"device's message can be read by it. A creating request whose answer is lost is resolved by finding the task by " +
	"its name, never by sending it again. Once the task exists, an interrupt, `timeouts.create` or a failed read " +
	"keeps it in state with a warning, and the next plan follows the same task to its end. Destroying the resource " +
	"only forgets it unless `delete_task_on_destroy` is set.\n\n" +
	"Devices that fail (unknown to IoTDA, the message refused, or a message that ends `FAILED` or `TIMEOUT`) are " +
	"listed in `failed_device_ids`. Up to `max_failed_devices` of them are a warning; more are an error, with the " +
	"results saved, and the next plan sends the message again to the whole fleet (a replacement that says why). " +
	"That threshold judges what the apply saw: a message the apply left pending that a later refresh finds " +
	"`TIMEOUT` or `FAILED` is a warning, and never sends the message to the fleet again on its own.\n\n" +
	"What IoTDA does with a `createMessages` task is documented only in outline (UNCONFIRMED in the platform's " +
	"documentation, and how this provider reads it): that one `message_id` may serve every target, since message " +
	"ids are unique per device; that a subtask `Success` means IoTDA accepted the message for the device (`PENDING` " +
	"for a device that is offline) rather than that the device has it; and that a subtask's `output` is the " +
	"CreateMessage answer. The provider reads each device's message by its ID whenever the output does not say what " +
	"became of it."

func batchMessageSchema(ctx context.Context) schema.Schema {
	return schema.Schema{
		MarkdownDescription: batchMessageDescription,
		Attributes:          batchMessageAttributes(),
		Blocks: map[string]schema.Block{"timeouts": fleetTimeoutsBlock(ctx,
			"How long reading a finished task's results may take (with the messages their outputs do not describe), "+
				"and a refresh: of a task that had not finished or is being imported, or of the status of the devices "+
				"still pending. Defaults to `5m`.")},
	}
}

func batchMessageAttributes() map[string]schema.Attribute {
	attrs := batchMessageArguments()
	for name, a := range fleetComputedAttributes() {
		attrs[name] = a
	}
	keepString := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	keepList := []planmodifier.List{listplanmodifier.UseStateForUnknown()}
	attrs["message_id"] = schema.StringAttribute{
		MarkdownDescription: "The message's ID: a random UUID the provider generates and sends in the task's " +
			"document, which every device's message carries (message IDs are unique per device). It is how each " +
			"device's message is read.",
		Computed: true, PlanModifiers: keepString,
	}
	attrs["failed_device_ids"] = schema.ListAttribute{
		MarkdownDescription: "The devices the message did not reach, sorted: their subtask failed or was stopped " +
			"(such as a device IoTDA does not know), or their message ended `FAILED` (for example `IOTDA.014112`, not " +
			"subscribed to the topic) or `TIMEOUT` (its `ttl` ran out). Use it to retry only those devices with a " +
			"second resource. Null while the task's results have not been read.",
		ElementType: types.StringType, Computed: true, PlanModifiers: keepList,
	}
	attrs["pending_device_ids"] = schema.ListAttribute{
		MarkdownDescription: "The devices whose message IoTDA accepted but has not delivered yet, sorted: asleep or " +
			"offline (status `PENDING`), or whose status has not been read yet. Every refresh reads their status " +
			"again, without sending anything, and a device leaves this list once its message is `DELIVERED` (or " +
			"`FAILED` or `TIMEOUT`, for `failed_device_ids`). A device whose message IoTDA no longer has (20 newer " +
			"messages replaced it; three reads in a row did not find it) stays here with a warning: its status cannot " +
			"be known. Null while the task's " +
			"results have not been read.",
		ElementType: types.StringType, Computed: true, PlanModifiers: keepList,
	}
	attrs["results"] = schema.StringAttribute{
		MarkdownDescription: "Every device's result, as JSON text: an object keyed by device ID, read with `jsondecode()`, " +
			"for example `jsondecode(iotda_batch_message.this.results)[\"d-1\"].message_status`. Each device's " +
			"result has the same six members, null where they do not apply: `status` (its subtask's status: " +
			"`Success` once IoTDA accepted the message for the device, `Fail` or `Stopped`), `message_id`, " +
			"`message_status` (`PENDING`, `DELIVERED`, `FAILED` or `TIMEOUT`; null while it is not known), " +
			"`error_code` and `error_msg` (why the subtask failed, such as `IOTDA.014000` for an unknown device, or " +
			"why the message `FAILED`; null otherwise), and `finished_at` (when the message reached its final status, " +
			"RFC 3339). Refreshes update the devices still pending; a final status never changes. Null while the " +
			"task's results have not been read.\n\n" + resultsTextReason + " (measured for iotda_batch_command, whose " +
			"results hold each device's reply).",
		Computed: true, PlanModifiers: keepString,
	}
	return attrs
}

// batchMessageArguments are the fleet arguments and the message's, which are those of
// iotda_device_message (the same validation at plan time) without device_id.
func batchMessageArguments() map[string]schema.Attribute {
	attrs := fleetArguments("message", "How many times IoTDA retries the message on a device whose subtask failed "+
		"(such as a device not registered yet): 0 to 5. A device that is offline does not fail: IoTDA keeps the "+
		"message for it.")
	for name, a := range messageArgumentAttributes() {
		attrs[name] = a
	}
	unconfirmed := " Whether a `createMessages` task's document takes it is not documented (UNCONFIRMED): IoTDA's " +
		"example document does not show it. If IoTDA refuses it, the task is not created and the apply says so; " +
		"leave it out then."
	if a, ok := attrs["ttl"].(schema.Int64Attribute); ok {
		a.MarkdownDescription += unconfirmed
		attrs["ttl"] = a
	}
	if a, ok := attrs["properties"].(schema.SingleNestedAttribute); ok {
		a.MarkdownDescription += unconfirmed
		attrs["properties"] = a
	}
	attrs["message"] = schema.DynamicAttribute{
		MarkdownDescription: descMessage + " Changing what IoTDA would receive sends the message again to every " +
			"device (a new task); writing the same object another way (`tomap()`) does not.",
		Required: true, Validators: []validator.Dynamic{messageValidator{}},
	}
	return attrs
}
