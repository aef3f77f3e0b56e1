package mockserver

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// A reply completes a command only when it comes from the device the command was sent to:
// the platform matches by device and command id together (the id is the request_id of the
// device's own topics, facts §2).

type deliverResult struct {
	reply json.RawMessage
	err   error
}

// deliverAsync delivers a command in the background.
func deliverAsync(ctx context.Context, s *Server, deviceID, commandID string) <-chan deliverResult {
	done := make(chan deliverResult, 1)
	go func() {
		r, err := s.deliver(ctx, Command{DeviceID: deviceID, CommandID: commandID, Paras: []byte(`{}`)})
		done <- deliverResult{r, err}
	}()
	return done
}

// TestDeliver_ReplyOnOwnTopicCannotCompleteAnotherDevicesCommand: a device that answers, on
// its own response topic, with the id of a command pending for another device completes
// nothing: its reply is journaled as a late reply of its own.
func TestDeliver_ReplyOnOwnTopicCannotCompleteAnotherDevicesCommand(t *testing.T) {
	s := mqServer(t, Device{ID: "victim", Secret: "v"}, Device{ID: "other", Secret: "o"})
	victim := mqDevice(t, s, "victim", "v")
	other := mqDevice(t, s, "other", "o")
	ctx := mqCtx(t)
	done := deliverAsync(ctx, s, "victim", "shared-id")
	mqNextCommand(t, victim)

	mqToken(t, other.client.Publish("$oc/devices/other/sys/commands/response/request_id=shared-id", 1, false, `{"from":"other"}`))
	// The broker handles one client's publishes in order: once this later one is journaled,
	// the one above has been handled too.
	mqToken(t, other.client.Publish("$oc/devices/other/sys/commands/response/request_id=flush", 1, false, `{}`))
	if _, err := s.WaitJournal(ctx, func(e Entry) bool { return e.DeviceID == "other" && e.CommandID == "flush" }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		t.Fatalf("the victim's command completed with another device's reply: %s %v", r.reply, r.err)
	default:
	}
	late := mqJournal(s, EntryLateReply, "other")
	if len(late) != 2 || late[0].CommandID != "shared-id" {
		t.Errorf("late replies of the other device = %+v, want shared-id then flush", late)
	}

	mqToken(t, victim.client.Publish("$oc/devices/victim/sys/commands/response/request_id=shared-id", 1, false, `{"from":"victim"}`))
	if r := <-done; r.err != nil || string(r.reply) != `{"from":"victim"}` {
		t.Fatalf("deliver = %s, %v; want the victim's own reply", r.reply, r.err)
	}
}

// TestDeliver_SameCommandIDPendingForTwoDevices: one command id pending for two devices at
// once (command ids are unique per platform, but the mock's API lets tests choose them) is
// two commands; each completes with its own device's reply, whichever answers first.
func TestDeliver_SameCommandIDPendingForTwoDevices(t *testing.T) {
	s := mqServer(t, Device{ID: "a", Secret: "ka"}, Device{ID: "b", Secret: "kb"})
	devA, devB := mqDevice(t, s, "a", "ka"), mqDevice(t, s, "b", "kb")
	ctx := mqCtx(t)
	doneA := deliverAsync(ctx, s, "a", "same")
	doneB := deliverAsync(ctx, s, "b", "same")
	mqNextCommand(t, devA)
	mqNextCommand(t, devB)

	mqToken(t, devB.client.Publish("$oc/devices/b/sys/commands/response/request_id=same", 1, false, `{"from":"b"}`))
	if r := <-doneB; r.err != nil || string(r.reply) != `{"from":"b"}` {
		t.Fatalf("b's deliver = %s, %v; want b's reply", r.reply, r.err)
	}
	select {
	case r := <-doneA:
		t.Fatalf("a's command completed with b's reply: %s %v", r.reply, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	mqToken(t, devA.client.Publish("$oc/devices/a/sys/commands/response/request_id=same", 1, false, `{"from":"a"}`))
	if r := <-doneA; r.err != nil || string(r.reply) != `{"from":"a"}` {
		t.Fatalf("a's deliver = %s, %v; want a's reply", r.reply, r.err)
	}
	for _, id := range []string{"a", "b"} {
		if d, r := len(mqJournal(s, EntryDelivery, id)), len(mqJournal(s, EntryReply, id)); d != 1 || r != 1 {
			t.Errorf("%s: %d deliveries and %d replies journaled, want 1 and 1", id, d, r)
		}
	}
}
