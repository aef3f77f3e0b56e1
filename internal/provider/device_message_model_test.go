package provider

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

func TestMessageContent(t *testing.T) {
	big20, _ := new(big.Float).SetPrec(numberPrecision).SetString("12345678901234567890")
	obj := types.ObjectValueMust(map[string]attr.Type{"z": types.NumberType, "a": types.StringType,
		"n": types.ObjectType{AttrTypes: map[string]attr.Type{"l": types.TupleType{ElemTypes: []attr.Type{types.BoolType}}}}},
		map[string]attr.Value{"z": types.NumberValue(big20), "a": types.StringValue("<&>"),
			"n": types.ObjectValueMust(map[string]attr.Type{"l": types.TupleType{ElemTypes: []attr.Type{types.BoolType}}},
				map[string]attr.Value{"l": types.TupleValueMust([]attr.Type{types.BoolType}, []attr.Value{types.BoolValue(true)})})})
	for name, tc := range map[string]struct {
		v    types.Dynamic
		want string
	}{
		"string":         {types.DynamicValue(types.StringValue(`reboot <now> & "then" é`)), `"reboot <now> & \"then\" é"`},
		"string of JSON": {types.DynamicValue(types.StringValue(`{"a":1}`)), `"{\"a\":1}"`},
		"empty string":   {types.DynamicValue(types.StringValue("")), `""`},
		"object":         {types.DynamicValue(obj), `{"a":"<&>","n":{"l":[true]},"z":12345678901234567890}`},
		"map":            {types.DynamicValue(types.MapValueMust(types.StringType, map[string]attr.Value{"b": types.StringValue("2"), "a": types.StringValue("1")})), `{"a":"1","b":"2"}`},
	} {
		got, err := messageContent(tc.v, "message")
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", name, got, err, tc.want)
		}
	}
	for name, tc := range map[string]struct {
		v    types.Dynamic
		want string
	}{
		"null":    {types.DynamicNull(), "must be set"},
		"number":  {types.DynamicValue(types.NumberValue(big.NewFloat(1))), "got a number"},
		"list":    {types.DynamicValue(types.TupleValueMust([]attr.Type{types.StringType}, []attr.Value{types.StringValue("a")})), "got a list"},
		"bool":    {types.DynamicValue(types.BoolValue(true)), "got a bool"},
		"too big": {types.DynamicValue(types.StringValue(strings.Repeat("é", iotda.MaxMessageBytes/2+1))), "262146 bytes long"},
	} {
		if _, err := messageContent(tc.v, "message_wo"); err == nil || !strings.Contains(err.Error(), tc.want) ||
			(name != "too big" && !strings.Contains(err.Error(), "message_wo")) {
			t.Errorf("%s: %v; want an error naming message_wo with %q", name, err, tc.want)
		}
	}
	if _, err := messageContent(types.DynamicValue(types.StringValue(strings.Repeat("x", iotda.MaxMessageBytes))), "message"); err != nil {
		t.Errorf("256 KB exactly: %v", err)
	}
	unknownInside := types.DynamicValue(types.ObjectValueMust(map[string]attr.Type{"a": types.StringType},
		map[string]attr.Value{"a": types.StringUnknown()}))
	for _, v := range []types.Dynamic{types.DynamicUnknown(), unknownInside} {
		if _, err := messageContent(v, "message"); !errors.Is(err, errMessageUnknown) {
			t.Errorf("%v: %v, want errMessageUnknown", v, err)
		}
	}
}

func TestParseMessageImportID(t *testing.T) {
	d, m, err := parseMessageImportID("meter-17/99b32da9-cd17-4cdf-a286-f6e849cbc364")
	if err != nil || d != "meter-17" || m != "99b32da9-cd17-4cdf-a286-f6e849cbc364" {
		t.Fatalf("%q %q %v", d, m, err)
	}
	for _, bad := range []string{"", "d1", "/m", "d1/", "d1/m/x", "d 1/m", "d1/m 1", strings.Repeat("d", 129) + "/m"} {
		if _, _, err := parseMessageImportID(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// messageModel builds a resource model with the given arguments; the rest are null.
func messageModel(mutate func(*deviceMessageModel)) *deviceMessageModel {
	m := &deviceMessageModel{messageArgs: messageArgs{DeviceID: types.StringValue("d1"),
		Message: types.DynamicValue(types.StringValue("hi")), Name: types.StringNull(), Topic: types.StringNull(),
		TopicFullName: types.StringNull(), Encoding: types.StringNull(), PayloadFormat: types.StringNull(),
		TTL: types.Int64Null(), Properties: types.ObjectNull(propertiesAttrTypes)},
		MessageWO: types.DynamicNull(), MessageWOVersion: types.Int64Null(), Triggers: types.MapNull(types.StringType),
		WaitForDelivery: types.BoolValue(true)}
	if mutate != nil {
		mutate(m)
	}
	return m
}

func changedArguments(before, after *deviceMessageModel, imported bool) []string {
	b := sentArguments(context.Background(), before, imported)
	a := sentArguments(context.Background(), after, imported)
	var out []string
	for name, v := range a {
		if w := b[name]; !v.known || !w.known || v.sent != w.sent {
			out = append(out, name)
		}
	}
	return out
}

func TestSentArguments_FormOnlyChangesAreEqual(t *testing.T) {
	base := messageModel(nil)
	props := func(cd string) types.Object {
		return types.ObjectValueMust(propertiesAttrTypes, map[string]attr.Value{"correlation_data": types.StringValue(cd),
			"response_topic": types.StringNull(), "user_properties": types.ListNull(types.ObjectType{AttrTypes: userPropertyAttrTypes})})
	}
	for name, mutate := range map[string]func(*deviceMessageModel){
		"encoding none":           func(m *deviceMessageModel) { m.Encoding = types.StringValue("none") },
		"payload_format standard": func(m *deviceMessageModel) { m.PayloadFormat = types.StringValue("standard") },
		"ttl 1440":                func(m *deviceMessageModel) { m.TTL = types.Int64Value(1440) },
		"empty name":              func(m *deviceMessageModel) { m.Name = types.StringValue("") },
		"empty triggers":          func(m *deviceMessageModel) { m.Triggers = types.MapValueMust(types.StringType, nil) },
		"empty properties":        func(m *deviceMessageModel) { m.Properties = props("") },
		"wait_for_delivery":       func(m *deviceMessageModel) { m.WaitForDelivery = types.BoolValue(false) },
	} {
		if got := changedArguments(base, messageModel(mutate), false); len(got) != 0 {
			t.Errorf("%s changes %v", name, got)
		}
	}
	for name, tc := range map[string]struct {
		mutate func(*deviceMessageModel)
		want   string
	}{
		"message":         {func(m *deviceMessageModel) { m.Message = types.DynamicValue(types.StringValue("ho")) }, "message"},
		"unknown message": {func(m *deviceMessageModel) { m.Message = types.DynamicUnknown() }, "message"},
		"encoding":        {func(m *deviceMessageModel) { m.Encoding = types.StringValue("base64") }, "encoding"},
		"ttl":             {func(m *deviceMessageModel) { m.TTL = types.Int64Value(0) }, "ttl"},
		"topic":           {func(m *deviceMessageModel) { m.Topic = types.StringValue("cfg") }, "topic"},
		"properties":      {func(m *deviceMessageModel) { m.Properties = props("c1") }, "properties"},
		"version":         {func(m *deviceMessageModel) { m.MessageWOVersion = types.Int64Value(1) }, "message_wo_version"},
		"triggers": {func(m *deviceMessageModel) {
			m.Triggers = types.MapValueMust(types.StringType, map[string]attr.Value{"a": types.StringValue("1")})
		}, "triggers"},
	} {
		if got := changedArguments(base, messageModel(tc.mutate), false); len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s changes %v, want [%s]", name, got, tc.want)
		}
	}
	// An imported message compares where it goes, and adopts ttl, triggers and the version.
	imported := messageModel(func(m *deviceMessageModel) { m.Topic = types.StringValue("cfg") })
	configured := messageModel(func(m *deviceMessageModel) {
		m.TopicFullName = types.StringValue("$oc/devices/d1/user/cfg")
		m.TTL = types.Int64Value(60)
		m.Triggers = types.MapValueMust(types.StringType, map[string]attr.Value{"a": types.StringValue("1")})
	})
	if got := changedArguments(imported, configured, true); len(got) != 0 {
		t.Errorf("an import adopting its configuration changes %v", got)
	}
}

func TestAdopt(t *testing.T) {
	for topic, want := range map[string][2]string{
		"":                                 {"", ""},
		"$oc/devices/d1/sys/messages/down": {"", ""},
		"$oc/devices/d1/user/cfg":          {"cfg", ""},
		"$oc/devices/d1/user/a/b":          {"a/b", ""},
		"/factory/cfg":                     {"", "/factory/cfg"},
		"$oc/devices/other/user/cfg":       {"", "$oc/devices/other/user/cfg"},
		"factory/user/cfg":                 {"", "factory/user/cfg"},
	} {
		m := messageModel(nil)
		m.adopt(context.Background(), &iotda.DeviceMessage{Topic: topic, Message: json.RawMessage(`{"a":1.50}`), Encoding: "none",
			PayloadFormat: "raw"}, nil)
		if m.Topic.ValueString() != want[0] || m.TopicFullName.ValueString() != want[1] {
			t.Errorf("topic %q adopted as topic %q, topic_full_name %q; want %q", topic, m.Topic.ValueString(),
				m.TopicFullName.ValueString(), want)
		}
		if !m.Encoding.IsNull() || m.PayloadFormat.ValueString() != "raw" || !m.Name.IsNull() {
			t.Errorf("encoding %v, payload_format %v, name %v", m.Encoding, m.PayloadFormat, m.Name)
		}
		if !m.Message.IsNull() {
			t.Errorf("message %v adopted: the state must not hold the content, which may be write-only", m.Message)
		}
	}
}
