package batchtask

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// page is a ShowBatchTask answer.
type page struct {
	Batchtask struct {
		TaskID   string   `json:"task_id"`
		Status   string   `json:"status"`
		Progress Progress `json:"task_progress"`
	} `json:"batchtask"`
	TaskDetails []struct {
		Target string          `json:"target"`
		Status string          `json:"status"`
		Output json.RawMessage `json:"output"`
		Error  *struct {
			ErrorCode string `json:"error_code"`
			ErrorMsg  string `json:"error_msg"`
		} `json:"error"`
	} `json:"task_details"`
	Page struct {
		Count  int64  `json:"count"`
		Marker string `json:"marker"`
	} `json:"page"`
}

func showPage(t *testing.T, b *Backend, id, query string) page {
	t.Helper()
	r := show(b, id, query)
	if r.Status != http.StatusOK {
		t.Fatalf("show %s?%s: %d %s", id, query, r.Status, r.Body)
	}
	var p page
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShow_PagesByMarkerInTargetOrder(t *testing.T) {
	targets := deviceIDs(120)
	devs := newFakeDevices().online(targets...)
	b, _ := newBackend(t, devs, nil)
	id := create(t, b, body(targets, nil))
	wait(t, b, id)

	if p := showPage(t, b, id, ""); len(p.TaskDetails) != 10 || p.Page.Count != 120 {
		t.Fatalf("default page: %d details, count %d; want 10 of 120", len(p.TaskDetails), p.Page.Count)
	}
	var got []string
	marker := ""
	for pages := 0; ; pages++ {
		q := "limit=50"
		if marker != "" {
			q += "&marker=" + marker
		}
		p := showPage(t, b, id, q)
		if p.Batchtask.TaskID != id || p.Batchtask.Status != StatusSuccess {
			t.Fatalf("batchtask %+v", p.Batchtask)
		}
		for _, d := range p.TaskDetails {
			got = append(got, d.Target)
			var out string
			if err := json.Unmarshal(d.Output, &out); err != nil || d.Status != StatusSuccess {
				t.Fatalf("detail %s: status %s, output %s: the output must be a JSON string", d.Target, d.Status, d.Output)
			}
		}
		if len(p.TaskDetails) < 50 {
			if p.Page.Marker == "" && len(p.TaskDetails) > 0 {
				t.Error("a page with records names its last record as the marker")
			}
			break
		}
		if len(p.Page.Marker) != 24 || p.Page.Marker == marker {
			t.Fatalf("page %d marker %q", pages, p.Page.Marker)
		}
		marker = p.Page.Marker
	}
	if fmt.Sprint(got) != fmt.Sprint(targets) {
		t.Fatalf("paged targets %v\nwant %v", got, targets)
	}
	// A page past the end is empty, not an error.
	if p := showPage(t, b, id, "limit=50&marker=000000000000000000000001"); len(p.TaskDetails) != 0 || p.Page.Marker != "" {
		t.Fatalf("past the end: %+v", p)
	}
}

func TestShow_OffsetAndFilters(t *testing.T) {
	targets := deviceIDs(30)
	devs := newFakeDevices().online(targets[:20]...)
	b, _ := newBackend(t, devs, nil)
	id := create(t, b, body(targets, nil))
	task := wait(t, b, id)
	if task.Status != StatusPartialSuccess || task.Progress.Success != 20 || task.Progress.Fail != 10 {
		t.Fatalf("task %+v", task)
	}
	if p := showPage(t, b, id, "limit=5&offset=12"); p.TaskDetails[0].Target != "d13" || len(p.TaskDetails) != 5 {
		t.Fatalf("offset 12: first %s, %d details", p.TaskDetails[0].Target, len(p.TaskDetails))
	}
	p := showPage(t, b, id, "limit=50&task_detail_status=Fail")
	if p.Page.Count != 10 || len(p.TaskDetails) != 10 || p.TaskDetails[0].Target != "d21" {
		t.Fatalf("Fail filter: count %d, %d details", p.Page.Count, len(p.TaskDetails))
	}
	if e := p.TaskDetails[0].Error; e == nil || e.ErrorCode != "IOTDA.014016" || len(p.TaskDetails[0].Output) != 0 {
		t.Fatalf("a failed subtask carries its error and no output: %+v", p.TaskDetails[0])
	}
	if p := showPage(t, b, id, "target=d7"); p.Page.Count != 1 || p.TaskDetails[0].Target != "d7" {
		t.Fatalf("target filter: %+v", p)
	}
	if p := showPage(t, b, id, "task_detail_status=Fail&target=d7"); p.Page.Count != 0 || len(p.TaskDetails) != 0 {
		t.Fatalf("both filters: %+v", p)
	}
}

func TestShow_RefusesBadQueries(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online("d1"), nil)
	id := create(t, b, body([]string{"d1"}, nil))
	for query, code := range map[string]string{
		"limit=0": CodeLimitRange, "limit=51": CodeLimitRange, "limit=x": CodeLimitRange,
		"offset=501": CodeInvalidInput, "offset=-1": CodeInvalidInput,
		"marker=abc": CodeInvalidInput, "marker=zzzzzzzzzzzzzzzzzzzzzzzz": CodeInvalidInput,
		"task_detail_status=Done": CodeInvalidInput, "target=a%20b": CodeInvalidInput,
	} {
		if r := show(b, id, query); r.Status != http.StatusBadRequest || errorCode(t, r) != code {
			t.Errorf("%s: %d %s, want 400 %s", query, r.Status, r.Body, code)
		}
	}
	if r := show(b, "ffffffffffffffffffffffff", ""); r.Status != http.StatusNotFound || errorCode(t, r) != CodeTaskNotFound {
		t.Errorf("unknown task: %d %s", r.Status, r.Body)
	}
	for _, bad := range []string{"ABCDEF", "0123456789abcdef012345678", "x-1"} {
		if r := show(b, bad, ""); r.Status != http.StatusBadRequest {
			t.Errorf("task id %q: %d %s, want 400", bad, r.Status, r.Body)
		}
	}
}

func TestList_FiltersAndPagesNewestFirst(t *testing.T) {
	devs := newFakeDevices().online("d1")
	b, _ := newBackend(t, devs, nil)
	var created []string
	for i := range 7 {
		extra := map[string]any{}
		if i%2 == 1 {
			extra["app_id"] = "space-2"
		}
		created = append(created, create(t, b, body([]string{"d1"}, extra)))
	}
	for _, id := range created {
		wait(t, b, id)
	}
	list := func(query string) (ids []string, count int64, marker string) {
		q, _ := url.ParseQuery(query)
		r := b.Respond(http.MethodGet, []string{"batchtasks"}, q, "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, r.Status, r.Body)
		}
		var w struct {
			Batchtasks []struct {
				TaskID string `json:"task_id"`
			} `json:"batchtasks"`
			Page struct {
				Count  int64  `json:"count"`
				Marker string `json:"marker"`
			} `json:"page"`
		}
		_ = json.Unmarshal(r.Body, &w)
		for _, t := range w.Batchtasks {
			ids = append(ids, t.TaskID)
		}
		return ids, w.Page.Count, w.Page.Marker
	}
	first, count, marker := list("task_type=createCommands&limit=3")
	if count != 7 || fmt.Sprint(first) != fmt.Sprint([]string{created[6], created[5], created[4]}) {
		t.Fatalf("first page %v (count %d), want the 3 newest of 7", first, count)
	}
	second, _, _ := list("task_type=createCommands&limit=3&marker=" + marker)
	if fmt.Sprint(second) != fmt.Sprint([]string{created[3], created[2], created[1]}) {
		t.Fatalf("second page %v", second)
	}
	if got, count, _ := list("task_type=createCommands&app_id=space-2"); count != 3 || len(got) != 3 {
		t.Fatalf("app_id filter: %v, count %d", got, count)
	}
	if got, count, _ := list("task_type=createCommands&status=Fail"); count != 0 || len(got) != 0 {
		t.Fatalf("status filter: %v, count %d", got, count)
	}
	if got, _, _ := list("task_type=createDevices"); len(got) != 0 {
		t.Fatalf("other task type: %v", got)
	}
	for _, query := range []string{"", "task_type=nope", "task_type=createCommands&status=Done", "task_type=createCommands&limit=60"} {
		q, _ := url.ParseQuery(query)
		if r := b.Respond(http.MethodGet, []string{"batchtasks"}, q, "", nil); r.Status != http.StatusBadRequest {
			t.Errorf("list %q: %d %s, want 400", query, r.Status, r.Body)
		}
	}
}

func TestDelete_OnlyFinishedTasks(t *testing.T) {
	devs := newFakeDevices().online("d1")
	devs.block = make(chan struct{})
	b, events := newBackend(t, devs, nil)
	id := create(t, b, body([]string{"d1"}, nil))
	del := func() Response { return b.Respond(http.MethodDelete, []string{"batchtasks", id}, nil, "", nil) }
	if r := del(); r.Status != http.StatusForbidden || errorCode(t, r) != CodeTaskRunning {
		t.Fatalf("deleting a running task: %d %s, want 403", r.Status, r.Body)
	}
	close(devs.block)
	wait(t, b, id)
	if r := del(); r.Status != http.StatusNoContent || r.Body != nil {
		t.Fatalf("deleting a finished task: %d %s, want 204 without a body", r.Status, r.Body)
	}
	if r := show(b, id, ""); r.Status != http.StatusNotFound {
		t.Fatalf("a deleted task: %d", r.Status)
	}
	if r := del(); r.Status != http.StatusNotFound {
		t.Fatalf("deleting again: %d", r.Status)
	}
	if len(events.of(EventTaskDeleted)) != 1 {
		t.Fatalf("deleted events %+v", events.of(EventTaskDeleted))
	}
}

func TestActionsAndMethods(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online("d1"), nil)
	id := create(t, b, body([]string{"d1"}, nil))
	for _, action := range []string{"stop", "retry", "confirm"} {
		r := b.Respond(http.MethodPost, []string{"batchtasks", id, action}, nil, "application/json", []byte(`{}`))
		if r.Status != http.StatusBadRequest || errorCode(t, r) != CodeNotApplicable {
			t.Errorf("%s: %d %s, want 400: it applies to upgrade tasks only", action, r.Status, r.Body)
		}
		mustContain(t, r, "createCommands", action)
		if r := b.Respond(http.MethodPost, []string{"batchtasks", "ffffffffffffffffffffffff", action}, nil, "", nil); r.Status != http.StatusNotFound {
			t.Errorf("%s of an unknown task: %d", action, r.Status)
		}
		if r := b.Respond(http.MethodGet, []string{"batchtasks", id, action}, nil, "", nil); r.Status != http.StatusMethodNotAllowed || r.Allow != "POST" {
			t.Errorf("GET %s: %d, Allow %q", action, r.Status, r.Allow)
		}
	}
	for _, c := range []struct {
		rest  []string
		allow string
	}{{[]string{"batchtasks"}, "GET, POST"}, {[]string{"batchtasks", id}, "GET, DELETE"}} {
		r := b.Respond(http.MethodPut, c.rest, nil, "", nil)
		if r.Status != http.StatusMethodNotAllowed || r.Allow != c.allow {
			t.Errorf("PUT %v: %d, Allow %q; want 405 with %q", c.rest, r.Status, r.Allow, c.allow)
		}
	}
}

func TestRoute(t *testing.T) {
	for rest, want := range map[string]bool{
		"batchtasks": true, "batchtasks/abc": true, "batchtasks/abc/stop": true, "batchtasks/abc/retry": true,
		"batchtasks/abc/confirm": true, "batchtasks/abc/pause": false, "batchtasks/a/b/c": false,
		"devices": false, "batchtask-files": false,
	} {
		if got := Route(strings.Split(rest, "/")); got != want {
			t.Errorf("Route(%s) = %v", rest, got)
		}
	}
}
