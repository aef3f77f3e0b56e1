package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// These tests aim the mock's faults at the batch task routes, as the provider's fleet tests
// need them: the platform acts on a create and the client sees a failure, a create held in
// transit until the client gave up, and show answers rewritten. Each fault is applied more
// than once and what the devices received is counted in the journal.

const faultTaskBody = `{"task_name":"reboot","task_type":"createCommands","targets":["f-1","f-2","f-3","f-4"],` +
	`"document":{"service_id":"S","command_name":"REBOOT","paras":{"n":1}}}`

func newBatchFaultServer(t *testing.T) *Server {
	t.Helper()
	return NewForTest(t, Options{AuthToken: batchToken,
		Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}},
		Fleets:  []Fleet{{Prefix: "f-", Count: 4, Behavior: Behavior{Kind: BehaviorEcho}}}})
}

// rawDo sends req and returns the answer whatever its content type, or the transport error.
func rawDo(req *http.Request, timeout time.Duration) (*http.Response, []byte, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: timeout}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// waitAllTasks waits for every task the mock holds to finish.
func waitAllTasks(t *testing.T, s *Server) {
	t.Helper()
	for _, task := range s.BatchTasks() {
		waitTask(t, s, task.TaskID)
	}
}

// wantDeliveries checks that each fleet device received n commands.
func wantDeliveries(t *testing.T, s *Server, n int) {
	t.Helper()
	for _, d := range []string{"f-1", "f-2", "f-3", "f-4"} {
		if got := len(s.Deliveries(d)); got != n {
			t.Errorf("%s received %d commands, want %d", d, got, n)
		}
	}
}

func mustAddFault(t *testing.T, s *Server, f Fault) {
	t.Helper()
	if err := s.AddFault(f); err != nil {
		t.Fatal(err)
	}
}

// TestBatchFault_ForwardThenFail: the task is created and run, then the client gets a
// gateway's HTML page, a platform error or a reset; a fault aimed at CreateBatchTask leaves
// the other routes alone.
func TestBatchFault_ForwardThenFail(t *testing.T) {
	s := newBatchFaultServer(t)
	const page = "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
	variants := []struct {
		name        string
		fault       Fault
		status      int
		contentType string
		body        string
	}{
		{"gateway page", Fault{Status: 502, Forward: true, Body: page, ContentType: "text/html"}, 502, "text/html", page},
		{"gateway timeout", Fault{Status: 504, Forward: true}, 504, "application/json", `"error_code":"MOCK.FAULT"`},
		{"platform error", Fault{Status: 500, Forward: true, ErrorCode: "IOTDA.000500", ErrorMsg: "internal"}, 500,
			"application/json", `"error_code":"IOTDA.000500"`},
		{"reset", Fault{ResetAfterDelivery: true}, 0, "", ""},
	}
	for i, v := range variants {
		f := v.fault
		f.Operation = OpCreateBatchTask
		mustAddFault(t, s, f)
		// Other routes do not take it.
		resp, raw := do(t, nil, batchRequest(t, s, http.MethodGet, "batchtasks?task_type=createCommands", ""))
		wantStatus(t, resp, raw, http.StatusOK)
		resp, raw = do(t, nil, batchRequest(t, s, http.MethodPost, "devices/echo/commands", `{"paras":{}}`))
		wantStatus(t, resp, raw, http.StatusOK)

		resp, body, err := rawDo(batchRequest(t, s, http.MethodPost, "batchtasks", faultTaskBody), 10*time.Second)
		switch {
		case v.status == 0 && err == nil:
			t.Errorf("%s: answered %d %s, want a reset", v.name, resp.StatusCode, body)
		case v.status != 0 && err != nil:
			t.Errorf("%s: %v", v.name, err)
		case v.status != 0 && (resp.StatusCode != v.status || resp.Header.Get("Content-Type") != v.contentType ||
			!strings.Contains(string(body), v.body)):
			t.Errorf("%s: answered %d (%s) %s, want %d (%s) with %s", v.name, resp.StatusCode,
				resp.Header.Get("Content-Type"), body, v.status, v.contentType, v.body)
		}
		if n := len(s.BatchTasks()); n != i+1 {
			t.Fatalf("%s: the mock holds %d tasks after %d forwarded creates", v.name, n, i+1)
		}
		waitAllTasks(t, s)
		wantDeliveries(t, s, i+1)
		// The request is journaled once its handler returns, which a reset does not wait for.
		created := s.BatchTasks()[i].TaskID
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		_, err = s.WaitJournal(ctx, func(e Entry) bool {
			return e.Kind == EntryRequest && e.Fault == f.Label() && e.TaskID == created
		})
		cancel()
		if err != nil {
			t.Errorf("%s: no journal entry names the fault and the created task: %v", v.name, err)
		}
	}
}

// TestBatchFault_HoldThenForward: a create held longer than the client waits is created
// after the client gave up, once per held request; a held command still reaches its device.
func TestBatchFault_HoldThenForward(t *testing.T) {
	s := newBatchFaultServer(t)
	const hold, patience = time.Second, 100 * time.Millisecond
	mustAddFault(t, s, Fault{Operation: OpCreateBatchTask, Hold: hold, Times: 2})
	for round := 1; round <= 2; round++ {
		_, _, err := rawDo(batchRequest(t, s, http.MethodPost, "batchtasks", faultTaskBody), patience)
		var netErr interface{ Timeout() bool }
		if !errors.As(err, &netErr) || !netErr.Timeout() {
			t.Fatalf("round %d: the client did not time out: %v", round, err)
		}
		if n := len(s.BatchTasks()); n != round-1 {
			t.Fatalf("round %d: %d tasks when the client gave up, want %d: the hold did not hold", round, n, round-1)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		created := 0 // WaitJournal looks at each entry once, oldest first
		_, err = s.WaitJournal(ctx, func(e Entry) bool {
			if e.Kind == EntryBatchTask {
				created++
			}
			return created == round
		})
		cancel()
		if err != nil {
			t.Fatalf("round %d: the held create never made its task: %v", round, err)
		}
		waitAllTasks(t, s)
		wantDeliveries(t, s, round)
	}
	// The fault is used up: the next create answers at once.
	resp, raw := do(t, nil, batchRequest(t, s, http.MethodPost, "batchtasks", faultTaskBody))
	wantStatus(t, resp, raw, http.StatusCreated)

	mustAddFault(t, s, Fault{Operation: OpCreateCommand, DeviceID: "echo", Hold: hold})
	if _, _, err := rawDo(batchRequest(t, s, http.MethodPost, "devices/echo/commands", `{"paras":{"held":true}}`), patience); err == nil {
		t.Fatal("the held command answered before the client gave up")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := s.WaitJournal(ctx, func(e Entry) bool { return e.Kind == EntryReply && e.DeviceID == "echo" }); err != nil {
		t.Fatalf("the held command never reached its device: %v", err)
	}
	if n := len(s.Deliveries("echo")); n != 1 {
		t.Errorf("echo received %d commands, want 1", n)
	}
}

// TestBatchFault_RewriteShow: ShowBatchTask answers without the task id, with another
// task's, without some or all devices, or with a device that was not targeted, once each;
// a rewrite that does not apply answers 500 naming why; an error answer passes unchanged.
func TestBatchFault_RewriteShow(t *testing.T) {
	s := newBatchFaultServer(t)
	first := createTask(t, s, faultTaskBody)
	other := createTask(t, s, strings.Replace(faultTaskBody, `"reboot"`, `"other"`, 1))
	waitAllTasks(t, s)
	type shown struct {
		Batchtask struct {
			TaskID *string `json:"task_id"`
		} `json:"batchtask"`
		TaskDetails []struct {
			Target string `json:"target"`
		} `json:"task_details"`
	}
	show := func() (int, shown, []byte) {
		t.Helper()
		resp, body, err := rawDo(batchRequest(t, s, http.MethodGet, "batchtasks/"+first+"?limit=50", ""), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var v shown
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("show answer %s: %v", body, err)
			}
		}
		return resp.StatusCode, v, body
	}
	targets := func(v shown) string {
		var out []string
		for _, d := range v.TaskDetails {
			out = append(out, d.Target)
		}
		return strings.Join(out, ",")
	}
	for _, tt := range []struct {
		name    string
		fault   Fault
		taskID  string // "" for none
		targets string
	}{
		{"no task id", Fault{MergePatch: json.RawMessage(`{"batchtask":{"task_id":null}}`)}, "", "f-1,f-2,f-3,f-4"},
		{"another task's id", Fault{MergePatch: json.RawMessage(`{"batchtask":{"task_id":"` + other + `"}}`)}, other, "f-1,f-2,f-3,f-4"},
		{"a device missing", Fault{JSONPatch: json.RawMessage(`[{"op":"remove","path":"/task_details/1"}]`)}, first, "f-1,f-3,f-4"},
		{"every device missing", Fault{MergePatch: json.RawMessage(`{"task_details":[]}`)}, first, ""},
		{"a stranger", Fault{JSONPatch: json.RawMessage(`[{"op":"add","path":"/task_details/-",` +
			`"value":{"target":"stranger","status":"Success"}}]`)}, first, "f-1,f-2,f-3,f-4,stranger"},
	} {
		f := tt.fault
		f.Operation, f.Times = OpShowBatchTask, 2
		mustAddFault(t, s, f)
		// The list does not take a fault aimed at show.
		resp, raw := do(t, nil, batchRequest(t, s, http.MethodGet, "batchtasks?task_type=createCommands", ""))
		wantStatus(t, resp, raw, http.StatusOK)
		for range 2 {
			status, v, body := show()
			got := ""
			if v.Batchtask.TaskID != nil {
				got = *v.Batchtask.TaskID
			}
			if status != http.StatusOK || got != tt.taskID || targets(v) != tt.targets {
				t.Errorf("%s: show = %d, task id %q, targets %q (%s); want task id %q, targets %q",
					tt.name, status, got, targets(v), body, tt.taskID, tt.targets)
			}
		}
		if status, v, _ := show(); status != http.StatusOK || v.Batchtask.TaskID == nil || *v.Batchtask.TaskID != first ||
			targets(v) != "f-1,f-2,f-3,f-4" {
			t.Errorf("%s: after the fault was used up, show = %d %+v", tt.name, status, v)
		}
	}

	mustAddFault(t, s, Fault{Operation: OpShowBatchTask, JSONPatch: json.RawMessage(`[{"op":"remove","path":"/task_details/9"}]`)})
	status, _, body := show()
	if status != http.StatusInternalServerError || !strings.Contains(string(body), `"error_code":"MOCK.FAULT"`) ||
		!strings.Contains(string(body), "json_patch") {
		t.Errorf("a rewrite that does not apply answered %d %s, want 500 MOCK.FAULT naming json_patch", status, body)
	}
	mustAddFault(t, s, Fault{Operation: OpShowBatchTask, MergePatch: json.RawMessage(`{"batchtask":{"task_id":null}}`)})
	resp, raw := do(t, nil, batchRequest(t, s, http.MethodGet, "batchtasks/abcdef0123456789abcdef01", ""))
	wantError(t, resp, raw, http.StatusNotFound, "IOTDA.016404")
	// Nothing was delivered again by any of it.
	wantDeliveries(t, s, 2)
}

// TestFault_AddFaultValidates: the Go API refuses what the admin API refuses.
func TestFault_AddFaultValidates(t *testing.T) {
	s := newFaultServer(t)
	for _, bad := range []Fault{{Operation: "ShowTask"}, {Forward: true}, {Hold: time.Second, Status: 504}} {
		if err := s.AddFault(bad); err == nil {
			t.Errorf("AddFault(%+v) succeeded", bad)
		}
	}
	if n := len(s.faults.Pending()); n != 0 {
		t.Errorf("%d refused faults are pending", n)
	}
}

// TestFault_AdminAPIOfTheNewKinds: the admin API takes the new kinds in JSON, lists them back,
// and refuses contradictions with the reason.
func TestFault_AdminAPIOfTheNewKinds(t *testing.T) {
	s := newBatchFaultServer(t)
	for _, body := range []string{
		`{"operation":"CreateBatchTask","status":502,"forward":true,"content_type":"text/html","body":"<html>502</html>"}`,
		`{"operation":"CreateBatchTask","hold":"15s"}`,
		`{"operation":"ShowBatchTask","times":-1,"merge_patch":{"batchtask":{"task_id":null}}}`,
		`{"operation":"ShowBatchTask","json_patch":[{"op":"remove","path":"/task_details/0"}]}`,
	} {
		resp, raw := adminCall(t, s, http.MethodPost, "/_mock/faults", body)
		wantStatus(t, resp, raw, http.StatusCreated)
	}
	resp, raw := adminCall(t, s, http.MethodGet, "/_mock/faults", "")
	wantStatus(t, resp, raw, http.StatusOK)
	for _, want := range []string{`"forward":true`, `"hold":"15s"`, `"merge_patch":{"batchtask":{"task_id":null}}`,
		`"json_patch":[{"op":"remove","path":"/task_details/0"}]`, `"content_type":"text/html"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("GET /_mock/faults = %s, want %s in it", raw, want)
		}
	}
	for body, want := range map[string]string{
		`{"operation":"ShowTask"}`:                   "is not an operation of the mock's platform API",
		`{"forward":true}`:                           "forward needs a status",
		`{"hold":"1s","status":504}`:                 "add forward",
		`{"merge_patch":[1]}`:                        "merge_patch must be a JSON object",
		`{"json_patch":[{"op":"drop","path":"/a"}]}`: "json_patch must be an array of RFC 6902 operations",
		// Faults that could never fire: a device on an operation that names none, nothing to do.
		`{"device_id":"x","operation":"ListBatchTasks"}`:              "device_id limits the fault to requests that name a device",
		`{"device_id":"x","operation":"ListBatchTasks","status":503}`: "ListBatchTasks names none",
		`{}`: "the fault does nothing",
		`{"operation":"CreateCommand","times":-1}`:              "the fault does nothing",
		`{"operation":"DeleteBatchTask","merge_patch":{"a":1}}`: "DeleteBatchTask never has (204 with no body)",
		`{"reset_before_body":true,"status":503}`:               "status, body, delay, retry_after and truncate would never apply",
		`{"error_code":"IOTDA.000001","body":"x"}`:              "error_code and error_msg make the error body of status",
	} {
		resp, raw := adminCall(t, s, http.MethodPost, "/_mock/faults", body)
		if e := wantError(t, resp, raw, http.StatusBadRequest, "MOCK.000400"); !strings.Contains(e.ErrorMsg, want) {
			t.Errorf("POST %s: %q, want it to say %q", body, e.ErrorMsg, want)
		}
	}
}

// TestLatency_WholeMock: Options.Latency delays the command and batch task APIs, not the
// admin API.
func TestLatency_WholeMock(t *testing.T) {
	const latency = 150 * time.Millisecond
	s := NewForTest(t, Options{AuthToken: batchToken, Latency: latency,
		Fleets: []Fleet{{Prefix: "f-", Count: 4, Behavior: Behavior{Kind: BehaviorEcho}}}})
	for _, req := range []*http.Request{
		batchRequest(t, s, http.MethodPost, "batchtasks", faultTaskBody),
		batchRequest(t, s, http.MethodGet, "batchtasks?task_type=createCommands", ""),
		batchRequest(t, s, http.MethodGet, "batchtasks/abcdef0123456789abcdef01", ""),
		batchRequest(t, s, http.MethodPost, "devices/f-1/commands", `{"paras":{}}`),
	} {
		start := time.Now()
		do(t, nil, req)
		if took := time.Since(start); took < latency {
			t.Errorf("%s %s answered in %v, under the latency %v", req.Method, req.URL.Path, took, latency)
		}
	}
}
