package iotda

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	if _, err := c.CreateBatchTask(t.Context(), NewBatchTask{TaskName: "n_1", GroupIDs: []string{"aa-1", "bb-2"},
		Document: json.RawMessage(`{"paras":{}}`)}); err != nil {
		t.Fatal(err)
	}
	want := `{"task_name":"n_1","task_type":"createCommands","targets_filter":{"group_ids":["aa-1","bb-2"]},"document":{"paras":{}}}`
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
		"not a task id":  `{"task_id":"` + strings.Repeat("a", 2000) + `"}`,
		"another's name": `{"task_id":"abc","task_name":"someone_else"}`,
		"cut short":      `{"task_id":"abc","targets":["d1",`,
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
	// A server error and a connection lost after the request are never retried: the task
	// may exist. A 5xx answer says so, and keeps the platform's error.
	for _, status := range []int{500, 502, 503, 504} {
		ts := newTestServer(t, reply(status, `<html><body>Bad Gateway</body></html>`))
		c := newTestClient(t, ts.URL, func(c *Config) { c.MaxRetries = 5 })
		_, err := c.CreateBatchTask(t.Context(), newTask)
		var unknown *DeliveryUnknownError
		var apiErr *APIError
		if !errors.As(err, &unknown) || !errors.Is(err, ErrServer) || !errors.As(err, &apiErr) || apiErr.StatusCode != status ||
			ts.hits.Load() != 1 {
			t.Fatalf("%d: err %v after %d hits", status, err, ts.hits.Load())
		}
	}
	// A 4xx, and a 3xx answered in front of IoTDA, are refusals: nothing was created.
	for _, status := range []int{400, 403, 404, 409, 301} {
		ts := newTestServer(t, reply(status, `{"error_code":"X"}`))
		c := newTestClient(t, ts.URL, nil)
		_, err := c.CreateBatchTask(t.Context(), newTask)
		var unknown *DeliveryUnknownError
		var apiErr *APIError
		if errors.As(err, &unknown) || !errors.As(err, &apiErr) || apiErr.StatusCode != status {
			t.Fatalf("%d: err %v", status, err)
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

// detailsServer answers ShowBatchTask for n subtasks t1..tn, paging by marker and offset as
// the platform does; record ids are n-i.
func detailsServer(t *testing.T, n int, status string, seen *[]string) *testServer {
	var mu sync.Mutex
	return newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		*seen = append(*seen, r.URL.RawQuery)
		mu.Unlock()
		limit, _ := strconv.Atoi(q.Get("limit"))
		offset, _ := strconv.Atoi(q.Get("offset"))
		start := offset
		if m := q.Get("marker"); m != "" {
			id, _ := strconv.ParseInt(m, 16, 64)
			start = n - int(id) + 1 + offset
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
	d, err := c.ShowBatchTask(t.Context(), "abc", ReadOptions{Expected: 120})
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
	// The three pages at once, from the platform's default marker: the last one is short.
	slices.Sort(seen)
	want := []string{"limit=50", "limit=50&offset=100", "limit=50&offset=50"}
	if fmt.Sprint(seen) != fmt.Sprint(want) || d.Requests != 3 || d.Rounds != 1 {
		t.Fatalf("queries %v in %d rounds\nwant    %v in 1", seen, d.Rounds, want)
	}
	if got := ts.lastRequest(); got.method != http.MethodGet || got.escapedPath != "/v5/iot/proj-1/batchtasks/abc" {
		t.Errorf("request %s %s", got.method, got.escapedPath)
	}
}

// TestShowBatchTask_PagingIsBounded pins the bounds a broken or hostile server meets: each
// one ends the read with an error, after a bounded number of requests.
func TestShowBatchTask_PagingIsBounded(t *testing.T) {
	fullPage := func(marker string) string {
		return `{"batchtask":{"task_id":"abc","status":"Success"},"task_details":[` +
			strings.TrimSuffix(strings.Repeat(`{"target":"t","status":"Success"},`, 50), ",") +
			`],"page":{"count":500,"marker":"` + marker + `"}}`
	}
	markerOf := func(r *http.Request) string { return r.URL.Query().Get("marker") }
	var fresh atomic.Int64
	fresh.Store(1 << 40)
	for name, c := range map[string]struct {
		answer   func(r *http.Request) string
		expected int
		want     string
		maxHits  int32
	}{
		"same marker": {func(*http.Request) string { return fullPage("000000000000000000000001") }, 0, "did not advance", 22},
		"no marker":   {func(*http.Request) string { return fullPage("") }, 0, "did not advance", 11},
		"not hex":     {func(*http.Request) string { return fullPage("zz") }, 0, "did not advance", 11},
		// Markers cycling A, B, A: B is below A, then A is not below B.
		"cycle": {func(r *http.Request) string {
			if markerOf(r) == "00000000000000000000000b" {
				return fullPage("00000000000000000000000a")
			}
			if markerOf(r) == "00000000000000000000000a" {
				return fullPage("00000000000000000000000b")
			}
			return fullPage("00000000000000000000000b")
		}, 0, "did not advance", 33},
		// Always a fresh, lower marker: the read stops past the expected count and slack.
		"never-ending marker": {func(r *http.Request) string {
			return fullPage(fmt.Sprintf("%024x", fresh.Add(-1)))
		}, 1000, "more than 1100 subtasks", 3 * 11},
		"unknown size, never-ending marker": {func(r *http.Request) string {
			return fullPage(fmt.Sprintf("%024x", fresh.Add(-1)))
		}, 0, "more than 30100 subtasks", 56 * 11},
		"page larger than asked": {func(*http.Request) string {
			return strings.Replace(fullPage("000000000000000000000001"), `[{`, `[{"target":"x"},{`, 1)
		}, 0, "more than the 50 subtasks asked for", 11 * 2},
		"another task's page": {func(*http.Request) string {
			return strings.Replace(fullPage("000000000000000000000001"), `"abc"`, `"abd"`, 1)
		}, 0, "about batch task abd, not abc", 11 * 2},
		"a page without task_id": {func(*http.Request) string {
			return strings.Replace(fullPage("000000000000000000000001"), `"task_id":"abc",`, ``, 1)
		}, 0, "has no task_id", 11 * 2},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { reply(http.StatusOK, c.answer(r))(w, r) })
			client := newTestClient(t, ts.URL, func(cfg *Config) { cfg.MaxRetries = 1 })
			_, err := client.ShowBatchTask(t.Context(), "abc", ReadOptions{Expected: c.expected})
			if err == nil || !strings.Contains(err.Error(), c.want) || ts.hits.Load() > c.maxHits {
				t.Fatalf("err %v after %d requests, want %q within %d", err, ts.hits.Load(), c.want, c.maxHits)
			}
		})
	}
}

func TestShowBatchTask_PagesHaveAByteBound(t *testing.T) {
	defer func(old int64) { maxBatchPageBytes = old }(maxBatchPageBytes)
	maxBatchPageBytes = 1 << 20
	// A page that never ends: its task echoes targets without end.
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"batchtask":{"task_id":"abc","targets":[`)
		for r.Context().Err() == nil {
			if _, err := io.WriteString(w, strings.Repeat(`"device-0001",`, 1000)); err != nil {
				return
			}
		}
	})
	c := newTestClient(t, ts.URL, func(cfg *Config) { cfg.MaxRetries = 0 })
	_, err := c.ShowBatchTaskSummary(t.Context(), "abc")
	if err == nil || !strings.Contains(err.Error(), "exceeds its size bound (1048576 bytes)") {
		t.Fatalf("err %v", err)
	}
}

// TestShowBatchTask_ReadsEchoesInBoundedMemory reads a task page echoing 30,000 targets and a
// large document: the summary counts the targets and keeps neither.
func TestShowBatchTask_ReadsEchoesInBoundedMemory(t *testing.T) {
	ids := make([]string, 30000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%q", fmt.Sprintf("device-%0120d", i))
	}
	body := `{"batchtask":{"task_id":"abc","status":"Success","targets":[` + strings.Join(ids, ",") +
		`],"document":{"paras":{"blob":"` + strings.Repeat("x", 8<<20) + `","deep":` + strings.Repeat("[", 5000) +
		strings.Repeat("]", 5000) + `}},"task_progress":{"total":30000,"success":30000}},"task_details":[],"page":{"count":30000}}`
	ts := newTestServer(t, reply(http.StatusOK, body))
	c := newTestClient(t, ts.URL, nil)
	task, err := c.ShowBatchTaskSummary(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	if task.TargetCount != 30000 || task.Targets != nil || task.Document != nil || task.Progress.Success != 30000 {
		t.Fatalf("task: %d targets counted, %d kept, document %d bytes, progress %+v", task.TargetCount, len(task.Targets),
			len(task.Document), task.Progress)
	}
	def, err := c.ShowBatchTaskDefinition(t.Context(), "abc")
	if err != nil {
		t.Fatal(err)
	}
	// The document exceeds what is kept: it is left out rather than cut.
	if len(def.Targets) != 30000 || def.Document != nil {
		t.Fatalf("definition: %d targets, document %d bytes", len(def.Targets), len(def.Document))
	}
}

func TestShowBatchTask_DecodesOutputsAndErrors(t *testing.T) {
	ts := newTestServer(t, reply(http.StatusOK, `{"batchtask":{"task_id":"abc","task_type":"createCommands",`+
		`"targets_filter":{"group_ids":["g1"]},"status":"PartialSuccess","status_desc":"done",`+
		`"task_policy":{"retry_count":1,"retry_interval":3},"task_progress":{"total":3,"success":1,"fail":2}},`+
		`"task_details":[{"target":"a","status":"Success","output":"{\"response\":{\"n\":1,\"t\":\"`+testToken+`\"}}"},`+
		`{"target":"b","status":"Success","output":{"unexpected":"object"}},`+
		`{"target":"c","status":"Fail","error":{"error_code":"IOTDA.014016","error_msg":"offline `+testToken+`"}}],`+
		`"page":{"count":3,"marker":"000000000000000000000001"}}`))
	c := newTestClient(t, ts.URL, nil)
	d, err := c.ShowBatchTask(t.Context(), "abc", ReadOptions{Expected: 3})
	if err != nil {
		t.Fatal(err)
	}
	s := d.Subtasks
	// A device that echoes the client's token has it hidden in its output, and says so.
	if s[0].Output != `{"response":{"n":1,"t":"***"}}` || fmt.Sprint(s[0].Redacted) != "[auth_token]" ||
		s[1].Output != `{"unexpected":"object"}` || s[1].Redacted != nil || s[2].Output != "" ||
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
		_, err := client.ShowBatchTask(t.Context(), "abc", ReadOptions{Expected: 1})
		var apiErr *APIError
		if !errors.Is(err, c.want) || !errors.As(err, &apiErr) || apiErr.RequestID != "req-123" || ts.hits.Load() != 1 {
			t.Errorf("%d: err %v after %d hits, want %v once", c.status, err, ts.hits.Load(), c.want)
		}
	}
	ts := newTestServer(t, reply(http.StatusOK, `{"page":{}}`))
	client := newTestClient(t, ts.URL, nil)
	var unknown *DeliveryUnknownError
	if _, err := client.ShowBatchTask(t.Context(), "abc", ReadOptions{}); !errors.As(err, &unknown) ||
		!strings.Contains(err.Error(), "got no usable answer") {
		t.Errorf("answer without a task: %v", err)
	}
	for _, bad := range []string{"", "..", "a/b", "a?b"} {
		if _, err := client.ShowBatchTask(t.Context(), bad, ReadOptions{}); err == nil {
			t.Errorf("task id %q accepted", bad)
		}
	}
}

func TestListBatchTasks(t *testing.T) {
	var items []string
	for i := range 50 {
		items = append(items, fmt.Sprintf(`{"task_id":"%024x","task_name":"t%d","task_type":"createCommands",`+
			`"targets":["d1","d2"],"create_time":"20260109T000000Z"}`, 200-i, i))
	}
	ts := newTestServer(t, reply(http.StatusOK, `{"batchtasks":[`+strings.Join(items, ",")+
		`],"page":{"count":52,"marker":"000000000000000000000097"}}`))
	c := newTestClient(t, ts.URL, nil)
	list, err := c.ListBatchTasks(t.Context(), ListBatchTasksOptions{AppID: "space", Status: "Success", Limit: 50, Offset: 2})
	if err != nil || len(list.Tasks) != 50 || list.Count != 52 || list.Marker != "000000000000000000000097" ||
		list.Tasks[3].TaskName != "t3" || list.Tasks[3].TargetCount != 2 || list.Tasks[3].Targets != nil {
		t.Fatalf("list %+v, err %v", list, err)
	}
	if q := ts.lastRequest().req.URL.Query(); q.Get("task_type") != TaskTypeCreateCommands || q.Get("app_id") != "space" ||
		q.Get("status") != "Success" || q.Get("limit") != "50" || q.Get("offset") != "2" {
		t.Errorf("query %v", q)
	}
}

// TestFindBatchTasks finds a task by its name among those created after a mark, newest first,
// in pages of ten, and stops at the first task older than the mark.
func TestFindBatchTasks(t *testing.T) {
	// 30 tasks, ids 230 down to 201: the three newest and 215 are named "mine"; 220 "other".
	// The mark is task 210, read at 2026-01-09 00:00:10 on the platform's clock.
	task := func(id int) string {
		name := fmt.Sprintf("t%d", id)
		switch id {
		case 230, 229, 228, 215, 205:
			name = "mine"
		case 220:
			name = "other"
		}
		sec := max(0, id-200)
		return fmt.Sprintf(`{"task_id":"%024x","task_name":%q,"task_type":"createCommands","status":"Success",`+
			`"create_time":"20260109T0000%02dZ","targets":["d1","d2"],"document":{"paras":{}}}`, id, name, sec)
	}
	var queries []string
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		top := 230
		if m := r.URL.Query().Get("marker"); m != "" {
			v, _ := strconv.ParseInt(m, 16, 64)
			top = int(v) - 1
		}
		var items []string
		for id := top; id > top-10 && id > 200; id-- {
			items = append(items, task(id))
		}
		reply(http.StatusOK, `{"batchtasks":[`+strings.Join(items, ",")+`],"page":{"count":30}}`)(w, r)
	})
	c := newTestClient(t, ts.URL, nil)
	mark := TaskMark{NewestID: fmt.Sprintf("%024x", 210), At: time.Date(2026, 1, 9, 0, 0, 10, 0, time.UTC)}
	found, err := c.FindBatchTasks(t.Context(), TaskTypeCreateCommands, "mine", mark)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range found {
		ids = append(ids, strings.TrimLeft(f.TaskID, "0"))
	}
	// 205 is older than the mark; 215 is not.
	if fmt.Sprint(ids) != "[e6 e5 e4 d7]" || found[0].Status != TaskSuccess || found[0].CreatedAt.Second() != 30 {
		t.Fatalf("found %v (%+v)", ids, found)
	}
	// Two pages of ten and one of the third (it holds 210 and stops there); small pages.
	if len(queries) != 3 || !strings.Contains(queries[0], "limit=10") || !strings.Contains(queries[0], "task_type=createCommands") {
		t.Fatalf("queries %v", queries)
	}
	if found, err := c.FindBatchTasks(t.Context(), TaskTypeCreateCommands, "other", mark); err != nil || len(found) != 1 {
		t.Fatalf("other: %+v, %v", found, err)
	}
	if found, err := c.FindBatchTasks(t.Context(), TaskTypeCreateCommands, "absent", mark); err != nil || len(found) != 0 {
		t.Fatalf("absent: %+v, %v", found, err)
	}
	// Without an id, the platform's clock alone marks where the older tasks begin (2 s slack).
	if found, err := c.FindBatchTasks(t.Context(), TaskTypeCreateCommands, "mine",
		TaskMark{At: time.Date(2026, 1, 9, 0, 0, 20, 0, time.UTC)}); err != nil || len(found) != 3 {
		t.Fatalf("by time: %+v, %v", found, err)
	}
}

func TestFindBatchTasks_IsBounded(t *testing.T) {
	page := func(from int) string {
		var items []string
		for id := from; id > from-10; id-- {
			items = append(items, fmt.Sprintf(`{"task_id":"%024x","task_name":"x"}`, id))
		}
		return `{"batchtasks":[` + strings.Join(items, ",") + `],"page":{}}`
	}
	for name, c := range map[string]struct {
		answer func(r *http.Request) string
		want   string
	}{
		// The same page whatever the marker: its first task is not below the marker.
		"cycle": {func(*http.Request) string { return page(100) }, "not below the marker"},
		"more than asked": {func(*http.Request) string {
			return strings.Replace(page(100), `[`, `[{"task_id":"ff"},`, 1)
		}, "more than the 10 tasks asked for"},
		// Fresh tasks without end and nothing telling their age: the lookup gives up.
		"no end": {func(r *http.Request) string {
			top := 1 << 40
			if m := r.URL.Query().Get("marker"); m != "" {
				v, _ := strconv.ParseInt(m, 16, 64)
				top = int(v) - 1
			}
			return page(top)
		}, "1000 tasks were read"},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { reply(http.StatusOK, c.answer(r))(w, r) })
			client := newTestClient(t, ts.URL, func(cfg *Config) { cfg.MaxRetries = 0 })
			_, err := client.FindBatchTasks(t.Context(), TaskTypeCreateCommands, "mine", TaskMark{})
			if err == nil || !strings.Contains(err.Error(), c.want) || ts.hits.Load() > 101 {
				t.Fatalf("err %v after %d requests", err, ts.hits.Load())
			}
		})
	}
}

func TestMarkBatchTasks(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("limit") != "1" {
			t.Errorf("query %s", r.URL.RawQuery)
		}
		w.Header().Set("Date", "Fri, 09 Jan 2026 00:00:10 GMT")
		reply(http.StatusOK, `{"batchtasks":[{"task_id":"00000000000000000000abcd","targets":["d1"]}],"page":{"count":9}}`)(w, r)
	})
	c := newTestClient(t, ts.URL, nil)
	m, err := c.MarkBatchTasks(t.Context(), TaskTypeCreateCommands)
	if err != nil || m.NewestID != "00000000000000000000abcd" || m.Local || !m.At.Equal(time.Date(2026, 1, 9, 0, 0, 10, 0, time.UTC)) {
		t.Fatalf("mark %+v, %v", m, err)
	}
	ts = newTestServer(t, reply(http.StatusForbidden, `{"error_code":"IOTDA.000004"}`))
	c = newTestClient(t, ts.URL, nil)
	if m, err := c.MarkBatchTasks(t.Context(), TaskTypeCreateCommands); err == nil || !m.Local || m.NewestID != "" || m.At.IsZero() {
		t.Fatalf("refused list: mark %+v, %v", m, err)
	}
}

func TestCheckSubtasks(t *testing.T) {
	sub := func(ids ...string) []Subtask {
		out := make([]Subtask, len(ids))
		for i, id := range ids {
			out[i] = Subtask{Target: id, Status: TaskSuccess}
		}
		return out
	}
	if p := CheckSubtasks([]string{"a", "b"}, 2, sub("b", "a")); p != nil {
		t.Fatalf("matching results: %v", p)
	}
	p := CheckSubtasks([]string{"a", "b", "c"}, 3, sub("b", "x", "b"))
	if p == nil || fmt.Sprint(p.Missing, p.Unexpected, p.Duplicated) != "[a c] [x] [b]" ||
		p.Error() != "the results do not match the task: 2 targeted device(s) missing (a, c); "+
			"1 device(s) that were not targeted (x); 1 device(s) listed more than once (b)" {
		t.Fatalf("problem %+v: %v", p, p)
	}
	// Every device missing.
	if p := CheckSubtasks([]string{"a", "b"}, 2, nil); p == nil || len(p.Missing) != 2 {
		t.Fatalf("nothing read: %+v", p)
	}
	// Group targets: the count and the duplicates are what can be checked.
	if p := CheckSubtasks(nil, 3, sub("a", "b", "c")); p != nil {
		t.Fatalf("group: %v", p)
	}
	if p := CheckSubtasks(nil, 3, sub("a", "b")); p == nil || p.Error() != "the results do not match the task: "+
		"2 device(s) read where the task counts 3" {
		t.Fatalf("group, one missing: %v", p)
	}
	if p := CheckSubtasks(nil, 2, sub("a", "a")); p == nil || len(p.Duplicated) != 1 {
		t.Fatalf("group, duplicate: %v", p)
	}
	many := make([]string, 30)
	for i := range many {
		many[i] = fmt.Sprintf("d%02d", i)
	}
	if got := ListSome(many, 5); got != "d00, d01, d02, d03, d04 and 25 more" {
		t.Fatalf("ListSome: %q", got)
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

// TestShowBatchTask_RoundsOfElevenPages: 1,200 subtasks are three rounds (550, 550 and the
// last 100) of pages read at once, not 25 pages one after the other.
func TestShowBatchTask_RoundsOfElevenPages(t *testing.T) {
	var seen []string
	ts := detailsServer(t, 1200, TaskSuccess, &seen)
	c := newTestClient(t, ts.URL, nil)
	d, err := c.ShowBatchTask(t.Context(), "abc", ReadOptions{Expected: 1200})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Subtasks) != 1200 || d.Rounds != 3 || d.Requests != 25 {
		t.Fatalf("%d subtasks in %d requests, %d rounds; want 1200 in 25 requests, 3 rounds", len(d.Subtasks),
			d.Requests, d.Rounds)
	}
}

// TestShowBatchTask_MalformedAnswersAreTold: an answer that arrived whole but is not an
// answer to the request is ErrMalformedAnswer, after the client's retries; an answer cut
// short by the connection is not.
func TestShowBatchTask_MalformedAnswersAreTold(t *testing.T) {
	task := `"batchtask":{"task_id":"abc","status":"Processing","task_progress":{"total":2}}`
	for name, c := range map[string]struct {
		handler   http.HandlerFunc
		malformed bool
	}{
		"no task_id":          {reply(http.StatusOK, `{"batchtask":{"status":"Processing"},"task_details":[]}`), true},
		"another task":        {reply(http.StatusOK, `{"batchtask":{"task_id":"def"},"task_details":[]}`), true},
		"no batchtask":        {reply(http.StatusOK, `{"task_details":[]}`), true},
		"a subtask too many":  {reply(http.StatusOK, `{`+task+`,"task_details":[{"target":"d1"},{"target":"d2"}]}`), true},
		"not JSON":            {reply(http.StatusOK, `{"batchtask":<html>`), true},
		"data after the JSON": {reply(http.StatusOK, `{`+task+`} {}`), true},
		"cut short": {func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "500")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{`+task+`,"task_details":[`)
		}, false},
		"connection lost": {hijackAndClose, false},
	} {
		t.Run(name, func(t *testing.T) {
			ts := newTestServer(t, c.handler)
			client := newTestClient(t, ts.URL, nil)
			_, err := client.ShowBatchTaskSummary(t.Context(), "abc")
			var unknown *DeliveryUnknownError
			if !errors.As(err, &unknown) || errors.Is(err, ErrMalformedAnswer) != c.malformed || ts.hits.Load() != 4 {
				t.Fatalf("err %v after %d hits, want a DeliveryUnknownError, malformed %v, after 4", err,
					ts.hits.Load(), c.malformed)
			}
		})
	}
	// Pages that do not add up are malformed too.
	var seen []string
	ts := detailsServer(t, 120, "Success", &seen)
	client := newTestClient(t, ts.URL, nil)
	if _, err := client.ShowBatchTask(t.Context(), "abc", ReadOptions{Expected: 10}); !errors.Is(err, ErrMalformedAnswer) {
		t.Errorf("more subtasks than expected: %v", err)
	}
}

// TestTaskMark_Older: the task the mark read is older however close its create time; other
// tasks are older only when every clue known says so.
func TestTaskMark_Older(t *testing.T) {
	at := time.Date(2026, 1, 9, 0, 0, 10, 0, time.UTC)
	m := TaskMark{NewestID: "00000000000000000000000a", At: at}
	for _, c := range []struct {
		id      string
		created time.Time
		want    bool
	}{
		{"00000000000000000000000a", at, true},
		{"00000000000000000000000a", time.Time{}, true},
		{"000000000000000000000009", at.Add(-time.Minute), true},
		{"000000000000000000000009", at, false}, // its create time says it may be newer
		{"000000000000000000000009", time.Time{}, true},
		{"00000000000000000000000b", at.Add(-time.Minute), false},
	} {
		if got := m.Older(c.id, c.created); got != c.want {
			t.Errorf("Older(%s, %v) = %v", c.id, c.created, got)
		}
	}
	local := TaskMark{At: at, Local: true}
	if local.Older("00000000000000000000000a", at.Add(-LocalClockSlack/2)) || !local.Older("00000000000000000000000a",
		at.Add(-2*LocalClockSlack)) {
		t.Error("a mark of this machine's clock allows LocalClockSlack")
	}
}
