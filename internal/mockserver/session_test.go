package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
)

// mqUnsubscribedDevice connects a device the way Huawei's Python device SDK does: a paho
// client with a catch-all message callback that never subscribes to anything. With autoAck
// it acknowledges each command (PUBACK) once the callback returns. It returns the client,
// its client id and the messages it receives, in order.
func mqUnsubscribedDevice(t *testing.T, s *Server, id, secret string, autoAck bool) (paho.Client, string, <-chan paho.Message) {
	t.Helper()
	got := make(chan paho.Message, 16)
	cid, user, pass := DeviceCredentials(id, secret, mqClock())
	c := paho.NewClient(mqOptions(s.MQTTAddr(), cid, user, pass).
		SetAutoAckDisabled(!autoAck).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m }))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	return c, cid, got
}

func TestDeliver_DeviceThatNeverSubscribes(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: testRedelivery, Devices: []Device{{ID: "py-dev", Secret: "k"}}})
	c, cid, got := mqUnsubscribedDevice(t, s, "py-dev", "k", true)
	ctx := mqCtx(t)
	for i := range 3 {
		commandID := fmt.Sprintf("c%d", i)
		type result struct {
			reply json.RawMessage
			err   error
		}
		done := make(chan result, 1)
		go func() {
			r, err := s.deliver(ctx, Command{DeviceID: "py-dev", CommandID: commandID, CommandName: "ON", Paras: []byte(`{"v":1}`)})
			done <- result{r, err}
		}()
		m := nextMessage(t, got)
		if want := "$oc/devices/py-dev/sys/commands/request_id=" + commandID; m.Topic() != want || m.Qos() != 1 || m.Duplicate() {
			t.Fatalf("device received %s at QoS %d (dup %v), want %s at QoS 1", m.Topic(), m.Qos(), m.Duplicate(), want)
		}
		reply := fmt.Sprintf(`{"result_code":0,"paras":{"i":%d}}`, i)
		mqToken(t, c.Publish("$oc/devices/py-dev/sys/commands/response/request_id="+commandID, 1, false, reply))
		if r := <-done; r.err != nil || string(r.reply) != reply {
			t.Fatalf("deliver %s = %s, %v; want %s", commandID, r.reply, r.err, reply)
		}
	}
	// Each PUBACK reached the broker: nothing is resent.
	quiet(t, got, testRedelivery)
	if n := len(mqJournal(s, EntryRedelivery, "py-dev")); n != 0 {
		t.Errorf("journal has %d redeliveries for an acknowledging device, want 0", n)
	}
	deliveries := s.Deliveries("py-dev")
	if len(deliveries) != 3 {
		t.Fatalf("journal has %d deliveries, want 3", len(deliveries))
	}
	for _, e := range deliveries {
		if e.ClientID != cid {
			t.Errorf("delivery %s journaled for session %q, want %q", e.CommandID, e.ClientID, cid)
		}
	}
	if n := brokerClient(t, s, "py-dev").State.Inflight.Len(); n != 0 {
		t.Errorf("%d acknowledged commands are still in flight", n)
	}
}

func TestBroker_RedeliversToDeviceThatNeverSubscribes(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: testRedelivery, Devices: []Device{{ID: "py-deaf", Secret: "k"}}})
	_, cid, got := mqUnsubscribedDevice(t, s, "py-deaf", "k", false)
	startDeliver(t, s, "py-deaf", "deaf-1")

	first := nextMessage(t, got)
	if first.Duplicate() || first.Qos() != 1 {
		t.Fatalf("first publish: QoS %d, dup %v; want QoS 1 without DUP", first.Qos(), first.Duplicate())
	}
	for i := range broker.MaxRedeliveries {
		if m := nextMessage(t, got); !m.Duplicate() || m.Topic() != first.Topic() {
			t.Fatalf("resend %d: %s dup=%v, want %s with DUP", i+1, m.Topic(), m.Duplicate(), first.Topic())
		}
	}
	quiet(t, got, testRedelivery)
	re := mqJournal(s, EntryRedelivery, "py-deaf")
	if len(re) != broker.MaxRedeliveries {
		t.Fatalf("journal has %d redeliveries, want %d", len(re), broker.MaxRedeliveries)
	}
	for _, e := range re {
		if e.ClientID != cid || e.CommandID != "deaf-1" {
			t.Errorf("redelivery entry %+v, want command deaf-1 to session %q", e, cid)
		}
	}
}

func TestBroker_PubackFromDeviceThatNeverSubscribes(t *testing.T) {
	const interval = 400 * time.Millisecond // leaves the PUBACK ample time before the next resend
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: interval, Devices: []Device{{ID: "py-slow", Secret: "k"}}})
	_, _, got := mqUnsubscribedDevice(t, s, "py-slow", "k", false)
	startDeliver(t, s, "py-slow", "c1")

	nextMessage(t, got) // not acknowledged
	resent := nextMessage(t, got)
	if !resent.Duplicate() {
		t.Fatal("the second publish has no DUP flag")
	}
	resent.Ack()
	quiet(t, got, interval)
	if n := len(mqJournal(s, EntryRedelivery, "py-slow")); n != 1 {
		t.Errorf("journal has %d redeliveries, want 1: the PUBACK must stop them", n)
	}
}

// TestDeliver_SubscribedDeviceGetsEachCommandOnce subscribes a device to its commands under
// overlapping filters: the platform's own delivery must not add a copy of its own to what
// the subscriptions would route. The subscriptions have no callback of their own, so paho
// hands every PUBLISH it reads to the default handler once (it calls each matching
// subscription's callback otherwise).
func TestDeliver_SubscribedDeviceGetsEachCommandOnce(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: testRedelivery, Devices: []Device{{ID: "sub", Secret: "k"}}})
	cid, user, pass := DeviceCredentials("sub", "k", mqClock())
	got := make(chan paho.Message, 16)
	c := paho.NewClient(mqOptions(s.MQTTAddr(), cid, user, pass).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m }))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	for _, filter := range []string{"$oc/devices/sub/sys/commands/#", "$oc/devices/sub/#", "$oc/devices/sub/sys/+/+"} {
		mqToken(t, c.Subscribe(filter, 1, nil))
	}
	ctx := mqCtx(t)
	for i := range 3 {
		commandID := fmt.Sprintf("c%d", i)
		done := make(chan error, 1)
		go func() {
			_, err := s.deliver(ctx, Command{DeviceID: "sub", CommandID: commandID, Paras: []byte(`{}`)})
			done <- err
		}()
		m := nextMessage(t, got)
		if !strings.HasSuffix(m.Topic(), "request_id="+commandID) {
			t.Fatalf("device received %s, want command %s", m.Topic(), commandID)
		}
		mqToken(t, c.Publish("$oc/devices/sub/sys/commands/response/request_id="+commandID, 1, false, `{}`))
		if err := <-done; err != nil {
			t.Fatalf("deliver %s: %v", commandID, err)
		}
	}
	quiet(t, got, testRedelivery)
}

// TestDeliver_JournalNamesTheSession checks that after a takeover the journal names the
// session the command went to, not the one it replaced.
func TestDeliver_JournalNamesTheSession(t *testing.T) {
	s := mqServer(t, Device{ID: "dev1", Secret: "k"})
	ts := "2020010100"
	oldID := "dev1_0_0_" + ts
	mqConnect(t, s.MQTTAddr(), oldID, "dev1", broker.DevicePassword("k", ts))
	_, newID, got := mqUnsubscribedDevice(t, s, "dev1", "k", true)
	mqWaitFor(t, s, "the first session's end", func() bool { return len(mqJournal(s, EntryDisconnect, "dev1")) == 1 })

	done := startDeliver(t, s, "dev1", "c1")
	m := nextMessage(t, got)
	if !strings.HasSuffix(m.Topic(), "request_id=c1") {
		t.Fatalf("new session received %s", m.Topic())
	}
	d := s.Deliveries("dev1")
	if len(d) != 1 || d[0].ClientID != newID {
		t.Fatalf("deliveries %+v, want one to %q", d, newID)
	}
	conn := mqJournal(s, EntryConnect, "dev1")
	disc := mqJournal(s, EntryDisconnect, "dev1")
	if len(conn) != 2 || conn[0].ClientID != oldID || conn[1].ClientID != newID || disc[0].ClientID != oldID {
		t.Errorf("connects %+v and disconnects %+v do not name the sessions %q then %q", conn, disc, oldID, newID)
	}
	select {
	case err := <-done:
		t.Fatalf("deliver ended without a reply: %v", err)
	default:
	}
}

// TestDeliver_ConcurrentToOneUnsubscribedDevice sends many commands to one device at once:
// each gets its own packet id, and every reply completes its own command.
func TestDeliver_ConcurrentToOneUnsubscribedDevice(t *testing.T) {
	const commands = 50
	s := mqServer(t, Device{ID: "busy", Secret: "k"})
	c, _, got := mqUnsubscribedDevice(t, s, "busy", "k", true)
	ctx := mqCtx(t)
	go func() {
		for {
			select {
			case m := <-got:
				rid := m.Topic()[strings.LastIndex(m.Topic(), "=")+1:]
				c.Publish("$oc/devices/busy/sys/commands/response/request_id="+rid, 1, false, `{"rid":"`+rid+`"}`)
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, commands)
	for i := range commands {
		wg.Go(func() {
			id := fmt.Sprintf("c%02d", i)
			reply, err := s.deliver(ctx, Command{DeviceID: "busy", CommandID: id, Paras: []byte(`{}`)})
			if err != nil || string(reply) != `{"rid":"`+id+`"}` {
				errs <- fmt.Errorf("%s: %s, %w", id, reply, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCommand_DeviceThatNeverSubscribes is the case end to end: a device that
// connects, never subscribes and answers from its catch-all callback (as the command sample
// of Huawei's Python device SDK does) answers the command API.
func TestCommand_DeviceThatNeverSubscribes(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, PlatformTimeout: mqWait, Devices: []Device{{ID: "py-cmd", Secret: "k"}}})
	cid, user, pass := DeviceCredentials("py-cmd", "k", mqClock())
	c := paho.NewClient(mqOptions(s.MQTTAddr(), cid, user, pass).
		SetDefaultPublishHandler(func(c paho.Client, m paho.Message) {
			rid := m.Topic()[strings.LastIndex(m.Topic(), "=")+1:]
			c.Publish("$oc/devices/py-cmd/sys/commands/response/request_id="+rid, 1, false,
				`{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`)
		}))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })

	for range 3 { // back to back, on one session
		resp, body := postCommand(t, s, "py-cmd", `{"service_id":"Switch","command_name":"ON_OFF","paras":{"value":"ON"}}`)
		var got struct {
			CommandID string          `json:"command_id"`
			Response  json.RawMessage `json:"response"`
		}
		if err := json.Unmarshal(body, &got); err != nil || resp.StatusCode != 200 || got.CommandID == "" ||
			string(got.Response) != `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}` {
			t.Fatalf("answer %d %s, want 200 with the device's reply", resp.StatusCode, body)
		}
	}
}

// TestDeliver_DeviceThatStopsReading: a command to a device whose socket is full ends at the
// command's own deadline as a timeout, as on the platform, instead of holding the caller
// until the keepalive (90 s here) ends the connection; the session is ended, since part of
// a packet may be on the wire.
func TestDeliver_DeviceThatStopsReading(t *testing.T) {
	s := limitMQTTServer(t, Limits{}, Device{ID: "stuck", Secret: "k"})
	mqRawSession(t, s.MQTTAddr(), "stuck", "k", nil) // reads nothing from here on
	paras := []byte(`{"pad":"` + strings.Repeat("x", 512<<10) + `"}`)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	const commands = 64 // 32 MiB: more than the loopback socket buffers hold
	errs := make(chan error, commands)
	for i := range commands {
		go func() {
			_, err := s.deliver(ctx, Command{DeviceID: "stuck", CommandID: fmt.Sprintf("c%d", i), Paras: paras})
			errs <- err
		}()
	}
	// A bound far below the 90 s keepalive deadline, only so that the old behaviour fails
	// rather than hangs.
	guard := time.After(30 * time.Second)
	for range commands {
		select {
		case err := <-errs:
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrDeviceOffline) {
				t.Errorf("deliver = %v, want the command's deadline (or offline once the session ended)", err)
			}
		case <-guard:
			t.Fatal("commands to a device that stopped reading still hold their callers past their deadline")
		}
	}
	if _, err := s.WaitJournal(mqCtx(t), func(e Entry) bool { return e.Kind == EntryDisconnect && e.DeviceID == "stuck" }); err != nil {
		t.Errorf("the session of a device that stopped reading was not ended: %v", err)
	}
}
