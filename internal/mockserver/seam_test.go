package mockserver

import (
	"errors"
	"sync"
	"testing"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// TestDeliveryPath_ServesAServiceWithoutReplies drives the delivery path as the next
// service (device messages) will, beside the command API that already uses it: a payload
// "cached" while its device is offline is published without awaiting a reply as soon as
// Watch tells that the device is online, on the device's system topic at QoS 1 although the
// device subscribed to nothing; a custom topic needs the device's subscription; Watch tells
// of the device going offline; and fleet devices take publications in process.
func TestDeliveryPath_ServesAServiceWithoutReplies(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "sleepy", Secret: "k"}},
		Fleets: []Fleet{{Prefix: "f-", Count: 2, Behavior: Behavior{Kind: BehaviorEcho}}}})
	ctx := mqCtx(t)
	down := "$oc/devices/sleepy/sys/messages/down"
	message := func(topic, payload string) delivery.Publication {
		return delivery.Publication{DeviceID: "sleepy", Topic: topic, Payload: []byte(payload),
			Journal: journal.Entry{RequestID: "message-1"}}
	}

	// Offline: the service keeps the message for later.
	if _, err := s.path.Publish(ctx, message(down, `{"content":"hello"}`)); !errors.Is(err, delivery.ErrDeviceOffline) {
		t.Fatalf("publish to an offline device = %v, want ErrDeviceOffline", err)
	}
	changes := make(chan delivery.Change, 8)
	published := make(chan error, 1)
	var once sync.Once
	s.path.Watch(func(c delivery.Change) {
		if c.DeviceID != "sleepy" {
			return
		}
		changes <- c
		if c.Online {
			// A watcher must not block: it publishes on a goroutine of its own.
			once.Do(func() {
				go func() {
					_, err := s.path.Publish(ctx, message(down, `{"content":"hello"}`))
					published <- err
				}()
			})
		}
	})

	c, cid, got := mqUnsubscribedDevice(t, s, "sleepy", "k", true)
	if ch := <-changes; !ch.Online || ch.ClientID != cid {
		t.Fatalf("the watcher heard %+v, want sleepy online as %s", ch, cid)
	}
	if err := <-published; err != nil {
		t.Fatalf("publishing once the device came online: %v", err)
	}
	m := nextMessage(t, got)
	if m.Topic() != down || string(m.Payload()) != `{"content":"hello"}` || m.Qos() != 1 {
		t.Errorf("the device received %s %s at QoS %d", m.Topic(), m.Payload(), m.Qos())
	}
	d := s.Deliveries("sleepy")
	if len(d) != 1 || d[0].ClientID != cid || d[0].RequestID != "message-1" || string(d[0].Body) != `{"content":"hello"}` {
		t.Errorf("deliveries %+v, want one named by the publication's journal entry", d)
	}

	// A custom topic needs the device's own subscription.
	custom := "$oc/devices/sleepy/user/config"
	pub := message(custom, `raw bytes`)
	pub.RequireSubscription = true
	if _, err := s.path.Publish(ctx, pub); !errors.Is(err, delivery.ErrNotSubscribed) {
		t.Fatalf("publish on a custom topic nobody subscribed to = %v, want ErrNotSubscribed", err)
	}
	mqToken(t, c.Subscribe(custom, 1, nil))
	if ch := <-changes; !ch.Online || !ch.Subscribed || ch.ClientID != cid {
		t.Fatalf("the watcher heard %+v, want sleepy's subscription", ch)
	}
	if !s.path.Subscribed("sleepy", custom) || s.path.Subscribed("sleepy", "$oc/devices/sleepy/user/other") {
		t.Fatal("Path.Subscribed does not follow the device's subscription")
	}
	if _, err := s.path.Publish(ctx, pub); err != nil {
		t.Fatalf("publish on a subscribed custom topic: %v", err)
	}
	if m := nextMessage(t, got); m.Topic() != custom || string(m.Payload()) != "raw bytes" {
		t.Errorf("the device received %s %s", m.Topic(), m.Payload())
	}
	if n := len(s.Deliveries("sleepy")); n != 2 {
		t.Errorf("%d deliveries, want 2 (the refused publication is not one)", n)
	}

	// The command API shares the session: a command still reaches the device.
	done := startDeliver(t, s, "sleepy", "c1")
	if m := nextMessage(t, got); m.Topic() != broker.CommandTopic("sleepy", "c1") {
		t.Errorf("the device received %s, want the command", m.Topic())
	}
	mqToken(t, c.Publish(broker.ResponseTopic("sleepy", "c1"), 1, false, `{"result_code":0}`))
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	c.Disconnect(0)
	if ch := <-changes; ch.Online || ch.ClientID != cid {
		t.Errorf("the watcher heard %+v, want sleepy offline", ch)
	}

	// A fleet device takes a publication that is not a command in process, as a message.
	if _, err := s.path.Publish(ctx, delivery.Publication{DeviceID: "f-1", Topic: "$oc/devices/f-1/sys/messages/down",
		Payload: []byte(`{"id":"m1","content":"hi"}`)}); err != nil {
		t.Errorf("publish to a fleet device: %v", err)
	}
	if got := s.ReceivedMessages("f-1"); len(got) != 1 || got[0].MessageID != "m1" || string(got[0].Body) != `"hi"` ||
		got[0].ClientID != "fleet:f-" {
		t.Errorf("the fleet device received %+v", got)
	}
}
