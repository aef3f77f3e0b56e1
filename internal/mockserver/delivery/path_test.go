package delivery

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// These tests drive the path without a broker: devices are in-process sessions (Local),
// as a fleet's are, and answer through Path.Reply as the broker's reply hook would.

// devices is a registry of ids.
type devices struct {
	mu  sync.Mutex
	ids map[string]bool
}

func newDevices(ids ...string) *devices {
	d := &devices{ids: make(map[string]bool)}
	for _, id := range ids {
		d.ids[id] = true
	}
	return d
}

func (d *devices) Registered(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ids[id]
}

func (d *devices) remove(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.ids, id)
}

// device is an in-process device that records what it receives and, when answer is set,
// replies on the topic answer returns.
type device struct {
	p      *Path
	answer func(deviceID, topic string, payload []byte) (replyTopic string, reply []byte)

	// seen, when set, is sent each topic received (after the path registered any waiter).
	seen chan string

	mu  sync.Mutex
	got []string // topic + " " + payload
}

func (d *device) Receive(deviceID, topic string, payload []byte) error {
	d.mu.Lock()
	d.got = append(d.got, topic+" "+string(payload))
	d.mu.Unlock()
	if d.seen != nil {
		d.seen <- topic
	}
	if d.answer != nil {
		if rt, reply := d.answer(deviceID, topic, payload); rt != "" {
			d.p.Reply(deviceID, "r1", rt, reply)
		}
	}
	return nil
}

func (d *device) received() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.got...)
}

func newPath(t *testing.T, ids ...string) (*Path, *journal.Journal) {
	t.Helper()
	j := journal.New(nil, 0)
	p := New(newDevices(ids...), j)
	t.Cleanup(p.Close)
	return p, j
}

func TestPublish_AwaitsTheReplyOnItsTopic(t *testing.T) {
	p, j := newPath(t, "d1")
	dev := &device{p: p, answer: func(id, topic string, payload []byte) (string, []byte) {
		return topic + "/response", []byte(`{"echo":` + string(payload) + `}`)
	}}
	p.AttachLocal("local:test", dev, []string{"d1"})
	reply, err := p.Publish(t.Context(), Publication{DeviceID: "d1", Topic: "t/1", Payload: []byte(`1`),
		ReplyTopic: "t/1/response", Journal: journal.Entry{CommandID: "c1"}})
	if err != nil || string(reply) != `{"echo":1}` {
		t.Fatalf("Publish = %s, %v", reply, err)
	}
	var kinds []string
	for _, e := range j.Entries() {
		kinds = append(kinds, string(e.Kind)+":"+e.DeviceID+":"+e.CommandID+":"+e.ClientID)
	}
	want := "delivery:d1:c1:local:test reply:d1:r1:"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("journal %q, want %q", got, want)
	}
	if p.Pending() != 0 {
		t.Errorf("%d publications still pending", p.Pending())
	}
}

func TestPublish_WithoutAReplyTopicReturnsOnceSent(t *testing.T) {
	p, j := newPath(t, "d1")
	dev := &device{p: p}
	p.AttachLocal("local", dev, []string{"d1"})
	reply, err := p.Publish(t.Context(), Publication{DeviceID: "d1", Topic: "down", Payload: []byte(`m`)})
	if err != nil || reply != nil {
		t.Fatalf("Publish = %q, %v; want no reply and no error", reply, err)
	}
	if got := dev.received(); len(got) != 1 || got[0] != "down m" {
		t.Errorf("the device received %q", got)
	}
	if d := j.Entries(); len(d) != 1 || d[0].Kind != journal.EntryDelivery || string(d[0].Body) != `"m"` {
		t.Errorf("journal %+v, want one delivery of the payload", d)
	}
}

func TestPublish_Errors(t *testing.T) {
	p, j := newPath(t, "d1", "off")
	dev := &device{p: p, seen: make(chan string, 1)}
	p.AttachLocal("local", dev, []string{"d1"})
	ctx := t.Context()
	if _, err := p.Publish(ctx, Publication{DeviceID: "ghost", Topic: "t"}); !errors.Is(err, ErrDeviceNotFound) {
		t.Errorf("an unregistered device: %v, want ErrDeviceNotFound", err)
	}
	if _, err := p.Publish(ctx, Publication{DeviceID: "off", Topic: "t"}); !errors.Is(err, ErrDeviceOffline) {
		t.Errorf("a device without a session: %v, want ErrDeviceOffline", err)
	}
	// A second publication awaiting the same reply topic is refused while the first waits.
	short, cancel := context.WithCancel(ctx)
	first := make(chan error, 1)
	go func() {
		_, err := p.Publish(short, Publication{DeviceID: "d1", Topic: "t", ReplyTopic: "t/r"})
		first <- err
	}()
	<-dev.seen
	if _, err := p.Publish(ctx, Publication{DeviceID: "d1", Topic: "t", ReplyTopic: "t/r"}); err == nil ||
		!strings.Contains(err.Error(), "already pending") {
		t.Errorf("a second wait on t/r: %v, want already pending", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("the first publication ended with %v, want context.Canceled", err)
	}
	if p.Pending() != 0 {
		t.Error("a cancelled publication left its waiter")
	}
	// A reply that comes after its publication gave up is journaled as late.
	p.Reply("d1", "r9", "t/r", []byte(`late`))
	entries := j.Entries()
	if last := entries[len(entries)-1]; last.Kind != journal.EntryLateReply || last.CommandID != "r9" {
		t.Errorf("the last entry is %+v, want the late reply r9", last)
	}
}

func TestPublish_CloseEndsTheWait(t *testing.T) {
	p, _ := newPath(t, "d1")
	dev := &device{p: p, seen: make(chan string, 1)}
	p.AttachLocal("local", dev, []string{"d1"})
	done := make(chan error, 1)
	go func() {
		_, err := p.Publish(t.Context(), Publication{DeviceID: "d1", Topic: "t", ReplyTopic: "t/r"})
		done <- err
	}()
	<-dev.seen
	p.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("a wait at Close = %v, want ErrClosed", err)
	}
	if _, err := p.Publish(t.Context(), Publication{DeviceID: "d1", Topic: "t"}); !errors.Is(err, ErrDeviceOffline) {
		t.Errorf("Publish after Close = %v, want ErrDeviceOffline", err)
	}
}

// TestWatch_ToldOfLocalSessions: a watcher hears every device come online and go offline,
// whether its session ends on its own (DetachLocal) or with the device (Drop).
func TestWatch_ToldOfLocalSessions(t *testing.T) {
	p, _ := newPath(t, "a", "b")
	var mu sync.Mutex
	var changes []string
	p.Watch(func(c Change) {
		mu.Lock()
		defer mu.Unlock()
		state := "offline"
		if c.Online {
			state = "online"
		}
		changes = append(changes, c.DeviceID+" "+state+" "+c.ClientID)
	})
	dev := &device{p: p}
	p.AttachLocal("fleet:x", dev, []string{"a", "b"})
	if !p.Online("a") || !p.Online("b") {
		t.Fatal("attached devices are not online")
	}
	p.DetachLocal("a", &device{}) // not a's session: nothing happens
	p.DetachLocal("a", dev)
	p.Drop("b", "nobody")
	if p.Online("a") || p.Online("b") {
		t.Error("devices still online after DetachLocal and Drop")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"a online fleet:x", "b online fleet:x", "a offline fleet:x", "b offline fleet:x"}
	if strings.Join(changes, ", ") != strings.Join(want, ", ") {
		t.Errorf("watcher heard %q, want %q", changes, want)
	}
}

func TestWaitOnline(t *testing.T) {
	reg := newDevices("d1")
	p := New(reg, journal.New(nil, 0))
	t.Cleanup(p.Close)
	ctx := t.Context()
	if err := p.WaitOnline(ctx, "ghost"); !errors.Is(err, ErrDeviceNotFound) {
		t.Errorf("WaitOnline(ghost) = %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- p.WaitOnline(ctx, "d1") }()
	p.AttachLocal("local", &device{p: p}, []string{"d1"})
	if err := <-waited; err != nil {
		t.Errorf("WaitOnline after the device came online = %v", err)
	}
	// Unregistering ends a wait: the registry changes, then Drop wakes the waiter.
	p.Drop("d1")
	go func() { waited <- p.WaitOnline(ctx, "d1") }()
	reg.remove("d1")
	p.Drop("d1")
	if err := <-waited; !errors.Is(err, ErrDeviceNotFound) {
		t.Errorf("WaitOnline of a removed device = %v, want ErrDeviceNotFound", err)
	}
}
