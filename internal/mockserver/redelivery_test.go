package mockserver

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// testRedelivery is short so that the redelivery tests take a fraction of a second.
const testRedelivery = 50 * time.Millisecond

// platformResends is how often IoTDA resends an unacknowledged QoS 1 command: "默认每隔2s重发1次,
// 共重发3次" (one resend every 2 s, 3 resends in total; facts §2). The tests compare with it,
// not with the constant the code uses.
const platformResends = 3

// mqUnackedDevice connects a device whose paho client acknowledges nothing by itself, and
// returns the commands it receives, in order.
func mqUnackedDevice(t *testing.T, s *Server, id, secret string) <-chan paho.Message {
	t.Helper()
	cid, user, pass := DeviceCredentials(id, secret, mqClock())
	c := paho.NewClient(mqOptions(s.MQTTAddr(), cid, user, pass).SetAutoAckDisabled(true))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	got := make(chan paho.Message, 16)
	mqToken(t, c.Subscribe("$oc/devices/"+id+"/sys/commands/#", 1, func(_ paho.Client, m paho.Message) { got <- m }))
	return got
}

// startDeliver delivers a command in the background; the returned channel yields its error.
func startDeliver(t *testing.T, s *Server, deviceID, commandID string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	ctx := mqCtx(t)
	go func() {
		_, err := s.deliver(ctx, Command{DeviceID: deviceID, CommandID: commandID, Paras: []byte(`{"n":1}`)})
		done <- err
	}()
	return done
}

// nextMessage returns the device's next message, failing the test after mqWait.
func nextMessage(t *testing.T, got <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(mqWait):
		t.Fatal("the device received nothing")
		return nil
	}
}

// quiet fails the test if the device receives anything within a few redelivery intervals:
// the platform stops resending after the PUBACK or the third resend.
func quiet(t *testing.T, got <-chan paho.Message, interval time.Duration) {
	t.Helper()
	select {
	case m := <-got:
		t.Fatalf("the device received %s (dup %v) after redelivery should have stopped", m.Topic(), m.Duplicate())
	case <-time.After(3 * interval):
	}
}

func TestBroker_RedeliversUnacknowledgedCommand(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: testRedelivery, Devices: []Device{{ID: "deaf", Secret: "k"}}})
	got := mqUnackedDevice(t, s, "deaf", "k")
	done := startDeliver(t, s, "deaf", "c1")

	first := nextMessage(t, got)
	if first.Duplicate() {
		t.Error("the first publish has the DUP flag")
	}
	for i := range platformResends {
		m := nextMessage(t, got)
		if !m.Duplicate() || m.Topic() != first.Topic() || string(m.Payload()) != string(first.Payload()) {
			t.Fatalf("resend %d: %s %q dup=%v; want %s %q with DUP", i+1, m.Topic(), m.Payload(), m.Duplicate(), first.Topic(), first.Payload())
		}
	}
	quiet(t, got, testRedelivery)
	if n := len(mqJournal(s, EntryRedelivery, "deaf")); n != platformResends {
		t.Errorf("journal has %d redeliveries, want %d", n, platformResends)
	}
	// The command is still waiting; the journal shows one delivery and its resends.
	select {
	case err := <-done:
		t.Fatalf("deliver ended without a reply: %v", err)
	default:
	}
	if n := len(mqJournal(s, EntryDelivery, "deaf")); n != 1 {
		t.Errorf("journal has %d deliveries, want 1", n)
	}
}

func TestBroker_PubackStopsRedelivery(t *testing.T) {
	// The PUBACK races the next resend, so the interval leaves it ample time on a busy machine.
	const interval = 400 * time.Millisecond
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: interval, Devices: []Device{{ID: "slowack", Secret: "k"}}})
	got := mqUnackedDevice(t, s, "slowack", "k")
	startDeliver(t, s, "slowack", "c1")

	nextMessage(t, got) // not acknowledged
	resent := nextMessage(t, got)
	if !resent.Duplicate() {
		t.Fatal("the second publish has no DUP flag")
	}
	resent.Ack()
	quiet(t, got, interval)
	if n := len(mqJournal(s, EntryRedelivery, "slowack")); n != 1 {
		t.Errorf("journal has %d redeliveries, want 1: the PUBACK must stop them", n)
	}
}
