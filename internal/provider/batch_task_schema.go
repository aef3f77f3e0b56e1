package provider

import (
	"context"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The schema the fleet resources share: the targets, the task's name and policy, the
// failure limit and triggers, and what IoTDA says of the task.

// Limits of a batch task (iotda-batchtask-facts.md §2 and §6).
const (
	maxBatchTargets  = 30000
	maxTaskNameRunes = 128
	maxRetryCount    = 5
	maxRetryInterval = 1440 // minutes
)

// Default timeouts of the fleet resources.
const (
	defaultBatchCreateTimeout = 30 * time.Minute
	defaultBatchReadTimeout   = 5 * time.Minute
	defaultBatchDeleteTimeout = 5 * time.Minute
)

var (
	// taskNamePattern is the platform's rule for task names: Chinese characters, letters,
	// digits and underscores.
	taskNamePattern = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_]+$`)
	// groupIDPattern is the platform's rule for device group ids: at most 36 hexadecimal
	// characters and hyphens (the SDK's ShowDeviceGroupRequest).
	groupIDPattern = regexp.MustCompile(`^[0-9A-Fa-f-]{1,36}$`)
	// taskIDPattern is the platform's rule for task ids: at most 24 of a-f and 0-9.
	taskIDPattern = regexp.MustCompile(`^[a-f0-9]{1,24}$`)
)

// progressAttrTypes is the object type of progress; the names are the platform's
// task_progress counters.
var progressAttrTypes = map[string]attr.Type{
	"total":           types.Int64Type,
	"processing":      types.Int64Type,
	"success":         types.Int64Type,
	"fail":            types.Int64Type,
	"waitting":        types.Int64Type,
	"fail_wait_retry": types.Int64Type,
	"stopped":         types.Int64Type,
	"removed":         types.Int64Type,
}

// resultsTextReason says why results is one JSON text; it ends with "one text", for the
// resource to say what its state holds.
const resultsTextReason = "The results are one text rather than a map of objects because Terraform and the plugin " +
	"framework spend time on every value a resource holds, in every plan. For 10,000 devices in ten resources of " +
	"1,000 (Terraform 1.5.7, 2 cores), a follow-up plan took 12.3 s of CPU with a map of objects, 3.3 to 3.5 s with " +
	"a map of JSON texts and 2.2 s with one text"

// fleetTimeoutsBlock is the timeouts block of a fleet resource.
func fleetTimeoutsBlock(ctx context.Context, readDescription string) schema.Block {
	timeoutsBlock := timeouts.Block(ctx, timeouts.Opts{
		Create: true,
		CreateDescription: "How long an apply follows the task, as a duration such as `\"30m\"`. Defaults to `30m`. " +
			"When it expires first the task keeps running on the platform: the apply ends with a warning naming the " +
			"task, the task is saved in state, and the next apply follows the same task to its end.",
		Read:            true,
		ReadDescription: readDescription,
		Delete:          true,
		DeleteDescription: "How long deleting the task on IoTDA may take when `delete_task_on_destroy` is set. " +
			"Defaults to `5m`.",
	})
	if b, ok := timeoutsBlock.(schema.SingleNestedBlock); ok {
		b.MarkdownDescription = "Time limits. Changing them does not run the task again."
		timeoutsBlock = withPositiveTimeouts(b)
	}
	return timeoutsBlock
}

// fleetComputedAttributes are what IoTDA says of the task; each resource adds its own
// failed_device_ids and results.
func fleetComputedAttributes() map[string]schema.Attribute {
	keepString := []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
	return map[string]schema.Attribute{

		"id": schema.StringAttribute{MarkdownDescription: "Same as `task_id`.", Computed: true, PlanModifiers: keepString},
		"task_id": schema.StringAttribute{
			MarkdownDescription: "The ID IoTDA allocated to the batch task: 24 hexadecimal characters.",
			Computed:            true, PlanModifiers: keepString,
		},
		"status": schema.StringAttribute{
			MarkdownDescription: "The task's status as IoTDA reports it: `Success`, `PartialSuccess`, `Fail` or " +
				"`Stopped` once it has finished; `Initializing`, `Waitting` (sic), `Processing` or `Stopping` while it " +
				"runs (saved only when `timeouts.create` expired first).",
			Computed: true, PlanModifiers: keepString,
		},
		"status_desc": schema.StringAttribute{
			MarkdownDescription: "IoTDA's description of the status; it says why a task failed as a whole (for " +
				"example a device group that does not exist). Null when IoTDA gave none.",
			Computed: true, PlanModifiers: keepString,
		},
		"created_at": schema.StringAttribute{
			MarkdownDescription: "When IoTDA created the task, in RFC 3339 format (UTC).",
			Computed:            true, PlanModifiers: keepString,
		},
		"progress": schema.ObjectAttribute{
			MarkdownDescription: "How many of the task's devices are in each state, IoTDA's `task_progress`: " +
				"`total`, `success`, `fail`, `processing`, `waitting` (sic), `fail_wait_retry` (failed, a retry is due), " +
				"`stopped` and `removed`.",
			AttributeTypes: progressAttrTypes, Computed: true,
			PlanModifiers: []planmodifier.Object{objectplanmodifier.UseStateForUnknown()},
		},
	}
}

// fleetArguments are the arguments every fleet resource has; what names the work each device
// receives ("command"), and retryCount says what a retry does, in a sentence.
func fleetArguments(what, retryCount string) map[string]schema.Attribute {
	replaceInt := []planmodifier.Int64{int64planmodifier.RequiresReplace()}
	return map[string]schema.Attribute{
		"device_ids": schema.ListAttribute{
			MarkdownDescription: "IDs of the devices that receive the " + what + ": 1 to 30,000, each listed once. " +
				"Exactly one of `device_ids` and `group_ids` must be set. Their order does not matter: reordering " +
				"them does not run the task again, while adding or removing a device does. Keep each resource to " +
				"about 1,000 devices and split larger fleets over several resources with `for_each` (required beyond " +
				"30,000): Terraform compares a list with its previous value in time and memory that grow with the " +
				"square of its length, so a follow-up plan of one list of 10,000 devices took 5.3 to 6 s of CPU and " +
				"900 MB, and ten lists of 1,000 about 2.2 s. A list rather than a set because a set costs more: " +
				"Terraform and the plugin framework compare a set's elements with each other, and ten sets of 1,000 " +
				"devices took 51 s of CPU to plan and 81 to 83 s to apply.",
			ElementType: types.StringType, Optional: true,
			Validators: []validator.List{
				listvalidator.SizeBetween(1, maxBatchTargets),
				listvalidator.ValueStringsAre(deviceIDValidator()),
				uniqueStringsValidator{what: "device"},
			},
			PlanModifiers: []planmodifier.List{sameElementsRequiresReplace{}},
		},
		"group_ids": schema.ListAttribute{
			MarkdownDescription: "IDs of IoTDA device groups whose members receive the " + what + " (sent as " +
				"`targets_filter.group_ids`; IoTDA resolves the members when the task is created). At most 36 " +
				"hexadecimal characters and hyphens each. A group that does not exist makes the whole task fail.",
			ElementType: types.StringType, Optional: true,
			Validators: []validator.List{
				listvalidator.SizeAtLeast(1),
				listvalidator.ValueStringsAre(stringvalidator.RegexMatches(groupIDPattern,
					"must be a device group ID: 1 to 36 hexadecimal characters and hyphens (-)")),
				uniqueStringsValidator{what: "group"},
			},
			PlanModifiers: []planmodifier.List{sameElementsRequiresReplace{}},
		},
		"task_name": schema.StringAttribute{
			MarkdownDescription: "Name of the batch task: at most 128 letters, digits, underscores (`_`) or Chinese " +
				"characters. Defaults to a unique name such as `tf_20260102T150405_9f8e7d6c`, which also lets the " +
				"provider find the task if the answer to the creating request is lost. Changing it runs the task again.",
			Optional: true, Computed: true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown(), stringplanmodifier.RequiresReplace()},
			Validators: []validator.String{
				runeLengthAtMost{max: maxTaskNameRunes},
				stringvalidator.RegexMatches(taskNamePattern,
					"must be 1 to 128 letters, digits, underscores (_) and Chinese characters (leave it out for a "+
						"unique default name)"),
			},
		},
		"retry_count": schema.Int64Attribute{
			MarkdownDescription: retryCount + " Requires `retry_interval`. Sent as `task_policy.retry_count`.",
			Optional:            true, PlanModifiers: replaceInt,
			Validators: []validator.Int64{int64validator.Between(0, maxRetryCount),
				int64validator.AlsoRequires(path.MatchRoot("retry_interval"))},
		},
		"retry_interval": schema.Int64Attribute{
			MarkdownDescription: "Minutes IoTDA waits before each retry: 1 to 1440. Requires `retry_count`. Sent " +
				"as `task_policy.retry_interval`. The apply waits for the retries, so keep `timeouts.create` above " +
				"`retry_count` × `retry_interval`.",
			Optional: true, PlanModifiers: replaceInt,
			Validators: []validator.Int64{int64validator.Between(1, maxRetryInterval),
				int64validator.AlsoRequires(path.MatchRoot("retry_count"))},
		},
		"max_failed_devices": schema.Int64Attribute{
			MarkdownDescription: "How many devices may fail before the apply fails. Defaults to `0`: any failed " +
				"device is an error. Within the limit, failures are a warning naming the devices. Changing it does " +
				"not run the task again.",
			Optional: true, Computed: true, Default: int64default.StaticInt64(0),
			Validators: []validator.Int64{int64validator.AtLeast(0)},
		},
		"triggers": schema.MapAttribute{
			MarkdownDescription: "Arbitrary map of strings. Any change runs the task again, for example " +
				"`triggers = { firmware = var.firmware_version }`.",
			ElementType: types.StringType, Optional: true,
			PlanModifiers: []planmodifier.Map{importedTriggersRequiresReplace{}},
		},
		"delete_task_on_destroy": schema.BoolAttribute{
			MarkdownDescription: "Whether destroying the resource also deletes the finished task from IoTDA. " +
				"Defaults to `false`: destroying only forgets the task, which IoTDA keeps. A task still running " +
				"cannot be deleted.",
			Optional: true, Computed: true, Default: booldefault.StaticBool(false),
		},
	}
}
