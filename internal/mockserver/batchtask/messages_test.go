package batchtask

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeMessages is a message service: it knows some devices, refuses a document without a
// message or with both topic fields, and records what it was asked to send.
type fakeMessages struct {
	mu       sync.Mutex
	known    map[string]bool
	sent     map[string][]json.RawMessage
	attempts map[string]int
	// failFirst makes a device's first send fail, as an unknown device does.
	failFirst map[string]bool
}

func newFakeMessages(known ...string) *fakeMessages {
	f := &fakeMessages{known: map[string]bool{}, sent: map[string][]json.RawMessage{}, attempts: map[string]int{},
		failFirst: map[string]bool{}}
	for _, id := range known {
		f.known[id] = true
	}
	return f
}

func (f *fakeMessages) CheckMessage(doc json.RawMessage) error {
	var d struct {
		Message       json.RawMessage `json:"message"`
		Topic         string          `json:"topic"`
		TopicFullName string          `json:"topic_full_name"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return err
	}
	switch {
	case len(d.Message) == 0 || string(d.Message) == "null":
		return errors.New("message is required")
	case d.Topic != "" && d.TopicFullName != "":
		return errors.New("topic and topic_full_name cannot both be set")
	}
	return nil
}

func (f *fakeMessages) SendMessage(_ context.Context, deviceID string, doc json.RawMessage) Outcome {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts[deviceID]++
	if !f.known[deviceID] || (f.failFirst[deviceID] && f.attempts[deviceID] == 1) {
		return Outcome{ErrorCode: "IOTDA.014000", ErrorMsg: "The device does not exist. device_id: " + deviceID}
	}
	f.sent[deviceID] = append(f.sent[deviceID], doc)
	var d struct {
		MessageID string `json:"message_id"`
	}
	_ = json.Unmarshal(doc, &d)
	return Outcome{MessageID: d.MessageID,
		Output: `{"message_id":"` + d.MessageID + `","result":{"status":"PENDING","created_time":"20260102T030405Z"}}`}
}

func (f *fakeMessages) sentTo(id string) []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sent[id]
}

// messageBody renders a createMessages body for targets with the given document.
func messageBody(targets []string, doc any, extra map[string]any) []byte {
	m := map[string]any{"task_name": "m_1", "task_type": "createMessages", "targets": targets, "document": doc}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// A createMessages task sends its document, as sent, through the message service to every
// target, and never through the command path; a subtask's output is the service's answer as
// a string, a refusal is its error.
func TestCreateMessages_EachTargetThroughTheMessageService(t *testing.T) {
	devs := newFakeDevices().online("d1", "d2")
	msgs := newFakeMessages("d1", "d2")
	b, events := newBackend(t, devs, func(c *Config) { c.Messages = msgs })
	doc := `{"message_id":"m-1","name":"cfg","message":{"interval":900,"big":12345678901234567890}}`
	id := create(t, b, messageBody([]string{"d1", "d2", "gone"}, json.RawMessage(doc), nil))
	task := wait(t, b, id)
	if task.Status != StatusPartialSuccess || task.Progress.Success != 2 || task.Progress.Fail != 1 {
		t.Fatalf("status %s, progress %+v; want PartialSuccess with 2 successes and 1 failure", task.Status, task.Progress)
	}
	if task.TaskType != TaskTypeCreateMessages || string(task.Document) != doc {
		t.Fatalf("task type %s, document %s; want createMessages and the document as sent", task.TaskType, task.Document)
	}
	for _, dev := range []string{"d1", "d2"} {
		if sent := msgs.sentTo(dev); len(sent) != 1 || !bytes.Equal(sent[0], []byte(doc)) {
			t.Errorf("%s was sent %s, want the document once", dev, sent)
		}
	}
	if len(devs.delivered) != 0 {
		t.Fatalf("%d commands went through the command path", len(devs.delivered))
	}

	r := show(b, id, "limit=50")
	var page struct {
		Details []struct {
			Target string `json:"target"`
			Status string `json:"status"`
			Output *string
			Error  *struct {
				ErrorCode string `json:"error_code"`
			} `json:"error"`
		} `json:"task_details"`
	}
	if err := json.Unmarshal(r.Body, &page); err != nil {
		t.Fatalf("show: %v: %s", err, r.Body)
	}
	for _, d := range page.Details {
		switch d.Target {
		case "gone":
			if d.Status != StatusFail || d.Error == nil || d.Error.ErrorCode != "IOTDA.014000" {
				t.Errorf("subtask of an unknown device: %+v", d)
			}
		default:
			if d.Status != StatusSuccess || !strings.Contains(string(r.Body), `"output":"{\"message_id\":\"m-1\"`) {
				t.Errorf("subtask %+v; the output should be the answer as a JSON string: %s", d, r.Body)
			}
		}
	}
	subtasks, _ := b.Subtasks(id)
	for _, st := range subtasks {
		if st.CommandID != "" || (st.Target != "gone" && st.MessageID != "m-1") {
			t.Errorf("subtask %+v: want the message id and no command id", st)
		}
	}
	for _, e := range events.of(EventSubtask) {
		if e.CommandID != "" || (e.Status == StatusSuccess) != (e.MessageID == "m-1") {
			t.Errorf("subtask event %+v", e)
		}
	}
}

// The document is checked by the message service's rules, and a refusal creates nothing.
func TestCreateMessages_RefusesInvalidDocuments(t *testing.T) {
	cases := map[string]struct {
		doc any
		msg string
	}{
		"no document":     {nil, "document is required for createMessages"},
		"not an object":   {"hello", "document must be a JSON object"},
		"no message":      {map[string]any{"name": "n"}, "document is not a valid message: message is required"},
		"both topics":     {map[string]any{"message": "x", "topic": "a", "topic_full_name": "/b"}, "cannot both be set"},
		"message is null": {map[string]any{"message": nil}, "message is required"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			msgs := newFakeMessages("d1")
			b, events := newBackend(t, newFakeDevices(), func(c *Config) { c.Messages = msgs })
			r := b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json",
				messageBody([]string{"d1"}, c.doc, nil))
			if r.Status != http.StatusBadRequest || errorCode(t, r) != CodeInvalidInput {
				t.Fatalf("answer %d %s, want 400 %s", r.Status, r.Body, CodeInvalidInput)
			}
			mustContain(t, r, c.msg)
			if len(b.Tasks()) != 0 || len(events.of(EventTaskCreated)) != 0 || len(msgs.sentTo("d1")) != 0 {
				t.Fatal("a refused request created a task or sent a message")
			}
		})
	}
}

// Without a message service, createMessages is refused as a task type the mock cannot run.
func TestCreateMessages_NeedTheMessageService(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices(), nil)
	r := b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json",
		messageBody([]string{"d1"}, map[string]any{"message": "x"}, nil))
	if r.Status != http.StatusBadRequest {
		t.Fatalf("answer %d %s, want 400", r.Status, r.Body)
	}
	mustContain(t, r, "message service")
}

// task_policy retries a failed message subtask, as it does a command's, and the listing of
// createMessages tasks holds message tasks only.
func TestCreateMessages_RetriesAndListing(t *testing.T) {
	msgs := newFakeMessages("d1", "d2")
	msgs.failFirst["d2"] = true
	b, _ := newBackend(t, newFakeDevices().online("d1"), func(c *Config) {
		c.Messages = msgs
		c.TimeScale = 0.0001
	})
	cmdTask := create(t, b, body([]string{"d1"}, nil))
	msgTask := create(t, b, messageBody([]string{"d1", "d2"}, map[string]any{"message": "x", "message_id": "m-2"},
		map[string]any{"task_policy": map[string]int{"retry_count": 1, "retry_interval": 1}}))
	wait(t, b, cmdTask)
	if task := wait(t, b, msgTask); task.Status != StatusSuccess {
		t.Fatalf("status %s, progress %+v; want Success after the retry", task.Status, task.Progress)
	}
	if len(msgs.sentTo("d2")) != 1 || msgs.attempts["d2"] != 2 {
		t.Fatalf("d2: %d attempts, %d sent; want the retry to send it once", msgs.attempts["d2"], len(msgs.sentTo("d2")))
	}
	tasks, page := b.List(ListQuery{TaskType: TaskTypeCreateMessages, Limit: 10})
	if page.Count != 1 || len(tasks) != 1 || tasks[0].TaskID != msgTask {
		t.Fatalf("createMessages listing: %d of %d, want the message task alone", len(tasks), page.Count)
	}
}
