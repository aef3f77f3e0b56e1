package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

const testDataSourceAddr = "data.iotda_device_command.test"

// testAccDeviceCommandDataSourceConfig renders a provider block and one
// data.iotda_device_command.test; body holds its arguments after device_id.
func testAccDeviceCommandDataSourceConfig(target *testTarget, body string) string {
	return fmt.Sprintf(`%[1]s
data "iotda_device_command" "test" {
  device_id = %[2]q
%[3]s
}
`, target.ProviderHCL, target.DeviceID, body)
}

// checkMoreDeliveries asserts that the mock delivered at least one more command to
// deviceID since the last call, which is what every read of the data source does.
func checkMoreDeliveries(s *mockserver.Server, deviceID string, last *int) func(*terraform.State) error {
	return func(*terraform.State) error {
		if s == nil {
			return nil
		}
		got := len(s.Deliveries(deviceID))
		if got <= *last {
			return fmt.Errorf("the mock delivered %d command(s) to %s, want more than %d", got, deviceID, *last)
		}
		*last = got
		return nil
	}
}

func TestDeviceCommandDataSource_DeliversOnEveryRead(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	config := testAccDeviceCommandDataSourceConfig(target, `
  command_name = "GET_STATUS"
  paras        = { detail = true }
`) + `
output "reply" {
  value = data.iotda_device_command.test.response
}
`
	checks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(testDataSourceAddr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
		statecheck.CompareValuePairs(testDataSourceAddr, tfjsonpath.New("id"), testDataSourceAddr, tfjsonpath.New("command_id"), compare.ValuesSame()),
		statecheck.ExpectKnownValue(testDataSourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
		statecheck.ExpectKnownValue(testDataSourceAddr, tfjsonpath.New("delivered_at"), knownvalue.StringRegexp(rfc3339UTC)),
		statecheck.ExpectKnownValue(testDataSourceAddr, tfjsonpath.New("response_json"), knownvalue.NotNull()),
		statecheck.ExpectKnownOutputValue("reply", knownvalue.NotNull()),
	}
	if target.Server != nil {
		checks = append(checks, statecheck.ExpectKnownOutputValueAtPath("reply",
			tfjsonpath.New("paras").AtMapKey("detail"), knownvalue.Bool(true)))
	}
	delivered := 0
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// Reading the data source delivers the command.
			{Config: config, ConfigStateChecks: checks, Check: checkMoreDeliveries(target.Server, target.DeviceID, &delivered)},
			// Every later read (plan and refresh) delivers it again.
			{Config: config, Check: checkMoreDeliveries(target.Server, target.DeviceID, &delivered)},
			{RefreshState: true, Check: checkMoreDeliveries(target.Server, target.DeviceID, &delivered)},
		},
	})
}

func TestDeviceCommandDataSource_DeviceFailure(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "failing-dev", Simulated: &mockserver.Behavior{ResultCode: 3}},
	}})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// A non-zero result_code fails the read.
			{
				Config:      testAccDeviceCommandDataSourceConfig(target, `  paras = { value = "ON" }`),
				ExpectError: regexp.MustCompile(`(?s)Device Reported a Command Failure.*"failing-dev".*result_code\s+3`),
			},
			// With fail_on_device_error = false it is a warning and the result is returned.
			{
				Config: testAccDeviceCommandDataSourceConfig(target, `
  paras                = { value = "ON" }
  fail_on_device_error = false
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testDataSourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue(testDataSourceAddr,
						tfjsonpath.New("response").AtMapKey("paras").AtMapKey("result"), knownvalue.StringExact("success")),
				},
			},
		},
	})
}

func TestDeviceCommandDataSource_DeviceTimeout(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "slow-dev", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, Delay: 3 * time.Second}},
	}})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// timeouts.read bounds the delivery.
			{
				Config: testAccDeviceCommandDataSourceConfig(target, `
  paras = { value = "ON" }
  timeouts {
    read = "1s"
  }
`),
				ExpectError: regexp.MustCompile(`(?s)Command Delivery Outcome Unknown.*"slow-dev"`),
			},
		},
	})
}

// TestDeviceCommandDataSource_Validation: the data source refuses at plan time what the
// resource refuses, with the same messages, and so sends nothing: were its checks missing,
// reading it would deliver the command.
func TestDeviceCommandDataSource_Validation(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps:                    invalidArgumentSteps(target, "data"),
	})
	expectNoCommandTraffic(t, target.Server)
}

// deliveriesCheck is a plan check that runs f, for counting deliveries at the point where
// Terraform has just planned.
type deliveriesCheck func() error

func (f deliveriesCheck) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = f()
}

// TestDeviceCommandDataSource_WhenItDelivers pins down what the documentation says: the
// data source delivers when Terraform plans (reading it), not when a saved plan is
// applied, and again when `terraform destroy` refreshes, unless the refresh is skipped.
func TestDeviceCommandDataSource_WhenItDelivers(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	config := testAccDeviceCommandDataSourceConfig(target, `  paras = { value = "ON" }`)
	afterPlan := 0
	count := func() int { return len(target.Server.Deliveries(target.DeviceID)) }
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The test applies a saved plan: planning delivers, applying it does not.
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{deliveriesCheck(func() error {
					if afterPlan = count(); afterPlan != 1 {
						return fmt.Errorf("planning delivered %d command(s), want 1", afterPlan)
					}
					return nil
				})}},
				Check: func(*terraform.State) error {
					if n := count(); n != afterPlan {
						return fmt.Errorf("applying the saved plan delivered %d more command(s), want none", n-afterPlan)
					}
					return nil
				},
			},
			// A destroy plan refreshes, which reads the data source: it delivers.
			{
				Config:  config,
				Destroy: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{deliveriesCheck(func() error {
					if n := count(); n <= afterPlan {
						return fmt.Errorf("the destroy plan delivered nothing; the documentation says it does")
					}
					afterPlan = count()
					return nil
				})}},
			},
		},
	})
	// Without the refresh (terraform destroy -refresh=false), destroying delivers nothing.
	noRefresh := 0
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		AdditionalCLIOptions:     &resource.AdditionalCLIOptions{Plan: resource.PlanOptions{NoRefresh: true}},
		Steps: []resource.TestStep{
			{Config: config},
			{
				Config:  config,
				Destroy: true,
				PreConfig: func() {
					noRefresh = count()
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{deliveriesCheck(func() error {
					if n := count(); n != noRefresh {
						return fmt.Errorf("destroy -refresh=false delivered %d command(s), want none", n-noRefresh)
					}
					return nil
				})}},
			},
		},
	})
}
