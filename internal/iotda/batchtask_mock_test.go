package iotda_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	sdkiotda "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iotda/v5"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iotda/v5/model"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// These tests run the batch task client against the mock platform, route by route, with
// every error the mock gives; the official Go SDK reads the same answers as an independent
// client.

// fleetMock starts a mock with a fleet of n echo devices fleet-1..fleet-n, AK/SK credentials
// besides the token, and then applies mutate.
func fleetMock(t testing.TB, n int, mutate func(*mockserver.Options)) *mockserver.Server {
	t.Helper()
	return newMock(t, func(o *mockserver.Options) {
		o.Credentials = map[string]string{mockAK: mockSK}
		o.PlatformTimeout = 500 * time.Millisecond
		o.Fleets = []mockserver.Fleet{{Prefix: "fleet-", Count: n, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
		if mutate != nil {
			mutate(o)
		}
	})
}

func fleetIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "fleet-" + strconv.Itoa(i+1)
	}
	return ids
}

// waitDone waits for a task to finish on the mock.
func waitDone(t testing.TB, s *mockserver.Server, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := s.WaitBatchTask(ctx, id); err != nil {
		t.Fatalf("task %s: %v", id, err)
	}
}

func commandTask(t testing.TB, name string, targets []string) iotda.NewBatchTask {
	t.Helper()
	doc, err := iotda.CommandDocument("Echo", "ECHO", json.RawMessage(`{"big":12345678901234567890,"s":"<ü>"}`))
	if err != nil {
		t.Fatal(err)
	}
	return iotda.NewBatchTask{TaskName: name, Targets: targets, Document: doc}
}

func TestBatchTaskMock_CreateShowPagesListDelete(t *testing.T) {
	s := fleetMock(t, 130, nil)
	for _, alg := range []string{"", signer.AlgorithmSDK, signer.AlgorithmV11} {
		t.Run("auth="+alg, func(t *testing.T) {
			c := newClient(t, s, func(c *iotda.Config) {
				if alg != "" {
					c.AuthToken, c.AccessKey, c.SecretKey, c.SigningAlgorithm = "", mockAK, mockSK, alg
				}
			})
			targets := append(fleetIDs(130), "absent-1")
			mark, err := c.MarkBatchTasks(t.Context(), iotda.TaskTypeCreateCommands)
			if err != nil || mark.Local {
				t.Fatalf("mark %+v: %v", mark, err)
			}
			task, err := c.CreateBatchTask(t.Context(), commandTask(t, "all_"+strings.ReplaceAll(alg, "-", "_"), targets))
			if err != nil {
				t.Fatal(err)
			}
			if len(task.TaskID) != 24 || task.Status != iotda.TaskInitializing || task.Progress.Total != 131 {
				t.Fatalf("created %+v", task)
			}
			waitDone(t, s, task.TaskID)
			d, err := c.ShowBatchTask(t.Context(), task.TaskID, iotda.ReadOptions{Expected: len(targets)})
			if err != nil {
				t.Fatal(err)
			}
			if p := iotda.CheckSubtasks(targets, d.Task.Progress.Total, d.Subtasks); p != nil {
				t.Fatal(p)
			}
			if d.Task.Status != iotda.TaskPartialSuccess || d.Count != 131 || len(d.Subtasks) != 131 ||
				d.Task.Progress.Success != 130 || d.Task.Progress.Fail != 1 {
				t.Fatalf("task %+v, %d subtasks of %d", d.Task, len(d.Subtasks), d.Count)
			}
			for i, st := range d.Subtasks[:130] {
				var out struct {
					CommandID string `json:"command_id"`
					Response  struct {
						Paras json.RawMessage `json:"paras"`
					} `json:"response"`
				}
				if st.Target != targets[i] || st.Status != iotda.TaskSuccess || json.Unmarshal([]byte(st.Output), &out) != nil ||
					string(out.Response.Paras) != `{"big":12345678901234567890,"s":"<ü>"}` || out.CommandID == "" {
					t.Fatalf("subtask %d %+v", i, st)
				}
			}
			if last := d.Subtasks[130]; last.Status != iotda.TaskFail || last.ErrorCode != "IOTDA.014000" {
				t.Fatalf("absent device %+v", last)
			}
			def, err := c.ShowBatchTaskDefinition(t.Context(), task.TaskID)
			if err != nil || len(def.Targets) != len(targets) || string(def.Document) !=
				`{"service_id":"Echo","command_name":"ECHO","paras":{"big":12345678901234567890,"s":"<ü>"}}` {
				t.Errorf("definition %+v, %v", def, err)
			}

			found, err := c.FindBatchTasks(t.Context(), iotda.TaskTypeCreateCommands, task.TaskName, mark)
			if err != nil || len(found) != 1 || found[0].TaskID != task.TaskID {
				t.Fatalf("find: %+v, %v", found, err)
			}
			if err := c.DeleteBatchTask(t.Context(), task.TaskID); err != nil {
				t.Fatal(err)
			}
			if _, err := c.ShowBatchTaskSummary(t.Context(), task.TaskID); !errors.Is(err, iotda.ErrNotFound) {
				t.Fatalf("show after delete: %v", err)
			}
			if err := c.DeleteBatchTask(t.Context(), task.TaskID); !errors.Is(err, iotda.ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
		})
	}
}

func TestBatchTaskMock_Errors(t *testing.T) {
	s := fleetMock(t, 2, func(o *mockserver.Options) {
		o.Devices = append(o.Devices, mockserver.Device{ID: "slow-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}})
		o.PlatformTimeout = 3 * time.Second
	})
	c := newClient(t, s, nil)

	// Refused creates leave no task behind.
	bad := commandTask(t, "has-hyphen", []string{"fleet-1"})
	_, err := c.CreateBatchTask(t.Context(), bad)
	var apiErr *iotda.APIError
	if !errors.Is(err, iotda.ErrBadRequest) || !errors.As(err, &apiErr) || apiErr.ErrorCode != "IOTDA.000006" || apiErr.RequestID == "" {
		t.Fatalf("bad task name: %v", err)
	}
	dup := commandTask(t, "dup", []string{"fleet-1", "fleet-1"})
	if _, err := c.CreateBatchTask(t.Context(), dup); !errors.Is(err, iotda.ErrBadRequest) {
		t.Fatalf("duplicate targets: %v", err)
	}
	wrongToken := newClient(t, s, func(c *iotda.Config) { c.AuthToken = "wrong" })
	if _, err := wrongToken.CreateBatchTask(t.Context(), commandTask(t, "x", []string{"fleet-1"})); !errors.Is(err, iotda.ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	otherProject := newClient(t, s, func(c *iotda.Config) { c.ProjectID = "other" })
	if _, err := otherProject.ListBatchTasks(t.Context(), iotda.ListBatchTasksOptions{}); !errors.Is(err, iotda.ErrForbidden) {
		t.Fatalf("other project: %v", err)
	}
	if len(s.BatchTasks()) != 0 {
		t.Fatalf("refused requests made tasks: %+v", s.BatchTasks())
	}
	if _, err := c.ListBatchTasks(t.Context(), iotda.ListBatchTasksOptions{Limit: 51}); !errors.As(err, &apiErr) ||
		apiErr.ErrorCode != "IOTDA.000017" {
		t.Fatalf("limit 51: %v", err)
	}

	// A running task cannot be deleted.
	task, err := c.CreateBatchTask(t.Context(), commandTask(t, "slow", []string{"slow-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteBatchTask(t.Context(), task.TaskID); !errors.Is(err, iotda.ErrForbidden) {
		t.Fatalf("deleting a running task: %v", err)
	}
	summary, err := c.ShowBatchTaskSummary(t.Context(), task.TaskID)
	if err != nil || iotda.TaskFinished(summary.Status) || summary.Progress.Processing != 1 {
		t.Fatalf("summary %+v, %v", summary, err)
	}
	if _, err := c.ShowBatchTask(t.Context(), "ffffffffffffffffffffffff", iotda.ReadOptions{}); !errors.Is(err, iotda.ErrNotFound) {
		t.Fatalf("unknown task: %v", err)
	}

	// A lost answer to a create: the task exists and is found by its name; nothing is
	// created twice.
	mark, err := c.MarkBatchTasks(t.Context(), iotda.TaskTypeCreateCommands)
	if err != nil {
		t.Fatal(err)
	}
	// Aimed at the create: the reads of the unknown task above fan out over several pages,
	// and one the client gave up on may reach the mock only now.
	s.InjectFault(mockserver.Fault{Operation: "CreateBatchTask", ResetAfterDelivery: true})
	_, err = c.CreateBatchTask(t.Context(), commandTask(t, "lost_answer", []string{"fleet-2"}))
	var unknown *iotda.DeliveryUnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("reset after the create: %v", err)
	}
	found, err := c.FindBatchTasks(t.Context(), iotda.TaskTypeCreateCommands, "lost_answer", mark)
	if err != nil || len(found) != 1 {
		t.Fatalf("find after a lost answer: %+v, %v", found, err)
	}
	created := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryBatchTask {
			created++
		}
	}
	if created != 2 {
		t.Fatalf("%d tasks created, want 2 (slow, lost_answer)", created)
	}
	// A reset before the body is read: the GET is retried and succeeds.
	s.InjectFault(mockserver.Fault{Operation: "ShowBatchTask", ResetBeforeBody: true})
	if _, err := c.ShowBatchTaskSummary(t.Context(), found[0].TaskID); err != nil {
		t.Fatalf("a GET cut by a reset is retried: %v", err)
	}
}

func TestBatchTaskMock_GroupTargets(t *testing.T) {
	s := fleetMock(t, 3, func(o *mockserver.Options) {
		o.Groups = []mockserver.Group{{ID: "aaaa-0001", DeviceIDs: []string{"fleet-1", "fleet-3"}}}
	})
	c := newClient(t, s, nil)
	req := commandTask(t, "groups", nil)
	req.GroupIDs = []string{"aaaa-0001"}
	task, err := c.CreateBatchTask(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, s, task.TaskID)
	d, err := c.ShowBatchTask(t.Context(), task.TaskID, iotda.ReadOptions{Expected: task.Progress.Total})
	if err != nil || len(d.Subtasks) != 2 || d.Subtasks[1].Target != "fleet-3" || d.Task.Status != iotda.TaskSuccess ||
		len(d.Task.GroupIDs) != 1 || d.Task.Targets != nil {
		t.Fatalf("group task %+v, %v", d, err)
	}
	req.GroupIDs = []string{"bbbb-0002"}
	task, err = c.CreateBatchTask(t.Context(), req)
	if err != nil || task.Status != iotda.TaskFail || !strings.Contains(task.StatusDesc, "bbbb-0002") {
		t.Fatalf("unknown group: %+v, %v", task, err)
	}
}

// sdkClient is the official SDK's IoTDA client for the mock, signing with derived AK/SK.
func sdkClient(t *testing.T, s *mockserver.Server) *sdkiotda.IoTDAClient {
	t.Helper()
	creds, err := basic.NewCredentialsBuilder().WithAk(mockAK).WithSk(mockSK).WithProjectId(s.ProjectID()).
		WithDerivedPredicate(auth.GetDefaultDerivedPredicate()).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	// WithRegion would do this, but its package needs a module this one does not require.
	creds.ProcessDerivedAuthParams("iotdm", s.Region())
	hc, err := sdkiotda.IoTDAClientBuilder().WithCredential(creds).WithEndpoint(s.URL()).SafeBuild()
	if err != nil {
		t.Fatal(err)
	}
	return sdkiotda.NewIoTDAClient(hc)
}

// The SDK decodes strictly typed models: it fails on an output that is not a string, a
// status code it does not expect, or a misnamed field. Its view of the mock's tasks must
// match the provider client's.
func TestBatchTaskMock_TheSDKReadsTheMocksAnswers(t *testing.T) {
	s := fleetMock(t, 60, nil)
	sdk := sdkClient(t, s)
	targets := fleetIDs(60)
	var doc any = map[string]any{"service_id": "Echo", "command_name": "ECHO", "paras": map[string]any{"n": 1}}
	count, interval := int32(1), int32(1)
	created, err := sdk.CreateBatchTask(&model.CreateBatchTaskRequest{Body: &model.CreateBatchTask{
		TaskName: "sdk_task", TaskType: "createCommands", Targets: &targets, Document: &doc,
		TaskPolicy: &model.TaskPolicy{RetryCount: &count, RetryInterval: &interval}}})
	if err != nil {
		t.Fatalf("SDK CreateBatchTask: %v", err)
	}
	if created.HttpStatusCode != http.StatusCreated || created.TaskId == nil || *created.Status != "Initializing" {
		t.Fatalf("created %+v", created)
	}
	waitDone(t, s, *created.TaskId)
	limit := int32(50)
	shown, err := sdk.ShowBatchTask(&model.ShowBatchTaskRequest{TaskId: *created.TaskId, Limit: &limit})
	if err != nil {
		t.Fatalf("SDK ShowBatchTask: %v", err)
	}
	if *shown.Batchtask.Status != "Success" || len(*shown.TaskDetails) != 50 || *shown.Page.Count != 60 ||
		*shown.Batchtask.TaskProgress.Success != 60 {
		t.Fatalf("shown %+v", shown)
	}
	second, err := sdk.ShowBatchTask(&model.ShowBatchTaskRequest{TaskId: *created.TaskId, Limit: &limit, Marker: shown.Page.Marker})
	if err != nil || len(*second.TaskDetails) != 10 || *(*second.TaskDetails)[9].Target != "fleet-60" {
		t.Fatalf("second page %+v, %v", second, err)
	}
	// The provider's client sees the same subtasks.
	ours, err := newClient(t, s, nil).ShowBatchTask(t.Context(), *created.TaskId, iotda.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range *shown.TaskDetails {
		if ours.Subtasks[i].Target != *d.Target || ours.Subtasks[i].Output != *d.Output {
			t.Fatalf("subtask %d: SDK %s %s, ours %+v", i, *d.Target, *d.Output, ours.Subtasks[i])
		}
	}
	listed, err := sdk.ListBatchTasks(&model.ListBatchTasksRequest{TaskType: "createCommands"})
	if err != nil || len(*listed.Batchtasks) != 1 || *(*listed.Batchtasks)[0].TaskId != *created.TaskId {
		t.Fatalf("SDK ListBatchTasks: %+v, %v", listed, err)
	}
	deleted, err := sdk.DeleteBatchTask(&model.DeleteBatchTaskRequest{TaskId: *created.TaskId})
	if err != nil || deleted.HttpStatusCode != http.StatusNoContent {
		t.Fatalf("SDK DeleteBatchTask: %+v, %v", deleted, err)
	}
}
