package provider

import (
	"context"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Default timeouts of iotda_device_message.
const (
	// defaultMessageCreateTimeout is how long an apply follows a message before leaving it
	// PENDING: long enough for a device that reconnects every few minutes, short enough that
	// an apply for a device asleep for hours does not hang.
	defaultMessageCreateTimeout = 5 * time.Minute
	defaultMessageReadTimeout   = time.Minute
)

// Descriptions shared by the resource and the action, so that both documents agree.
const (
	descMessageDeviceID = "ID of the device that receives the message, as allocated by IoTDA when the device was " +
		"registered. 1 to 128 characters: letters, digits, underscores (`_`) and hyphens (`-`)."
	descMessage = "The message: a string, sent as it is (`\"reboot at 02:00\"`), or an object of any depth " +
		"(`{ interval = 900 }`), sent as JSON with every digit of its numbers. `jsonencode()` of an object is a " +
		"string holding JSON, which IoTDA sends as a string. At most 256 KB. With the default `payload_format`, " +
		"the device receives it as the `content` of the platform's standard message " +
		"`{\"name\",\"id\",\"content\"}`, an object as its JSON text; with `payload_format = \"raw\"` it is the " +
		"whole MQTT payload."
	descMessageName = "The message's name, which the device receives in the standard format's `name`. At most 128 " +
		"characters: Chinese characters, letters, digits and `_?'#().,&%@!-`."
	descMessageTopic = "A custom topic to send the message on, as the part after `$oc/devices/{device_id}/user/` " +
		"(for example `\"config\"`): it must be a topic defined in the device's product, and the device must have " +
		"subscribed to it. At most 128 bytes. Without `topic` and `topic_full_name`, the message goes to " +
		"`$oc/devices/{device_id}/sys/messages/down`, to which IoTDA subscribes every device itself. Conflicts " +
		"with `topic_full_name`."
	descMessageTopicFullName = "A full topic name to send the message on, such as `\"/factory/config\"`; IoTDA does " +
		"not check that the product defines it, and the device must have subscribed to it. At most 128 bytes. " +
		"Nothing that starts with `$`: `$oc/` holds IoTDA's system topics, where a device would take the message for " +
		"the platform's own traffic (a command, for one), and MQTT keeps the other `$` topics for the server; use " +
		"`topic` for a custom topic under `$oc/devices/{device_id}/user/`. That rule is the provider's own; what " +
		"IoTDA does with such a topic is not documented. No white space around the name. Conflicts with `topic`."
	descMessageEncoding = "`\"none\"` (the platform's default) or `\"base64\"`: the message is then a string holding " +
		"standard base64, such as `filebase64(\"blob.bin\")`, and the device receives the bytes it encodes, as the " +
		"whole payload."
	descMessagePayloadFormat = "`\"standard\"` (the platform's default: IoTDA wraps the message in " +
		"`{\"name\",\"id\",\"content\"}`) or `\"raw\"` (the message itself is the MQTT payload). With " +
		"`encoding = \"base64\"` only `\"raw\"` applies."
	descMessageTTL = "How long IoTDA keeps the message for a device that is offline, in minutes: 0 to 1440 in steps " +
		"of 5. Defaults to the platform's 1440 (one day). Past it, the message ends `TIMEOUT`. With 0, IoTDA keeps " +
		"nothing: the message is `FAILED` at once when the device is offline."
	descMessageProperties = "MQTT 5 publish properties for the message: `correlation_data` and `response_topic` " +
		"(the request/response pattern) and up to 20 `user_properties`. IoTDA accepts them in the request; how it " +
		"passes them to a device connected with MQTT 3.1.1 is not documented."
	descMessageWaitForDelivery = "Whether the apply waits until the message is delivered (or `FAILED` or `TIMEOUT`), " +
		"up to the create timeout. Defaults to `true`. With `false`, the apply ends as soon as IoTDA has accepted " +
		"the message, `PENDING` while the device is offline; later plans and refreshes read its status. Changing it " +
		"does not send the message again."
	descMessageID = "The message's ID: a random UUID (version 4) the provider generates and sends, so that a create " +
		"whose answer is lost is resolved by reading this ID rather than by sending the message again."
	descMessageStatus = "The message's status on IoTDA: `PENDING` (held for an offline device), `DELIVERED`, " +
		"`FAILED` or `TIMEOUT` (its `ttl` ran out before the device connected). Only `PENDING` changes, and a " +
		"refresh reads it again; the others are final. Null while the outcome of sending it is not known (the " +
		"answer was lost and IoTDA does not show the message yet): every refresh then reads it by `message_id`. " +
		"A status IoTDA does not document is kept as IoTDA gives it, with a warning (as `UNDOCUMENTED` with " +
		"`message_wo`, since IoTDA's text could quote the content)."
	descMessageErrorCode = "Why the message `FAILED`, as IoTDA reports it: `IOTDA.014016` (the device is offline and " +
		"`ttl` is 0) or `IOTDA.014112` (the device has not subscribed to the topic). Null otherwise."
	descMessageErrorMsg = "IoTDA's description of `error_code`; null when there is none. With `message_wo`, " +
		"`(error_msg not shown: it may quote write-only content)` stands for it."
	descMessageCreatedAt  = "When IoTDA accepted the message, in RFC 3339 format (UTC)."
	descMessageFinishedAt = "When the message reached its final status (`DELIVERED`, `FAILED` or `TIMEOUT`), in " +
		"RFC 3339 format (UTC); null while it is `PENDING`."
)

const messageResourceDescription = "Sends a message to an IoTDA device through the platform's device message API, " +
	"for devices that sleep, sit behind poor links or are offline for a while: IoTDA accepts the message at once, " +
	"keeps it for up to `ttl` minutes (one day by default) while the device is offline, delivers it when the device " +
	"connects, and reports its status. The device sends no reply. For a command with a reply within 20 seconds use " +
	"`iotda_device_command`; for a fleet, `iotda_batch_message` (see [Commands, messages or batch tasks]" +
	"(../guides/choosing.md)).\n\n" +
	"The message is sent when the resource is created: on the first apply; whenever what IoTDA would receive " +
	"changes (`device_id`, the `message` sent, `name`, the topic, `encoding`, `payload_format`, `ttl`, " +
	"`properties` or `message_wo_version`) or a value in `triggers` changes, which replaces the resource; and when " +
	"the resource is replaced with `-replace`. A change of form only (the same object through `tomap()`, a default " +
	"written out) updates it in place and sends nothing. Refresh and plan never send it.\n\n" +
	"The apply follows the message until it is delivered, up to `timeouts.create` (5 minutes by default). A " +
	"device still offline then is not an error: the message is saved `PENDING` with a warning, and every later " +
	"plan or refresh reads its status again, without sending it again, until it is final. A message that ends " +
	"`FAILED` or `TIMEOUT` is an error, with the state saved, and the next plan sends it again (a replacement). A " +
	"request whose answer is lost is never sent again: the message is found by its `message_id`, at once or by a " +
	"later refresh, and until then it is saved without a status, with a warning. A " +
	"message IoTDA no longer has (20 newer messages replaced it, or its cache time passed) keeps its last known " +
	"status; it is never sent again because of that. Destroying the resource only forgets the message.\n\n" +
	"For content that must stay out of the plan and the state, such as a key, use `message_wo` with " +
	"`message_wo_version` instead of `message` (Terraform 1.11, OpenTofu 1.11 or newer)."

func (r *deviceMessageResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	timeoutsBlock := timeouts.Block(ctx, timeouts.Opts{
		Create: true,
		CreateDescription: "How long the apply follows the message until it is delivered, as a duration such as " +
			"`\"10m\"`. Defaults to `5m`. When it ends first, the message is saved `PENDING` with a warning.",
		Read:            true,
		ReadDescription: "How long a refresh may take to read a `PENDING` message's status. Defaults to `1m`.",
	})
	if b, ok := timeoutsBlock.(schema.SingleNestedBlock); ok {
		b.MarkdownDescription = "Time limits for following and reading the message. Changing them does not send the " +
			"message again."
		timeoutsBlock = withPositiveTimeouts(b)
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: messageResourceDescription,
		Attributes:          deviceMessageResourceAttributes(),
		Blocks:              map[string]schema.Block{"timeouts": timeoutsBlock},
	}
}

func deviceMessageResourceAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"id": schema.StringAttribute{
			MarkdownDescription: "`device_id/message_id`, the import ID.", Computed: true,
		},
		"device_id": schema.StringAttribute{
			MarkdownDescription: descMessageDeviceID + " Changing it sends the message to the new device.",
			Required:            true, Validators: []validator.String{deviceIDValidator()},
		},
		"message": schema.DynamicAttribute{
			MarkdownDescription: descMessage + " Exactly one of `message` and `message_wo` is required.",
			Optional:            true, Validators: []validator.Dynamic{messageValidator{}},
		},
		"message_wo": schema.DynamicAttribute{
			MarkdownDescription: "Write-only message, for content that carries a secret: the same as `message`, but " +
				"Terraform never stores it in the plan or the state, and the provider never logs it. Needs Terraform " +
				"1.11 or OpenTofu 1.11 or newer; set `message_wo_version` with it.",
			Optional: true, WriteOnly: true, Validators: []validator.Dynamic{messageValidator{}},
		},
		"message_wo_version": schema.Int64Attribute{
			MarkdownDescription: "Required with `message_wo`, and only with it: any number, changed whenever " +
				"`message_wo` changes. Terraform cannot see a change in a write-only value, so changing this number is " +
				"what sends the message again, once.",
			Optional: true,
		},
		"triggers": schema.MapAttribute{
			MarkdownDescription: "Arbitrary map of strings. Any change of a value sends the message again, for " +
				"example `triggers = { config = var.config_revision }`; changing it between unset and `{}` does not.",
			ElementType: types.StringType, Optional: true,
		},
		"wait_for_delivery": schema.BoolAttribute{
			MarkdownDescription: descMessageWaitForDelivery,
			Optional:            true, Computed: true, Default: booldefault.StaticBool(true),
		},
		"message_id":  schema.StringAttribute{MarkdownDescription: descMessageID, Computed: true},
		"status":      schema.StringAttribute{MarkdownDescription: descMessageStatus, Computed: true},
		"error_code":  schema.StringAttribute{MarkdownDescription: descMessageErrorCode, Computed: true},
		"error_msg":   schema.StringAttribute{MarkdownDescription: descMessageErrorMsg, Computed: true},
		"created_at":  schema.StringAttribute{MarkdownDescription: descMessageCreatedAt, Computed: true},
		"finished_at": schema.StringAttribute{MarkdownDescription: descMessageFinishedAt, Computed: true},
	}
	for name, a := range messageArgumentAttributes() {
		attrs[name] = a
	}
	return attrs
}

// messageArgumentAttributes are the optional arguments the resource and the action share;
// changing one sends the message again (or, in place, for a change of form only).
func messageArgumentAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"name": schema.StringAttribute{
			MarkdownDescription: descMessageName, Optional: true,
			Validators: []validator.String{textRule("name", messageNamePattern,
				"Chinese characters, letters, digits and _?'#().,&%@!-")},
		},
		"topic": schema.StringAttribute{
			MarkdownDescription: descMessageTopic, Optional: true,
			Validators: []validator.String{topicRule("topic", true),
				stringvalidator.ConflictsWith(path.MatchRoot("topic_full_name"))},
		},
		"topic_full_name": schema.StringAttribute{
			MarkdownDescription: descMessageTopicFullName, Optional: true,
			Validators: []validator.String{topicRule("topic_full_name", false)},
		},
		"encoding": schema.StringAttribute{
			MarkdownDescription: descMessageEncoding, Optional: true,
			Validators: []validator.String{stringvalidator.OneOf(iotda.EncodingNone, iotda.EncodingBase64)},
		},
		"payload_format": schema.StringAttribute{
			MarkdownDescription: descMessagePayloadFormat, Optional: true,
			Validators: []validator.String{stringvalidator.OneOf(iotda.PayloadStandard, iotda.PayloadRaw)},
		},
		"ttl": schema.Int64Attribute{
			MarkdownDescription: descMessageTTL, Optional: true, CustomType: minutesType{},
			Validators: []validator.Int64{ttlValidator{}},
		},
		"properties": schema.SingleNestedAttribute{
			MarkdownDescription: descMessageProperties, Optional: true,
			Attributes: map[string]schema.Attribute{
				"correlation_data": schema.StringAttribute{
					MarkdownDescription: "Correlation data: at most 128 letters, digits, `_` and `-`.", Optional: true,
					Validators: []validator.String{textRule("correlation_data", idLikePattern,
						"letters, digits, _ and -")},
				},
				"response_topic": schema.StringAttribute{
					MarkdownDescription: "Response topic: at most 128 letters, digits and `_-?=$#+/`.", Optional: true,
					Validators: []validator.String{textRule("response_topic", responseTopicPattern,
						"letters, digits and _-?=$#+/")},
				},
				"user_properties": schema.ListNestedAttribute{
					MarkdownDescription: "Up to 20 user properties, in order.", Optional: true,
					Validators: []validator.List{listvalidator.SizeAtMost(maxUserProperties)},
					NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
						"prop_key": schema.StringAttribute{
							MarkdownDescription: "The key: at most 128 letters, digits, `_` and `-`.", Required: true,
							Validators: []validator.String{textRule("prop_key", idLikePattern,
								"letters, digits, _ and -")},
						},
						"prop_value": schema.StringAttribute{
							MarkdownDescription: "The value: at most 128 Chinese characters, letters, digits, spaces " +
								"and `_?'#().,&%@!-`.",
							Required: true,
							Validators: []validator.String{textRule("prop_value", propValuePattern,
								"Chinese characters, letters, digits, spaces and _?'#().,&%@!-")},
						},
					}},
				},
			},
		},
	}
}
