package iotda

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// These tests pin the batch task client's wire format and its retry policy against scripted
// servers; batchtask_mock_test.go runs it against the mock platform.

const createdTask = `{"task_id":"64f1c2a9e4b0a1b2c3d4e5f6","task_name":"n_1","task_type":"createCommands",` +
	`"targets":["d1","d2"],"document":{"paras":{"a":1}},"status":"Initializing",` +
	`"task_progress":{"total":2,"waitting":2},"create_time":"20260102T030405Z"}`

var newTask = NewBatchTask{TaskName: "n_1", Targets: []string{"d1", "d2"}, Document: json.RawMessage(`{"paras":{"a":1}}`)}

func TestCreateBatchTask_BodyAndAnswer(t *testing.T) {
	for _, status := range []int{http.StatusOK, http.StatusCreated, http.StatusAccepted} {
		ts := newTestServer(t, reply(status, createdTask))
		c := newTestClient(t, ts.URL, func(c *Config) { c.InstanceID = "inst-1" })
		doc, err := CommandDocument("Maintenance", "REBOOT", json.RawMessage(` {"n":12345678901234567890, "h":"<&>"} `))
		if err != nil {
			t.Fatal(err)
		}
		count, interval := int32(2), int32(5)
		task, err := c.CreateBatchTask(t.Context(), NewBatchTask{TaskName: "n_1", AppID: "space", Targets: []string{"d1", "d2"},
			Document: doc, Policy: &TaskPolicy{RetryCount: &count, RetryInterval: &interval}})
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		got := ts.lastRequest()
		want := `{"app_id":"space","task_name":"n_1","task_type":"createCommands","targets":["d1","d2"],` +
			`"document":{"service_id":"Maintenance","command_name":"REBOOT","paras":{"n":12345678901234567890,"h":"<&>"}},` +
			`"task_policy":{"retry_count":2,"retry_interval":5}}`
		if got.method != http.MethodPost || got.escapedPath != "/v5/iot/proj-1/batchtasks" || string(got.body) != want {
			t.Fatalf("%s %s\n got %s\nwant %s", got.method, got.escapedPath, got.body, want)
		}
		for k, v := range map[string]string{"X-Auth-Token": testToken, "Instance-Id": "inst-1", "Content-Type": "application/json"} {
			if got.header.Get(k) != v {
				t.Errorf("header %s = %q", k, got.header.Get(k))
			}
		}
		if task.TaskID != "64f1c2a9e4b0a1b2c3d4e5f6" || task.Status != TaskInitializing || task.Progress.Total != 2 ||
			task.Progress.Waitting != 2 || !task.CreatedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) ||
			string(task.Document) != `{"paras":{"a":1}}` || len(task.Targets) != 2 {
			t.Fatalf("task %+v", task)
		}
	}
}

func TestCreateBatchTask_GroupsAreATargetsFilter(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusCreated, createdTask))
	c := newTestClient(t, ts.URL, nil)
	if _, err := c.CreateBatchTask(t.Context(), NewBatchTask{TaskName: "g", GroupIDs: []string{"aa-1", "bb-2"},
		Document: json.RawMessage(`{"paras":{}}`)}); err != nil {
		t.Fatal(err)
	}
	want := `{"task_name":"g","task_type":"createCommands","targets_filter":{"group_ids":["aa-1","bb-2"]},"document":{"paras":{}}}`
	if got := ts.lastRequest().body; string(got) != want {
		t.Fatalf("body %s\nwant %s", got, want)
	}
}

func TestCreateBatchTask_RefusesBadInputWithoutSending(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusCreated, createdTask))
	c := newTestClient(t, ts.URL, nil)
	for _, bad := range []NewBatchTask{
		{Targets: []string{"d1"}, Document: json.RawMessage(`{}`)},
		{TaskName: "x", Document: json.RawMessage(`{}`)},
		{TaskName: "x", Targets: []string{"d1"}, Document: json.RawMessage(`{"paras":`)},
	} {
		if _, err := c.CreateBatchTask(t.Context(), bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := CommandDocument("s", "c", json.RawMessage(`[1]`)); err == nil {
		t.Error("CommandDocument accepted paras that are not an object")
	}
	if ts.hits.Load() != 0 {
		t.Fatalf("server hit %d times", ts.hits.Load())
	}
}

func TestCreateBatchTask_AnswerWithoutATaskIsOutcomeUnknown(t *testing.T) {
	for name, body := range map[string]string{
		"no task_id": `{"status":"Initializing"}`, "not JSON": `<html>`, "empty": ``,
		"oversize": `{"task_id":"a","pad":"` + strings.Repeat("x", maxResponseBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, reply(http.StatusCreated, body))
			c := newTestClient(t, ts.URL, nil)
			_, err := c.CreateBatchTask(t.Context(), newTask)
			var unknown *DeliveryUnknownError
			if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "may have created the batch task") ||
				unknown.RequestID != "req-123" {
				t.Fatalf("err = %v", err)
			}
			if ts.hits.Load() != 1 {
				t.Fatalf("hits = %d: a create that reached the platform is never sent again", ts.hits.Load())
			}
		})
	}
}

func TestCreateBatchTask_RetryPolicyIsTheCommandsOne(t *testing.T) {
	// A server error and a connection lost after the request are never retried.
	for _, status := range []int{500, 502, 503} {
		ts := newTestServer(t, reply(status, `{"error_code":"X"}`))
		c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 5 })
		if _, err := c.CreateBatchTask(t.Context(), newTask); !errors.Is(err, ErrServer) || ts.hits.Load() != 1 {
			t.Fatalf("%d: err %v after %d hits", status, err, ts.hits.Load())
		}
	}
	ts := newTestServer(t, hijackAndClose)
	c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 5 })
	_, err := c.CreateBatchTask(t.Context(), newTask)
	var unknown *DeliveryUnknownError
	if !errors.As(err, &unknown) || ts.hits.Load() != 1 {
		t.Fatalf("lost answer: err %v after %d hits", err, ts.hits.Load())
	}
	// Throttling is retried.
	var calls atomic.Int32
	ts = newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			reply(http.StatusTooManyRequests, `{"error_code":"APIGW.0308"}`)(w, r)
			return
		}
		reply(http.StatusCreated, createdTask)(w, r)
	})
	c = newTestClient(t, ts.URL, nil)
	if task, err := c.CreateBatchTask(t.Context(), newTask); err != nil || task.TaskID == "" || calls.Load() != 2 {
		t.Fatalf("throttled: task %+v, err %v, %d calls", task, err, calls.Load())
	}
	// A refused connection is retried, then reported as not created.
	c = newTestClient(t, "http://"+testutil.ClosedAddr(t), func(c *Config) { c.MaxRetries = 2 })
	_, err = c.CreateBatchTask(t.Context(), newTask)
	var notSent *NotSentError
	if !errors.As(err, &notSent) || notSent.Attempts != 3 || !strings.Contains(err.Error(), "the batch task was not created") {
		t.Fatalf("refused: %v", err)
	}
}

// hijackAndClose drops the connection after reading the request: the client cannot tell
// whether the platform acted on it.
func hijackAndClose(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// detailsServer answers ShowBatchTask for n subtasks t1..tn, paging by marker as the
// platform does; record ids are n-i.
func detailsServer(t *testing.T, n int, status string, seen *[]string) *testServer {
	return newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		*seen = append(*seen, r.URL.RawQuery)
		limit, _ := strconv.Atoi(q.Get("limit"))
		start := 0
		if m := q.Get("marker"); m != "" {
			id, _ := strconv.ParseInt(m, 16, 64)
			start = n - int(id) + 1
		}
		var details []string
		last := ""
		for i := start; i < n && len(details) < limit; i++ {
			details = append(details, fmt.Sprintf(`{"target":"t%d","status":"Success","output":"{\"command_id\":\"c%d\"}"}`, i+1, i+1))
			last = fmt.Sprintf("%024x", n-i)
		}
		reply(http.StatusOK, fmt.Sprintf(`{"batchtask":{"task_id":"abc","status":%q,"task_progress":{"total":%d,"success":%d}},`+
			`"task_details":[%s],"page":{"count":%d,"marker":%q}}`, status, n, n, strings.Join(details, ","), n, last))(w, r)
	})
}

func TestShowBatchTask_ReadsEveryPageByMarker(t *testing.T) {
	var seen []string
	ts := detailsServer(t, 120, TaskSuccess, &seen)
	c := newTestClient(t, ts.URL, nil)
	d, err := c.ShowBatchTask(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Subtasks) != 120 || d.Subtasks[0].Target != "t1" || d.Subtasks[119].Target != "t120" || d.Count != 120 ||
		d.Task.TaskID != "abc" || d.Task.Status != TaskSuccess || d.Task.Progress.Success != 120 {
		t.Fatalf("%d subtasks, first %+v, count %d, task %+v", len(d.Subtasks), d.Subtasks[0], d.Count, d.Task)
	}
	if d.Subtasks[41].Output != `{"command_id":"c42"}` {
		t.Errorf("output %q: the wire string's text", d.Subtasks[41].Output)
	}
	want := []string{"limit=50", "limit=50&marker=000000000000000000000047", "limit=50&marker=000000000000000000000015"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("queries %v\nwant    %v: marker paging, offset never used", seen, want)
	}
	if got := ts.lastRequest(); got.method != http.MethodGet || got.escapedPath != "/v5/iot/proj-1/batchtasks/abc" {
		t.Errorf("request %s %s", got.method, got.escapedPath)
	}
}

func TestShowBatchTask_StopsWhenTheMarkerDoesNotAdvance(t *testing.T) {
	var hits atomic.Int32
	page := `{"batchtask":{"task_id":"abc","status":"Success"},"task_details":[` +
		strings.TrimSuffix(strings.Repeat(`{"target":"t","status":"Success"},`, 50), ",") + `],"page":{"count":500,"marker":"%s"}}`
	for name, marker := range map[string]string{"same marker": "000000000000000000000001", "no marker": ""} {
		ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			reply(http.StatusOK, fmt.Sprintf(page, marker))(w, r)
		})
		c := newTestClient(t, ts.URL, nil)
		_, err := c.ShowBatchTask(t.Context(), "abc")
		if err == nil || !strings.Contains(err.Error(), "did not advance") || ts.hits.Load() > 2 {
			t.Fatalf("%s: err %v after %d requests", name, err, ts.hits.Load())
		}
	}
}

func TestShowBatchTask_DecodesOutputsAndErrors(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"batchtask":{"task_id":"abc","task_type":"createCommands",`+
		`"targets_filter":{"group_ids":["g1"]},"status":"PartialSuccess","status_desc":"done",`+
		`"task_policy":{"retry_count":1,"retry_interval":3},"task_progress":{"total":3,"success":1,"fail":2}},`+
		`"task_details":[{"target":"a","status":"Success","output":"{\"response\":{\"n\":1}}"},`+
		`{"target":"b","status":"Success","output":{"unexpected":"object"}},`+
		`{"target":"c","status":"Fail","error":{"error_code":"IOTDA.014016","error_msg":"offline `+testToken+`"}}],`+
		`"page":{"count":3,"marker":"000000000000000000000001"}}`))
	c := newTestClient(t, ts.URL, nil)
	d, err := c.ShowBatchTask(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	s := d.Subtasks
	if s[0].Output != `{"response":{"n":1}}` || s[1].Output != `{"unexpected":"object"}` || s[2].Output != "" ||
		s[2].ErrorCode != "IOTDA.014016" || s[2].ErrorMsg != "offline ***" {
		t.Fatalf("subtasks %+v", s)
	}
	task := d.Task
	if fmt.Sprint(task.GroupIDs) != "[g1]" || task.StatusDesc != "done" || *task.Policy.RetryCount != 1 ||
		*task.Policy.RetryInterval != 3 || task.Progress.Fail != 2 {
		t.Fatalf("task %+v", task)
	}
}

func TestShowBatchTask_GetsAreRetried(t *testing.T) {
	task := `{"batchtask":{"task_id":"abc","status":"Processing","task_progress":{"total":1}},"task_details":[],"page":{"count":1}}`
	for name, fail := range map[string]http.HandlerFunc{
		"503":       reply(http.StatusServiceUnavailable, `{"error_code":"X"}`),
		"500":       reply(http.StatusInternalServerError, `{}`),
		"throttled": reply(http.StatusTooManyRequests, `{}`),
		"lost":      hijackAndClose,
		"cut short": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"batchtask":`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= 2 {
					fail(w, r)
					return
				}
				reply(http.StatusOK, task)(w, r)
			})
			c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 2 })
			got, err := c.ShowBatchTaskSummary(t.Context(), "abc")
			if err != nil || got.Status != TaskProcessing || calls.Load() != 3 {
				t.Fatalf("task %+v, err %v after %d calls", got, err, calls.Load())
			}
			if q := ts.lastRequest().req.URL.RawQuery; q != "limit=1" {
				t.Errorf("summary query %q", q)
			}
			// Failing for good is an error after 1 + MaxRetries attempts (Go's transport may add
			// its own retry of a GET whose reused connection was closed).
			calls.Store(-1000)
			if _, err := c.ShowBatchTaskSummary(t.Context(), "abc"); err == nil || calls.Load()+1000 < 3 {
				t.Fatalf("err %v after %d calls, want an error after at least 3", err, calls.Load()+1000)
			}
		})
	}
}

func TestShowBatchTask_ErrorsAreTyped(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   error
	}{
		{http.StatusNotFound, `{"error_code":"IOTDA.016404","error_msg":"no task"}`, ErrNotFound},
		{http.StatusUnauthorized, `{"error_code":"IOTDA.000002"}`, ErrUnauthorized},
		{http.StatusForbidden, `{"error_code":"IOTDA.000004"}`, ErrForbidden},
		{http.StatusBadRequest, `{"error_code":"IOTDA.000017"}`, ErrBadRequest},
	} {
		ts := newTestServer(t, reply(c.status, c.body))
		client := newTestClient(t, ts.URL, nil)
		_, err := client.ShowBatchTask(t.Context(), "abc")
		var apiErr *APIError
		if !errors.Is(err, c.want) || !errors.As(err, &apiErr) || apiErr.RequestID != "req-123" || ts.hits.Load() != 1 {
			t.Errorf("%d: err %v after %d hits, want %v once", c.status, err, ts.hits.Load(), c.want)
		}
	}
	ts := newTestServer(t, reply(http.StatusOK, `{"page":{}}`))
	client := newTestClient(t, ts.URL, nil)
	var unknown *DeliveryUnknownError
	if _, err := client.ShowBatchTask(t.Context(), "abc"); !errors.As(err, &unknown) ||
		!strings.Contains(err.Error(), "got no usable answer") {
		t.Errorf("answer without a task: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b", "a?b"} {
		if _, err := client.ShowBatchTask(t.Context(), bad); err == nil {
			t.Errorf("task id %q accepted", bad)
		}
	}
}

func TestListAndFindBatchTasks(t *testing.T) {
	// Page one: 50 tasks created on January 9 (one named "mine", one "other"); page two: one
	// more "mine" from January 8, then older ones.
	task := func(id int, name string, day int) string {
		return fmt.Sprintf(`{"task_id":"%024x","task_name":%q,"task_type":"createCommands","create_time":"202601%02dT000000Z"}`, id, name, day)
	}
	var first []string
	for i := range 50 {
		name := fmt.Sprintf("t%d", i)
		switch i {
		case 3:
			name = "mine"
		case 7:
			name = "other"
		}
		first = append(first, task(200-i, name, 9))
	}
	second := []string{task(150, "mine", 8), task(149, "old", 2)}
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("marker") {
		case "":
			reply(http.StatusOK, `{"batchtasks":[`+strings.Join(first, ",")+`],"page":{"count":52,"marker":"000000000000000000000097"}}`)(w, r)
		case "000000000000000000000097":
			reply(http.StatusOK, `{"batchtasks":[`+strings.Join(second, ",")+`],"page":{"count":52,"marker":"000000000000000000000095"}}`)(w, r)
		default:
			t.Errorf("unexpected marker %q", r.URL.Query().Get("marker"))
		}
	})
	c := newTestClient(t, ts.URL, nil)
	list, err := c.ListBatchTasks(t.Context(), ListBatchTasksOptions{AppID: "space", Status: "Success", Limit: 3, Offset: 2})
	if err != nil || len(list.Tasks) != 50 || list.Count != 52 || list.Marker != "000000000000000000000097" || list.Tasks[3].TaskName != "mine" {
		t.Fatalf("list %+v, err %v", list, err)
	}
	if q := ts.lastRequest().req.URL.Query(); q.Get("task_type") != TaskTypeCreateCommands || q.Get("app_id") != "space" ||
		q.Get("status") != "Success" || q.Get("limit") != "3" || q.Get("offset") != "2" {
		t.Errorf("query %v", q)
	}
	jan := func(day int) time.Time { return time.Date(2026, 1, day, 0, 0, 0, 0, time.UTC) }
	found, err := c.FindBatchTask(t.Context(), TaskTypeCreateCommands, "other", jan(9))
	if err != nil || found == nil || found.TaskID != fmt.Sprintf("%024x", 193) {
		t.Fatalf("other: %+v, %v", found, err)
	}
	// Only tasks since January 9 count, so the older "mine" does not.
	if found, err := c.FindBatchTask(t.Context(), TaskTypeCreateCommands, "mine", jan(9)); err != nil || found == nil ||
		found.TaskID != fmt.Sprintf("%024x", 197) {
		t.Fatalf("mine since January 9: %+v, %v", found, err)
	}
	if found, err := c.FindBatchTask(t.Context(), TaskTypeCreateCommands, "absent", jan(1)); err != nil || found != nil {
		t.Fatalf("absent: %+v, %v", found, err)
	}
	if _, err := c.FindBatchTask(t.Context(), TaskTypeCreateCommands, "mine", jan(1)); err == nil ||
		!strings.Contains(err.Error(), "more than one") {
		t.Fatalf("two tasks of one name: %v", err)
	}
}

func TestDeleteBatchTask(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	c := newTestClient(t, ts.URL, nil)
	if err := c.DeleteBatchTask(t.Context(), "abc"); err != nil {
		t.Fatal(err)
	}
	if got := ts.lastRequest(); got.method != http.MethodDelete || got.escapedPath != "/v5/iot/proj-1/batchtasks/abc" || len(got.body) != 0 {
		t.Fatalf("request %s %s %q", got.method, got.escapedPath, got.body)
	}
	for status, want := range map[int]error{http.StatusNotFound: ErrNotFound, http.StatusForbidden: ErrForbidden} {
		ts := newTestServer(t, reply(status, `{"error_code":"X"}`))
		c := newTestClient(t, ts.URL, nil)
		if err := c.DeleteBatchTask(t.Context(), "abc"); !errors.Is(err, want) {
			t.Errorf("%d: %v", status, err)
		}
	}
}

func TestTaskFinished(t *testing.T) {
	for status, want := range map[string]bool{TaskSuccess: true, TaskFail: true, TaskPartialSuccess: true, TaskStopped: true,
		TaskInitializing: false, TaskWaitting: false, TaskProcessing: false, TaskStopping: false, "": false} {
		if TaskFinished(status) != want {
			t.Errorf("TaskFinished(%q) != %v", status, want)
		}
	}
}
