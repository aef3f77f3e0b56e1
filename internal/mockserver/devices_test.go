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

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
)

func TestDeliver_OfflineOnlineOffline(t *testing.T) {
	s := mqServer(t, Device{ID: "dev1"})
	ctx := mqCtx(t)
	cmd := Command{DeviceID: "dev1", CommandID: "c1", Paras: []byte(`{}`)}

	if _, err := s.deliver(ctx, Command{DeviceID: "ghost", CommandID: "c0", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceNotFound) {
		t.Fatalf("deliver to an unregistered device: %v, want ErrDeviceNotFound", err)
	}
	if err := s.WaitOnline(ctx, "ghost"); !errors.Is(err, ErrDeviceNotFound) {
		t.Fatalf("WaitOnline(ghost) = %v, want ErrDeviceNotFound", err)
	}
	if s.Online("dev1") {
		t.Fatal("a device nobody connected as is online")
	}
	if _, err := s.deliver(ctx, cmd); !errors.Is(err, ErrDeviceOffline) {
		t.Fatalf("deliver to an offline device: %v, want ErrDeviceOffline", err)
	}

	// WaitOnline blocks until a client connects as the device.
	waited := make(chan error, 1)
	go func() { waited <- s.WaitOnline(ctx, "dev1") }()
	select {
	case err := <-waited:
		t.Fatalf("WaitOnline returned %v before the device connected", err)
	default:
	}
	dev := mqDevice(t, s, "dev1", "secret-dev1") // the default secret
	if err := <-waited; err != nil {
		t.Fatalf("WaitOnline: %v", err)
	}
	if !s.Online("dev1") {
		t.Fatal("Online is false for a connected device")
	}

	dev.client.Disconnect(0)
	// A closed session reads as offline before its disconnect is journaled: wait for the entry.
	if _, err := s.WaitJournal(ctx, func(e Entry) bool { return e.Kind == EntryDisconnect && e.DeviceID == "dev1" }); err != nil {
		t.Fatalf("waiting for the disconnect to be journaled: %v", err)
	}
	if s.Online("dev1") {
		t.Fatal("Online is true after the device disconnected")
	}
	if _, err := s.deliver(ctx, cmd); !errors.Is(err, ErrDeviceOffline) {
		t.Fatalf("deliver after disconnect: %v, want ErrDeviceOffline", err)
	}
	if n := len(mqJournal(s, EntryConnect, "dev1")); n != 1 {
		t.Errorf("journal connects = %d, want 1", n)
	}
	if d := mqJournal(s, EntryDisconnect, "dev1"); len(d) != 1 || strings.Contains(string(d[0].Body), "taken_over") {
		t.Errorf("journal disconnects = %+v, want one plain disconnect", d)
	}
	if n := len(s.Deliveries("dev1")); n != 0 {
		t.Errorf("refused deliveries were journaled: %d", n)
	}

	// A WaitOnline in progress ends when the device is removed.
	go func() { waited <- s.WaitOnline(ctx, "dev1") }()
	s.RemoveDevice("dev1")
	if err := <-waited; !errors.Is(err, ErrDeviceNotFound) {
		t.Fatalf("WaitOnline after RemoveDevice = %v, want ErrDeviceNotFound", err)
	}
}

// TestDeliver_RawDevice drives a device written only against the documented topics.
func TestDeliver_RawDevice(t *testing.T) {
	s := mqServer(t, Device{ID: "meter-01", Secret: "pw"})
	dev := mqDevice(t, s, "meter-01", "pw")
	ctx := mqCtx(t)
	for i := range 3 {
		id := fmt.Sprintf("cmd-%d", i)
		type result struct {
			reply json.RawMessage
			err   error
		}
		done := make(chan result, 1)
		go func() {
			r, err := s.deliver(ctx, Command{DeviceID: "meter-01", CommandID: id,
				ServiceID: "WaterMeter", CommandName: "ON_OFF", Paras: []byte(`{"value":"1"}`)})
			done <- result{r, err}
		}()
		m := mqNextCommand(t, dev)
		if want := "$oc/devices/meter-01/sys/commands/request_id=" + id; m.Topic() != want {
			t.Fatalf("topic %q, want %q", m.Topic(), want)
		}
		if want := `{"service_id":"WaterMeter","command_name":"ON_OFF","paras":{"value":"1"}}`; string(m.Payload()) != want {
			t.Fatalf("payload %s, want %s", m.Payload(), want)
		}
		if m.Qos() != 1 {
			t.Errorf("command QoS %d, want 1", m.Qos())
		}
		// As the device SDK does: the request id is what follows "=".
		rid := strings.Split(m.Topic(), "=")[1]
		reply := fmt.Sprintf(`{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"n":%d}}`, i)
		mqToken(t, dev.client.Publish("$oc/devices/meter-01/sys/commands/response/request_id="+rid, 1, false, reply))
		r := <-done
		if r.err != nil || string(r.reply) != reply {
			t.Fatalf("deliver = %s, %v; want %s", r.reply, r.err, reply)
		}
	}
	// The device's own replies are not routed back to its commands/# subscription: it saw
	// exactly the three commands (the third was queued behind any echo of the first).
	if seen := dev.seen(); len(seen) != 3 {
		t.Errorf("device received %q, want only the 3 commands", seen)
	}
	if n, r := len(s.Deliveries("meter-01")), len(mqJournal(s, EntryReply, "meter-01")); n != 3 || r != 3 {
		t.Errorf("journal: %d deliveries, %d replies; want 3 and 3", n, r)
	}
}

func TestDeliver_ConcurrentEcho(t *testing.T) {
	const devices, commands = 20, 200
	var devs []Device
	for i := range devices {
		devs = append(devs, Device{ID: fmt.Sprintf("echo-%02d", i), Simulated: &Behavior{Kind: BehaviorEcho}})
	}
	s := mqServer(t, devs...)
	ctx := mqCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, commands)
	for i := range commands {
		wg.Go(func() {
			dev := devs[i%devices].ID
			paras := fmt.Sprintf(`{"i":%d,"device":%q,"big":1234567890123456789%d}`, i, dev, i)
			cmd := Command{DeviceID: dev, CommandID: fmt.Sprintf("cmd-%03d", i), CommandName: fmt.Sprintf("C%d", i), Paras: []byte(paras)}
			reply, err := s.deliver(ctx, cmd)
			want := fmt.Sprintf(`{"result_code":0,"response_name":"C%d","paras":%s}`, i, paras)
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s: %w", cmd.CommandID, err)
			case string(reply) != want:
				errs <- fmt.Errorf("%s: reply %s, want %s", cmd.CommandID, reply, want)
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
	if n := s.path.Pending(); n != 0 {
		t.Errorf("%d waiters left behind", n)
	}
}

func TestDeliver_TimeoutThenLateReply(t *testing.T) {
	s := mqServer(t, Device{ID: "slow"})
	dev := mqDevice(t, s, "slow", "secret-slow")

	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		_, err := s.deliver(short, Command{DeviceID: "slow", CommandID: "late", Paras: []byte(`{}`)})
		got <- err
	}()
	mqNextCommand(t, dev) // received, but the device answers only after the timeout
	if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deliver = %v, want context.DeadlineExceeded", err)
	}
	mqToken(t, dev.client.Publish("$oc/devices/slow/sys/commands/response/request_id=late", 1, false, `{"result_code":0}`))

	// A second, answered command: the broker handles the device's publishes in order, so
	// once this reply is matched the late one has been seen too.
	ctx := mqCtx(t)
	go func() {
		_, err := s.deliver(ctx, Command{DeviceID: "slow", CommandID: "next", Paras: []byte(`{}`)})
		got <- err
	}()
	mqNextCommand(t, dev)
	mqToken(t, dev.client.Publish("$oc/devices/slow/sys/commands/response/request_id=next", 1, false, `{}`))
	if err := <-got; err != nil {
		t.Fatalf("second deliver: %v", err)
	}
	late := mqJournal(s, EntryLateReply, "slow")
	if len(late) != 1 || late[0].CommandID != "late" || string(late[0].Body) != `{"result_code":0}` {
		t.Fatalf("late replies = %+v, want the reply to \"late\"", late)
	}
	for _, e := range mqJournal(s, EntryReply, "slow") {
		if e.CommandID == "late" {
			t.Errorf("the late reply was journaled as a matched reply")
		}
	}
}

func TestDeliver_ParasBytePreserved(t *testing.T) {
	s := mqServer(t, Device{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}})
	for _, paras := range []string{
		`{"n":12345678901234567890,"f":0.1}`,
		`{ "spaced" : [1, 2.50, 1e400],  "s":"<&>\u00e9" }`,
	} {
		reply, err := s.deliver(mqCtx(t), Command{DeviceID: "echo", CommandID: "c" + fmt.Sprint(len(paras)),
			ServiceID: "svc", CommandName: "SET", Paras: []byte(paras)})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"result_code":0,"response_name":"SET","paras":` + paras + `}`; string(reply) != want {
			t.Errorf("reply %s, want %s", reply, want)
		}
	}
	d := s.Deliveries("echo")
	if want := `{"service_id":"svc","command_name":"SET","paras":{"n":12345678901234567890,"f":0.1}}`; len(d) == 0 || string(d[0].Body) != want {
		t.Errorf("delivered %+v, want body %s", d, want)
	}
}

func TestDeliver_DuplicatePendingCommandID(t *testing.T) {
	s := mqServer(t, Device{ID: "quiet"})
	dev := mqDevice(t, s, "quiet", "secret-quiet")
	ctx, cancel := context.WithCancel(mqCtx(t))
	first := make(chan error, 1)
	go func() {
		_, err := s.deliver(ctx, Command{DeviceID: "quiet", CommandID: "same", Paras: []byte(`{}`)})
		first <- err
	}()
	mqNextCommand(t, dev)
	if _, err := s.deliver(ctx, Command{DeviceID: "quiet", CommandID: "same", Paras: []byte(`{}`)}); err == nil ||
		!strings.Contains(err.Error(), "already pending") {
		t.Errorf("second deliver with a pending id: %v, want an error", err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("first deliver = %v, want context.Canceled", err)
	}
	if s.path.Pending() != 0 {
		t.Errorf("a cancelled command left its waiter behind")
	}
}

func TestDeliver_CloseEndsPendingCommands(t *testing.T) {
	s, err := New(Options{Now: mqClock, Devices: []Device{{ID: "quiet"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	dev := mqDevice(t, s, "quiet", "secret-quiet")
	ctx := mqCtx(t)
	got := make(chan error, 1)
	go func() {
		_, err := s.deliver(ctx, Command{DeviceID: "quiet", CommandID: "c", Paras: []byte(`{}`)})
		got <- err
	}()
	mqNextCommand(t, dev)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-got:
		if !errors.Is(err, delivery.ErrClosed) {
			t.Errorf("deliver = %v, want delivery.ErrClosed", err)
		}
	case <-time.After(mqWait):
		t.Fatal("a pending deliver outlived Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestAddDevice_Validation(t *testing.T) {
	s := mqServer(t, Device{ID: "dup"})
	tests := map[string]Device{
		"invalid id":     {ID: "bad/id"},
		"empty id":       {ID: ""},
		"long id":        {ID: strings.Repeat("x", 129)},
		"duplicate":      {ID: "dup"},
		"unknown kind":   {ID: "k", Simulated: &Behavior{Kind: "dance"}},
		"bad response":   {ID: "r", Simulated: &Behavior{Response: json.RawMessage(`{`)}},
		"negative delay": {ID: "d", Simulated: &Behavior{Delay: -time.Second}},
	}
	for name, d := range tests {
		if err := s.AddDevice(d); err == nil {
			t.Errorf("%s: AddDevice accepted %+v", name, d)
		}
	}
	devs := s.Devices()
	if len(devs) != 1 || devs[0].ID != "dup" || devs[0].Secret != "secret-dup" {
		t.Errorf("registry = %+v, want only dup with its default secret", devs)
	}
}

func TestAddDevice_SimulatedNeedsBroker(t *testing.T) {
	s, err := New(Options{Now: mqClock})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddDevice(Device{ID: "sim", Simulated: &Behavior{}}); !errors.Is(err, errNotStarted) {
		t.Errorf("add before start = %v, want errNotStarted", err)
	}
	if err := s.AddDevice(Device{ID: "plain"}); err != nil {
		t.Errorf("registering a plain device before start: %v", err)
	}
	if devs := s.Devices(); len(devs) != 1 || devs[0].ID != "plain" {
		t.Errorf("registry %+v, want only the plain device", devs)
	}
	if err := s.Close(); err != nil {
		t.Errorf("close before start: %v", err)
	}
}

func TestRemoveDevice_DropsSession(t *testing.T) {
	s := mqServer(t, Device{ID: "sim", Simulated: &Behavior{}}, Device{ID: "raw"})
	mqDevice(t, s, "raw", "secret-raw")
	if !s.Online("sim") || !s.Online("raw") {
		t.Fatal("devices not online")
	}
	s.RemoveDevice("sim")
	s.RemoveDevice("raw")
	mqWaitFor(t, s, "both sessions to end", func() bool {
		return len(mqJournal(s, EntryDisconnect, "sim")) == 1 && len(mqJournal(s, EntryDisconnect, "raw")) == 1
	})
	if s.Online("sim") || s.Online("raw") || len(s.Devices()) != 0 {
		t.Errorf("removed devices still online or registered: %+v", s.Devices())
	}
	if _, err := s.deliver(mqCtx(t), Command{DeviceID: "raw", CommandID: "c", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceNotFound) {
		t.Errorf("deliver to a removed device: %v, want ErrDeviceNotFound", err)
	}
	// The id can be registered again and comes back online.
	if err := s.AddDevice(Device{ID: "sim", Simulated: &Behavior{}}); err != nil {
		t.Fatalf("re-adding: %v", err)
	}
	if !s.Online("sim") {
		t.Error("re-added simulated device is not online")
	}
}
