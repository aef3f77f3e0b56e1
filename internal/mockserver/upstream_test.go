package mockserver

import (
	"encoding/json"
	"fmt"
	"testing"
)

// oddReplies are device payloads the HTTP side must be handed byte for byte (the README's
// "How device replies reach the provider" decides what the answer makes of them).
var oddReplies = []string{"", "   ", "\n", "null", "not json", `{"a":`, "\xff\xfe", `"text"`, `[1,2]`, "0"}

// TestDeliver_OddRepliesPassUnchanged has a device answer with empty, blank, non-JSON and
// invalid UTF-8 payloads: deliver returns each exactly, an empty one as an empty (non-nil)
// reply rather than as no reply.
func TestDeliver_OddRepliesPassUnchanged(t *testing.T) {
	s := mqServer(t, Device{ID: "odd", Secret: "k"})
	dev := mqDevice(t, s, "odd", "k")
	ctx := mqCtx(t)
	for i, payload := range oddReplies {
		id := fmt.Sprintf("c%d", i)
		type result struct {
			reply json.RawMessage
			err   error
		}
		done := make(chan result, 1)
		go func() {
			r, err := s.deliver(ctx, Command{DeviceID: "odd", CommandID: id, Paras: []byte(`{}`)})
			done <- result{r, err}
		}()
		mqNextCommand(t, dev)
		mqToken(t, dev.client.Publish("$oc/devices/odd/sys/commands/response/request_id="+id, 1, false, []byte(payload)))
		r := <-done
		if r.err != nil || r.reply == nil || string(r.reply) != payload {
			t.Errorf("payload %q: deliver = %q (nil %v), %v", payload, r.reply, r.reply == nil, r.err)
		}
	}
}

// TestSimulatedRawResponses checks that simulated and fleet devices publish a raw_response
// byte for byte, empty included.
func TestSimulatedRawResponses(t *testing.T) {
	var devices []Device
	var fleets []Fleet
	for i, payload := range oddReplies {
		devices = append(devices, Device{ID: fmt.Sprintf("sim-%d", i), Simulated: &Behavior{RawResponse: &payload}})
		fleets = append(fleets, Fleet{Prefix: fmt.Sprintf("fleet%d-", i), Count: 1, Behavior: Behavior{Kind: BehaviorReply, RawResponse: &payload}})
	}
	s := NewForTest(t, Options{Now: mqClock, Devices: devices, Fleets: fleets})
	for i, payload := range oddReplies {
		for _, id := range []string{fmt.Sprintf("sim-%d", i), fmt.Sprintf("fleet%d-1", i)} {
			reply, err := s.deliver(mqCtx(t), Command{DeviceID: id, CommandID: "c", Paras: []byte(`{}`)})
			if err != nil || reply == nil || string(reply) != payload {
				t.Errorf("%s: deliver = %q (nil %v), %v; want %q", id, reply, reply == nil, err, payload)
			}
		}
	}
}
