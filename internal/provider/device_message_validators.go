package provider

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Plan-time checks of a message's arguments: the platform's rules (iotda-messages-facts.md
// §1.2 and §4, from the SDK's DeviceMessageRequest, PropertiesDto and UserPropDto), so that a
// message IoTDA would refuse is refused before anything is sent, naming the attribute.

// Interface assertions.
var (
	_ validator.Dynamic = messageValidator{}
	_ validator.Int64   = ttlValidator{}
)

// Limits of a message's arguments (facts §1.2).
const (
	// maxTextRunes bounds name, correlation_data, response_topic, prop_key and prop_value.
	maxTextRunes = 128
	// maxTopicBytes bounds topic and topic_full_name: a custom topic is at most 128 bytes
	// (facts §3, iot_01_0331); the API page's "最大长度:128" does not say in what unit.
	maxTopicBytes     = 128
	maxUserProperties = iotda.MaxUserProperties
)

var (
	// messageNamePattern: Chinese characters, letters, digits and _?'#().,&%@!-.
	messageNamePattern = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_?'#().,&%@!-]*$`)
	// idLikePattern: correlation_data and prop_key, letters, digits, _ and -.
	idLikePattern = regexp.MustCompile(`^[A-Za-z0-9_-]*$`)
	// responseTopicPattern: letters, digits and _-?=$#+/.
	responseTopicPattern = regexp.MustCompile(`^[A-Za-z0-9_?=$#+/-]*$`)
	// propValuePattern: Chinese characters, letters, digits, spaces and _?'#().,&%@!-.
	propValuePattern = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_? '#().,&%@!-]*$`)
)

// messageValidator checks that message (or message_wo) is a string or an object that can be
// sent, within the platform's size.
type messageValidator struct{}

func (messageValidator) Description(context.Context) string {
	return "value must be a string, or an object sent as JSON, of at most 256 KB"
}

func (v messageValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (messageValidator) ValidateDynamic(_ context.Context, req validator.DynamicRequest, resp *validator.DynamicResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnderlyingValueNull() {
		return // ValidateConfig says which of message and message_wo is missing.
	}
	if _, err := messageContent(req.ConfigValue, req.Path.String()); err != nil && !errors.Is(err, errMessageUnknown) {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Message Value", err.Error())
	}
}

// ttlValidator requires a multiple of 5 minutes from 0 to 1440. A number that is not whole
// comes to it unknown (see minutesType), so it reads the configuration itself for that.
type ttlValidator struct{}

func (ttlValidator) Description(context.Context) string {
	return "value must be a number of minutes from 0 to 1440 in steps of 5"
}

func (v ttlValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (ttlValidator) ValidateInt64(_ context.Context, req validator.Int64Request, resp *validator.Int64Response) {
	advice := fmt.Sprintf("IoTDA caches a message for 0 to %d minutes in steps of 5 (0 caches nothing: the message "+
		"fails at once when the device is offline). Use a multiple of 5 such as 60, or remove ttl for the platform's "+
		"default of %d minutes (one day).", iotda.MaxMessageTTL, iotda.DefaultMessageTTL)
	if req.ConfigValue.IsUnknown() {
		if n, ok := configNumber(req.Config.Raw, req.Path); ok {
			what := "which is not a whole number of minutes"
			if n.IsInt() {
				what = "far beyond the range"
			}
			resp.Diagnostics.AddAttributeError(req.Path, "Invalid Message TTL", fmt.Sprintf("ttl is %s, %s. %s",
				n.Text('g', -1), what, advice))
		}
		return
	}
	if req.ConfigValue.IsNull() {
		return
	}
	n := req.ConfigValue.ValueInt64()
	if n < 0 || n > iotda.MaxMessageTTL || n%5 != 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Message TTL", fmt.Sprintf("ttl is %d: %s", n, advice))
	}
}

// minutesType is the type of ttl: an Int64 whose configuration may hold a number that is not
// whole, such as 2.5. The framework's Int64 type fails to read one with an error that blames
// the provider; this one reads it as unknown, so that ttlValidator can say what is wrong.
type minutesType struct {
	basetypes.Int64Type
}

var _ basetypes.Int64Typable = minutesType{}

// ValueFromTerraform reads a whole number as Int64Type does, and any other known number as
// unknown.
func (t minutesType) ValueFromTerraform(ctx context.Context, in tftypes.Value) (attr.Value, error) {
	if _, ok := notWholeNumber(in); ok {
		return basetypes.NewInt64Unknown(), nil
	}
	return t.Int64Type.ValueFromTerraform(ctx, in)
}

// Validate leaves a number that is not whole to ttlValidator, which names the argument and
// its rule; Int64Type's own check would report it as the provider's error.
func (t minutesType) Validate(ctx context.Context, in tftypes.Value, p path.Path) diag.Diagnostics {
	if _, ok := notWholeNumber(in); ok {
		return nil
	}
	return t.Int64Type.Validate(ctx, in, p)
}

// Equal reports whether o is a minutesType, or the Int64Type of the values it makes: the
// models hold ttl as a types.Int64.
func (t minutesType) Equal(o attr.Type) bool {
	switch o.(type) {
	case minutesType, basetypes.Int64Type:
		return true
	}
	return false
}

// String names the type.
func (t minutesType) String() string { return "provider.minutesType" }

// configNumber returns the known number a configuration holds at a root attribute's path
// when it is not a whole int64; ok is false otherwise.
func configNumber(raw tftypes.Value, p path.Path) (*big.Float, bool) {
	steps := p.Steps()
	if len(steps) != 1 {
		return nil, false
	}
	name, isAttr := steps[0].(path.PathStepAttributeName)
	if !isAttr {
		return nil, false
	}
	v, _, err := tftypes.WalkAttributePath(raw, tftypes.NewAttributePath().WithAttributeName(string(name)))
	tv, isValue := v.(tftypes.Value)
	if err != nil || !isValue {
		return nil, false
	}
	return notWholeNumber(tv)
}

// notWholeNumber returns the number v holds when it is known and not a whole int64 (a
// fraction such as 2.5, or beyond int64's range); ok is false for any other value.
func notWholeNumber(v tftypes.Value) (*big.Float, bool) {
	if !v.IsKnown() || v.IsNull() || !v.Type().Is(tftypes.Number) {
		return nil, false
	}
	var n *big.Float
	if err := v.As(&n); err != nil || n == nil {
		return nil, false
	}
	if _, acc := n.Int64(); n.IsInt() && acc == big.Exact {
		return nil, false
	}
	return n, true
}

// textRule checks a string's length in characters (at most 128, as the platform counts
// them: a Chinese character is one) and its characters.
func textRule(attr string, pattern *regexp.Regexp, allowed string) validator.String {
	return stringCheck{
		description: fmt.Sprintf("value must be at most %d characters: %s", maxTextRunes, allowed),
		summary:     "Invalid Attribute Value",
		check: func(s string) error {
			if n := utf8.RuneCountInString(s); n > maxTextRunes {
				return fmt.Errorf("%s is %d characters long; IoTDA takes at most %d", attr, n, maxTextRunes)
			}
			if pattern != nil && !pattern.MatchString(s) {
				return fmt.Errorf("%s %q has a character IoTDA does not take: it may contain only %s", attr, s, allowed)
			}
			return nil
		},
	}
}

// systemTopicPrefix starts IoTDA's system topics: $oc/devices/{device_id}/sys/... (commands,
// properties, messages down) and the custom topics under .../user/, which topic reaches.
const systemTopicPrefix = "$oc/"

// topicRule checks a topic: at most 128 bytes, a name a device can receive on (no MQTT
// wildcards, NUL or control characters, no white space around it); for the suffix no leading "/" (the platform
// puts it after $oc/devices/{device_id}/user/), and for a full name nothing that starts with
// $ (MQTT keeps those topics for the server, and $oc/ holds IoTDA's system topics). That last
// rule is the provider's own: a message published on a device's command topic is run by the
// device as a command. Whether IoTDA refuses such a topic_full_name is not documented
// (UNCONFIRMED: it passes topic_full_name "through without checking", facts §1.2).
func topicRule(attr string, suffix bool) validator.String {
	return stringCheck{
		description: "value must be an MQTT topic name of at most 128 bytes",
		summary:     "Invalid Topic",
		check: func(s string) error {
			switch {
			case s == "":
				return fmt.Errorf("%s is empty: remove it to send on the default topic $oc/devices/{device_id}/sys/messages/down", attr)
			case len(s) > maxTopicBytes:
				return fmt.Errorf("%s is %d bytes long (UTF-8); IoTDA takes a topic of at most %d bytes", attr, len(s),
					maxTopicBytes)
			case strings.ContainsAny(s, "+#"):
				return fmt.Errorf("%s %q holds an MQTT wildcard (+ or #); a message is published on one topic name", attr, s)
			case strings.ContainsRune(s, 0):
				return fmt.Errorf("%s %q holds a NUL character, which MQTT does not allow in a topic name", attr, s)
			case suffix && strings.HasPrefix(s, "/"):
				return fmt.Errorf("topic %q starts with /: topic is the part after $oc/devices/{device_id}/user/, such as "+
					"\"config\"; for a full topic name use topic_full_name", s)
			case suffix && strings.HasPrefix(s, systemTopicPrefix):
				return fmt.Errorf("topic %q is a full topic name, but IoTDA puts topic after $oc/devices/{device_id}/user/; "+
					"write only the part after it, or use topic_full_name", s)
			case strings.TrimSpace(s) != s:
				return fmt.Errorf("%s %q starts or ends with white space, which MQTT keeps as part of the topic name, so "+
					"no device subscribed to the name without it would receive the message; remove the spaces", attr, s)
			case strings.IndexFunc(s, unicode.IsControl) >= 0:
				return fmt.Errorf("%s %q holds a control character, which MQTT topic names should not hold (MQTT "+
					"3.1.1 section 1.5.3: a device may close its connection on one)", attr, s)
			case !suffix && strings.HasPrefix(s, systemTopicPrefix):
				return fmt.Errorf("topic_full_name %q is under %s, IoTDA's system topics, where a device takes what it "+
					"receives for the platform's own traffic (a command, a property request, a message): the provider "+
					"refuses them. For a custom topic under $oc/devices/{device_id}/user/, set topic to the part after "+
					"it; for the default message topic, set neither topic nor topic_full_name", s, systemTopicPrefix)
			case !suffix && strings.HasPrefix(s, "$"):
				return fmt.Errorf("topic_full_name %q starts with $: MQTT keeps such topics for the server's own use "+
					"(MQTT 3.1.1 section 4.7.2), so a device can receive nothing there but IoTDA's own topics. Use a "+
					"name without $ (such as /device/message/down), or topic for a custom topic under "+
					"$oc/devices/{device_id}/user/", s)
			}
			return nil
		},
	}
}

// validateMessageConfig checks the rules that join several arguments: the content and
// encoding (base64 takes a string holding base64, and is raw only), which the resource's
// and the action's ValidateConfig share. content is the message's value in the
// configuration (message, or message_wo with attr naming it).
func validateMessageConfig(content types.Dynamic, attr string, encoding, payloadFormat types.String, diags *diag.Diagnostics) {
	if encoding.ValueString() != iotda.EncodingBase64 {
		return
	}
	if payloadFormat.ValueString() == iotda.PayloadStandard {
		diags.AddAttributeError(path.Root("payload_format"), "Conflicting Payload Format",
			"payload_format = \"standard\" applies only with encoding = \"none\": IoTDA passes a base64 message through "+
				"raw (the device receives the bytes). Remove payload_format, or set it to \"raw\".")
	}
	if content.IsNull() || content.IsUnknown() || content.IsUnderlyingValueUnknown() {
		return
	}
	s, ok := content.UnderlyingValue().(types.String)
	if !ok {
		diags.AddAttributeError(path.Root(attr), "Invalid Message Value", fmt.Sprintf("With encoding = \"base64\", "+
			"%s must be a string holding standard base64, such as base64encode(\"...\") or filebase64(\"firmware.bin\"); "+
			"got %s.", attr, describeType(content.UnderlyingValue())))
		return
	}
	if _, err := base64.StdEncoding.DecodeString(s.ValueString()); err != nil {
		detail := fmt.Sprintf("With encoding = \"base64\", %s must hold standard base64 (RFC 4648, with padding), "+
			"such as the result of base64encode() or filebase64()", attr)
		var pos base64.CorruptInputError
		if errors.As(err, &pos) {
			detail += fmt.Sprintf("; it is not valid at byte %d", int64(pos))
		}
		diags.AddAttributeError(path.Root(attr), "Invalid Message Value", detail+".")
	}
}
