package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// untaint runs `terraform untaint address` in the test's working directory, found under
// base (the TestCase's WorkingDir), as the docs tell users to do after a timeout.
func untaint(t *testing.T, base, address string) {
	t.Helper()
	states, err := filepath.Glob(filepath.Join(base, "work*", "terraform.tfstate"))
	if err != nil || len(states) != 1 {
		t.Fatalf("working directory: %v, %v", states, err)
	}
	tf, err := tfexec.NewTerraform(filepath.Dir(states[0]), os.Getenv("TF_ACC_TERRAFORM_PATH"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.Untaint(context.Background(), address); err != nil {
		t.Fatalf("terraform untaint %s: %v", address, err)
	}
}

func TestBatchCommandResource_ClientTimeoutKeepsTheTask(t *testing.T) {
	t.Parallel()
	// The silent device keeps the task running for the platform's 4 s; the apply waits 1 s.
	target := batchMock(t, 2, func(o *mockserver.Options) {
		o.PlatformTimeout = 4 * time.Second
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
	base := t.TempDir()
	taskID := func() string {
		if tasks := s.BatchTasks(); len(tasks) == 1 {
			return tasks[0].TaskID
		}
		return ""
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		WorkingDir:               base,
		Steps: []resource.TestStep{
			// The timeout is an error naming the task, which is saved.
			{
				Config: config,
				ExpectError: wrapped(`Batch Task Still Running.*Batch task [0-9a-f]{24} \("tf_.*was still Processing when ` +
					`timeouts.create \(1s\) expired; 2 of 3 devices done.*terraform untaint`),
				Check: checkTasks(s, 1),
			},
			// After terraform untaint, applying again runs no second task: refresh follows the
			// saved one, still running.
			{
				PreConfig: func() { untaint(t, base, testBatchAddr) },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Processing")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("results"), knownvalue.Null()),
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(s, 1), func(st *terraform.State) error {
					if got := st.RootModule().Resources[testBatchAddr].Primary.ID; got != taskID() {
						return fmt.Errorf("state holds task %s, the mock ran %s", got, taskID())
					}
					return nil
				}),
			},
			// Once the task has finished, the next refresh reads its results; the plan is empty.
			{
				PreConfig: func() {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					defer cancel()
					if _, err := s.WaitBatchTask(ctx, taskID()); err != nil {
						t.Fatal(err)
					}
				},
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("PartialSuccess")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("silent-1")})),
					expectResults(testBatchAddr, resultKeys("fleet-1", "silent-1", "fleet-2")),
				},
				Check: checkTasks(s, 1),
			},
		},
	})
}

func TestBatchCommandResource_LostCreateAnswerFindsTheTask(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	// The platform creates the task, then the connection drops before the answer.
	target.Server.InjectFault(mockserver.Fault{ResetAfterDelivery: true})
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
			Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 1), checkDeliveries(target.Server, "fleet-1", 1)),
		}},
	})
}

func TestBatchCommandResource_LostAnswerWithAChosenNameIsAnError(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 1, nil)
	target.Server.InjectFault(mockserver.Fault{ResetAfterDelivery: true})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: batchConfig(target, `
  device_ids = ["fleet-1"]
  task_name  = "nightly_reboot"
  paras      = {}
`),
			ExpectError: wrapped(`Batch Task Outcome Unknown.*"nightly_reboot".*chosen in the configuration.*NOT sent again.*terraform import`),
			Check:       checkTasks(target.Server, 1),
		}},
	})
}

// createTaskOutside creates a task on the mock outside Terraform and returns its id.
func createTaskOutside(t *testing.T, target *testTarget, targets []string, paras string) string {
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
	task, err := c.CreateBatchTask(t.Context(), iotda.NewBatchTask{TaskName: "console_task", Targets: targets, Document: doc,
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
	id := createTaskOutside(t, target, []string{"fleet-2", "fleet-1"}, `{"delay":5,"mode":"soft"}`)
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
