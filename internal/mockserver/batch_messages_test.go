package mockserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A createMessages task creates each target's message through the message service, as the
// message API would: delivered at once to a device online, kept for one asleep and delivered
// when it wakes, refused for an unknown device; the subtask's output is the 201 answer.
func TestBatch_MessagesThroughTheMessageService(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken,
		Devices: []Device{{ID: "echo-1", Simulated: &Behavior{Kind: BehaviorEcho}}},
		Fleets:  []Fleet{{Prefix: "meter-", Count: 3, Behavior: Behavior{Kind: BehaviorEcho}}},
	})
	if err := s.SleepDevice("meter-2", 0); err != nil {
		t.Fatal(err)
	}
	id := createTask(t, s, `{"task_name":"cfg","task_type":"createMessages","targets":["echo-1","meter-1","meter-2","nobody"],`+
		`"document":{"message_id":"m-1","name":"cfg","message":{"interval":900,"big":12345678901234567890}}}`)
	waitTask(t, s, id)
	for _, c := range []struct{ device, status, output, code string }{
		{"echo-1", "Success", `{"message_id":"m-1","result":{"status":"DELIVERED",`, ""},
		{"meter-1", "Success", `{"message_id":"m-1","result":{"status":"DELIVERED",`, ""},
		{"meter-2", "Success", `{"message_id":"m-1","result":{"status":"PENDING",`, ""},
		{"nobody", "Fail", "", "IOTDA.014000"},
	} {
		status, output, code := subtaskOf(t, s, id, c.device)
		if status != c.status || code != c.code || !strings.HasPrefix(output, c.output) || (c.output == "") != (output == "") {
			t.Errorf("%s: status %s, error %s, output %s; want %s, %q, %s", c.device, status, code, output, c.status,
				c.code, c.output)
		}
	}
	waitEntry(t, s, EntryDeviceMessage, "echo-1", "m-1") // An MQTT client: it reads the message a moment later.
	for _, dev := range []string{"echo-1", "meter-1"} {
		if got := received(s, dev); len(got) != 1 || got[0] != `m-1={"interval":900,"big":12345678901234567890}` {
			t.Errorf("%s received %v, want the message once, every digit kept", dev, got)
		}
	}
	if got := received(s, "meter-2"); len(got) != 0 {
		t.Fatalf("the sleeping meter-2 received %v", got)
	}
	if err := s.WakeDevice("meter-2"); err != nil {
		t.Fatal(err)
	}
	waitEntry(t, s, EntryMessageDelivered, "meter-2", "m-1")
	list, err := s.DeviceMessages("meter-2")
	if err != nil || len(list) != 1 || list[0].Status != "DELIVERED" {
		t.Fatalf("meter-2's messages %+v, %v", list, err)
	}
	// The journal ties each subtask to its message.
	subtasks := map[string]string{}
	for _, e := range s.Journal() {
		if e.Kind == EntryBatchSubtask {
			subtasks[e.DeviceID] = e.TaskStatus + " " + e.MessageID
		}
	}
	if subtasks["echo-1"] != "Success m-1" || subtasks["meter-2"] != "Success m-1" || subtasks["nobody"] != "Fail " {
		t.Fatalf("batch_subtask entries %v", subtasks)
	}
	// The same document again: every device already has message m-1, which IoTDA refuses.
	again := createTask(t, s, `{"task_name":"cfg_again","task_type":"createMessages","targets":["echo-1"],`+
		`"document":{"message_id":"m-1","message":"x"}}`)
	waitTask(t, s, again)
	if status, _, code := subtaskOf(t, s, again, "echo-1"); status != "Fail" || code != "IOTDA.000006" {
		t.Fatalf("a second message m-1 to echo-1: %s %s, want a refusal", status, code)
	}
	if got := received(s, "echo-1"); len(got) != 1 {
		t.Fatalf("echo-1 received %v, want one message", got)
	}
}

// The document is checked with the message API's rules, and a refusal creates nothing.
func TestBatch_MessagesDocumentChecked(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken, Devices: []Device{{ID: "d1", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	for doc, want := range map[string]string{
		`{"name":"n"}`:            "message is required",
		`{"message":"x","ttl":7}`: "multiple of 5",
		`{"message":"x","topic":"a","topic_full_name":"/b"}`: "cannot both be set",
		`"just text"`: "document must be a JSON object",
	} {
		resp, raw := do(t, nil, batchRequest(t, s, http.MethodPost, "batchtasks",
			`{"task_name":"bad","task_type":"createMessages","targets":["d1"],"document":`+doc+`}`))
		var e struct {
			ErrorCode string `json:"error_code"`
			ErrorMsg  string `json:"error_msg"`
		}
		_ = json.Unmarshal(raw, &e)
		if resp.StatusCode != http.StatusBadRequest || e.ErrorCode != "IOTDA.000006" || !strings.Contains(e.ErrorMsg, want) {
			t.Errorf("%s: %d %s, want 400 IOTDA.000006 with %q", doc, resp.StatusCode, raw, want)
		}
	}
	if n := len(s.BatchTasks()); n != 0 {
		t.Fatalf("%d tasks created", n)
	}
	if list, _ := s.DeviceMessages("d1"); len(list) != 0 {
		t.Fatalf("messages created: %+v", list)
	}
}
