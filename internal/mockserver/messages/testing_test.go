package messages

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeDevices is the device side: a registry, who is online, who subscribed to what, and
// everything published, in order.
type fakeDevices struct {
	mu        sync.Mutex
	exists    map[string]bool
	online    map[string]bool
	subs      map[string][]string
	failNext  map[string]bool // the next publish to the device fails (it went away)
	published []published
}

type published struct {
	deviceID string
	Publication
}

func newFakeDevices(ids ...string) *fakeDevices {
	f := &fakeDevices{exists: map[string]bool{}, online: map[string]bool{}, subs: map[string][]string{},
		failNext: map[string]bool{}}
	for _, id := range ids {
		f.exists[id] = true
	}
	return f
}

func (f *fakeDevices) setOnline(id string, online bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.online[id] = online
}

func (f *fakeDevices) subscribe(id, topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs[id] = append(f.subs[id], topic)
}

func (f *fakeDevices) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.exists, id)
	delete(f.online, id)
}

func (f *fakeDevices) Exists(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exists[id]
}

func (f *fakeDevices) Online(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.online[id]
}

func (f *fakeDevices) Subscribed(id, topic string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Contains(f.subs[id], topic)
}

func (f *fakeDevices) Publish(id string, p Publication) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.online[id] || f.failNext[id] {
		delete(f.failNext, id)
		return errors.New("the device is not connected")
	}
	f.published = append(f.published, published{id, p})
	return nil
}

// deliveries returns what was published to a device, in order.
func (f *fakeDevices) deliveries(id string) []Publication {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Publication
	for _, p := range f.published {
		if p.deviceID == id {
			out = append(out, p.Publication)
		}
	}
	return out
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// eventLog records events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) of(kind string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// newBackend builds a backend over devs with a fake clock.
func newBackend(t *testing.T, devs *fakeDevices) (*Backend, *fakeClock, *eventLog) {
	t.Helper()
	clock, log := newFakeClock(), &eventLog{}
	var n int
	var mu sync.Mutex
	b := New(Config{Devices: devs, Now: clock.Now, OnEvent: log.add, NewMessageID: func() string {
		mu.Lock()
		defer mu.Unlock()
		n++
		return fmt.Sprintf("generated-%d", n)
	}})
	t.Cleanup(b.Close)
	return b, clock, log
}

// create sends a body and fails the test on a refusal.
func create(t *testing.T, b *Backend, deviceID, body string) Message {
	t.Helper()
	m, err := b.Create(deviceID, []byte(body))
	if err != nil {
		t.Fatalf("create %s: %v", body, err)
	}
	return m
}

// get reads a message and fails the test when it is not cached.
func get(t *testing.T, b *Backend, deviceID, messageID string) Message {
	t.Helper()
	m, ok, err := b.Get(deviceID, messageID)
	if err != nil || !ok {
		t.Fatalf("get %s/%s: ok %v, %v", deviceID, messageID, ok, err)
	}
	return m
}
