package provider

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

const testResourceAddr = "iotda_device_command.test"

// testAccDeviceCommandConfig renders a provider block and one iotda_device_command.test
// resource; body holds the resource's arguments after device_id.
func testAccDeviceCommandConfig(target *testTarget, body string) string {
	return fmt.Sprintf(`%[1]s
resource "iotda_device_command" "test" {
  device_id = %[2]q
%[3]s
}
`, target.ProviderHCL, target.DeviceID, body)
}

// rfc3339UTC matches delivered_at.
var rfc3339UTC = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)

func TestDeviceCommandResource_Basic(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	config := testAccDeviceCommandConfig(target, `
  service_id   = "Switch"
  command_name = "ON_OFF"
  paras        = { value = "ON" }
`) + `
output "reply" {
  value = iotda_device_command.test.response
}
`
	stateChecks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
		statecheck.CompareValuePairs(testResourceAddr, tfjsonpath.New("id"), testResourceAddr, tfjsonpath.New("command_id"), compare.ValuesSame()),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("error_code"), knownvalue.Null()),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("error_msg"), knownvalue.Null()),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("fail_on_device_error"), knownvalue.Bool(true)),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("delivered_at"), knownvalue.StringRegexp(rfc3339UTC)),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response_json"), knownvalue.NotNull()),
		statecheck.ExpectKnownOutputValue("reply", knownvalue.NotNull()),
	}
	if target.Server != nil {
		// The mock's echoing device answers with the command's own name and paras.
		stateChecks = append(stateChecks,
			statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response").AtMapKey("paras").AtMapKey("value"), knownvalue.StringExact("ON")),
			statecheck.ExpectKnownOutputValue("reply", knownvalue.ObjectExact(map[string]knownvalue.Check{
				"result_code":   knownvalue.Int64Exact(0),
				"response_name": knownvalue.StringExact("ON_OFF"),
				"paras":         knownvalue.ObjectExact(map[string]knownvalue.Check{"value": knownvalue.StringExact("ON")}),
			})),
		)
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		// Destroying the resource only forgets the command: nothing is delivered.
		CheckDestroy: checkDeliveries(target.Server, target.DeviceID, 1),
		Steps: []resource.TestStep{
			// Create delivers the command once and records the reply.
			{
				Config:            config,
				ConfigStateChecks: stateChecks,
				Check:             checkDeliveries(target.Server, target.DeviceID, 1),
			},
			// A second plan and apply of the same configuration deliver nothing.
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkDeliveries(target.Server, target.DeviceID, 1),
			},
			// Refresh never calls the API.
			{
				RefreshState: true,
				Check:        checkDeliveries(target.Server, target.DeviceID, 1),
			},
		},
	})
}

func TestDeviceCommandResource_ParasNumbersExactOnTheWire(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	config := testAccDeviceCommandConfig(target, `
  paras = {
    big    = 12345678901234567890
    frac   = 0.1
    nested = { list = [1, "two", true, { deep = null }], unicode = "héllo ✓ <&>" }
  }
`) + `
output "big" {
  value = iotda_device_command.test.response.paras.big
}
output "frac" {
  value = iotda_device_command.test.response.paras.frac
}
output "second" {
  value = iotda_device_command.test.response.paras.nested.list[1]
}
`
	bigValue, _, _ := big.ParseFloat("12345678901234567890", 10, numberPrecision, big.ToNearestEven)
	fracValue, _, _ := big.ParseFloat("0.1", 10, numberPrecision, big.ToNearestEven)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The numbers reach the device as exactly the literals written, and come back.
			{
				Config: config,
				Check: func(*terraform.State) error {
					return expectDeliveredParas(target, `{"big":12345678901234567890,"frac":0.1,`+
						`"nested":{"list":[1,"two",true,{"deep":null}],"unicode":"héllo ✓ <&>"}}`)
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("big", knownvalue.NumberExact(bigValue)),
					statecheck.ExpectKnownOutputValue("frac", knownvalue.NumberExact(fracValue)),
					statecheck.ExpectKnownOutputValue("second", knownvalue.StringExact("two")),
					statecheck.ExpectKnownValue(testResourceAddr,
						tfjsonpath.New("response").AtMapKey("paras").AtMapKey("nested").AtMapKey("list").AtSliceIndex(3).AtMapKey("deep"),
						knownvalue.Null()),
				},
			},
			// The values survive the round trip through state: nothing to change.
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkDeliveries(target.Server, target.DeviceID, 1),
			},
		},
	})
}

func TestDeviceCommandResource_ParasJSONString(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	// The string is compacted, not re-encoded: 0.10 keeps its trailing zero.
	config := testAccDeviceCommandConfig(target, `
  command_name = "CONFIGURE"
  paras        = "{ \"big\": 12345678901234567890, \"frac\": 0.10, \"list\": [ {\"a\": \"b\"} ] }"
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(*terraform.State) error {
					return expectDeliveredParas(target, `{"big":12345678901234567890,"frac":0.10,"list":[{"a":"b"}]}`)
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr,
						tfjsonpath.New("response").AtMapKey("paras").AtMapKey("list").AtSliceIndex(0).AtMapKey("a"),
						knownvalue.StringExact("b")),
				},
			},
		},
	})
}

// expectDeliveredParas checks the paras of the only command the mock published.
func expectDeliveredParas(target *testTarget, want string) error {
	deliveries := target.Server.Deliveries(target.DeviceID)
	if len(deliveries) != 1 {
		return fmt.Errorf("the mock delivered %d commands, want 1", len(deliveries))
	}
	body := string(deliveries[0].Body)
	if !strings.Contains(body, `"paras":`+want) {
		return fmt.Errorf("delivered payload %s does not contain the paras %s byte for byte", body, want)
	}
	return nil
}

// TestDeviceCommandResource_ReplyNumbersNeverChanged: a reply holding numbers Terraform
// cannot hold exactly (an exponent beyond about ±1233, which would take hours to render, or
// more digits than 512 bits keep) is saved: response_json has them exactly, response has
// each as a string holding its literal, and the workspace keeps working (no second
// delivery). Such numbers once failed the apply ("cannot serialize infinity") or became 0.
func TestDeviceCommandResource_ReplyNumbersNeverChanged(t *testing.T) {
	t.Parallel()
	long := "0." + strings.Repeat("1", 170)
	reply := `{"result_code":0,"paras":{"huge":1e999999999,"tiny":1e-999999999,"long":` + long +
		`,"big":12345678901234567890,"x":1e100000000}}`
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "huge", Simulated: &mockserver.Behavior{
		Response: json.RawMessage(reply),
	}}}})
	paras := tfjsonpath.New("response").AtMapKey("paras")
	bigValue, _, _ := big.ParseFloat("12345678901234567890", 10, numberPrecision, big.ToNearestEven)
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response_json"), knownvalue.StringExact(reply)),
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("huge"), knownvalue.StringExact("1e999999999")),
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("tiny"), knownvalue.StringExact("1e-999999999")),
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("long"), knownvalue.StringExact(long)),
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("x"), knownvalue.StringExact("1e100000000")),
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("big"), knownvalue.NumberExact(bigValue)),
				},
				Check: checkDeliveries(target.Server, "huge", 1),
			},
			// The state reads back and plans as it is: nothing is delivered again.
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkDeliveries(target.Server, "huge", 1),
			},
		},
	})
}

// Whole numbers from 2^63 up that a float64 holds exactly, which Terraform 1.5 (go-cty
// before 1.14.4) passes to providers as float64 values.
const beyondInt64Paras = `{ big = 9223372036854775808, bigger = 18446744073709551616 }`

// TestDeviceCommandResource_ParasBeyondInt64_JSONEncode is the documented workaround for
// Terraform 1.5: such numbers in paras written with jsonencode() reach the device exactly,
// and the echoed reply keeps them exactly through later plans and an in-place update.
func TestDeviceCommandResource_ParasBeyondInt64_JSONEncode(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	config := func(extra string) string {
		return testAccDeviceCommandConfig(target, `  paras = jsonencode(`+beyondInt64Paras+`)`+extra)
	}
	exact := func(s string) *big.Float {
		f, _, _ := big.ParseFloat(s, 10, numberPrecision, big.ToNearestEven)
		return f
	}
	paras := tfjsonpath.New("response").AtMapKey("paras")
	numbersExact := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("big"), knownvalue.NumberExact(exact("9223372036854775808"))),
		statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("bigger"), knownvalue.NumberExact(exact("18446744073709551616"))),
		statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response_json"),
			knownvalue.StringRegexp(regexp.MustCompile(`"big":9223372036854775808,"bigger":18446744073709551616`))),
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config(""),
				ConfigStateChecks: numbersExact,
				Check: func(*terraform.State) error {
					return expectDeliveredParas(target, `{"big":9223372036854775808,"bigger":18446744073709551616}`)
				},
			},
			// Later plans, with and without refresh (the test runs both), change nothing.
			{
				Config:            config(""),
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: numbersExact,
				Check:             checkDeliveries(target.Server, target.DeviceID, 1),
			},
			// An in-place update keeps the numbers as they are and delivers nothing.
			{
				Config:            config("\n  fail_on_device_error = false"),
				ConfigPlanChecks:  expectUpdate(),
				ConfigStateChecks: numbersExact,
				Check:             checkDeliveries(target.Server, target.DeviceID, 1),
			},
		},
	})
}

// TestDeviceCommandResource_ParasBeyondInt64_Terraform15 records the Terraform 1.5 bug the
// documentation describes: the same numbers written as an object fail the plan.
func TestDeviceCommandResource_ParasBeyondInt64_Terraform15(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipAbove(version.Must(version.NewVersion("1.5.99")))},
		Steps: []resource.TestStep{
			{
				Config:      testAccDeviceCommandConfig(target, `  paras = `+beyondInt64Paras),
				ExpectError: regexp.MustCompile(`(?s)Provider produced invalid plan.*paras`),
			},
		},
	})
	if n := requests(target.Server, ""); n != 0 {
		t.Errorf("the failed plan sent %d request(s), want none", n)
	}
}

// TestDeviceCommandResource_ParasBeyondInt64_Object: on CLIs without the bug the object
// form sends the numbers exactly too.
func TestDeviceCommandResource_ParasBeyondInt64_Object(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(version.Must(version.NewVersion("1.11.0")))},
		Steps: []resource.TestStep{
			{
				Config: testAccDeviceCommandConfig(target, `  paras = `+beyondInt64Paras),
				Check: func(*terraform.State) error {
					return expectDeliveredParas(target, `{"big":9223372036854775808,"bigger":18446744073709551616}`)
				},
			},
		},
	})
}
