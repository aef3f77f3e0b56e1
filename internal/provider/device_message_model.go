package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// messageArgs are the arguments that say what is sent, shared by the resource and the action.
type messageArgs struct {
	DeviceID      types.String  `tfsdk:"device_id"`
	Message       types.Dynamic `tfsdk:"message"`
	Name          types.String  `tfsdk:"name"`
	Topic         types.String  `tfsdk:"topic"`
	TopicFullName types.String  `tfsdk:"topic_full_name"`
	Encoding      types.String  `tfsdk:"encoding"`
	PayloadFormat types.String  `tfsdk:"payload_format"`
	TTL           types.Int64   `tfsdk:"ttl"`
	Properties    types.Object  `tfsdk:"properties"`
}

// messageResults are what the platform reports about a sent message.
type messageResults struct {
	MessageID  types.String `tfsdk:"message_id"`
	Status     types.String `tfsdk:"status"`
	ErrorCode  types.String `tfsdk:"error_code"`
	ErrorMsg   types.String `tfsdk:"error_msg"`
	CreatedAt  types.String `tfsdk:"created_at"`
	FinishedAt types.String `tfsdk:"finished_at"`
}

// deviceMessageModel is the iotda_device_message resource's state.
type deviceMessageModel struct {
	ID types.String `tfsdk:"id"`
	messageArgs
	// MessageWO is write-only: null in the plan and the state, set only in the configuration.
	MessageWO        types.Dynamic  `tfsdk:"message_wo"`
	MessageWOVersion types.Int64    `tfsdk:"message_wo_version"`
	Triggers         types.Map      `tfsdk:"triggers"`
	WaitForDelivery  types.Bool     `tfsdk:"wait_for_delivery"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
	messageResults
}

// messagePropertiesModel is the properties object.
type messagePropertiesModel struct {
	CorrelationData types.String        `tfsdk:"correlation_data"`
	ResponseTopic   types.String        `tfsdk:"response_topic"`
	UserProperties  []userPropertyModel `tfsdk:"user_properties"`
}

type userPropertyModel struct {
	PropKey   types.String `tfsdk:"prop_key"`
	PropValue types.String `tfsdk:"prop_value"`
}

// userPropertyAttrTypes and propertiesAttrTypes are the object types of properties.
var (
	userPropertyAttrTypes = map[string]attr.Type{"prop_key": types.StringType, "prop_value": types.StringType}
	propertiesAttrTypes   = map[string]attr.Type{
		"correlation_data": types.StringType,
		"response_topic":   types.StringType,
		"user_properties":  types.ListType{ElemType: types.ObjectType{AttrTypes: userPropertyAttrTypes}},
	}
)

// errMessageUnknown means the message (or a value inside it) is not known yet.
var errMessageUnknown = errors.New("message is not known yet")

// messageContent converts the message argument into the JSON value sent as "message": a
// string is sent as a JSON string, exactly its characters; an object or a map is sent as a
// JSON object with the rules of paras (every digit of a number, members sorted as
// jsonencode sorts them, no HTML escaping). Anything else is refused, naming attr.
func messageContent(v types.Dynamic, attr string) (json.RawMessage, error) {
	if v.IsUnknown() || v.IsUnderlyingValueUnknown() {
		return nil, errMessageUnknown
	}
	if v.IsNull() || v.IsUnderlyingValueNull() {
		return nil, fmt.Errorf("%s must be set to a string or an object", attr)
	}
	var buf bytes.Buffer
	switch u := v.UnderlyingValue().(type) {
	case basetypes.StringValue:
		if err := encodeString(&buf, u.ValueString()); err != nil {
			return nil, err
		}
	case basetypes.ObjectValue, basetypes.MapValue:
		if err := encodeValue(&buf, u, ""); err != nil {
			if errors.Is(err, errParasUnknown) {
				return nil, errMessageUnknown
			}
			return nil, errors.New(describeParasError(err, attr))
		}
	default:
		return nil, fmt.Errorf("%s must be a string, such as \"reboot at 02:00\", or an object, such as "+
			"{ interval = 900 }, which is sent as JSON; got %s", attr, describeType(u))
	}
	content := buf.Bytes()
	if n := len(contentText(content)); n > iotda.MaxMessageBytes {
		return nil, fmt.Errorf("%s is %d bytes long; IoTDA takes messages of at most 256 KB (%d bytes)",
			attr, n, iotda.MaxMessageBytes)
	}
	return content, nil
}

// contentText is what a device receives of a message's content: a string's characters, or
// the JSON text of an object.
func contentText(content json.RawMessage) []byte {
	var s string
	if len(content) > 0 && content[0] == '"' && json.Unmarshal(content, &s) == nil {
		return []byte(s)
	}
	return content
}

// properties converts the properties argument; nil when it is null or holds nothing.
func (a *messageArgs) properties(ctx context.Context, diags *diag.Diagnostics) *iotda.MessageProperties {
	if a.Properties.IsNull() || a.Properties.IsUnknown() {
		return nil
	}
	var pm messagePropertiesModel
	diags.Append(a.Properties.As(ctx, &pm, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return nil
	}
	p := &iotda.MessageProperties{CorrelationData: pm.CorrelationData.ValueString(),
		ResponseTopic: pm.ResponseTopic.ValueString()}
	for _, up := range pm.UserProperties {
		p.UserProperties = append(p.UserProperties, iotda.UserProperty{Key: up.PropKey.ValueString(),
			Value: up.PropValue.ValueString()})
	}
	if p.CorrelationData == "" && p.ResponseTopic == "" && len(p.UserProperties) == 0 {
		return nil
	}
	return p
}

// request builds the CreateMessage request for content (the message or the write-only
// message's JSON), with a fresh message id.
func (a *messageArgs) request(ctx context.Context, content json.RawMessage, secret bool, diags *diag.Diagnostics) (iotda.Message, bool) {
	id, err := iotda.NewMessageID()
	if err != nil {
		diags.AddError("Cannot Generate a Message ID", "Generating a random message_id failed: "+err.Error())
		return iotda.Message{}, false
	}
	m := iotda.Message{DeviceID: a.DeviceID.ValueString(), MessageID: id, Name: a.Name.ValueString(), Message: content,
		Encoding: a.Encoding.ValueString(), PayloadFormat: a.PayloadFormat.ValueString(), Topic: a.Topic.ValueString(),
		TopicFullName: a.TopicFullName.ValueString(), Properties: a.properties(ctx, diags), Secret: secret}
	if !a.TTL.IsNull() && !a.TTL.IsUnknown() {
		ttl := int32(a.TTL.ValueInt64()) //nolint:gosec // Validated: 0 to 1440.
		m.TTL = &ttl
	}
	return m, !diags.HasError()
}

// ttlMinutes is the message's cache time in minutes: ttl, or the platform's default when it
// is null or not known.
func (a *messageArgs) ttlMinutes() int {
	if a.TTL.IsNull() || a.TTL.IsUnknown() {
		return iotda.DefaultMessageTTL
	}
	return int(a.TTL.ValueInt64())
}

// setResult records what the platform reports about a message. A field it left out keeps
// its value (a read of a message shows what its create answer did, and more).
func (r *messageResults) setResult(m *iotda.DeviceMessage) {
	if m.MessageID != "" {
		r.MessageID = types.StringValue(m.MessageID)
	}
	if m.Status != "" {
		r.Status = types.StringValue(m.Status)
	}
	r.ErrorCode, r.ErrorMsg = nullIfEmpty(m.ErrorCode), nullIfEmpty(m.ErrorMsg)
	if !m.CreatedAt.IsZero() {
		r.CreatedAt = types.StringValue(m.CreatedAt.UTC().Format(time.RFC3339))
	}
	r.FinishedAt = types.StringNull()
	if !m.FinishedAt.IsZero() {
		r.FinishedAt = types.StringValue(m.FinishedAt.UTC().Format(time.RFC3339))
	}
}

// clearResults sets every result to null, as for a message about to be sent.
func (r *messageResults) clearResults() {
	*r = messageResults{MessageID: types.StringNull(), Status: types.StringNull(), ErrorCode: types.StringNull(),
		ErrorMsg: types.StringNull(), CreatedAt: types.StringNull(), FinishedAt: types.StringNull()}
}

// unknownResults sets every result to unknown, as a plan that sends the message again does.
func (r *messageResults) unknownResults() {
	*r = messageResults{MessageID: types.StringUnknown(), Status: types.StringUnknown(), ErrorCode: types.StringUnknown(),
		ErrorMsg: types.StringUnknown(), CreatedAt: types.StringUnknown(), FinishedAt: types.StringUnknown()}
}

// messageImportID is the import ID of a message: device_id/message_id.
func messageImportID(deviceID, messageID string) string { return deviceID + "/" + messageID }

// parseMessageImportID splits an import ID, checking both parts.
func parseMessageImportID(id string) (deviceID, messageID string, err error) {
	deviceID, messageID, ok := strings.Cut(id, "/")
	switch {
	case !ok:
		return "", "", fmt.Errorf("%q is not device_id/message_id", id)
	case !deviceIDPattern.MatchString(deviceID):
		return "", "", fmt.Errorf("%q does not start with a device ID (1 to 128 letters, digits, _ or -) before the /", id)
	case !iotda.MessageIDPattern.MatchString(messageID):
		return "", "", fmt.Errorf("%q does not end with a message ID (1 to 128 letters, digits, _ or -) after the /", id)
	}
	return deviceID, messageID, nil
}

// adopt fills the arguments of an imported message from what the platform shows, but for
// its content: the configuration may send it write-only (message_wo), and content kept in
// the state would show in the first plan as the value removed from message. The first plan
// compares the configuration's content with what IoTDA shows instead (see ModifyPlan). The
// platform does not return ttl or topic_full_name, and one topic field stands for both
// topic arguments (facts §1.4): a topic under $oc/devices/{device_id}/user/ becomes topic,
// the system down topic neither, and any other topic topic_full_name. Defaults it echoes
// (encoding none, payload_format standard) become null, as when the configuration leaves
// them out.
func (m *deviceMessageModel) adopt(ctx context.Context, dm *iotda.DeviceMessage, diags *diag.Diagnostics) {
	m.Name = nullIfEmpty(dm.Name)
	m.Message = types.DynamicNull()
	m.Encoding = nullUnless(dm.Encoding, iotda.EncodingNone)
	m.PayloadFormat = nullUnless(dm.PayloadFormat, iotda.PayloadStandard)
	m.Topic, m.TopicFullName = types.StringNull(), types.StringNull()
	userPrefix := userTopicPrefix(m.DeviceID.ValueString())
	switch t := dm.Topic; {
	case t == "" || t == defaultMessageTopic(m.DeviceID.ValueString()):
	case strings.HasPrefix(t, userPrefix):
		m.Topic = types.StringValue(strings.TrimPrefix(t, userPrefix))
	default:
		m.TopicFullName = types.StringValue(t)
	}
	m.Properties = types.ObjectNull(propertiesAttrTypes)
	if p := dm.Properties; p != nil && (p.CorrelationData != "" || p.ResponseTopic != "" || len(p.UserProperties) > 0) {
		pm := messagePropertiesModel{CorrelationData: nullIfEmpty(p.CorrelationData), ResponseTopic: nullIfEmpty(p.ResponseTopic)}
		for _, up := range p.UserProperties {
			pm.UserProperties = append(pm.UserProperties, userPropertyModel{PropKey: types.StringValue(up.Key),
				PropValue: types.StringValue(up.Value)})
		}
		obj, d := types.ObjectValueFrom(ctx, propertiesAttrTypes, pm)
		diags.Append(d...)
		m.Properties = obj
	}
}

// messageTopic is the topic a message goes to (facts §1.2): topicFullName as it is, topic
// after the device's custom topic prefix, or else the default topic.
func messageTopic(deviceID, topic, topicFullName string) string {
	switch {
	case topicFullName != "":
		return topicFullName
	case topic != "":
		return userTopicPrefix(deviceID) + topic
	}
	return defaultMessageTopic(deviceID)
}

// userTopicPrefix is what the platform puts before a message's topic.
func userTopicPrefix(deviceID string) string { return "$oc/devices/" + deviceID + "/user/" }

// defaultMessageTopic is the topic of a message with neither topic nor topic_full_name, to
// which IoTDA subscribes every device itself.
func defaultMessageTopic(deviceID string) string {
	return "$oc/devices/" + deviceID + "/sys/messages/down"
}

// nullUnless is null for "" and for the platform's default value def, s otherwise.
func nullUnless(s, def string) types.String {
	if s == "" || s == def {
		return types.StringNull()
	}
	return types.StringValue(s)
}

// secret reports whether the state holds no message content: the resource sent write-only
// content, or was imported and has not adopted its configuration yet (which may be
// write-only). Reads of it must not log the content the platform echoes.
func (m *deviceMessageModel) secret() bool {
	return m.Message.IsNull()
}

// contentFromConfig returns the content to send: message_wo from the configuration when it
// is set (write-only values are only there), else message from the plan.
func (m *deviceMessageModel) contentFromConfig(ctx context.Context, config tfsdk.Config, diags *diag.Diagnostics) (
	content json.RawMessage, secret, ok bool,
) {
	var wo types.Dynamic
	diags.Append(config.GetAttribute(ctx, path.Root("message_wo"), &wo)...)
	if diags.HasError() {
		return nil, false, false
	}
	attrName, v := "message", m.Message
	if !wo.IsNull() {
		attrName, v, secret = "message_wo", wo, true
	}
	content, err := messageContent(v, attrName)
	switch {
	case errors.Is(err, errMessageUnknown):
		diags.AddAttributeError(path.Root(attrName), "Message Not Known", "The value of "+attrName+
			" must be known before the message can be sent.")
		return nil, false, false
	case err != nil:
		diags.AddAttributeError(path.Root(attrName), "Invalid Message Value", err.Error())
		return nil, false, false
	}
	return content, secret, true
}
