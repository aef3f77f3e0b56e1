package provider

import (
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// TestDeviceCommand_EmptyNullAndNonJSONPayloads follows the README's "How device replies
// reach the provider" from the device's MQTT payload to the state, for the resource and the
// data source: an empty payload, null and "" mean the device answered with nothing
// (response and response_json null, result_code 0, state saved); any other payload is
// kept, a string as a string and text that is not JSON as the string the platform made of
// it.
func TestDeviceCommand_EmptyNullAndNonJSONPayloads(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		payload  string
		response knownvalue.Check
		json     knownvalue.Check
	}{
		"empty":      {payload: "", response: knownvalue.Null(), json: knownvalue.Null()},
		"whitespace": {payload: " \r\n\t", response: knownvalue.Null(), json: knownvalue.Null()},
		"null":       {payload: "null", response: knownvalue.Null(), json: knownvalue.Null()},
		"empty string": {
			payload: `""`, response: knownvalue.Null(), json: knownvalue.Null(),
		},
		"not JSON": {
			payload: "OK <done>", response: knownvalue.StringExact("OK <done>"), json: knownvalue.StringExact(`"OK <done>"`),
		},
		"a string": {payload: `"done"`, response: knownvalue.StringExact("done"), json: knownvalue.StringExact(`"done"`)},
		"a number": {
			payload: "42", response: knownvalue.NumberExact(big.NewFloat(42)), json: knownvalue.StringExact("42"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const id, secret = "raw-reply", "raw-reply-secret"
			target := newMockTarget(t, mockserver.Options{PlatformTimeout: 5 * time.Second,
				Devices: []mockserver.Device{{ID: id, Secret: secret}}})
			dev := connectRawDeviceReplying(t, target.Server, id, secret, []byte(tc.payload))
			if err := target.Server.WaitOnline(waitCtx(t), id); err != nil {
				t.Fatalf("device %s did not come online: %v", id, err)
			}
			results := func(addr string) []statecheck.StateCheck {
				return []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("response"), tc.response),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("response_json"), tc.json),
				}
			}
			config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					// The answer is saved...
					{Config: config, ConfigStateChecks: results(testResourceAddr), Check: checkDeliveries(target.Server, id, 1)},
					// ...so the next plan delivers nothing.
					{
						Config:           config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
						Check:            checkDeliveries(target.Server, id, 1),
					},
					// The data source reads it the same way.
					{
						Config:            testAccDeviceCommandDataSourceConfig(target, `  paras = { value = "ON" }`),
						ConfigStateChecks: results(testDataSourceAddr),
					},
				},
			})
			dev.checkReplies(t)
		})
	}
}

// TestDeviceCommand_ReplyBeyondLimits: replies that once made every later plan slow or run
// out of memory (1,000 levels deep, 20,000 keys), or were lost as unreadable (20,000
// levels, beyond encoding/json), are saved with response null and response_json exact
// (a deep one with a space in front, so that Terraform shows it as a string), and the
// workspace keeps working: the next plan is empty and delivers nothing, and destroying it
// is quick. The data source reads them the same way.
func TestDeviceCommand_ReplyBeyondLimits(t *testing.T) {
	t.Parallel()
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf(`"k%d":%d`, i, i)
	}
	for name, reply := range map[string]string{
		"1000 levels deep":  `{"result_code":0,"paras":` + nestedReply(1000) + `}`,
		"20000 levels deep": `{"result_code":0,"paras":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		"20000 keys":        `{"result_code":0,"paras":{` + strings.Join(keys, ",") + `}}`,
		"300 members":       `{"result_code":0,"paras":` + wideObject(300) + `}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A raw device: the mock's simulated devices only take replies encoding/json reads.
			target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "big", Secret: "big-secret"}}})
			dev := connectRawDeviceReplying(t, target.Server, "big", "big-secret", []byte(reply))
			if err := target.Server.WaitOnline(waitCtx(t), "big"); err != nil {
				t.Fatalf("device big did not come online: %v", err)
			}
			defer dev.checkReplies(t)
			kept := reply
			if strings.Contains(name, "deep") {
				kept = " " + reply
			}

			results := func(addr string) []statecheck.StateCheck {
				return []statecheck.StateCheck{
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("response"), knownvalue.Null()),
					statecheck.ExpectKnownValue(addr, tfjsonpath.New("response_json"), knownvalue.StringExact(kept)),
				}
			}
			config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
			checks := results(testResourceAddr)
			if !strings.Contains(name, "deep") { // Terraform takes long to decode 1,000 levels.
				// jsondecode(response_json) reads what response does not hold.
				config += `
output "first_key" {
  value = jsondecode(iotda_device_command.test.response_json).paras.k0
}
`
				checks = append(checks, statecheck.ExpectKnownOutputValue("first_key", knownvalue.Int64Exact(0)))
			}
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigStateChecks: checks, Check: checkDeliveries(target.Server, "big", 1)},
					{
						Config:           config,
						ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
						Check:            checkDeliveries(target.Server, "big", 1),
					},
					{
						Config:            testAccDeviceCommandDataSourceConfig(target, `  paras = { value = "ON" }`),
						ConfigStateChecks: results(testDataSourceAddr),
					},
				},
			})
		})
	}
}

// TestDeviceCommand_ReplyTextNotInNormalForm: a reply holding text that Terraform would
// normalize ("e" and a combining accent) is kept in response_json with \u escapes, so it
// decodes to exactly what the device sent, and the workspace plans empty afterwards.
func TestDeviceCommand_ReplyTextNotInNormalForm(t *testing.T) {
	t.Parallel()
	const id, secret = "accent-dev", "accent-secret"
	target := newMockTarget(t, mockserver.Options{PlatformTimeout: 5 * time.Second,
		Devices: []mockserver.Device{{ID: id, Secret: secret}}})
	dev := connectRawDeviceReplying(t, target.Server, id, secret, []byte("{\"result_code\":0,\"paras\":{\"name\":\"Cafe\u0301\"}}"))
	if err := target.Server.WaitOnline(waitCtx(t), id); err != nil {
		t.Fatalf("device %s did not come online: %v", id, err)
	}
	defer dev.checkReplies(t)
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response_json"),
						knownvalue.StringExact(`{"result_code":0,"paras":{"name":"Cafe\u0301"}}`)),
				},
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkDeliveries(target.Server, id, 1),
			},
		},
	})
}
