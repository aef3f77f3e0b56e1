package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// Import never commands the fleet again: an imported task compares with its configuration as
// the JSON it sends, whatever member order or number spelling IoTDA answers with, and whether
// the configuration writes paras as an object, as jsonencode() or as the string
// `terraform plan -generate-config-out` writes.

// notReplaced is a plan that keeps the imported task: nothing, or an in-place update.
func notReplaced() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
	}}
}

func TestBatchCommandResource_ImportComparesParasAsJSON(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		// sent is the task's paras as sent (and as the mock answers them); config the
		// configuration's.
		sent, config string
	}{
		"members in another order, object":       {`{"b":1,"a":2}`, `{ b = 1, a = 2 }`},
		"members in another order, jsonencode()": {`{"b":1,"a":2}`, `jsonencode({ a = 2, b = 1 })`},
		"1.0, object":                            {`{"n":1.0}`, `{ n = 1 }`},
		"1.0, jsonencode()":                      {`{"n":1.0}`, `jsonencode({ n = 1.0 })`},
		"nested, escapes and exponents":          {`{"x":{"s":"\u00e9","e":[1E2,0.50]}}`, `{ x = { e = [100, 0.5], s = "é" } }`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target := batchMock(t, 2, nil)
			id := createTaskOutside(t, target, []string{"fleet-1", "fleet-2"}, c.sent, "")
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
  paras          = %s
  retry_count    = 1
  retry_interval = 5
}
`, target.ProviderHCL, id, c.config)
			once := resource.ComposeTestCheckFunc(checkTasks(target.Server, 1), checkDeliveries(target.Server, "fleet-1", 1),
				checkDeliveries(target.Server, "fleet-2", 1), func(st *terraform.State) error {
					if got := st.RootModule().Resources[testBatchAddr].Primary.ID; got != id {
						return fmt.Errorf("the state holds task %s, want the imported %s", got, id)
					}
					return nil
				})
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigPlanChecks: notReplaced(), Check: once},
					{Config: config, ConfigPlanChecks: emptyPlan(), Check: once},
				},
			})
		})
	}
}

// TestBatchCommandResource_ImportCommandThenPlan imports with `terraform import` (an
// ImportState step kept in the state) a task whose paras IoTDA answers as {"n":1.0}; the
// configuration's plan keeps it.
func TestBatchCommandResource_ImportCommandThenPlan(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	id := createTaskOutside(t, target, []string{"fleet-2", "fleet-1"}, `{"n":1.0,"b":true}`, "")
	config := batchConfig(target, `
  device_ids     = ["fleet-1", "fleet-2"]
  service_id     = "Maintenance"
  command_name   = "REBOOT"
  task_name      = "console_task"
  paras          = { b = true, n = 1 }
  retry_count    = 1
  retry_interval = 5
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config, ResourceName: testBatchAddr, ImportState: true, ImportStateId: id, ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 || states[0].Attributes["status"] != "Success" {
						return fmt.Errorf("imported %+v", states)
					}
					return nil
				},
			},
			{Config: config, ConfigPlanChecks: notReplaced(), Check: checkTasks(target.Server, 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("id"), knownvalue.StringExact(id))}},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 1),
				checkDeliveries(target.Server, "fleet-1", 1))},
		},
	})
}

// TestBatchCommandResource_ImportGenerateConfig imports with an import block and
// `terraform plan -generate-config-out` (Terraform 1.5): the generated configuration plans
// no change, the import applies, and nothing runs again.
func TestBatchCommandResource_ImportGenerateConfig(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	target := batchMock(t, 2, nil)
	for _, sent := range []string{`{"b":1,"a":2}`, `{"n":1.0}`} {
		id := createTaskOutside(t, target, []string{"fleet-1", "fleet-2"}, sent, "")
		r := newFleetCLIRun(t, cli, target.ProviderHCL+fmt.Sprintf("\nimport {\n  to = iotda_batch_command.test\n  id = %q\n}\n", id))
		// Terraform 1.5 writes paras as the string the state holds; OpenTofu writes jsonencode()
		// of it, which sends the same JSON value with another member order: an update in place.
		out, ok := r.run("plan", "-no-color", "-input=false", "-generate-config-out=generated.tf")
		if !ok || !regexp.MustCompile(`1 to import, 0 to add, [01] to change, 0 to destroy`).MatchString(out) {
			t.Fatalf("%s: plan -generate-config-out:\n%s", sent, out)
		}
		generated, err := os.ReadFile(filepath.Join(r.dir, "generated.tf"))
		if err != nil || !strings.Contains(string(generated), "paras") {
			t.Fatalf("%s: generated %s, %v", sent, generated, err)
		}
		if out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false"); !ok ||
			!regexp.MustCompile(`1 imported, 0 added, [01] changed, 0 destroyed`).MatchString(out) {
			t.Fatalf("%s: apply:\n%s", sent, out)
		}
		if out, ok := r.run("plan", "-no-color", "-input=false", "-detailed-exitcode"); !ok {
			t.Fatalf("%s: the plan after the import is not empty:\n%s\ngenerated:\n%s", sent, out, generated)
		}
	}
	if n := tasksCreated(target.Server); n != 2 {
		t.Fatalf("the mock created %d tasks, want the 2 imported", n)
	}
	if n := len(target.Server.Deliveries("fleet-1")); n != 2 {
		t.Fatalf("fleet-1 received %d commands, want one per imported task", n)
	}
}
