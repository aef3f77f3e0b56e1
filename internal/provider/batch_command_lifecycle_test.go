package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

func TestBatchCommandResource_ClientTimeoutKeepsTheTask(t *testing.T) {
	t.Parallel()
	// The silent device keeps the task running for the platform's 15 s; each apply waits 1 s.
	// The first two steps must end before the task does, on however busy a machine.
	target := batchMock(t, 2, func(o *mockserver.Options) {
		o.PlatformTimeout = 15 * time.Second
		o.Devices = []mockserver.Device{{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}}}
	})
	s := target.Server
	config := batchConfig(target, `
  device_ids         = ["fleet-1", "silent-1", "fleet-2"]
  paras              = {}
  max_failed_devices = 1
  timeouts {
    create = "1s"
  }
`)
	taskID := func() string {
		if tasks := s.BatchTasks(); len(tasks) == 1 {
			return tasks[0].TaskID
		}
		return ""
	}
	sameTask := func(st *terraform.State) error {
		if got := st.RootModule().Resources[testBatchAddr].Primary.ID; got != taskID() {
			return fmt.Errorf("state holds task %s, the mock ran %s", got, taskID())
		}
		return nil
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The timeout is a warning naming the task, which is saved, not tainted: the plan
			// after it follows the same task.
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Processing")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("results"), knownvalue.Null()),
				},
				Check:              resource.ComposeTestCheckFunc(checkTasks(s, 1), sameTask),
				ExpectNonEmptyPlan: true,
			},
			// Applying again runs no second task: it follows the saved one, which is still
			// running for a while, until the timeout again.
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(testBatchAddr, tfjsonpath.New("status")),
					plancheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("task_id"), knownvalue.StringRegexp(taskIDRegexp)),
				}},
				Check:              resource.ComposeTestCheckFunc(checkTasks(s, 1), sameTask),
				ExpectNonEmptyPlan: true,
			},
			// Once the task has finished, the apply reads its results; the plan after is empty.
			{
				PreConfig: func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					if _, err := s.WaitBatchTask(ctx, taskID()); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("PartialSuccess")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("silent-1")})),
					expectResults(testBatchAddr, resultKeys("fleet-1", "silent-1", "fleet-2")),
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(s, 1), sameTask, checkDeliveries(s, "fleet-1", 1),
					checkDeliveries(s, "silent-1", 1)),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkTasks(s, 1),
			},
		},
	})
}

func TestBatchCommandResource_LostCreateAnswerFindsTheTask(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	// The platform creates the task, then the connection drops before the answer.
	lostAnswer := mockserver.Fault{Operation: "CreateBatchTask", ResetAfterDelivery: true}
	target.Server.InjectFault(lostAnswer)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: batchConfig(target, `
  device_ids = ["fleet-1", "fleet-2"]
  paras      = {}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
			},
			Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 1), checkDeliveries(target.Server, "fleet-1", 1),
				checkCreateFaulted(target.Server, lostAnswer)),
		}},
	})
}

// A name chosen in the configuration may belong to other tasks as well: the task found by it
// counts only when it was created after the request and holds the targets and document sent.
// Two such tasks cannot be told apart: the state keeps the create, and the plan says so.
func TestBatchCommandResource_LostAnswerWithAChosenName(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	// An older task of the same name, and one of that name to other devices.
	createTaskOutside(t, target, []string{"fleet-1"}, `{"a":1}`, "nightly_reboot")
	lostAnswer := mockserver.Fault{Operation: "CreateBatchTask", ResetAfterDelivery: true}
	target.Server.InjectFault(lostAnswer)
	config := batchConfig(target, `
  device_ids   = ["fleet-1", "fleet-2"]
  service_id   = "Maintenance"
  command_name = "REBOOT"
  task_name    = "nightly_reboot"
  paras        = { b = 2 }
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
					expectResults(testBatchAddr, resultKeys("fleet-1", "fleet-2")),
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 2), checkDeliveries(target.Server, "fleet-2", 1),
					checkDeliveries(target.Server, "fleet-1", 2), checkCreateFaulted(target.Server, lostAnswer), func(st *terraform.State) error {
						if got, want := st.RootModule().Resources[testBatchAddr].Primary.ID, target.Server.BatchTasks()[1].TaskID; got != want {
							return fmt.Errorf("the state holds task %s, want the one this apply created, %s", got, want)
						}
						return nil
					}),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkTasks(target.Server, 2),
			},
		},
	})
}

// createTaskOutside creates a task on the mock outside Terraform, named name ("console_task"
// when empty), waits for it to finish and returns its id.
func createTaskOutside(t *testing.T, target *testTarget, targets []string, paras, name string) string {
	t.Helper()
	c, err := iotda.NewClient(iotda.Config{Endpoint: target.Server.URL(), ProjectID: target.ProjectID, AuthToken: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := iotda.CommandDocument("Maintenance", "REBOOT", json.RawMessage(paras))
	if err != nil {
		t.Fatal(err)
	}
	count, interval := int32(1), int32(5)
	if name == "" {
		name = "console_task"
	}
	task, err := c.CreateBatchTask(t.Context(), iotda.NewBatchTask{TaskName: name, Targets: targets, Document: doc,
		Policy: &iotda.TaskPolicy{RetryCount: &count, RetryInterval: &interval}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := target.Server.WaitBatchTask(ctx, task.TaskID); err != nil {
		t.Fatal(err)
	}
	return task.TaskID
}

func TestBatchCommandResource_ImportBlockAdoptsTheTask(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 3, nil)
	id := createTaskOutside(t, target, []string{"fleet-2", "fleet-1"}, `{"delay":5,"mode":"soft"}`, "")
	// The configuration lists the devices in another order, writes paras as an object and adds
	// triggers, which IoTDA does not keep: none of that runs the task again.
	config := fmt.Sprintf(`%s
import {
  to = iotda_batch_command.test
  id = %q
}

resource "iotda_batch_command" "test" {
  device_ids     = ["fleet-1", "fleet-2"]
  service_id     = "Maintenance"
  command_name   = "REBOOT"
  task_name      = "console_task"
  paras          = { mode = "soft", delay = 5 }
  retry_count    = 1
  retry_interval = 5
  triggers       = { owner = "ops" }
}
`, target.ProviderHCL, id)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("id"), knownvalue.StringExact(id)),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
					expectResults(testBatchAddr, resultKeys("fleet-1", "fleet-2")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("triggers"),
						knownvalue.MapExact(map[string]knownvalue.Check{"owner": knownvalue.StringExact("ops")})),
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 1), checkDeliveries(target.Server, "fleet-1", 1)),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			// Once adopted, a change of triggers runs the task again.
			{
				Config: regexp.MustCompile(`owner = "ops"`).ReplaceAllString(config, `owner = "dev"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionReplace)},
				},
				Check: checkTasks(target.Server, 2),
			},
		},
	})
}

func TestBatchCommandResource_ImportCommand(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	config := batchConfig(target, `
  device_ids = ["fleet-1", "fleet-2"]
  paras      = jsonencode({ mode = "soft" })
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config},
			{
				ResourceName:            testBatchAddr,
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
				Check:                   checkTasks(target.Server, 1),
			},
			{
				ResourceName:  testBatchAddr,
				ImportState:   true,
				ImportStateId: "not-a-task",
				ExpectError:   wrapped(`Invalid Batch Task ID.*"not-a-task" is not a batch task ID`),
			},
			{
				ResourceName:  testBatchAddr,
				ImportState:   true,
				ImportStateId: "ffffffffffffffffffffffff",
				ExpectError:   wrapped(`Batch Task Not Found.*IoTDA has no batch task ffffffffffffffffffffffff in project`),
			},
		},
	})
}
