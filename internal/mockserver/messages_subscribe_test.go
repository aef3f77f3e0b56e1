package mockserver

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// A device that wakes to pending messages and subscribes to its custom topic at once: the
// platform's publications of the pending messages and the device's SUBSCRIBE take packet
// ids independently (MQTT 3.1.1 §2.3.1), so the subscription is granted and the messages on
// the custom topic follow. paho counts its own ids up from 1.

// wakingDevice is a real MQTT client (paho) for a registered device, with messages pending:
// it holds each message it reads unacknowledged until release, so that the platform's
// publications stay in flight while the device subscribes.
type wakingDevice struct {
	client paho.Client
	mu     sync.Mutex
	read   []paho.Message
	first  chan struct{}
	once   sync.Once
}

func connectWaking(t *testing.T, s *Server, id string) *wakingDevice {
	t.Helper()
	d := &wakingDevice{first: make(chan struct{})}
	cid, user, pass := DeviceCredentials(id, "k", mqClock())
	opts := mqOptions(s.MQTTAddr(), cid, user, pass).SetAutoAckDisabled(true).SetOrderMatters(false).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { d.take(m) })
	d.client = paho.NewClient(opts)
	mqToken(t, d.client.Connect())
	t.Cleanup(func() { d.client.Disconnect(0) })
	return d
}

func (d *wakingDevice) take(m paho.Message) {
	d.mu.Lock()
	d.read = append(d.read, m)
	d.mu.Unlock()
	d.once.Do(func() { close(d.first) })
}

// release acknowledges every message read so far.
func (d *wakingDevice) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.read {
		m.Ack()
	}
}

// subscribe subscribes at QoS 1 and returns the granted code.
func (d *wakingDevice) subscribe(t *testing.T, filter string) byte {
	t.Helper()
	tok := d.client.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) { d.take(m) })
	mqToken(t, tok)
	return mqGranted(t, tok, filter)
}

func TestMessages_SubscribeWhilePendingMessagesAreInFlight(t *testing.T) {
	for _, pending := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d pending", pending), func(t *testing.T) {
			const id = "waker"
			s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: id, Secret: "k"}}})
			var want []string
			for i := range pending {
				mid := fmt.Sprintf("sys-%d", i)
				createMessage(t, s, id, `{"message_id":"`+mid+`","message":"on the system topic"}`)
				want = append(want, mid)
			}
			createMessage(t, s, id, `{"message_id":"cfg-1","message":"on a custom topic","topic":"cfg"}`)
			d := connectWaking(t, s, id)
			// The platform publishes the pending system-topic messages at once; the device
			// holds the first unacknowledged, then subscribes twice (packet ids 1 and 2).
			select {
			case <-d.first:
			case <-mqCtx(t).Done():
				t.Fatal("no pending message published at connect")
			}
			for _, filter := range []string{"$oc/devices/" + id + "/user/cfg", "$oc/devices/" + id + "/user/other"} {
				if code := d.subscribe(t, filter); code != 1 {
					t.Fatalf("SUBACK for %s = 0x%02x while the platform's publications were in flight, want 0x01",
						filter, code)
				}
			}
			waitEntry(t, s, EntryMessageDelivered, id, "cfg-1")
			d.release()
			want = append(want, "cfg-1")
			var got []string
			for _, e := range s.MessageDeliveries(id) {
				got = append(got, e.MessageID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("published %v, want %v once each", got, want)
			}
			for _, mid := range want {
				if st, _ := showMessage(t, s, id, mid); st != "DELIVERED" {
					t.Errorf("%s is %s", mid, st)
				}
			}
		})
	}
}

// The same without holding anything: a device that subscribes right after its CONNACK, as
// iotda-device and the SDKs do, while its pending messages are being published.
func TestMessages_SubscribeRightAfterConnectWithMessagesPending(t *testing.T) {
	const id = "eager"
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: id, Secret: "k"}}})
	for i := range 5 {
		createMessage(t, s, id, fmt.Sprintf(`{"message_id":"sys-%d","message":"m%d"}`, i, i))
	}
	createMessage(t, s, id, `{"message_id":"cfg-1","message":"custom","topic":"cfg"}`)
	cid, user, pass := DeviceCredentials(id, "k", mqClock())
	c := paho.NewClient(mqOptions(s.MQTTAddr(), cid, user, pass).
		SetDefaultPublishHandler(func(paho.Client, paho.Message) {}))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	filter := "$oc/devices/" + id + "/user/cfg"
	tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
	mqToken(t, tok)
	if code := mqGranted(t, tok, filter); code != 1 {
		t.Fatalf("SUBACK 0x%02x, want 0x01", code)
	}
	waitEntry(t, s, EntryMessageDelivered, id, "cfg-1")
	if n := len(s.MessageDeliveries(id)); n != 6 {
		t.Errorf("%d messages published, want 6", n)
	}
}
