package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestSimDevice_Behaviours(t *testing.T) {
	const delay = 150 * time.Millisecond
	s := mqServer(t,
		Device{ID: "default", Simulated: &Behavior{}},
		Device{ID: "custom", Simulated: &Behavior{Kind: BehaviorReply, Response: json.RawMessage(`{"response_name":"R","paras":{"v":1.50}}`)}},
		Device{ID: "failing", Simulated: &Behavior{Response: json.RawMessage(`{"paras":{"x":1e2},"result_code":0,"response_name":"R"}`), ResultCode: 7}},
		Device{ID: "failing-echo", Simulated: &Behavior{Kind: BehaviorEcho, ResultCode: -1}},
		Device{ID: "slow", Simulated: &Behavior{Delay: delay}},
	)
	tests := []struct {
		device string
		want   string
	}{
		{"default", `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`},
		{"custom", `{"response_name":"R","paras":{"v":1.50}}`},
		{"failing", `{"paras":{"x":1e2},"result_code":7,"response_name":"R"}`},
		{"failing-echo", `{"result_code":-1,"response_name":"GO","paras":{"a":[1,2]}}`},
		{"slow", `{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`},
	}
	for _, tt := range tests {
		start := time.Now()
		reply, err := s.deliver(mqCtx(t), Command{DeviceID: tt.device, CommandID: "c-" + tt.device,
			CommandName: "GO", Paras: []byte(`{"a":[1,2]}`)})
		if err != nil {
			t.Errorf("%s: deliver: %v", tt.device, err)
			continue
		}
		if string(reply) != tt.want {
			t.Errorf("%s: reply %s, want %s", tt.device, reply, tt.want)
		}
		if tt.device == "slow" && time.Since(start) < delay {
			t.Errorf("slow device answered after %v, before its %v delay", time.Since(start), delay)
		}
	}
}

func TestSimDevice_Silent(t *testing.T) {
	s := mqServer(t, Device{ID: "quiet", Simulated: &Behavior{Kind: BehaviorSilent}})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := s.deliver(ctx, Command{DeviceID: "quiet", CommandID: "c", Paras: []byte(`{}`)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deliver = %v, want context.DeadlineExceeded", err)
	}
	if len(s.Deliveries("quiet")) != 1 || len(mqJournal(s, EntryReply, "quiet")) != 0 {
		t.Errorf("journal %+v, want one delivery and no reply", s.Journal())
	}
}

func TestSimDevice_DisconnectAfter(t *testing.T) {
	s := mqServer(t, Device{ID: "flaky", Simulated: &Behavior{Kind: BehaviorEcho, DisconnectAfter: 2}})
	for _, id := range []string{"c1", "c2"} {
		if _, err := s.deliver(mqCtx(t), Command{DeviceID: "flaky", CommandID: id, Paras: []byte(`{}`)}); err != nil {
			t.Fatalf("deliver %s: %v", id, err)
		}
	}
	mqWaitFor(t, s, "the device to disconnect after 2 answers", func() bool { return !s.Online("flaky") })
	if _, err := s.deliver(mqCtx(t), Command{DeviceID: "flaky", CommandID: "c3", Paras: []byte(`{}`)}); !errors.Is(err, ErrDeviceOffline) {
		t.Fatalf("deliver after the disconnect: %v, want ErrDeviceOffline", err)
	}
	if d := mqJournal(s, EntryDisconnect, "flaky"); len(d) != 1 {
		t.Errorf("journal disconnects %+v, want 1", d)
	}
	// It stays offline: no reconnect. Removing it must still stop it cleanly.
	s.RemoveDevice("flaky")
	if n := len(mqJournal(s, EntryConnect, "flaky")); n != 1 {
		t.Errorf("the device connected %d times, want once", n)
	}
}
