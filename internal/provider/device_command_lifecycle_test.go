package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// expectReplace checks that the step's plan replaces the test resource, that is, re-delivers.
func expectReplace() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{
		PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionReplace)},
	}
}

// expectUpdate checks that the step's plan updates the test resource in place: no delivery.
func expectUpdate() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{
		PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionUpdate)},
	}
}

// expectReplaceBecauseOf checks that the step's plan replaces the test resource and names
// attribute as the reason, which Terraform shows as "# forces replacement".
func expectReplaceBecauseOf(attribute string) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionReplace),
		replacedBecauseOf{attribute},
	}}
}

// replacedBecauseOf is a plan check on the replace_paths of the test resource.
type replacedBecauseOf struct{ attribute string }

func (c replacedBecauseOf) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != testResourceAddr {
			continue
		}
		var paths []string
		for _, p := range rc.Change.ReplacePaths {
			paths = append(paths, fmt.Sprint(p))
		}
		if !slices.Contains(paths, "["+c.attribute+"]") {
			resp.Error = fmt.Errorf("%s is replaced because of %v, want %s", testResourceAddr, paths, c.attribute)
		}
		return
	}
	resp.Error = fmt.Errorf("no change planned for %s", testResourceAddr)
}

// TestDeviceCommandResource_FormOnlyChangesDeliverNothing: a new delivery follows what the
// platform would receive. Writing the same command in another form updates the resource
// in place and delivers nothing; changing what is sent replaces it, and the plan names the
// argument that forces the replacement.
func TestDeviceCommandResource_FormOnlyChangesDeliverNothing(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	config := func(args string) string { return testAccDeviceCommandConfig(target, args) }
	delivered := func(n int) resource.TestCheckFunc { return checkDeliveries(target.Server, "d1", n) }
	form := func(deliveries int, args string) resource.TestStep {
		return resource.TestStep{Config: config(args), ConfigPlanChecks: expectUpdate(), Check: delivered(deliveries)}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(`  paras = { value = "ON" }`), Check: delivered(1)},
			// The same JSON in other forms: in-place updates, nothing delivered.
			form(1, `  paras = tomap({ value = "ON" })`),
			form(1, `  paras = jsonencode({ value = "ON" })`),
			form(1, `  paras = "{ \"value\" :\n  \"ON\" }"`),
			form(1, `  paras = "{\"value\":\"\\u004fN\"}"`),
			form(1, `  paras        = { value = "ON" }
  service_id   = ""
  command_name = ""
  triggers     = {}`),
			form(1, `  paras = { value = "ON" }`),
			// What the device receives changes: a replacement, one delivery each, and the
			// plan names the argument that forces it.
			{Config: config(`  paras = { value = "ON", n = 1, note = "<b>" }`), ConfigPlanChecks: expectReplaceBecauseOf("paras"), Check: delivered(2)},
			// Numbers, member order (sorted by jsonencode as in the object form) and HTML
			// characters, which jsonencode escapes, make no difference either.
			form(2, `  paras = jsonencode({ note = "<b>", n = 1, value = "ON" })`),
			form(2, `  paras = "{\"n\":1,\"note\":\"<b>\",\"value\":\"ON\"}"`),
			// In a JSON string, member order and the way a number is written reach the device.
			{Config: config(`  paras = "{\"value\":\"ON\",\"n\":1,\"note\":\"<b>\"}"`), ConfigPlanChecks: expectReplaceBecauseOf("paras"), Check: delivered(3)},
			{Config: config(`  paras = "{\"value\":\"ON\",\"n\":1.0,\"note\":\"<b>\"}"`), ConfigPlanChecks: expectReplaceBecauseOf("paras"), Check: delivered(4)},
			{Config: config(`  paras = { value = "OFF" }`), ConfigPlanChecks: expectReplaceBecauseOf("paras"), Check: delivered(5)},
			{Config: config(`  paras      = { value = "OFF" }
  service_id = "Switch"`), ConfigPlanChecks: expectReplaceBecauseOf("service_id"), Check: delivered(6)},
			{Config: config(`  paras        = { value = "OFF" }
  service_id   = "Switch"
  command_name = "ON_OFF"`), ConfigPlanChecks: expectReplaceBecauseOf("command_name"), Check: delivered(7)},
			{Config: config(`  paras        = { value = "OFF" }
  service_id   = "Switch"
  command_name = "ON_OFF"
  triggers     = { round = "2" }`), ConfigPlanChecks: expectReplaceBecauseOf("triggers"), Check: delivered(8)},
			// And what was delivered last is kept as it is: no change, no delivery.
			{
				Config: config(`  paras        = { value = "OFF" }
  service_id   = "Switch"
  command_name = "ON_OFF"
  triggers     = { round = "2" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            delivered(8),
			},
		},
	})
}

func TestDeviceCommandResource_TriggersRedeliver(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	config := func(firmware string) string {
		return testAccDeviceCommandConfig(target, fmt.Sprintf(`
  command_name = "REBOOT"
  paras        = { mode = "soft" }
  triggers     = { firmware = %[1]q }
`, firmware))
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// Create delivers once.
			{Config: config("1.1"), Check: checkDeliveries(target.Server, "d1", 1)},
			// A trigger change replaces the resource: exactly one more delivery.
			{
				Config:           config("1.2"),
				ConfigPlanChecks: expectReplace(),
				Check:            checkDeliveries(target.Server, "d1", 2),
			},
			// Unchanged triggers deliver nothing.
			{
				Config:           config("1.2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkDeliveries(target.Server, "d1", 2),
			},
		},
	})
}

func TestDeviceCommandResource_ReplaceOnArgumentChange(t *testing.T) {
	t.Parallel()
	echo := &mockserver.Behavior{Kind: mockserver.BehaviorEcho}
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d1", Simulated: echo}, {ID: "d2", Simulated: echo},
	}})
	config := func(deviceID, service, command, paras string) string {
		return fmt.Sprintf(`%[1]s
resource "iotda_device_command" "test" {
  device_id    = %[2]q
  service_id   = %[3]q
  command_name = %[4]q
  paras        = %[5]s
}
`, target.ProviderHCL, deviceID, service, command, paras)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config("d1", "Switch", "ON_OFF", `{ value = "ON" }`), Check: checkDeliveries(target.Server, "d1", 1)},
			// Each argument change is a new delivery.
			{
				Config:           config("d1", "Switch", "ON_OFF", `{ value = "OFF" }`),
				ConfigPlanChecks: expectReplace(),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response").AtMapKey("paras").AtMapKey("value"), knownvalue.StringExact("OFF")),
				},
				Check: checkDeliveries(target.Server, "d1", 2),
			},
			{
				Config:           config("d1", "Switch", "TOGGLE", `{ value = "OFF" }`),
				ConfigPlanChecks: expectReplace(),
				Check:            checkDeliveries(target.Server, "d1", 3),
			},
			{
				Config:           config("d1", "Light", "TOGGLE", `{ value = "OFF" }`),
				ConfigPlanChecks: expectReplace(),
				Check:            checkDeliveries(target.Server, "d1", 4),
			},
			// The same object written as a JSON string sends the same command: nothing is delivered.
			{
				Config:           config("d1", "Light", "TOGGLE", `jsonencode({ value = "OFF" })`),
				ConfigPlanChecks: expectUpdate(),
				Check:            checkDeliveries(target.Server, "d1", 4),
			},
			{
				Config:           config("d2", "Light", "TOGGLE", `jsonencode({ value = "OFF" })`),
				ConfigPlanChecks: expectReplace(),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkDeliveries(target.Server, "d1", 4),
					checkDeliveries(target.Server, "d2", 1),
				),
			},
		},
	})
}

func TestDeviceCommandResource_InPlaceSettings(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	base := `
  command_name = "ON_OFF"
  paras        = { value = "ON" }
`
	tuned := base + `
  fail_on_device_error = false
  timeouts {
    create = "2m"
  }
`
	// The prior results stay known in the plan: nothing is "(known after apply)".
	resultsKnown := []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
		plancheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("id"), knownvalue.NotNull()),
		plancheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response"), knownvalue.NotNull()),
		plancheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response_json"), knownvalue.NotNull()),
		plancheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
		plancheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("delivered_at"), knownvalue.NotNull()),
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: testAccDeviceCommandConfig(target, base), Check: checkDeliveries(target.Server, target.DeviceID, 1)},
			// fail_on_device_error and timeouts update in place without a delivery.
			{
				Config:           testAccDeviceCommandConfig(target, tuned),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: resultsKnown},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("fail_on_device_error"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("timeouts").AtMapKey("create"), knownvalue.StringExact("2m")),
				},
				Check: checkDeliveries(target.Server, target.DeviceID, 1),
			},
			// And back to the defaults.
			{
				Config:           testAccDeviceCommandConfig(target, base),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: resultsKnown},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("fail_on_device_error"), knownvalue.Bool(true)),
				},
				Check: checkDeliveries(target.Server, target.DeviceID, 1),
			},
		},
	})
}

func TestDeviceCommandResource_ImportRefused(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config},
			// A command is an event: there is nothing on the platform to import.
			{
				Config:        config,
				ResourceName:  testResourceAddr,
				ImportState:   true,
				ImportStateId: "b1224afb-e9f0-4916-8220-b6bab568e888",
				ExpectError:   regexp.MustCompile(`(?s)Import Not Supported.*command\s+is\s+an\s+event.*Declare\s+the\s+resource`),
			},
		},
	})
}

// invalidArguments are arguments the resource and the data source both refuse at plan time,
// with the message they must show. Each is checked offline: nothing may reach the platform.
var invalidArguments = []struct {
	name, deviceID, body, pattern string
}{
	{"device_id pattern", "bad id!", `  paras = { value = "ON" }`, `(?s)Invalid Attribute Value Match.*device_id.*letters,\s+digits,\s+underscores\s+\(_\)\s+and\s+hyphens`},
	{"device_id slash", "a/b", `  paras = { value = "ON" }`, `(?s)Invalid Attribute Value Match.*device_id`},
	{"device_id too long", strings.Repeat("d", 129), `  paras = { value = "ON" }`, `(?s)device_id.*1\s+to\s+128\s+characters`},
	{"device_id empty", "", `  paras = { value = "ON" }`, `(?s)device_id.*1\s+to\s+128\s+characters`},
	{"service_id length", "d1", `  paras = { value = "ON" }` + "\n  service_id = \"" + strings.Repeat("s", 65) + "\"", `(?s)service_id.*at\s+most\s+64`},
	{"command_name length", "d1", `  paras = { value = "ON" }` + "\n  command_name = \"" + strings.Repeat("c", 129) + "\"", `(?s)command_name.*at\s+most\s+128`},
	{"paras list", "d1", `  paras = ["ON"]`, `(?s)Invalid Paras Value.*paras.*got\s+a\s+list`},
	{"paras number", "d1", `  paras = 42`, `(?s)Invalid Paras Value.*paras.*got\s+a\s+number`},
	{"paras bool", "d1", `  paras = true`, `(?s)Invalid Paras Value.*paras.*got\s+a\s+bool`},
	{"paras plain string", "d1", `  paras = "ON"`, `(?s)Invalid Paras Value.*must\s+hold\s+a\s+JSON\s+object`},
	{"paras JSON array", "d1", `  paras = "[1, 2]"`, `(?s)Invalid Paras Value.*must\s+hold\s+a\s+JSON\s+object`},
	{"paras malformed JSON", "d1", `  paras = "{\"value\": ON}"`, `(?s)Invalid Paras Value.*not\s+valid\s+JSON`},
	{"paras trailing data", "d1", `  paras = "{\"a\":1} {\"b\":2}"`, `(?s)Invalid Paras Value.*not\s+valid\s+JSON`},
	{"paras infinite", "d1", `  paras = { x = 1e999999 }`, `(?s)Invalid Paras Value.*paras\.x.*too\s+large`},
	// The data source requires paras; the resource requires paras or paras_wo ("Missing Paras").
	{"paras null", "d1", `  paras = null`, `(?s)(Missing\s+Configuration\s+for\s+Required\s+Attribute|Missing\s+Paras).*paras`},
}

// invalidTimeouts are timeouts blocks each kind refuses at plan time: a timeout of zero or
// less once reached Create and failed as "Cannot Reach IoTDA", sending users to check the
// endpoint.
var invalidTimeouts = map[string][]string{
	"resource": {`timeouts { create = "0s" }`, `timeouts { create = "-5m" }`},
	"data":     {`timeouts { read = "0s" }`, `timeouts { read = "-1h" }`},
}

// invalidArgumentSteps are plan-only steps, one per invalid argument, for a block of kind
// ("resource" or "data") iotda_device_command.test.
func invalidArgumentSteps(target *testTarget, kind string) []resource.TestStep {
	cases := invalidArguments
	for _, block := range invalidTimeouts[kind] {
		cases = append(slices.Clip(cases), struct{ name, deviceID, body, pattern string }{
			block, "d1", `  paras = { value = "ON" }` + "\n  " + block,
			`(?s)Invalid Timeout.*timeouts\.(create|read).*must\s+be\s+longer\s+than\s+zero`,
		})
	}
	steps := make([]resource.TestStep, 0, len(cases))
	for _, tc := range cases {
		steps = append(steps, resource.TestStep{
			Config: fmt.Sprintf("%s\n%s \"iotda_device_command\" \"test\" {\n  device_id = %q\n%s\n}\n",
				target.ProviderHCL, kind, tc.deviceID, tc.body),
			PlanOnly:    true,
			ExpectError: regexp.MustCompile(tc.pattern),
		})
	}
	return steps
}

// expectNoCommandTraffic fails when anything but device sessions reached the mock: a
// refused configuration sends no request and delivers nothing.
func expectNoCommandTraffic(t *testing.T, s *mockserver.Server) {
	t.Helper()
	for _, e := range s.Journal() {
		if e.Kind != mockserver.EntryConnect && e.Kind != mockserver.EntryDisconnect {
			t.Errorf("a refused configuration reached the mock: %s entry for %q", e.Kind, e.DeviceID)
		}
	}
}

func TestDeviceCommandResource_Validation(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps:                    invalidArgumentSteps(target, "resource"),
	})
	expectNoCommandTraffic(t, target.Server)
}
