package messages

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCreate_OnlineDeviceGetsTheStandardPayloadAtOnce(t *testing.T) {
	devs := newFakeDevices("d1")
	devs.setOnline("d1", true)
	b, clock, log := newBackend(t, devs)
	for name, tc := range map[string]struct {
		body, wantPayload string
	}{
		"string": {`{"message_id":"m1","name":"set_interval","message":"a <b> & \"c\""}`,
			`{"name":"set_interval","id":"m1","content":"a <b> & \"c\""}`},
		"object, content is its JSON text": {`{"message_id":"m2","message":{"interval": 900,"big":12345678901234567890}}`,
			`{"id":"m2","content":"{\"interval\":900,\"big\":12345678901234567890}"}`},
		"standard format named": {`{"message_id":"m3","message":"x","payload_format":"standard","encoding":"none"}`,
			`{"id":"m3","content":"x"}`},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(devs.deliveries("d1"))
			m := create(t, b, "d1", tc.body)
			if m.Status != StatusDelivered || !m.FinishedAt.Equal(clock.Now()) || !m.CreatedAt.Equal(clock.Now()) ||
				!m.ExpiresAt.IsZero() {
				t.Fatalf("message %+v", m)
			}
			got := devs.deliveries("d1")
			if len(got) != before+1 {
				t.Fatalf("%d deliveries, want %d", len(got), before+1)
			}
			p := got[len(got)-1]
			if p.Topic != "$oc/devices/d1/sys/messages/down" || string(p.Payload) != tc.wantPayload || p.MessageID != m.MessageID {
				t.Fatalf("published %s %s, want %s", p.Topic, p.Payload, tc.wantPayload)
			}
		})
	}
	if n := len(log.of(EventCreated)); n != 3 || len(log.of(EventDelivered)) != 3 {
		t.Fatalf("%d created and %d delivered events", n, len(log.of(EventDelivered)))
	}
}

func TestCreate_OfflineDeviceGetsItsMessagesInOrderWhenItConnects(t *testing.T) {
	devs := newFakeDevices("d1")
	b, clock, _ := newBackend(t, devs)
	for i := range 5 {
		m := create(t, b, "d1", fmt.Sprintf(`{"message_id":"m%d","message":"n%d"}`, i, i))
		if m.Status != StatusPending || !m.FinishedAt.IsZero() || !m.ExpiresAt.Equal(clock.Now().Add(24*time.Hour)) ||
			m.TTL != DefaultTTL {
			t.Fatalf("message %+v: pending for the default 1440 minutes", m)
		}
		clock.advance(time.Second)
	}
	if n := len(devs.deliveries("d1")); n != 0 {
		t.Fatalf("%d deliveries to an offline device", n)
	}
	b.DeviceConnected("d1") // Offline still: nothing happens.
	devs.setOnline("d1", true)
	clock.advance(time.Minute)
	b.DeviceConnected("d1")
	got := devs.deliveries("d1")
	if len(got) != 5 {
		t.Fatalf("%d deliveries after connecting, want 5", len(got))
	}
	for i, p := range got {
		if want := fmt.Sprintf(`{"id":"m%d","content":"n%d"}`, i, i); string(p.Payload) != want {
			t.Errorf("delivery %d: %s, want %s", i, p.Payload, want)
		}
		if m := get(t, b, "d1", fmt.Sprintf("m%d", i)); m.Status != StatusDelivered || !m.FinishedAt.Equal(clock.Now()) {
			t.Errorf("message %d %+v", i, m)
		}
	}
	b.DeviceConnected("d1") // A reconnect delivers nothing twice.
	if n := len(devs.deliveries("d1")); n != 5 {
		t.Fatalf("%d deliveries after reconnecting, want still 5", n)
	}
}

func TestCreate_PublishFailureLeavesTheMessagePendingAndKeepsOrder(t *testing.T) {
	devs := newFakeDevices("d1")
	b, _, _ := newBackend(t, devs)
	create(t, b, "d1", `{"message_id":"m1","message":"1"}`)
	create(t, b, "d1", `{"message_id":"m2","message":"2"}`)
	devs.setOnline("d1", true)
	devs.failNext["d1"] = true // The device drops between the check and the publish.
	b.DeviceConnected("d1")
	if n := len(devs.deliveries("d1")); n != 0 {
		t.Fatalf("%d deliveries: m2 overtook m1", n)
	}
	if m := get(t, b, "d1", "m1"); m.Status != StatusPending {
		t.Fatalf("m1 %+v", m)
	}
	b.DeviceConnected("d1")
	got := devs.deliveries("d1")
	if len(got) != 2 || got[0].MessageID != "m1" || got[1].MessageID != "m2" {
		t.Fatalf("deliveries %+v", got)
	}
}

func TestCreate_CustomTopics(t *testing.T) {
	devs := newFakeDevices("d1")
	devs.setOnline("d1", true)
	b, _, log := newBackend(t, devs)

	// Online but not subscribed to the custom topic: FAILED with IOTDA.014112 (facts §2).
	m := create(t, b, "d1", `{"message_id":"u1","message":"x","topic":"cfg"}`)
	if m.Status != StatusFailed || m.ErrorCode != CodeNotSubscribed || m.FinishedAt.IsZero() {
		t.Fatalf("unsubscribed %+v", m)
	}
	if f := log.of(EventFailed); len(f) != 1 || f[0].ErrorCode != CodeNotSubscribed {
		t.Fatalf("failed events %+v", f)
	}
	devs.subscribe("d1", "$oc/devices/d1/user/cfg")
	devs.subscribe("d1", "/factory/cfg")
	m = create(t, b, "d1", `{"message_id":"u2","message":"x","topic":"cfg","payload_format":"raw"}`)
	m2 := create(t, b, "d1", `{"message_id":"u3","message":{"a":1},"topic_full_name":"/factory/cfg","payload_format":"raw"}`)
	got := devs.deliveries("d1")
	if m.Status != StatusDelivered || m2.Status != StatusDelivered || len(got) != 2 ||
		got[0].Topic != "$oc/devices/d1/user/cfg" || string(got[0].Payload) != "x" ||
		got[1].Topic != "/factory/cfg" || string(got[1].Payload) != `{"a":1}` {
		t.Fatalf("deliveries %+v", got)
	}

	// Offline: pending; on connect the custom topic waits for the subscription.
	devs2 := newFakeDevices("d2")
	b2, _, _ := newBackend(t, devs2)
	create(t, b2, "d2", `{"message_id":"c1","message":"custom","topic":"down"}`)
	create(t, b2, "d2", `{"message_id":"s1","message":"system"}`)
	devs2.setOnline("d2", true)
	b2.DeviceConnected("d2")
	if got := devs2.deliveries("d2"); len(got) != 1 || got[0].MessageID != "s1" {
		t.Fatalf("on connect: %+v; want the system-topic message only", got)
	}
	if m := get(t, b2, "d2", "c1"); m.Status != StatusPending {
		t.Fatalf("c1 %+v", m)
	}
	devs2.subscribe("d2", "$oc/devices/d2/user/down")
	b2.DeviceSubscribed("d2")
	if got := devs2.deliveries("d2"); len(got) != 2 || got[1].MessageID != "c1" || got[1].Topic != "$oc/devices/d2/user/down" {
		t.Fatalf("after subscribing: %+v", got)
	}
}

func TestCreate_RawAndBase64Payloads(t *testing.T) {
	devs := newFakeDevices("d1")
	devs.setOnline("d1", true)
	b, _, _ := newBackend(t, devs)
	binary := []byte{0, 1, 2, 0xfe, 0xff, '"'}
	for name, tc := range map[string]struct {
		body string
		want []byte
	}{
		"raw string": {`{"message":"plain <text>","payload_format":"raw"}`, []byte("plain <text>")},
		"raw object": {`{"message":{"b":[1, 2.50]},"payload_format":"raw"}`, []byte(`{"b":[1,2.50]}`)},
		"base64":     {`{"message":"` + base64.StdEncoding.EncodeToString(binary) + `","encoding":"base64"}`, binary},
		"base64 raw": {`{"message":"aGk=","encoding":"base64","payload_format":"raw"}`, []byte("hi")},
	} {
		t.Run(name, func(t *testing.T) {
			m := create(t, b, "d1", tc.body)
			got := devs.deliveries("d1")
			if p := got[len(got)-1]; m.Status != StatusDelivered || p.MessageID != m.MessageID || string(p.Payload) != string(tc.want) {
				t.Fatalf("published %q, want %q (message %+v)", p.Payload, tc.want, m)
			}
			if !strings.HasPrefix(m.MessageID, "generated-") {
				t.Errorf("a message sent without an id has id %q, want one the platform generated", m.MessageID)
			}
		})
	}
}

func TestCreate_TTL(t *testing.T) {
	devs := newFakeDevices("d1")
	b, clock, log := newBackend(t, devs)
	m := create(t, b, "d1", `{"message_id":"t5","message":"x","ttl":5}`)
	created := clock.Now()
	if m.Status != StatusPending || !m.ExpiresAt.Equal(created.Add(5*time.Minute)) {
		t.Fatalf("message %+v", m)
	}
	clock.advance(5*time.Minute - time.Second)
	b.ExpireDue()
	if m := get(t, b, "d1", "t5"); m.Status != StatusPending {
		t.Fatalf("before its TTL: %+v", m)
	}
	clock.advance(time.Second)
	// A read sees the expiry at once, without ExpireDue.
	if m := get(t, b, "d1", "t5"); m.Status != StatusTimeout || !m.FinishedAt.Equal(created.Add(5*time.Minute)) ||
		m.ErrorCode != "" {
		t.Fatalf("after its TTL: %+v", m)
	}
	if ev := log.of(EventTimeout); len(ev) != 1 || ev[0].MessageID != "t5" {
		t.Fatalf("timeout events %+v", ev)
	}
	devs.setOnline("d1", true)
	b.DeviceConnected("d1")
	if n := len(devs.deliveries("d1")); n != 0 {
		t.Fatalf("an expired message was delivered (%d)", n)
	}

	// ttl 0 caches nothing: FAILED at once when the device is offline, DELIVERED when online.
	devs.setOnline("d1", false)
	if m := create(t, b, "d1", `{"message_id":"z1","message":"x","ttl":0}`); m.Status != StatusFailed ||
		m.ErrorCode != CodeDeviceOffline || m.FinishedAt.IsZero() {
		t.Fatalf("ttl 0 offline %+v", m)
	}
	devs.setOnline("d1", true)
	if m := create(t, b, "d1", `{"message_id":"z2","message":"x","ttl":0}`); m.Status != StatusDelivered {
		t.Fatalf("ttl 0 online %+v", m)
	}
}

// The expiry timer moves a pending message to TIMEOUT on its own, on the backend's time
// scale, with no read and no sleep in the test.
func TestCreate_TTLTimerOnTheTimeScale(t *testing.T) {
	devs := newFakeDevices("d1")
	log := &eventLog{}
	b := New(Config{Devices: devs, TimeScale: 0.0001, OnEvent: log.add, NewMessageID: func() string { return "x" }})
	t.Cleanup(b.Close)
	start := time.Now()
	create(t, b, "d1", `{"message_id":"t1","message":"x","ttl":5}`) // 5 minutes scaled: 30 ms
	create(t, b, "d1", `{"message_id":"t2","message":"x","ttl":1440}`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	m, _, err := b.Wait(ctx, "d1", "t1", func(m Message, _ bool) bool { return m.Status == StatusTimeout })
	if err != nil {
		t.Fatalf("t1 never timed out: %+v, %v", m, err)
	}
	if m.FinishedAt.Sub(start) < 30*time.Millisecond {
		t.Fatalf("t1 timed out after %v, before its scaled TTL", m.FinishedAt.Sub(start))
	}
	if m := get(t, b, "d1", "t2"); m.Status != StatusPending {
		t.Fatalf("t2 %+v", m)
	}
}

func TestCreate_TheTwentyFirstReplacesTheEarliest(t *testing.T) {
	devs := newFakeDevices("d1")
	b, _, log := newBackend(t, devs)
	for i := 1; i <= 21; i++ {
		create(t, b, "d1", fmt.Sprintf(`{"message_id":"m%d","message":"%d"}`, i, i))
	}
	list, err := b.List("d1")
	if err != nil || len(list) != MaxCached || list[0].MessageID != "m2" || list[19].MessageID != "m21" {
		t.Fatalf("list %d messages (%v), first %s", len(list), err, list[0].MessageID)
	}
	if _, ok, err := b.Get("d1", "m1"); ok || err != nil {
		t.Fatalf("m1: ok %v, %v; want it replaced", ok, err)
	}
	if ev := log.of(EventRemoved); len(ev) != 1 || ev[0].MessageID != "m1" || ev[0].Reason != ReasonReplaced ||
		ev[0].Status != StatusPending {
		t.Fatalf("removed events %+v", ev)
	}
	devs.setOnline("d1", true)
	b.DeviceConnected("d1")
	got := devs.deliveries("d1")
	if len(got) != 20 || got[0].MessageID != "m2" || got[19].MessageID != "m21" {
		t.Fatalf("%d deliveries; want m2..m21, the replaced m1 never", len(got))
	}
	// A replaced message's id may be used again; a cached one may not.
	create(t, b, "d1", `{"message_id":"m1","message":"again"}`)
	if _, err := b.Create("d1", []byte(`{"message_id":"m21","message":"dup"}`)); err == nil || err.Status != 400 ||
		!strings.Contains(err.Msg, "already used") {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestDeleteAndDeviceDeleted(t *testing.T) {
	devs := newFakeDevices("d1", "d2")
	b, _, log := newBackend(t, devs)
	create(t, b, "d1", `{"message_id":"m1","message":"x"}`)
	create(t, b, "d1", `{"message_id":"m2","message":"y"}`)
	if err := b.Delete("d1", "m1"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete("d1", "m1"); err == nil || err.Status != 404 {
		t.Fatalf("second delete: %v", err)
	}
	devs.setOnline("d1", true)
	b.DeviceConnected("d1")
	if got := devs.deliveries("d1"); len(got) != 1 || got[0].MessageID != "m2" {
		t.Fatalf("deliveries %+v; a deleted pending message is not delivered", got)
	}
	create(t, b, "d2", `{"message_id":"m3","message":"z"}`)
	devs.remove("d2")
	b.DeviceDeleted("d2")
	if _, _, err := b.Get("d2", "m3"); err == nil || err.Status != 404 || err.Code != CodeDeviceNotFound {
		t.Fatalf("get on a deleted device: %v", err)
	}
	removed := log.of(EventRemoved)
	if len(removed) != 2 || removed[0].Reason != ReasonDeleted || removed[1].Reason != ReasonDeviceDeleted {
		t.Fatalf("removed events %+v", removed)
	}
}

func TestUnknownDevice(t *testing.T) {
	b, _, _ := newBackend(t, newFakeDevices())
	if _, err := b.Create("ghost", []byte(`{"message":"x"}`)); err == nil || err.Status != 404 || err.Code != CodeDeviceNotFound ||
		!strings.Contains(err.Msg, "ghost") {
		t.Fatalf("create: %v", err)
	}
	if _, err := b.List("ghost"); err == nil || err.Status != 404 {
		t.Fatalf("list: %v", err)
	}
	if err := b.Delete("ghost", "m"); err == nil || err.Status != 404 || err.Code != CodeDeviceNotFound {
		t.Fatalf("delete: %v", err)
	}
}

// Creates racing a connect still reach the device in creation order, each once.
func TestCreate_OrderUnderConcurrency(t *testing.T) {
	devs := newFakeDevices("d1")
	b, _, _ := newBackend(t, devs)
	const n = 40
	var wg sync.WaitGroup
	var mu sync.Mutex
	var order []string // creation order as the backend saw it (created events)
	b.cfg.OnEvent = func(e Event) {
		if e.Kind == EventCreated {
			mu.Lock()
			order = append(order, e.MessageID)
			mu.Unlock()
		}
	}
	for i := range n {
		wg.Go(func() {
			if _, err := b.Create("d1", fmt.Appendf(nil, `{"message_id":"m%d","message":"x"}`, i)); err != nil {
				t.Error(err)
			}
		})
		if i == n/2 {
			wg.Go(func() {
				devs.setOnline("d1", true)
				b.DeviceConnected("d1")
			})
		}
	}
	wg.Wait()
	devs.setOnline("d1", true)
	b.DeviceConnected("d1")
	got := devs.deliveries("d1")
	seen := map[string]bool{}
	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	for i, p := range got {
		if seen[p.MessageID] {
			t.Fatalf("%s delivered twice", p.MessageID)
		}
		seen[p.MessageID] = true
		if i > 0 && pos[p.MessageID] < pos[got[i-1].MessageID] {
			t.Fatalf("%s delivered after %s, which was created later", p.MessageID, got[i-1].MessageID)
		}
	}
	list, _ := b.List("d1")
	for _, m := range list {
		if m.Status != StatusDelivered {
			t.Fatalf("%s is %s after the device connected", m.MessageID, m.Status)
		}
	}
}
