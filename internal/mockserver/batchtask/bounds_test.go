package batchtask

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The backend's bounds: tasks and subtasks kept, unfinished tasks admitted.

func TestBackend_KeepsAtMostMaxSubtasks(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online(deviceIDs(4)...), func(c *Config) { c.MaxSubtasks = 7 })
	var created []string
	for range 4 {
		id := create(t, b, body(deviceIDs(3), nil))
		wait(t, b, id)
		created = append(created, id)
	}
	// Three tasks of three hold 9 > 7: the oldest finished ones go.
	tasks := b.Tasks()
	if len(tasks) != 2 || tasks[0].TaskID != created[2] || tasks[1].TaskID != created[3] {
		t.Fatalf("%d tasks kept; want the newest 2", len(tasks))
	}
	if r := show(b, created[0], ""); r.Status != http.StatusNotFound {
		t.Fatalf("an evicted task answers %d", r.Status)
	}
}

func TestBackend_RefusesTasksBeyondTheRunningBounds(t *testing.T) {
	devs := newFakeDevices().online(deviceIDs(10)...)
	devs.block = make(chan struct{})
	b, _ := newBackend(t, devs, func(c *Config) { c.MaxRunningTasks, c.MaxSubtasks = 2, 6 })
	first := create(t, b, body(deviceIDs(2), nil))
	create(t, b, body(deviceIDs(2), nil))
	// A third unfinished task would exceed MaxRunningTasks.
	r := b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json", body(deviceIDs(1), nil))
	if r.Status != http.StatusForbidden || errorCode(t, r) != CodeTooManyTasks || !strings.Contains(string(r.Body), "upper limit (2)") {
		t.Fatalf("third running task: %d %s", r.Status, r.Body)
	}
	close(devs.block)
	wait(t, b, first)
	// Now one runs at most; a task taking the unfinished subtasks past MaxSubtasks is refused.
	devs.mu.Lock()
	devs.block = make(chan struct{})
	devs.mu.Unlock()
	create(t, b, body(deviceIDs(4), nil))
	r = b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json", body(deviceIDs(3), nil))
	if r.Status != http.StatusForbidden || errorCode(t, r) != CodeTooManyTasks {
		t.Fatalf("too many subtasks running: %d %s", r.Status, r.Body)
	}
	devs.mu.Lock()
	close(devs.block)
	devs.mu.Unlock()
	// A task that fails at once (an unknown group) runs nothing and is always accepted.
	r = b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json",
		body(nil, map[string]any{"targets_filter": map[string]any{"group_ids": []string{"abcd"}}}))
	if r.Status != http.StatusCreated {
		t.Fatalf("a task failing at once: %d %s", r.Status, r.Body)
	}
}

// TestResponses_EncodeAsEncodingJSON checks the hand-written answers against encoding/json:
// the same values, for every field and awkward strings.
func TestResponses_EncodeAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `q"b\s`, "c\x00\x01\x1f\t\n\r", "<&> é 中文", "bad\xffutf8", "\u2028\u2029"} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := appendString(nil, s)
		var a, b string
		if json.Unmarshal(got, &a) != nil || json.Unmarshal(want.Bytes(), &b) != nil || a != b {
			t.Errorf("%q: encoded %s, encoding/json %s", s, got, want.Bytes())
		}
	}
	count, interval := 2, 5
	task := Task{TaskID: "00000000000000000000abcd", TaskName: "名前_1", TaskType: TaskTypeCreateCommands,
		Targets: []string{"d1", "d-2"}, GroupIDs: []string{"g"}, Document: json.RawMessage(`{"paras":{"n":1.50}}`),
		Policy: &Policy{RetryCount: &count, RetryInterval: &interval}, Status: StatusPartialSuccess, StatusDesc: "why \"so\"",
		Progress: Progress{Total: 2, Success: 1, Fail: 1}, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	got := appendTask(nil, task)
	if len(got) > taskSize(task) {
		t.Errorf("task encoded in %d bytes, more than its bound %d", len(got), taskSize(task))
	}
	want := `{"task_id":"00000000000000000000abcd","task_name":"名前_1","task_type":"createCommands","targets":["d1","d-2"],` +
		`"targets_filter":{"group_ids":["g"]},"document":{"paras":{"n":1.50}},"task_policy":{"retry_count":2,"retry_interval":5},` +
		`"status":"PartialSuccess","status_desc":"why \"so\"","task_progress":{"total":2,"processing":0,"success":1,` +
		`"fail":1,"waitting":0,"fail_wait_retry":0,"stopped":0,"removed":0},"create_time":"20260102T030405Z"}`
	if string(got) != want {
		t.Fatalf("task\n got %s\nwant %s", got, want)
	}
	st := Subtask{Target: "d1", Status: StatusFail, Output: `{"a":"<b>"}`, ErrorCode: "IOTDA.014016", ErrorMsg: "off\nline"}
	if got := appendDetail(nil, st); string(got) != `{"target":"d1","status":"Fail","output":"{\"a\":\"<b>\"}",`+
		`"error":{"error_code":"IOTDA.014016","error_msg":"off\nline"}}` || len(got) > detailSize(st) {
		t.Fatalf("detail %s", got)
	}
}

// TestResponses_ListAndShowAreValidJSON reads real answers through encoding/json.
func TestResponses_ListAndShowAreValidJSON(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online(deviceIDs(3)...), nil)
	id := create(t, b, body(deviceIDs(3), nil))
	wait(t, b, id)
	for name, r := range map[string]Response{
		"list": b.Respond(http.MethodGet, []string{"batchtasks"}, url.Values{"task_type": {TaskTypeCreateCommands}}, "", nil),
		"show": show(b, id, "limit=2"),
	} {
		var v map[string]any
		if r.Status != http.StatusOK || json.Unmarshal(r.Body, &v) != nil {
			t.Fatalf("%s: %d %s", name, r.Status, r.Body)
		}
	}
}

// TestResponses_ListAndShowAreBuiltWithinTheirReservation: RespondWithin asks for the size of
// a list or show answer before building it, answers Refused (no status, no body) when it is
// refused, and builds an answer no larger than what it reserved when it is granted; other
// routes never ask.
func TestResponses_ListAndShowAreBuiltWithinTheirReservation(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online(deviceIDs(300)...), nil)
	var ids []string
	for range 3 {
		id := create(t, b, body(deviceIDs(300), nil))
		wait(t, b, id)
		ids = append(ids, id)
	}
	list := func(reserve Reserve) Response {
		return b.RespondWithin(http.MethodGet, []string{"batchtasks"}, url.Values{"task_type": {TaskTypeCreateCommands}},
			"", nil, reserve)
	}
	showPage := func(reserve Reserve) Response {
		return b.RespondWithin(http.MethodGet, []string{"batchtasks", ids[0]}, url.Values{"limit": {"50"}}, "", nil, reserve)
	}
	for name, respond := range map[string]func(Reserve) Response{"list": list, "show": showPage} {
		asked := 0
		r := respond(func(size int) bool { asked = size; return false })
		if !r.Refused || r.Status != 0 || r.Body != nil || asked < 300*3 {
			t.Errorf("%s refused: %+v after asking %d bytes", name, r, asked)
		}
		r = respond(func(size int) bool { asked = size; return true })
		if r.Refused || r.Status != http.StatusOK || len(r.Body) > asked || len(r.Body) < 300*3 {
			t.Errorf("%s granted %d bytes: %d with %d bytes (refused %v)", name, asked, r.Status, len(r.Body), r.Refused)
		}
	}
	never := func(int) bool { t.Error("a create or a delete asked for a reservation"); return false }
	if r := b.RespondWithin(http.MethodPost, []string{"batchtasks"}, nil, "application/json", body(deviceIDs(3), nil),
		never); r.Status != http.StatusCreated {
		t.Errorf("create: %d %s", r.Status, r.Body)
	}
	if r := b.RespondWithin(http.MethodDelete, []string{"batchtasks", ids[1]}, nil, "", nil, never); r.Status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.Status, r.Body)
	}
}
