package iotda_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iotda/v5/model"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// The message client against the mock platform, and the official Go SDK
// (huaweicloud-sdk-go-v3 v0.1.207) as an independent client of the same routes: its strictly
// typed models must read the mock's answers, signed with AK/SK, as ours do. Every test counts
// what the devices received in the mock's journal.

// messageMock starts a mock with AK/SK credentials, an online device "awake" and a device
// "sleeper" asleep; both are simulated and record what they read.
func messageMock(t *testing.T) *mockserver.Server {
	t.Helper()
	s := newMock(t, func(o *mockserver.Options) {
		o.Credentials = map[string]string{mockAK: mockSK}
		o.Devices = []mockserver.Device{
			{ID: "awake", Simulated: &mockserver.Behavior{Subscribe: []string{"/device/message/down"}}},
			{ID: "sleeper", Simulated: &mockserver.Behavior{}},
		}
	})
	if err := s.SleepDevice("sleeper", 0); err != nil {
		t.Fatal(err)
	}
	return s
}

// readBy waits until a device has read n messages, and the mock has marked n of its messages
// delivered, and returns what the device read.
func readBy(t *testing.T, s *mockserver.Server, deviceID string, n int) []mockserver.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// The status moves to DELIVERED once the message is published, which the device may read
	// first: wait for both.
	delivered := func() int {
		k := 0
		for _, e := range s.Journal() {
			if e.Kind == mockserver.EntryMessageDelivered && e.DeviceID == deviceID {
				k++
			}
		}
		return k
	}
	if _, err := s.WaitJournal(ctx, func(mockserver.Entry) bool {
		return len(s.ReceivedMessages(deviceID)) >= n && delivered() >= n
	}); err != nil {
		t.Fatalf("%s read %d messages (%d delivered), want %d", deviceID, len(s.ReceivedMessages(deviceID)), delivered(), n)
	}
	return s.ReceivedMessages(deviceID)
}

func TestMessageMock_TheSDKCreatesAndShows(t *testing.T) {
	s := messageMock(t)
	sdk := sdkClient(t, s)
	str := func(v string) *string { return &v }
	var content any = map[string]any{"interval": 900}
	ttl := int32(60)

	// An online device: DELIVERED in the 201 answer, and the device reads it.
	created, err := sdk.CreateMessage(&model.CreateMessageRequest{DeviceId: "awake", Body: &model.DeviceMessageRequest{
		MessageId: str("sdk-1"), Name: str("set_interval"), Message: &content, Ttl: &ttl}})
	if err != nil {
		t.Fatalf("SDK CreateMessage: %v", err)
	}
	if *created.MessageId != "sdk-1" || *created.Result.Status != "DELIVERED" || created.Result.FinishedTime == nil ||
		created.HttpStatusCode != 201 {
		t.Fatalf("SDK read %s", created.String())
	}
	if got := readBy(t, s, "awake", 1); got[0].MessageID != "sdk-1" || string(got[0].Body) != `{"interval":900}` {
		t.Errorf("the device read %+v", got[0])
	}
	shown, err := sdk.ShowDeviceMessage(&model.ShowDeviceMessageRequest{DeviceId: "awake", MessageId: "sdk-1"})
	if err != nil {
		t.Fatalf("SDK ShowDeviceMessage: %v", err)
	}
	if *shown.MessageId != "sdk-1" || *shown.Status != "DELIVERED" || *shown.Name != "set_interval" ||
		*shown.Encoding != "none" || *shown.PayloadFormat != "standard" || shown.ErrorInfo != nil {
		t.Fatalf("SDK read %s", shown.String())
	}

	// A custom topic, raw: the platform generates the id.
	var text any = "raw text"
	created, err = sdk.CreateMessage(&model.CreateMessageRequest{DeviceId: "awake", Body: &model.DeviceMessageRequest{
		Message: &text, PayloadFormat: str("raw"), TopicFullName: str("/device/message/down")}})
	if err != nil || created.MessageId == nil || *created.Result.Status != "DELIVERED" {
		t.Fatalf("SDK CreateMessage on a custom topic: %v %v", created, err)
	}
	if got := readBy(t, s, "awake", 2); got[1].Topic != "/device/message/down" || string(got[1].Body) != `"raw text"` {
		t.Errorf("the device read %+v", got[1])
	}
	shown, err = sdk.ShowDeviceMessage(&model.ShowDeviceMessageRequest{DeviceId: "awake", MessageId: *created.MessageId})
	if err != nil || *shown.Topic != "/device/message/down" || *shown.PayloadFormat != "raw" {
		t.Fatalf("SDK ShowDeviceMessage: %v %v", shown, err)
	}

	// A sleeping device: PENDING, without a finished_time, until it wakes.
	created, err = sdk.CreateMessage(&model.CreateMessageRequest{DeviceId: "sleeper", Body: &model.DeviceMessageRequest{
		MessageId: str("sdk-2"), Message: &text}})
	if err != nil || *created.Result.Status != "PENDING" || created.Result.FinishedTime != nil {
		t.Fatalf("SDK CreateMessage for a sleeping device: %v %v", created, err)
	}
	if err := s.WakeDevice("sleeper"); err != nil {
		t.Fatal(err)
	}
	readBy(t, s, "sleeper", 1)
	shown, err = sdk.ShowDeviceMessage(&model.ShowDeviceMessageRequest{DeviceId: "sleeper", MessageId: "sdk-2"})
	if err != nil || *shown.Status != "DELIVERED" || shown.FinishedTime == nil {
		t.Fatalf("SDK ShowDeviceMessage after the wake: %v %v", shown, err)
	}
	listed, err := sdk.ListDeviceMessages(&model.ListDeviceMessagesRequest{DeviceId: "awake"})
	if err != nil || *listed.DeviceId != "awake" || listed.Messages == nil || len(*listed.Messages) != 2 {
		t.Fatalf("SDK ListDeviceMessages: %v %v", listed, err)
	}

	// Errors the SDK reports: an invalid body, an unknown device.
	if _, err := sdk.CreateMessage(&model.CreateMessageRequest{DeviceId: "awake", Body: &model.DeviceMessageRequest{
		Message: &text, Ttl: func() *int32 { v := int32(7); return &v }()}}); err == nil || !strings.Contains(err.Error(), "IOTDA.000006") {
		t.Errorf("a ttl of 7: %v", err)
	}
	if _, err := sdk.ShowDeviceMessage(&model.ShowDeviceMessageRequest{DeviceId: "ghost", MessageId: "m"}); err == nil ||
		!strings.Contains(err.Error(), "404") {
		t.Errorf("an unknown device: %v", err)
	}
	if n := len(s.MessageDeliveries("")); n != 3 {
		t.Errorf("%d messages published, want 3", n)
	}
}

// The provider's client through the same routes: one message per create, a lost answer
// resolved by reading the id (never a second create), a sleeping device's message PENDING
// and then DELIVERED, and the typed errors.
func TestMessageMock_ClientCreatesOnce(t *testing.T) {
	s := messageMock(t)
	c := newClient(t, s, nil)
	ctx := t.Context()
	id, err := iotda.NewMessageID()
	if err != nil {
		t.Fatal(err)
	}
	m := iotda.Message{DeviceID: "awake", MessageID: id, Message: json.RawMessage(`{"big":12345678901234567890}`)}
	res, err := c.CreateMessage(ctx, m)
	if err != nil || res.Status != iotda.MessageDelivered || res.Recovered {
		t.Fatalf("CreateMessage = %+v, %v", res, err)
	}
	if got := readBy(t, s, "awake", 1); string(got[0].Body) != `{"big":12345678901234567890}` {
		t.Errorf("the device read %s", got[0].Body)
	}

	// The answer is lost after the mock took the message: the client finds it by its id.
	lost := map[string]string{}
	for _, device := range []string{"awake", "sleeper"} {
		s.InjectFault(mockserver.Fault{DeviceID: device, Operation: "CreateMessage", ResetAfterDelivery: true})
		id, err := iotda.NewMessageID()
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.CreateMessage(ctx, iotda.Message{DeviceID: device, MessageID: id, Message: json.RawMessage(`"lost"`)})
		if err != nil || !res.Recovered || res.MessageID != id {
			t.Fatalf("%s: CreateMessage with a lost answer = %+v, %v", device, res, err)
		}
		lost[device] = id
		created := 0
		for _, e := range s.Journal() {
			if e.Kind == mockserver.EntryMessage && e.MessageID == id {
				created++
			}
		}
		if created != 1 {
			t.Errorf("%s: the mock created the message %d times, want once", device, created)
		}
	}
	if err := s.WakeDevice("sleeper"); err != nil {
		t.Fatal(err)
	}
	if got := readBy(t, s, "sleeper", 1); len(got) != 1 || string(got[0].Body) != `"lost"` {
		t.Errorf("the sleeper read %+v", got)
	}
	// The device reads the message a moment before the mock marks it delivered.
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := s.WaitJournal(waitCtx, func(e mockserver.Entry) bool {
		return e.Kind == mockserver.EntryMessageDelivered && e.MessageID == lost["sleeper"]
	}); err != nil {
		t.Fatalf("the sleeper's message was never marked delivered: %v", err)
	}
	if got := readBy(t, s, "awake", 2); len(got) != 2 {
		t.Errorf("the awake device read %d messages, want 2", len(got))
	}

	// Typed errors.
	if _, err := c.ShowDeviceMessage(ctx, iotda.MessageRef{DeviceID: "awake", MessageID: "never-sent"}); !errors.Is(err, iotda.ErrMessageNotFound) {
		t.Errorf("an unknown message: %v", err)
	}
	var apiErr *iotda.APIError
	if _, err := c.CreateMessage(ctx, iotda.Message{DeviceID: "ghost", MessageID: "m1", Message: json.RawMessage(`"x"`)}); !errors.As(err, &apiErr) ||
		apiErr.StatusCode != 404 {
		t.Errorf("an unknown device: %v", err)
	}
	list, err := c.ListDeviceMessages(ctx, "sleeper", false)
	if err != nil || len(list.Messages) != 1 || list.Messages[0].Status != iotda.MessageDelivered {
		t.Errorf("ListDeviceMessages = %+v, %v", list, err)
	}
}
