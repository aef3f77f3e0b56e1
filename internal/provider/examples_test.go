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
	// The provider example names iotdalabs/iotda (so this cannot run in parallel).
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "iotdalabs")
	// The default provider is configured by the environment alone, as the README's IOTDA_*
	// variables do (every variable of the example defaults to null); the instance by the
	// example's variables.
	env := map[string]map[string]string{
		"iotda":          {"IOTDA_PROJECT_ID": "0123456789abcdef", "IOTDA_AUTH_TOKEN": "example-token"},
		"iotda.instance": {"IOTDA_PROJECT_ID": "", "IOTDA_AUTH_TOKEN": ""},
	}
	variables := map[string]config.Variables{"iotda.instance": {
		"project_id":  config.StringVariable("0123456789abcdef"),
		"instance_id": config.StringVariable("instance-1"),
		"access_key":  config.StringVariable("example-ak"),
		"secret_key":  config.StringVariable("example-sk"),
	}}
	step := func(providerRef string) resource.TestStep {
		return resource.TestStep{
			PreConfig: func() {
				for name, value := range env[providerRef] {
					t.Setenv(name, value)
				}
			},
			Config: readExample(t, "provider/provider.tf") + fmt.Sprintf(`
resource "iotda_device_command" "example" {
  provider  = %s
  device_id = "d-123"
  paras     = { value = "ON" }
}
`, providerRef),
			ConfigVariables:    variables[providerRef],
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

// The documented examples, applied as written: each file of examples/resources and
// examples/data-sources (and examples/actions, with Terraform 1.14 or newer) is copied with the
// provider example, which carries the terraform block naming iotdalabs/iotda, into an empty
// directory and applied by the real CLI against a mock with the devices the examples name,
// as a reader would with their own project: the variables of the provider example come from
// TF_VAR_* (here terraform.tfvars.json), and the endpoint from IOTDA_ENDPOINT. These tests
// cannot run in parallel: the provider, served in-process, reads IOTDA_ENDPOINT, and the test
// harness serves it under the namespace TF_ACC_PROVIDER_NAMESPACE names (t.Setenv).

// exampleVariables are values for the provider example's input variables, against the mock.
func exampleVariables(s *mockserver.Server) config.Variables {
	return config.Variables{
		"project_id":  config.StringVariable(s.ProjectID()),
		"instance_id": config.StringVariable("instance-1"),
		"auth_token":  config.StringVariable("example-token"),
		"access_key":  config.StringVariable("example-ak"),
		"secret_key":  config.StringVariable("example-sk"),
	}
}

// examplesMock starts a mock with every device, fleet and group the examples name, and points
// the provider example's default provider configuration at it.
func examplesMock(t *testing.T) *mockserver.Server {
	t.Helper()
	if realEndpoint() {
		t.Skip("needs the mock platform's devices; skipped against a real IoTDA endpoint")
	}
	s := mockserver.NewForTest(t, mockserver.Options{
		AuthToken: "example-token",
		Devices: []mockserver.Device{
			{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
			// The device message examples' devices.
			{ID: "meter-17", Simulated: &mockserver.Behavior{}},
			{ID: "sensor-042", Simulated: &mockserver.Behavior{}},
		},
		Fleets: []mockserver.Fleet{{Prefix: "sensor-", Count: 3000, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorReply}},
			// The fleet message example's meters.
			{Prefix: "meter-", Count: 3, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}},
		Groups: []mockserver.Group{{ID: "0a1b2c3d-0000-4000-8000-000000000001", DeviceIDs: []string{"sensor-7", "sensor-8"}},
			{ID: "0a1b2c3d-0000-4000-8000-000000000002", DeviceIDs: []string{"meter-1", "meter-2"}}},
	})
	t.Setenv("IOTDA_ENDPOINT", s.URL())
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "iotdalabs")
	return s
}

// exampleDir copies the provider example and the named files under examples/ into an empty
// directory.
func exampleDir(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range append([]string{"provider/provider.tf"}, names...) {
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), []byte(readExample(t, name)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// documentedExamples lists the example files of the given kinds of examples/, relative to it.
func documentedExamples(t *testing.T, kinds ...string) []string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, kind := range kinds {
		files, err := filepath.Glob(filepath.Join(root, "examples", kind, "*", "*.tf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			rel, err := filepath.Rel(filepath.Join(root, "examples"), f)
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, filepath.ToSlash(rel))
		}
	}
	if len(names) == 0 {
		t.Fatalf("no examples of %v found", kinds)
	}
	return names
}

// exampleNeeds is what an example needs beyond the provider example and the mock.
var exampleNeeds = map[string]struct {
	version tfversion.TerraformVersionCheck
	env     map[string]string
}{
	"resources/iotda_device_command/write-only.tf": {
		version: tfversion.SkipBelow(tfversion.Version1_11_0),
		env:     map[string]string{"TF_VAR_wifi_password": "example-SECRET-pw"},
	},
	"resources/iotda_device_message/write-only.tf": {
		version: tfversion.SkipBelow(tfversion.Version1_11_0),
		env:     map[string]string{"TF_VAR_device_key": "example-SECRET-key"},
	},
}

// TestExamples_ApplyAsWritten applies every resource and data source example next to the
// provider example, checks that it delivered commands and that a second plan is empty, and
// destroys it.
func TestExamples_ApplyAsWritten(t *testing.T) {
	s := examplesMock(t)
	providerOnly := exampleDir(t)
	for _, name := range documentedExamples(t, "resources", "data-sources") {
		t.Run(name, func(t *testing.T) {
			needs := exampleNeeds[name]
			var checks []tfversion.TerraformVersionCheck
			if needs.version != nil {
				checks = append(checks, needs.version)
			}
			for k, v := range needs.env {
				t.Setenv(k, v)
			}
			before := requests(s, "")
			// With ConfigDirectory the harness takes the providers from each step.
			resource.UnitTest(t, resource.TestCase{
				TerraformVersionChecks: checks,
				Steps: []resource.TestStep{
					// The harness plans again after the apply and fails on any change.
					{
						ProtoV6ProviderFactories: testProviderFactories,
						ConfigDirectory:          config.StaticDirectory(exampleDir(t, name)),
						ConfigVariables:          exampleVariables(s),
						// A state check, not a Check: the harness's legacy state shim, which
						// Check reads, refuses for_each keys.
						ConfigStateChecks: []statecheck.StateCheck{stateCheckFunc(
							func(_ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
								if requests(s, "") == before { // Batch task requests included.
									resp.Error = fmt.Errorf("applying %s sent IoTDA nothing", name)
								}
							})},
					},
					// Destroyed within the test: the final state of a for_each example cannot
					// be read by the harness's legacy state shim.
					{
						ProtoV6ProviderFactories: testProviderFactories,
						ConfigDirectory:          config.StaticDirectory(providerOnly),
						ConfigVariables:          exampleVariables(s),
					},
				},
			})
		})
	}
}

// TestExamples_ActionsApplyAsWritten invokes the action examples, next to the provider example,
// with Terraform 1.14 or newer: action.tf on its own (-invoke), action_trigger.tf through the
// lifecycle of the resource it is attached to, on create and on update.
func TestExamples_ActionsApplyAsWritten(t *testing.T) {
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_14_0))
	s := examplesMock(t)
	args := map[string][][]string{
		"actions/iotda_device_command/action.tf":         {{"-invoke=action.iotda_device_command.reboot"}},
		"actions/iotda_device_command/action_trigger.tf": {nil, {"-var", "firmware_version=1.3.0"}},
		"actions/iotda_device_message/action.tf":         {{"-invoke=action.iotda_device_message.upload_logs"}},
	}
	// What each example delivers, and to which device: commands, or messages.
	type delivered struct {
		device   string
		messages bool
		want     int
	}
	wantDeliveries := map[string]delivered{
		"actions/iotda_device_command/action.tf":         {device: "d-123", want: 1},
		"actions/iotda_device_command/action_trigger.tf": {device: "d-123", want: 4},
		"actions/iotda_device_message/action.tf":         {device: "meter-17", messages: true, want: 1},
	}
	count := func(d delivered) int {
		if d.messages {
			return len(s.MessageDeliveries(d.device))
		}
		return len(s.Deliveries(d.device))
	}
	for _, name := range documentedExamples(t, "actions") {
		t.Run(name, func(t *testing.T) {
			runs, ok := args[name]
			if !ok {
				t.Fatalf("%s is a new action example: say how this test applies it", name)
			}
			r := &cliRun{t: t, cli: cli, dir: exampleDir(t, name)}
			r.env = append(exampleCLIEnv(t, s), "TF_REATTACH_PROVIDERS="+serveProvider(t))
			want := wantDeliveries[name]
			before := count(want)
			for _, extra := range runs {
				out, ok := r.run(append([]string{"apply", "-auto-approve", "-no-color", "-input=false"}, extra...)...)
				if !ok {
					t.Fatalf("terraform apply %v failed:\n%s", extra, out)
				}
			}
			if got := count(want) - before; got != want.want {
				t.Errorf("%s delivered %d commands or messages to %s, want %d", name, got, want.device, want.want)
			}
			if out, ok := r.run("destroy", "-auto-approve", "-no-color", "-input=false"); !ok {
				t.Fatalf("terraform destroy failed:\n%s", out)
			}
		})
	}
}

// exampleCLIEnv is the environment of a CLI run by a test: its own settings, the provider
// example's variables, and none of the caller's TF_* settings.
func exampleCLIEnv(t *testing.T, s *mockserver.Server) []string {
	t.Helper()
	env := []string{"TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1", "TF_CLI_CONFIG_FILE=" + os.DevNull}
	for name, v := range exampleVariables(s) {
		b, err := v.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var value string
		if err := json.Unmarshal(b, &value); err != nil {
			t.Fatal(err)
		}
		env = append(env, "TF_VAR_"+name+"="+value)
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	return env
}
