package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFleet_AddDeliverRemove(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "plain"}},
		Fleets: []Fleet{{Prefix: "sensor-", Count: 1000, Behavior: Behavior{Kind: BehaviorEcho}}}})
	if n := len(s.Devices()); n != 1001 {
		t.Fatalf("registry has %d devices, want 1001", n)
	}
	for _, id := range []string{"sensor-1", "sensor-500", "sensor-1000"} {
		if !s.Online(id) {
			t.Errorf("%s is not online", id)
		}
	}
	for _, id := range []string{"sensor-0", "sensor-1001", "sensor-01", "sensor-"} {
		if _, err := s.deliver(mqCtx(t), Command{DeviceID: id, CommandID: "c", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceNotFound) {
			t.Errorf("deliver to %s: %v, want ErrDeviceNotFound", id, err)
		}
	}
	reply, err := s.deliver(mqCtx(t), Command{DeviceID: "sensor-500", CommandID: "c1", CommandName: "SET", Paras: []byte(`{"v":12345678901234567890}`)})
	if want := `{"result_code":0,"response_name":"SET","paras":{"v":12345678901234567890}}`; err != nil || string(reply) != want {
		t.Fatalf("deliver = %s, %v; want %s", reply, err, want)
	}
	d := s.Deliveries("sensor-500")
	if len(d) != 1 || d[0].ClientID != "fleet:sensor-" || d[0].CommandID != "c1" {
		t.Errorf("deliveries %+v, want one to session fleet:sensor-", d)
	}
	if r := mqJournal(s, EntryReply, "sensor-500"); len(r) != 1 || string(r[0].Body) != string(reply) {
		t.Errorf("replies %+v, want the echo", r)
	}
	if n := len(mqJournal(s, EntryConnect, "sensor-500")); n != 0 {
		t.Errorf("a fleet device journaled %d connects, want none", n)
	}
	if f := s.Fleets(); len(f) != 1 || f[0].Prefix != "sensor-" || f[0].Count != 1000 {
		t.Errorf("Fleets() = %+v", f)
	}

	if err := s.RemoveFleet("sensor-"); err != nil {
		t.Fatalf("RemoveFleet: %v", err)
	}
	if devs := s.Devices(); len(devs) != 1 || devs[0].ID != "plain" || s.Online("sensor-1") {
		t.Errorf("after RemoveFleet the registry holds %d devices, sensor-1 online %v", len(devs), s.Online("sensor-1"))
	}
	if _, err := s.deliver(mqCtx(t), Command{DeviceID: "sensor-1", CommandID: "c", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceNotFound) {
		t.Errorf("deliver after RemoveFleet: %v, want ErrDeviceNotFound", err)
	}
	if err := s.RemoveFleet("sensor-"); !errors.Is(err, ErrFleetNotFound) {
		t.Errorf("second RemoveFleet = %v, want ErrFleetNotFound", err)
	}
	// The prefix and the ids are free again.
	if err := s.AddFleet(Fleet{Prefix: "sensor-", Count: 2}); err != nil {
		t.Fatalf("AddFleet again: %v", err)
	}
	if !s.Online("sensor-2") || s.Online("sensor-3") {
		t.Error("the new fleet of 2 is not what is online")
	}
}

func TestFleet_Validation(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Devices: []Device{{ID: "s15"}},
		Fleets: []Fleet{{Prefix: "taken-", Count: 3}, {Prefix: "ov", Count: 20}}})
	tests := map[string]Fleet{
		"empty prefix":          {Prefix: "", Count: 1},
		"bad character":         {Prefix: "a/b-", Count: 1},
		"space":                 {Prefix: "a b", Count: 1},
		"zero count":            {Prefix: "z-", Count: 0},
		"negative count":        {Prefix: "z-", Count: -1},
		"too many":              {Prefix: "z-", Count: MaxFleetCount + 1},
		"ids beyond 128 chars":  {Prefix: strings.Repeat("x", 126), Count: 100},
		"prefix taken":          {Prefix: "taken-", Count: 1},
		"id of a device":        {Prefix: "s", Count: 20},  // s15 is registered
		"ids of another fleet":  {Prefix: "ov1", Count: 5}, // ov11..ov15 are ov's
		"unknown behaviour":     {Prefix: "k-", Count: 1, Behavior: Behavior{Kind: "dance"}},
		"negative delay":        {Prefix: "d-", Count: 1, Behavior: Behavior{Delay: -time.Second}},
		"response is not JSON":  {Prefix: "r-", Count: 1, Behavior: Behavior{Response: json.RawMessage(`{`)}},
		"negative disconnect":   {Prefix: "n-", Count: 1, Behavior: Behavior{DisconnectAfter: -1}},
		"prefix of 128 letters": {Prefix: strings.Repeat("y", 128), Count: 1},
	}
	for name, f := range tests {
		if err := s.AddFleet(f); err == nil {
			t.Errorf("%s: AddFleet(%+v) succeeded", name, f.Prefix)
		}
	}
	if n := len(s.Devices()); n != 24 {
		t.Errorf("refused fleets left devices behind: the registry has %d, want 24", n)
	}
	if f := s.Fleets(); len(f) != 2 {
		t.Errorf("Fleets() = %+v, want only taken- and ov", f)
	}
	// The longest ids that fit are accepted.
	if err := s.AddFleet(Fleet{Prefix: strings.Repeat("w", 125), Count: 999}); err != nil {
		t.Errorf("ids of exactly 128 characters: %v", err)
	}
}

func TestFleet_Behaviours(t *testing.T) {
	const delay = 150 * time.Millisecond
	custom := json.RawMessage(`{"paras":{"x":1.50},"result_code":0}`)
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{
		{Prefix: "reply-", Count: 2},
		{Prefix: "fail-", Count: 2, Behavior: Behavior{Kind: BehaviorEcho, ResultCode: 3}},
		{Prefix: "custom-", Count: 2, Behavior: Behavior{Response: custom}},
		{Prefix: "custom-fail-", Count: 2, Behavior: Behavior{Response: custom, ResultCode: 9}},
		{Prefix: "slow-", Count: 2, Behavior: Behavior{Delay: delay}},
		{Prefix: "silent-", Count: 2, Behavior: Behavior{Kind: BehaviorSilent}},
	}})
	tests := []struct{ device, want string }{
		{"reply-2", `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`},
		{"fail-1", `{"result_code":3,"response_name":"GO","paras":{"a":1}}`},
		{"custom-1", string(custom)},
		{"custom-2", string(custom)},
		{"custom-fail-2", `{"paras":{"x":1.50},"result_code":9}`},
		{"slow-1", `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`},
	}
	for _, tt := range tests {
		start := time.Now()
		reply, err := s.deliver(mqCtx(t), Command{DeviceID: tt.device, CommandID: "c-" + tt.device, CommandName: "GO", Paras: []byte(`{"a":1}`)})
		if err != nil || string(reply) != tt.want {
			t.Errorf("%s: deliver = %s, %v; want %s", tt.device, reply, err, tt.want)
		}
		if strings.HasPrefix(tt.device, "slow") && time.Since(start) < delay {
			t.Errorf("%s answered after %v, before its delay %v", tt.device, time.Since(start), delay)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.deliver(ctx, Command{DeviceID: "silent-1", CommandID: "c", Paras: []byte(`{}`)}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("silent fleet device: %v, want context.DeadlineExceeded", err)
	}
	if len(s.Deliveries("silent-1")) != 1 || len(mqJournal(s, EntryReply, "silent-1")) != 0 {
		t.Errorf("silent device: want one delivery and no reply in the journal")
	}
}

func TestFleet_DisconnectAfterCountsPerDevice(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{{Prefix: "flaky-", Count: 3, Behavior: Behavior{Kind: BehaviorEcho, DisconnectAfter: 2}}}})
	for _, id := range []string{"c1", "c2"} {
		if _, err := s.deliver(mqCtx(t), Command{DeviceID: "flaky-2", CommandID: id, Paras: []byte(`{}`)}); err != nil {
			t.Fatalf("deliver %s: %v", id, err)
		}
	}
	if s.Online("flaky-2") {
		t.Fatal("flaky-2 is online after its last answer")
	}
	if _, err := s.deliver(mqCtx(t), Command{DeviceID: "flaky-2", CommandID: "c3", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceOffline) {
		t.Errorf("deliver after the last answer: %v, want ErrDeviceOffline", err)
	}
	if !s.Online("flaky-1") || !s.Online("flaky-3") {
		t.Error("the other devices of the fleet went offline too")
	}
	if _, err := s.deliver(mqCtx(t), Command{DeviceID: "flaky-1", CommandID: "c1", Paras: []byte(`{}`)}); err != nil {
		t.Errorf("flaky-1: %v", err)
	}
}

func TestFleet_RemoveCancelsDelayedReplies(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{{Prefix: "slow-", Count: 1, Behavior: Behavior{Delay: time.Hour}}}})
	ctx, cancel := context.WithCancel(mqCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := s.deliver(ctx, Command{DeviceID: "slow-1", CommandID: "c", Paras: []byte(`{}`)})
		done <- err
	}()
	if _, err := s.WaitJournal(mqCtx(t), func(e Entry) bool { return e.Kind == EntryDelivery && e.DeviceID == "slow-1" }); err != nil {
		t.Fatal(err)
	}
	removed := make(chan error, 1)
	go func() { removed <- s.RemoveFleet("slow-") }()
	select {
	case err := <-removed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(mqWait):
		t.Fatal("RemoveFleet waited for an hour-long delay")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("deliver = %v, want context.Canceled", err)
	}
	if n := len(mqJournal(s, EntryReply, "slow-1")) + len(mqJournal(s, EntryLateReply, "slow-1")); n != 0 {
		t.Errorf("a removed fleet device answered (%d replies)", n)
	}
}

// TestFleet_RealClientTakesOverADevice logs a real MQTT client in as a fleet device: it
// replaces the simulator for that device only, and leaves the device offline when it goes.
func TestFleet_RealClientTakesOverADevice(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, RedeliveryInterval: testRedelivery,
		Fleets: []Fleet{{Prefix: "m-", Count: 3, Secret: "shared", Behavior: Behavior{Kind: BehaviorEcho}}}})
	c, cid, got := mqUnsubscribedDevice(t, s, "m-2", "shared", true)
	done := startDeliver(t, s, "m-2", "c1")
	m := nextMessage(t, got)
	if !strings.HasSuffix(m.Topic(), "/m-2/sys/commands/request_id=c1") {
		t.Fatalf("the real client received %s", m.Topic())
	}
	mqToken(t, c.Publish("$oc/devices/m-2/sys/commands/response/request_id=c1", 1, false, `{"real":true}`))
	if err := <-done; err != nil {
		t.Fatalf("deliver to the real client: %v", err)
	}
	if d := s.Deliveries("m-2"); len(d) != 1 || d[0].ClientID != cid {
		t.Errorf("deliveries %+v, want one to %q", d, cid)
	}
	if reply, err := s.deliver(mqCtx(t), Command{DeviceID: "m-3", CommandID: "c2", Paras: []byte(`{}`)}); err != nil ||
		!strings.Contains(string(reply), `"result_code":0`) {
		t.Errorf("m-3 still simulated: %s, %v", reply, err)
	}
	// Removing the fleet ends the real client's session too.
	if err := s.RemoveFleet("m-"); err != nil {
		t.Fatal(err)
	}
	mqWaitFor(t, s, "the real session's end", func() bool { return len(mqJournal(s, EntryDisconnect, "m-2")) == 1 })
	if s.Online("m-2") {
		t.Error("m-2 is online after RemoveFleet")
	}
}

// TestFleet_RemoveDeviceOfAFleet removes one fleet device on its own; the fleet's removal
// later leaves alone a device registered again under that id.
func TestFleet_RemoveDeviceOfAFleet(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{{Prefix: "f-", Count: 3}}})
	s.RemoveDevice("f-2")
	if s.Online("f-2") || len(s.Devices()) != 2 {
		t.Fatal("f-2 is still registered or online")
	}
	if err := s.AddDevice(Device{ID: "f-2"}); err != nil {
		t.Fatal(err)
	}
	// The fleet's session went with the removed device: the new f-2 is offline until a
	// client connects as it, and nothing answers its commands.
	if s.Online("f-2") {
		t.Error("a plain device registered under a removed fleet device's id is online")
	}
	if _, err := s.deliver(mqCtx(t), Command{DeviceID: "f-2", CommandID: "c", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceOffline) {
		t.Errorf("deliver to the new f-2 = %v, want ErrDeviceOffline", err)
	}
	if err := s.RemoveFleet("f-"); err != nil {
		t.Fatal(err)
	}
	if devs := s.Devices(); len(devs) != 1 || devs[0].ID != "f-2" {
		t.Errorf("registry %+v, want only the re-registered f-2", devs)
	}
}

func TestFleet_ConcurrentDeliveries(t *testing.T) {
	const devices, commands = 200, 2000
	s := NewForTest(t, Options{Now: mqClock, Fleets: []Fleet{{Prefix: "e-", Count: devices, Behavior: Behavior{Kind: BehaviorEcho}}}})
	ctx := mqCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, commands)
	for i := range commands {
		wg.Go(func() {
			dev := fmt.Sprintf("e-%d", i%devices+1)
			paras := fmt.Sprintf(`{"i":%d}`, i)
			reply, err := s.deliver(ctx, Command{DeviceID: dev, CommandID: fmt.Sprintf("c%d", i), CommandName: "N", Paras: []byte(paras)})
			if want := `{"result_code":0,"response_name":"N","paras":` + paras + `}`; err != nil || string(reply) != want {
				errs <- fmt.Errorf("%s: %s, %v", dev, reply, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(s.Deliveries("")); n != commands {
		t.Errorf("journal has %d deliveries, want %d", n, commands)
	}
}

func TestFleet_NeedsARunningBroker(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddFleet(Fleet{Prefix: "x-", Count: 1}); !errors.Is(err, errNotStarted) {
		t.Errorf("AddFleet before Start = %v, want errNotStarted", err)
	}
}

// BenchmarkFleetDeliver measures the device side's delivery to fleet devices, as the batch
// executor uses it: deliver, journal, the fleet's answer through the broker, the match.
func BenchmarkFleetDeliver(b *testing.B) {
	s := NewForTest(b, Options{Fleets: []Fleet{{Prefix: "b-", Count: 10000, Behavior: Behavior{Kind: BehaviorEcho}}}})
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			cmd := Command{DeviceID: "b-" + strconv.FormatInt(i%10000+1, 10), CommandID: strconv.FormatInt(i, 10),
				CommandName: "SET", Paras: []byte(`{"v":1}`)}
			if _, err := s.deliver(b.Context(), cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
}
