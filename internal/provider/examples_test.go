package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// readExample returns a file under examples/, which tfplugindocs puts into docs/.
func readExample(t *testing.T, name string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExamples_ResourceAndDataSource applies the documentation's examples against a mock
// with the device they name, so that every example in docs/ is a configuration that works.
func TestExamples_ResourceAndDataSource(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})

	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The resource example delivers both of its commands.
			{
				Config: target.ProviderHCL + readExample(t, "resources/iotda_device_command/resource.tf"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("switch_result", knownvalue.StringExact("success")),
				},
				Check: checkDeliveries(target.Server, "d-123", 2),
			},
			// The data source example delivers its command on read.
			{
				Config: target.ProviderHCL + readExample(t, "data-sources/iotda_device_command/data-source.tf"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("device_status",
						knownvalue.ObjectExact(map[string]knownvalue.Check{"result": knownvalue.StringExact("success")})),
				},
			},
		},
	})
}

// TestExamples_Provider plans a command with each provider configuration of the provider
// example, one at a time: Terraform validates and configures only the providers something
// uses, and the tests serve every alias from one in-process provider server, which must not
// be configured twice at once.
func TestExamples_Provider(t *testing.T) {
	t.Parallel()
	variables := config.Variables{
		"project_id":  config.StringVariable("0123456789abcdef"),
		"instance_id": config.StringVariable("instance-1"),
		"auth_token":  config.StringVariable("example-token"),
		"access_key":  config.StringVariable("example-ak"),
		"secret_key":  config.StringVariable("example-sk"),
	}
	step := func(providerRef string) resource.TestStep {
		return resource.TestStep{
			Config: readExample(t, "provider/provider.tf") + fmt.Sprintf(`
resource "iotda_device_command" "example" {
  provider  = %s
  device_id = "d-123"
  paras     = { value = "ON" }
}
`, providerRef),
			ConfigVariables:    variables,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps:                    []resource.TestStep{step("iotda"), step("iotda.instance")},
	})
}

// TestExamples_BatchCommand applies the iotda_batch_command example against a mock with the
// fleet and the device group it names.
func TestExamples_BatchCommand(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 0, func(o *mockserver.Options) {
		o.Fleets = []mockserver.Fleet{{Prefix: "sensor-", Count: 3000, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorReply}}}
		o.Groups = []mockserver.Group{{ID: "0a1b2c3d-0000-4000-8000-000000000001", DeviceIDs: []string{"sensor-7", "sensor-8"}}}
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: target.ProviderHCL + readExample(t, "resources/iotda_batch_command/resource.tf"),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("sensor_1_reply", knownvalue.ObjectExact(map[string]knownvalue.Check{
					"result_code":   knownvalue.Int64Exact(0),
					"response_name": knownvalue.StringExact("COMMAND_RESPONSE"),
					"paras":         knownvalue.ObjectExact(map[string]knownvalue.Check{"result": knownvalue.StringExact("success")}),
				})),
				statecheck.ExpectKnownOutputValue("offline_devices", knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownOutputValue("failed_devices", knownvalue.ListSizeExact(0)),
				// reboot_fleet, lights_off and three chunks of 1,000. (Not a Check function:
				// terraform-plugin-testing's legacy state shim refuses for_each keys.)
				mockCheck(func() error { return checkTasks(target.Server, 5)(nil) }),
			},
		}, {
			// Destroy within the test: the final state must hold no for_each instance, which
			// the shim that reads it afterwards cannot represent.
			Config: target.ProviderHCL,
		}},
	})
}

// deliveredCommandNames lists the command_name of every command the mock published to
// deviceID, in order.
func deliveredCommandNames(t *testing.T, s *mockserver.Server, deviceID string) []string {
	t.Helper()
	var names []string
	for _, d := range s.Deliveries(deviceID) {
		var cmd struct {
			CommandName string `json:"command_name"`
		}
		if err := json.Unmarshal(d.Body, &cmd); err != nil {
			t.Fatalf("delivery %s: %v", d.Body, err)
		}
		names = append(names, cmd.CommandName)
	}
	return names
}

// TestExamples_Sequence applies the sequence recipe: three commands in order, all three
// again in the same order when var.round changes, and nothing when it does not.
func TestExamples_Sequence(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})
	hcl := target.ProviderHCL + readExample(t, "resources/iotda_device_command/sequence.tf")
	order := func(want ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got := deliveredCommandNames(t, target.Server, "d-123"); !slices.Equal(got, want) {
				return fmt.Errorf("the device received %v, want %v", got, want)
			}
			return nil
		}
	}
	round := func(r string) config.Variables { return config.Variables{"round": config.StringVariable(r)} }
	once := []string{"STOP", "CALIBRATE", "START"}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: hcl, ConfigVariables: round("1"), Check: order(once...)},
			{Config: hcl, ConfigVariables: round("2"), Check: order(append(slices.Clone(once), once...)...)},
			{
				Config: hcl, ConfigVariables: round("2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            order(append(slices.Clone(once), once...)...),
			},
		},
	})
}

// TestExamples_Postcondition applies the postcondition recipe: a reply that says the
// command took effect passes; one that does not fails the apply, keeps the delivery in
// state (no second delivery on the next plan), and -replace (here a taint) delivers again.
func TestExamples_Postcondition(t *testing.T) {
	t.Parallel()
	busy := json.RawMessage(`{"result_code":0,"paras":{"result":"busy"}}`)
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Response: busy}},
	}})
	config := target.ProviderHCL + readExample(t, "resources/iotda_device_command/postcondition.tf")
	const addr = "iotda_device_command.set_interval"
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Resource postcondition failed.*did\s+not\s+apply\s+the\s+interval.*"busy"`),
			},
			// The delivery is in state: the plan reports the failure again, delivering nothing.
			{
				PreConfig: func() {
					if n := len(target.Server.Deliveries("d-123")); n != 1 {
						t.Errorf("the device received %d commands, want 1", n)
					}
				},
				Config:      config,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Resource postcondition failed.*"busy"`),
			},
			// The device is ready now; delivering again passes.
			{
				PreConfig: func() {
					target.Server.RemoveDevice("d-123")
					if err := target.Server.AddDevice(mockserver.Device{ID: "d-123",
						Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}}); err != nil {
						t.Fatal(err)
					}
				},
				Taint:  []string{addr},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("response").AtMapKey("paras").AtMapKey("result"),
						knownvalue.StringExact("success")),
				},
				Check: checkDeliveries(target.Server, "d-123", 2),
			},
		},
	})
}

// TestExamples_WriteOnly applies the write-only example with its password from the
// environment (the variable is ephemeral), on a CLI with write-only arguments: the password
// reaches the device and stays out of the state. It cannot run in parallel (t.Setenv).
func TestExamples_WriteOnly(t *testing.T) {
	const password = "example-SECRET-pw"
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})
	t.Setenv("TF_VAR_wifi_password", password)
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config:            target.ProviderHCL + readExample(t, "resources/iotda_device_command/write-only.tf"),
			ConfigStateChecks: []statecheck.StateCheck{stateWithoutSecrets([]string{password})},
			Check: func(*terraform.State) error {
				d := target.Server.Deliveries("d-123")
				if len(d) != 1 || !strings.Contains(string(d[0].Body), `"password":"`+password+`"`) {
					return fmt.Errorf("the mock delivered %d commands, want 1 with the password: %v", len(d), d)
				}
				return nil
			},
		}},
	})
}
