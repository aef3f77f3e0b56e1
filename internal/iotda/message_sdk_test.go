package iotda

import (
	"bytes"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/utils"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iotda/v5/model"
)

// The official SDK's models (huaweicloud-sdk-go-v3 v0.1.207, services/iotda/v5/model) are the
// platform's contract in code: our request must read as their DeviceMessageRequest, and their
// CreateMessageResponse and ShowDeviceMessageResponse must read as our answers.

// decodeGeneric decodes JSON into maps and json.Numbers, for comparing shapes.
func decodeGeneric(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func TestMessageBody_MatchesTheSDKRequestModel(t *testing.T) {
	ttl := int32(5)
	full := Message{DeviceID: "d1", MessageID: "99b32da9-cd17-4cdf-a286-f6e849cbc364", Name: "set_interval",
		Message: json.RawMessage(`{"interval":900,"mode":"eco"}`), Encoding: EncodingNone, PayloadFormat: PayloadRaw,
		TopicFullName: "/factory/cfg", TTL: &ttl,
		Properties: &MessageProperties{CorrelationData: "c1", ResponseTopic: "a/b",
			UserProperties: []UserProperty{{Key: "k1", Value: "v1"}, {Key: "k2", Value: "v2"}}}}
	minimal := Message{DeviceID: "d1", MessageID: "m1", Message: json.RawMessage(`"HelloWorld"`)}
	zeroTTL := minimal
	zero := int32(0)
	zeroTTL.TTL, zeroTTL.Topic = &zero, "messageDown"
	for name, m := range map[string]Message{"full": full, "minimal": minimal, "ttl 0 and topic": zeroTTL} {
		t.Run(name, func(t *testing.T) {
			body, err := messageBody(m)
			if err != nil {
				t.Fatal(err)
			}
			// Ours, read by the SDK's model: every field arrives where the SDK puts it.
			var sdk model.DeviceMessageRequest
			if err := json.Unmarshal(body, &sdk); err != nil {
				t.Fatalf("the SDK's model cannot read our body %s: %v", body, err)
			}
			if sdk.MessageId == nil || *sdk.MessageId != m.MessageID || sdk.Message == nil {
				t.Fatalf("SDK read %s", sdk.String())
			}
			if (m.TTL == nil) != (sdk.Ttl == nil) || (m.TTL != nil && *m.TTL != *sdk.Ttl) {
				t.Errorf("ttl: sent %v, the SDK read %v (ttl 0 must be sent: it means do not cache)", m.TTL, sdk.Ttl)
			}
			// And the SDK's own serialization of the same request has exactly our members.
			sdkBody, err := utils.Marshal(sdk)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := decodeGeneric(t, body), decodeGeneric(t, sdkBody); !reflect.DeepEqual(got, want) {
				t.Errorf("our body and the SDK's differ\n ours %s\n SDK  %s", body, sdkBody)
			}
		})
	}
}

func TestMessageAnswers_ReadFromTheSDKResponseModels(t *testing.T) {
	str := func(s string) *string { return &s }
	created := model.CreateMessageResponse{MessageId: str("m-1"), Result: &model.MessageResult{
		Status: str("DELIVERED"), CreatedTime: str("20151212T121212Z"), FinishedTime: str("20151212T121213Z")}}
	var content any = map[string]any{"interval": 900}
	shown := model.ShowDeviceMessageResponse{MessageId: str("m-1"), Name: str("n"), Message: &content,
		Encoding: str("none"), PayloadFormat: str("standard"), Topic: str("$oc/devices/d1/user/cfg"),
		Properties: &model.PropertiesDto{CorrelationData: str("c1"),
			UserProperties: &[]model.UserPropDto{{PropKey: str("k"), PropValue: str("v")}}},
		Status:      str("FAILED"),
		ErrorInfo:   &model.ErrorInfoDto{ErrorCode: str("IOTDA.014016"), ErrorMsg: str("device not online")},
		CreatedTime: str("20151212T121212Z"), FinishedTime: str("20151212T121214Z")}
	createdBody, err := utils.Marshal(created)
	if err != nil {
		t.Fatal(err)
	}
	shownBody, err := utils.Marshal(shown)
	if err != nil {
		t.Fatal(err)
	}
	routes := &messageRoutes{post: reply(http.StatusCreated, string(createdBody)), get: reply(http.StatusOK, string(shownBody))}
	ts := newTestServer(t, routes.handler(t))
	c := newTestClient(t, ts.URL, nil)
	m := testMessage()
	res, err := c.CreateMessage(t.Context(), m)
	if err != nil {
		t.Fatal(err)
	}
	if res.MessageID != "m-1" || res.Status != MessageDelivered || res.CreatedTime != "20151212T121212Z" ||
		res.CreatedAt.IsZero() || res.FinishedAt.IsZero() || res.Recovered {
		t.Fatalf("create answer %s read as %+v", createdBody, res)
	}
	got, err := c.ShowDeviceMessage(t.Context(), MessageRef{DeviceID: "d1", MessageID: "m-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != MessageFailed || got.ErrorCode != "IOTDA.014016" || got.ErrorMsg != "device not online" ||
		string(got.Message) != `{"interval":900}` || got.Name != "n" || got.Topic != "$oc/devices/d1/user/cfg" ||
		got.Encoding != "none" || got.PayloadFormat != "standard" || got.Properties == nil ||
		got.Properties.CorrelationData != "c1" || len(got.Properties.UserProperties) != 1 ||
		got.FinishedTime != "20151212T121214Z" || got.FinishedAt.IsZero() {
		t.Fatalf("show answer %s read as %+v", shownBody, got)
	}
}
