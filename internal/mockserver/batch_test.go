package mockserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

// These tests drive the batch task API over HTTP against a running mock: the caller checks
// shared with the command API, faults, the journal, and the executor delivering through the
// device side to simulated, fleet and offline devices.

const batchToken = "batch-token"

// batchRequest builds an authenticated request to /v5/iot/{project}/{path}.
func batchRequest(t *testing.T, s *Server, method, path, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+"/v5/iot/"+s.ProjectID()+"/"+path,
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", batchToken)
	return req
}

// createTask creates a task over HTTP and returns its id.
func createTask(t *testing.T, s *Server, body string) string {
	t.Helper()
	resp, raw := do(t, nil, batchRequest(t, s, http.MethodPost, "batchtasks", body))
	wantStatus(t, resp, raw, http.StatusCreated)
	var w struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(raw, &w); err != nil || w.TaskID == "" {
		t.Fatalf("create answer %s", raw)
	}
	return w.TaskID
}

// waitTask waits for a task to finish.
func waitTask(t *testing.T, s *Server, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if task, err := s.WaitBatchTask(ctx, id); err != nil {
		t.Fatalf("task %s did not finish: %v (%+v)", id, err, task)
	}
}

// subtaskOf returns the subtask of a device.
func subtaskOf(t *testing.T, s *Server, taskID, deviceID string) (status, output, errorCode string) {
	t.Helper()
	subs, _ := s.BatchSubtasks(taskID)
	for _, st := range subs {
		if st.Target == deviceID {
			return st.Status, st.Output, st.ErrorCode
		}
	}
	t.Fatalf("task %s has no subtask for %s", taskID, deviceID)
	return "", "", ""
}

func TestBatch_DeliversThroughTheDeviceSide(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken, PlatformTimeout: 300 * time.Millisecond,
		Devices: []Device{
			{ID: "echo-1", Simulated: &Behavior{Kind: BehaviorEcho}},
			{ID: "failing-1", Simulated: &Behavior{Kind: BehaviorEcho, ResultCode: 3}},
			{ID: "silent-1", Simulated: &Behavior{Kind: BehaviorSilent}},
			{ID: "offline-1"},
		},
		Fleets: []Fleet{{Prefix: "fleet-", Count: 20, Behavior: Behavior{Kind: BehaviorReply,
			Response: json.RawMessage(`{"result_code":0,"paras":{"n":12345678901234567890}}`)}}},
	})
	targets := []string{"echo-1", "failing-1", "silent-1", "offline-1", "unknown-1", "fleet-1", "fleet-20"}
	raw, _ := json.Marshal(targets)
	id := createTask(t, s, `{"task_name":"mixed","task_type":"createCommands","targets":`+string(raw)+
		`,"document":{"service_id":"S","command_name":"PING","paras":{"big":98765432109876543210}}}`)
	waitTask(t, s, id)

	for _, c := range []struct{ device, status, output, code string }{
		{"echo-1", "Success", `"response":{"result_code":0,"response_name":"PING","paras":{"big":98765432109876543210}}`, ""},
		// The device's own failure is an answer: the subtask succeeded, the reply says 3.
		{"failing-1", "Success", `"response":{"result_code":3`, ""},
		{"silent-1", "Fail", "", "IOTDA.014111"},
		{"offline-1", "Fail", "", "IOTDA.014016"},
		{"unknown-1", "Fail", "", "IOTDA.014000"},
		{"fleet-20", "Success", `"response":{"result_code":0,"paras":{"n":12345678901234567890}}`, ""},
	} {
		status, output, code := subtaskOf(t, s, id, c.device)
		if status != c.status || code != c.code || !strings.Contains(output, c.output) || (c.output == "") != (output == "") {
			t.Errorf("%s: status %s, error %s, output %s; want %s, %q, output containing %s",
				c.device, status, code, output, c.status, c.code, c.output)
		}
	}
	// The output is the synchronous API's answer for the same reply, with the command id of
	// the delivery the device saw.
	subs, _ := s.BatchSubtasks(id)
	deliveries := s.Deliveries("echo-1")
	if len(deliveries) != 1 || !strings.HasPrefix(subs[0].Output, `{"command_id":"`+deliveries[0].CommandID+`",`) {
		t.Errorf("echo-1 output %s, deliveries %+v", subs[0].Output, deliveries)
	}
	// Deliveries only to the devices that could receive one, each once.
	for _, d := range targets {
		want := 1
		if d == "offline-1" || d == "unknown-1" {
			want = 0
		}
		if n := len(s.Deliveries(d)); n != want {
			t.Errorf("%d deliveries to %s, want %d", n, d, want)
		}
	}
	task := s.BatchTasks()[0]
	if task.Status != "PartialSuccess" || task.Progress.Success != 4 || task.Progress.Fail != 3 {
		t.Errorf("task %s %+v", task.Status, task.Progress)
	}
}

func TestBatch_JournalsRequestsTasksAndSubtasks(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken, Fleets: []Fleet{{Prefix: "j-", Count: 2, Behavior: Behavior{Kind: BehaviorEcho}}}})
	id := createTask(t, s, `{"task_name":"j","task_type":"createCommands","targets":["j-1","j-2"],"document":{"paras":{}}}`)
	waitTask(t, s, id)
	resp, raw := do(t, nil, batchRequest(t, s, http.MethodGet, "batchtasks/"+id+"?limit=50", ""))
	wantStatus(t, resp, raw, http.StatusOK)

	counts := map[EntryKind]int{}
	for _, e := range s.Journal() {
		counts[e.Kind]++
		switch e.Kind {
		case EntryRequest:
			if e.TaskID != id || (e.Method == http.MethodPost && (e.Status != 201 || len(e.Body) != 0)) {
				t.Errorf("request entry %+v: names the task; the create body (up to 30,000 ids) is not kept", e)
			}
		case EntryBatchTask:
			if e.TaskID != id || e.TaskStatus != "Initializing" || !strings.Contains(string(e.Body), `"targets":2`) {
				t.Errorf("batch_task entry %+v", e)
			}
		case EntryBatchSubtask:
			if e.TaskID != id || e.TaskStatus != "Success" || e.CommandID == "" || !strings.HasPrefix(e.DeviceID, "j-") {
				t.Errorf("batch_subtask entry %+v", e)
			}
		case EntryBatchTaskDone:
			if e.TaskID != id || e.TaskStatus != "Success" {
				t.Errorf("batch_task_done entry %+v", e)
			}
		}
	}
	want := map[EntryKind]int{EntryRequest: 2, EntryBatchTask: 1, EntryBatchSubtask: 2, EntryBatchTaskDone: 1,
		EntryDelivery: 2, EntryReply: 2}
	for kind, n := range want {
		if counts[kind] != n {
			t.Errorf("%d %s entries, want %d (journal %v)", counts[kind], kind, n, counts)
		}
	}
}

func TestBatch_CallerChecksAndFaults(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken, InstanceID: "inst-1"})
	valid := `{"task_name":"c","task_type":"createCommands","targets":["d1"],"document":{"paras":{}}}`

	req := batchRequest(t, s, http.MethodPost, "batchtasks", valid)
	req.Header.Set("X-Auth-Token", "wrong")
	resp, raw := do(t, nil, req)
	wantError(t, resp, raw, http.StatusUnauthorized, httpapi.CodeUnauthorized)

	req = batchRequest(t, s, http.MethodGet, "batchtasks?task_type=createCommands", "")
	resp, raw = do(t, nil, req)
	wantError(t, resp, raw, http.StatusForbidden, httpapi.CodeInstance)

	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/v5/iot/other/batchtasks?task_type=createCommands", nil)
	req.Header.Set("X-Auth-Token", batchToken)
	req.Header.Set("Instance-Id", "inst-1")
	resp, raw = do(t, nil, req)
	wantError(t, resp, raw, http.StatusForbidden, httpapi.CodeProject)

	// A fault without a device applies to batch requests too; a device's fault does not.
	s.InjectFault(Fault{DeviceID: "d1", Status: 500})
	s.InjectFault(Fault{Status: 503, ErrorCode: "APIGW.0503"})
	req = batchRequest(t, s, http.MethodPost, "batchtasks", valid)
	req.Header.Set("Instance-Id", "inst-1")
	resp, raw = do(t, nil, req)
	wantError(t, resp, raw, http.StatusServiceUnavailable, "APIGW.0503")
	if len(s.BatchTasks()) != 0 {
		t.Fatal("a faulted create made a task")
	}
	req = batchRequest(t, s, http.MethodPost, "batchtasks", valid)
	req.Header.Set("Instance-Id", "inst-1")
	resp, raw = do(t, nil, req)
	wantStatus(t, resp, raw, http.StatusCreated)

	// 405 carries Allow; the unknown sub-route is not a batch route.
	req = batchRequest(t, s, http.MethodPatch, "batchtasks", "")
	resp, raw = do(t, nil, req)
	wantError(t, resp, raw, http.StatusMethodNotAllowed, httpapi.CodeNoAPI)
	if resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("Allow = %q", resp.Header.Get("Allow"))
	}
	resp, raw = do(t, nil, batchRequest(t, s, http.MethodGet, "batchtasks/abc/pause", ""))
	wantError(t, resp, raw, http.StatusNotFound, httpapi.CodeNoAPI)
}

func TestBatch_DeleteAnswers204WithoutABody(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken, Fleets: []Fleet{{Prefix: "x-", Count: 1, Behavior: Behavior{Kind: BehaviorEcho}}}})
	id := createTask(t, s, `{"task_name":"d","task_type":"createCommands","targets":["x-1"],"document":{"paras":{}}}`)
	waitTask(t, s, id)
	resp, raw := do(t, nil, batchRequest(t, s, http.MethodDelete, "batchtasks/"+id, ""))
	if resp.StatusCode != http.StatusNoContent || len(raw) != 0 || resp.Header.Get("Content-Type") != "" {
		t.Fatalf("delete: %d %q, Content-Type %q", resp.StatusCode, raw, resp.Header.Get("Content-Type"))
	}
	resp, raw = do(t, nil, batchRequest(t, s, http.MethodGet, "batchtasks/"+id, ""))
	wantError(t, resp, raw, http.StatusNotFound, "IOTDA.016404")
}

func TestBatch_RetryRecoversADeviceThatComesOnline(t *testing.T) {
	// A minute of retry_interval lasts 50 ms.
	s := NewForTest(t, Options{AuthToken: batchToken, BatchTimeScale: 50.0 / 60000, Devices: []Device{{ID: "late-1"}}})
	id := createTask(t, s, `{"task_name":"r","task_type":"createCommands","targets":["late-1"],`+
		`"document":{"paras":{}},"task_policy":{"retry_count":3,"retry_interval":1}}`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := s.WaitJournal(ctx, func(e Entry) bool {
		return e.Kind == EntryBatchSubtask && e.TaskStatus == "FailWaitRetry" && e.ErrorCode == httpapi.CodeDeviceOffline
	}); err != nil {
		t.Fatalf("no retry was scheduled for the offline device: %v", err)
	}
	// The device comes online before its retry.
	s.RemoveDevice("late-1")
	if err := s.AddDevice(Device{ID: "late-1", Simulated: &Behavior{Kind: BehaviorEcho}}); err != nil {
		t.Fatal(err)
	}
	waitTask(t, s, id)
	if status, output, _ := subtaskOf(t, s, id, "late-1"); status != "Success" || output == "" {
		t.Fatalf("late-1: %s %s, want Success after a retry", status, output)
	}
	if n := len(s.Deliveries("late-1")); n != 1 {
		t.Fatalf("%d deliveries, want 1: the offline attempts delivered nothing", n)
	}
}

func TestBatch_GroupsFromOptionsAndAdmin(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: batchToken,
		Fleets: []Fleet{{Prefix: "g-", Count: 5, Behavior: Behavior{Kind: BehaviorEcho}}},
		Groups: []Group{{ID: "aaaa-0001", Name: "first", DeviceIDs: []string{"g-1", "g-2"}}}})

	resp, raw := adminCall(t, s, http.MethodPost, "/_mock/groups", `{"id":"bbbb-0002","device_ids":["g-2","g-5","g-404"]}`)
	wantStatus(t, resp, raw, http.StatusCreated)
	resp, raw = adminCall(t, s, http.MethodGet, "/_mock/groups", "")
	wantStatus(t, resp, raw, http.StatusOK)
	want := `[{"id":"aaaa-0001","name":"first","device_ids":["g-1","g-2"]},{"id":"bbbb-0002","device_ids":["g-2","g-5","g-404"]}]`
	if string(raw) != want {
		t.Errorf("groups %s\nwant   %s", raw, want)
	}
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"id":"aaaa-0001","device_ids":[]}`, http.StatusConflict, "MOCK.000409"},
		{`{"id":"not-hex!","device_ids":[]}`, http.StatusBadRequest, "MOCK.000400"},
		{`{"id":"cccc","device_ids":["a","a"]}`, http.StatusBadRequest, "MOCK.000400"},
		{`{"id":"cccc","devices":["a"]}`, http.StatusBadRequest, "MOCK.000400"},
	} {
		resp, raw := adminCall(t, s, http.MethodPost, "/_mock/groups", c.body)
		wantError(t, resp, raw, c.status, c.code)
	}

	id := createTask(t, s, `{"task_name":"g","task_type":"createCommands","targets_filter":{"group_ids":["aaaa-0001","bbbb-0002"]},"document":{"paras":{}}}`)
	waitTask(t, s, id)
	task := s.BatchTasks()[0]
	if task.Status != "PartialSuccess" || task.Progress.Total != 4 || task.Progress.Fail != 1 {
		t.Fatalf("group task %s %+v: want g-1, g-2, g-5 and the unregistered g-404", task.Status, task.Progress)
	}
	if _, _, code := subtaskOf(t, s, id, "g-404"); code != httpapi.CodeDeviceNotFound {
		t.Errorf("g-404 error %s", code)
	}

	resp, raw = adminCall(t, s, http.MethodDelete, "/_mock/groups/bbbb-0002", "")
	wantStatus(t, resp, raw, http.StatusNoContent)
	resp, raw = adminCall(t, s, http.MethodDelete, "/_mock/groups/bbbb-0002", "")
	wantError(t, resp, raw, http.StatusNotFound, "MOCK.000404")
	id = createTask(t, s, `{"task_name":"g","task_type":"createCommands","targets_filter":{"group_ids":["bbbb-0002"]},"document":{"paras":{}}}`)
	if task, _ := s.batch.Get(id); task.Status != "Fail" || !strings.Contains(task.StatusDesc, "bbbb-0002") {
		t.Errorf("a task on a removed group: %+v", task)
	}
}
