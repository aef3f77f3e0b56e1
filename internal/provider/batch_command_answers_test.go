package provider

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/batchtask"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// What the create's answer says is checked (issue 13, "every answer is checked"): an answer
// naming a task IoTDA does not have, another task, or a task that is not the one sent leaves
// the outcome unknown, and the task is found by its name. A create held past the lookup
// window is never sent again on a guess. Each case applies three times and counts what every
// device received.

// createAnswer rewrites the answer to the create.
func createAnswer(edit func(map[string]any)) *testutil.Rule {
	return rule(isCreate, testutil.Action{Rewrite: rewriteJSON(edit)})
}

func TestBatchCommandResource_CreateAnswersChecked(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(map[string]any){
		// The trial's merge_patch {"task_id":"0123456789abcdef01234567"}.
		"a task IoTDA does not have": func(v map[string]any) { v["task_id"] = "0123456789abcdef01234567" },
		"other targets":              func(v map[string]any) { v["targets"] = []any{"fleet-1", "intruder-1"} },
		"another document": func(v map[string]any) {
			v["document"] = map[string]any{"command_name": "FACTORY_RESET", "paras": map[string]any{}}
		},
		"another task type":        func(v map[string]any) { v["task_type"] = "deleteDevices" },
		"a task id not of IoTDA's": func(v map[string]any) { v["task_id"] = "../../other" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ft := batchFaultMock(t, 4, nil)
			ft.proxy.Add(createAnswer(edit))
			config := ft.config("")
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigStateChecks: ft.resultsRead(), Check: ft.deliveredOnce()},
					{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
					{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
				},
			})
		})
	}
}

// TestBatchCommandResource_CreateAnswerNamesAnotherTask: the answer names a real task of
// another name, other devices and another command. It is not adopted: the task the request
// made is found by its name and followed, and no apply is an update forever.
func TestBatchCommandResource_CreateAnswerNamesAnotherTask(t *testing.T) {
	t.Parallel()
	ft := batchFaultMock(t, 4, nil)
	client, err := iotda.NewClient(iotda.Config{Endpoint: ft.Server.URL(), Region: "cn-north-4",
		ProjectID: ft.ProjectID, AuthToken: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := iotda.CommandDocument("", "BLINK", []byte(`{"times":3}`))
	if err != nil {
		t.Fatal(err)
	}
	other, err := client.CreateBatchTask(t.Context(), iotda.NewBatchTask{TaskName: "someone_elses", Targets: []string{"spare-1"},
		Document: doc})
	if err != nil {
		t.Fatal(err)
	}
	ft.proxy.Add(createAnswer(func(v map[string]any) { v["task_id"] = other.TaskID }))
	config := ft.config("")
	check := func(st *terraform.State) error {
		r := st.RootModule().Resources[testBatchAddr]
		if r == nil {
			return fmt.Errorf("%s is not in the state", testBatchAddr)
		}
		return ft.deliveredOnceBeside(r.Primary.Attributes["task_id"], other.TaskID)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: ft.resultsRead(), Check: check},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: check},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: check},
		},
	})
}

// deliveredOnceBeside is deliveredOnceTo when the mock also ran the task besides, on other
// devices.
func (ft *faultTarget) deliveredOnceBeside(stateTaskID, besides string) error {
	for _, id := range ft.ids {
		if n := len(ft.Server.Deliveries(id)); n != 1 {
			return fmt.Errorf("the mock delivered %d command(s) to %s, want 1", n, id)
		}
	}
	var ids []string
	for _, task := range ft.Server.BatchTasks() {
		ids = append(ids, task.TaskID)
	}
	if len(ids) != 2 || !slices.Contains(ids, besides) || !slices.Contains(ids, stateTaskID) || stateTaskID == besides {
		return fmt.Errorf("the mock ran tasks %v, the state holds %q: want the state's and %s", ids, stateTaskID, besides)
	}
	return nil
}

// TestBatchCommandResource_CreateHeldPastTheLookupWindow: the create is held on its way longer
// than the provider looks for its task by itself. The plans then send nothing, saying how to;
// once the held request creates the task, a refresh finds it and the next apply follows it.
func TestBatchCommandResource_CreateHeldPastTheLookupWindow(t *testing.T) {
	t.Parallel()
	ft := batchFaultMock(t, 4, nil)
	release := make(chan struct{})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	ft.proxy.Add(rule(isCreate, testutil.Action{Release: release}, 1))
	config := ft.config("  timeouts {\n    create = \"3s\"\n  }\n")
	base := t.TempDir()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		WorkingDir:               base,
		Steps: []resource.TestStep{
			{Config: config, Check: ft.noTaskYet(), ExpectNonEmptyPlan: true},
			// The request is older than the lookup window: nothing is sent, however often the
			// user applies.
			{
				PreConfig: func() { backdateSent(t, base, lookupWindow+time.Minute) },
				Config:    config, ConfigPlanChecks: emptyPlan(), Check: ft.noTaskYet(),
			},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.noTaskYet()},
			// The held request reaches IoTDA and creates the task: the next plan follows it.
			{
				PreConfig: func() {
					released = true
					close(release)
					waitTask(t, ft.Server)
				},
				Config: config, ConfigPlanChecks: followsInPlace(), ConfigStateChecks: ft.resultsRead(),
				Check: ft.deliveredOnce(),
			},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
		},
	})
}

// TestBatchCommandResource_NamedTaskMarkFails: a task_name chosen in the configuration, a task
// of that name already run by an earlier apply, and a create whose answer is lost. The task
// list is read before the create to tell the tasks apart: a read that fails is read again,
// and the new task is found and followed. When it cannot be read at all, the lookup cannot
// tell the two tasks apart: the apply says so in a warning of its own, and later plans send
// nothing and do not loop.
func TestBatchCommandResource_NamedTaskMarkFails(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		// failedLists is how many ListBatchTasks requests fail with a 503 from the replacement on.
		failedLists int
		ambiguous   bool
	}{
		// max_retries = 1: one mark read is two requests.
		"the mark read fails once":  {failedLists: 2},
		"the mark read fails twice": {failedLists: 4},
		"the mark cannot be read":   {failedLists: 2 * markAttempts, ambiguous: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ft := batchFaultMock(t, 4, nil)
			first := ft.config("  task_name = \"nightly_reboot\"\n  triggers  = { run = \"1\" }\n")
			second := ft.config("  task_name = \"nightly_reboot\"\n  triggers  = { run = \"2\" }\n")
			var failures []int
			for i := 1; i <= c.failedLists; i++ {
				failures = append(failures, i)
			}
			faults := func() {
				ft.proxy.Add(rule(isList, testutil.Action{Refuse: true, Status: 503, Body: testutil.GatewayPage(503)}, failures...),
					rule(isCreate, testutil.Action{Status: 502, Body: testutil.GatewayPage(502)}, 1))
			}
			twice := ft.deliveredTimes(2, 2)
			steps := []resource.TestStep{
				{Config: first, ConfigStateChecks: ft.resultsRead(), Check: ft.deliveredTimes(1, 1)},
				// triggers changed: the task runs again, as a new task of the same name.
				{PreConfig: faults, Config: second, ConfigStateChecks: ft.resultsRead(), Check: twice},
				{Config: second, ConfigPlanChecks: emptyPlan(), Check: twice},
			}
			if c.ambiguous {
				// The apply warns and saves the create without a task.
				steps[1] = resource.TestStep{PreConfig: faults, Config: second, Check: twice}
				// No loop: the plans after it send nothing and follow nothing.
				steps = append(steps[:2], resource.TestStep{Config: second, ConfigPlanChecks: emptyPlan(), Check: twice},
					resource.TestStep{Config: second, ConfigPlanChecks: emptyPlan(), Check: twice})
			}
			resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testProviderFactories, Steps: steps})
		})
	}
}

// deliveredTimes checks that every device of the fleet received n commands, and that the mock
// ran tasks tasks; the state holds the newest when the results were read.
func (ft *faultTarget) deliveredTimes(n, tasks int) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		for _, id := range ft.ids {
			if got := len(ft.Server.Deliveries(id)); got != n {
				return fmt.Errorf("the mock delivered %d command(s) to %s, want %d", got, id, n)
			}
		}
		ran := ft.Server.BatchTasks()
		if len(ran) != tasks {
			return fmt.Errorf("the mock ran %d batch tasks, want %d", len(ran), tasks)
		}
		r := st.RootModule().Resources[testBatchAddr]
		if r == nil {
			return fmt.Errorf("%s is not in the state", testBatchAddr)
		}
		if id := r.Primary.Attributes["task_id"]; id != "" && !slices.ContainsFunc(ran, func(t batchtask.Task) bool { return t.TaskID == id }) {
			return fmt.Errorf("the state holds task %q, which the mock did not run", id)
		}
		return nil
	}
}

// TestSettleTask_PastTheLookupWindow: an apply that looks for a lost create's task past the
// lookup window (a long timeouts.create) stops looking without sending anything, keeps the
// create, and says how to send it again.
func TestSettleTask_PastTheLookupWindow(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	client, err := iotda.NewClient(iotda.Config{Endpoint: target.Server.URL(), Region: "cn-north-4",
		ProjectID: target.ProjectID, AuthToken: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	m := &batchCommandModel{fleetTask: fleetTask{TaskName: types.StringValue("tf_lost"),
		DeviceIDs: types.ListValueMust(types.StringType, []attr.Value{types.StringValue("fleet-1"), types.StringValue("fleet-2")}),
		GroupIDs:  types.ListNull(types.StringType)}, CommandName: types.StringValue("REBOOT"),
		Paras: types.DynamicValue(types.StringValue(`{}`))}
	m.setUnresolved()
	sent := sentTask{Name: "tf_lost", At: time.Now().Add(-lookupWindow - time.Minute), Derived: true}
	fp := fleetPrivate{Sent: &sent}
	var diags diag.Diagnostics
	if settleTask(t.Context(), client, m, &fp, errors.New("HTTP 504"), sent.At, &diags) {
		t.Fatal("a task was found")
	}
	if !fp.NeverFound || fp.Sent == nil || diags.HasError() || len(diags) != 1 || diags[0].Summary() != summaryBatchNeverFound {
		t.Fatalf("private %+v, diagnostics %v", fp, diags)
	}
	if n := batchRequests(target.Server, http.MethodPost); n != 0 || len(target.Server.BatchTasks()) != 0 {
		t.Fatalf("%d creates sent, %d tasks run", n, len(target.Server.BatchTasks()))
	}
}
