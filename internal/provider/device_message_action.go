package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Interface assertions.
var (
	_ action.Action                   = (*deviceMessageAction)(nil)
	_ action.ActionWithConfigure      = (*deviceMessageAction)(nil)
	_ action.ActionWithValidateConfig = (*deviceMessageAction)(nil)
)

// NewDeviceMessageAction returns the iotda_device_message action.
func NewDeviceMessageAction() action.Action {
	return &deviceMessageAction{}
}

// deviceMessageAction sends a message each time Terraform invokes it, and stores nothing.
type deviceMessageAction struct {
	data *providerData
}

// deviceMessageActionModel is the action's configuration.
type deviceMessageActionModel struct {
	messageArgs
	WaitForDelivery types.Bool   `tfsdk:"wait_for_delivery"`
	Timeout         types.String `tfsdk:"timeout"`
}

func (a *deviceMessageAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device_message"
}

const messageActionDescription = "Sends a message to an IoTDA device through the platform's device message API each " +
	"time the action is invoked, and stores nothing. Needs Terraform 1.14 or newer.\n\n" +
	"Invoke it on its own with `terraform apply -invoke=action.iotda_device_message.NAME`, or from another " +
	"resource's `lifecycle { action_trigger { ... } }`. IoTDA accepts the message at once and keeps it for up to " +
	"`ttl` minutes while the device is offline. The action follows it until it is delivered, showing its progress, " +
	"for up to `timeout` (5 minutes by default): a device still offline then is a warning, and IoTDA still delivers " +
	"the message when the device connects. `FAILED` and `TIMEOUT` are errors. The sending, its retries and its errors " +
	"are those of the `iotda_device_message` resource; use the resource when the message's status must be kept, " +
	"or for content that carries a secret (its write-only `message_wo`: the action's `message` shows in the " +
	"provider's debug log)."

func (a *deviceMessageAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	str := func(desc string, v ...validator.String) schema.StringAttribute {
		return schema.StringAttribute{MarkdownDescription: desc, Optional: true, Validators: v}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: messageActionDescription,
		Attributes: map[string]schema.Attribute{
			"device_id": schema.StringAttribute{MarkdownDescription: descMessageDeviceID, Required: true,
				Validators: []validator.String{deviceIDValidator()}},
			"message": schema.DynamicAttribute{MarkdownDescription: descMessage, Required: true,
				Validators: []validator.Dynamic{messageValidator{}}},
			"name": str(descMessageName, textRule("name", messageNamePattern,
				"Chinese characters, letters, digits and _?'#().,&%@!-")),
			"topic": str(descMessageTopic, topicRule("topic", true),
				stringvalidator.ConflictsWith(path.MatchRoot("topic_full_name"))),
			"topic_full_name": str(descMessageTopicFullName, topicRule("topic_full_name", false)),
			"encoding":        str(descMessageEncoding, stringvalidator.OneOf(iotda.EncodingNone, iotda.EncodingBase64)),
			"payload_format":  str(descMessagePayloadFormat, stringvalidator.OneOf(iotda.PayloadStandard, iotda.PayloadRaw)),
			"ttl": schema.Int64Attribute{MarkdownDescription: descMessageTTL, Optional: true, CustomType: minutesType{},
				Validators: []validator.Int64{ttlValidator{}}},
			"properties": schema.SingleNestedAttribute{
				MarkdownDescription: descMessageProperties, Optional: true,
				Attributes: map[string]schema.Attribute{
					"correlation_data": str("Correlation data: at most 128 letters, digits, `_` and `-`.",
						textRule("correlation_data", idLikePattern, "letters, digits, _ and -")),
					"response_topic": str("Response topic: at most 128 letters, digits and `_-?=$#+/`.",
						textRule("response_topic", responseTopicPattern, "letters, digits and _-?=$#+/")),
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
								MarkdownDescription: "The value: at most 128 Chinese characters, letters, digits, " +
									"spaces and `_?'#().,&%@!-`.",
								Required: true,
								Validators: []validator.String{textRule("prop_value", propValuePattern,
									"Chinese characters, letters, digits, spaces and _?'#().,&%@!-")},
							},
						}},
					},
				},
			},
			"wait_for_delivery": schema.BoolAttribute{
				MarkdownDescription: "Whether the action waits until the message is delivered (or `FAILED` or " +
					"`TIMEOUT`), up to `timeout`. Defaults to `true`. With `false`, it ends as soon as IoTDA has " +
					"accepted the message.",
				Optional: true,
			},
			"timeout": schema.StringAttribute{
				MarkdownDescription: "How long the action follows the message, as a duration such as `\"10m\"`. " +
					"Defaults to `5m`. When it ends first, the message stays with IoTDA, `PENDING`, and the action " +
					"ends with a warning.",
				Optional: true, Validators: []validator.String{durationValidator()},
			},
		},
	}
}

func (a *deviceMessageAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
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

// ValidateConfig checks base64 content where encoding asks for it.
func (a *deviceMessageAction) ValidateConfig(ctx context.Context, req action.ValidateConfigRequest, resp *action.ValidateConfigResponse) {
	var config deviceMessageActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	validateMessageConfig(config.Message, "message", config.Encoding, config.PayloadFormat, &resp.Diagnostics)
}

// Invoke sends the message and follows it, telling Terraform each step.
func (a *deviceMessageAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	var config deviceMessageActionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout := defaultMessageCreateTimeout
	if !config.Timeout.IsNull() && !config.Timeout.IsUnknown() {
		t, err := checkDuration(config.Timeout.ValueString())
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("timeout"), "Invalid Timeout", err.Error())
			return
		}
		timeout = t
	}
	content, err := messageContent(config.Message, "message")
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("message"), "Invalid Message Value", err.Error())
		return
	}
	msg, ok := config.request(ctx, content, false, &resp.Diagnostics)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := messageDelivery{pd: a.data, msg: msg, wait: config.WaitForDelivery.IsNull() || config.WaitForDelivery.ValueBool(),
		use: messageForAction, timeout: timeout, progress: func(s string) { progress(resp, s) }}
	d.run(ctx, &resp.Diagnostics)
}
