package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// One test per row of the diagnostics table in DESIGN.md. Terraform wraps long details,
// so the patterns use \s+ between words and (?s) to span lines.

// expectPlanned is a plan-only step asserting what the next apply would do: Create after
// a failure that saved nothing, Replace after one that saved a tainted result.
func expectPlanned(config string, action plancheck.ResourceActionType) resource.TestStep {
	return resource.TestStep{
		Config:             config,
		PlanOnly:           true,
		ExpectNonEmptyPlan: true,
		ConfigPlanChecks: resource.ConfigPlanChecks{
			PostApplyPreRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, action)},
		},
	}
}

// switchOnArgs are the arguments of the command the device-outcome tests send.
const switchOnArgs = `
  service_id   = "Switch"
  command_name = "ON_OFF"
  paras        = { value = "ON" }
`

func TestDeviceCommandResource_DeviceFailure(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "failing-dev", Simulated: &mockserver.Behavior{ResultCode: 5}},
	}})
	config := testAccDeviceCommandConfig(target, switchOnArgs)
	tolerant := testAccDeviceCommandConfig(target, switchOnArgs+"  fail_on_device_error = false\n")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// A non-zero result_code is an error naming the device and the code.
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Device Reported a Command Failure.*"failing-dev".*result_code\s+5`),
			},
			// The result was saved and tainted, so the next apply replaces it (delivers again).
			expectPlanned(config, plancheck.ResourceActionReplace),
			// With fail_on_device_error = false the failure is a warning and the state is kept.
			{
				Config: tolerant,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionReplace)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(5)),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("command_id"), knownvalue.NotNull()),
					statecheck.ExpectKnownValue(testResourceAddr,
						tfjsonpath.New("response").AtMapKey("paras").AtMapKey("result"), knownvalue.StringExact("success")),
				},
				Check: checkDeliveries(target.Server, "failing-dev", 2),
			},
			// A kept failure is not delivered again.
			{
				Config: tolerant,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkDeliveries(target.Server, "failing-dev", 2),
			},
		},
	})
}

// A result_code that is not an integer (here 1.5, which a lenient reading once took for 0)
// is a failure the device reported, never a success.
func TestDeviceCommandResource_ResultCodeNotAnInteger(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "odd-dev", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply,
			Response: json.RawMessage(`{"result_code":1.5,"paras":{"result":"partly"}}`)}},
	}})
	config := testAccDeviceCommandConfig(target, switchOnArgs)
	tolerant := testAccDeviceCommandConfig(target, switchOnArgs+"  fail_on_device_error = false\n")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Device Reported a Command Failure.*"odd-dev".*result_code\s+1\.5\s+is\s+not\s+an\s+integer`),
			},
			// Saved and tainted, as for any failure the device reports.
			expectPlanned(config, plancheck.ResourceActionReplace),
			{
				Config: tolerant,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testResourceAddr,
						tfjsonpath.New("response").AtMapKey("paras").AtMapKey("result"), knownvalue.StringExact("partly")),
				},
				Check: checkDeliveries(target.Server, "odd-dev", 2),
			},
		},
	})
}

func TestDeviceCommandResource_DeviceTimeout(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{PlatformTimeout: time.Second, Devices: []mockserver.Device{
		{ID: "silent-dev", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}},
	}})
	config := testAccDeviceCommandConfig(target, switchOnArgs)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The platform answers 200 with IOTDA.014111 once its timeout passes.
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)Device Did Not Respond in Time.*"silent-dev".*"ON_OFF".*"Switch".*` +
					`command_id\s+[0-9a-f-]+.*20\s+s\s+limit.*IOTDA\.014111.*online.*` +
					`\$oc/devices/silent-dev/sys/commands/request_id=\{request_id\}.*whether or not the device subscribed.*` +
					`\$oc/devices/silent-dev/sys/commands/response/request_id=.*asynchronous`),
			},
			// Nothing was saved: the next apply creates (delivers) it again.
			expectPlanned(config, plancheck.ResourceActionCreate),
		},
	})
}

func TestDeviceCommandResource_ClientTimeout(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{PlatformTimeout: 10 * time.Second, Devices: []mockserver.Device{
		{ID: "slow-dev", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, Delay: 3 * time.Second}},
	}})
	config := testAccDeviceCommandConfig(target, `
  paras = { value = "ON" }
  timeouts {
    create = "1s"
  }
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The create timeout expires while the platform still waits for the device.
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)Command Delivery Outcome Unknown.*"slow-dev".*timeout.*` +
					`may\s+or\s+may\s+not\s+have\s+executed.*NOT\s+be\s+retried`),
			},
			// Nothing was saved, and the request was sent exactly once (never retried).
			{
				PreConfig: func() {
					if n := len(target.Server.Deliveries("slow-dev")); n != 1 {
						t.Errorf("the mock delivered %d commands to slow-dev, want exactly 1", n)
					}
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPreRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
}

func TestDeviceCommandResource_DeviceOffline(t *testing.T) {
	t.Parallel()
	// A registered device without a simulation has no MQTT session: it is offline.
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "sleepy-dev"}}})
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Device Is Offline.*"sleepy-dev".*HTTP\s+403.*IOTDA\.014016`),
			},
			expectPlanned(config, plancheck.ResourceActionCreate),
		},
	})
}

// TestDeviceCommandResource_BrieflyOffline is the documented recipe for a device that is
// briefly offline: the offline error delivered nothing and saved nothing, so applying
// again once the device is back delivers the command exactly once, and a second offline
// error in a row still delivers nothing.
func TestDeviceCommandResource_BrieflyOffline(t *testing.T) {
	t.Parallel()
	const id, secret = "napping-dev", "napping-secret"
	target := newMockTarget(t, mockserver.Options{PlatformTimeout: 5 * time.Second,
		Devices: []mockserver.Device{{ID: id, Secret: secret}}})
	config := testAccDeviceCommandConfig(target, switchOnArgs)
	offline := regexp.MustCompile(`(?s)Device Is Offline.*"` + id + `".*Nothing\s+was\s+delivered`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ExpectError: offline},
			{Config: config, ExpectError: offline},
			// The device is back: the next apply delivers the command, once.
			{
				PreConfig: func() {
					if n := len(target.Server.Deliveries(id)); n != 0 {
						t.Errorf("the mock delivered %d command(s) to the offline device", n)
					}
					connectRawDevice(t, target.Server, id, secret, nil)
					if err := target.Server.WaitOnline(waitCtx(t), id); err != nil {
						t.Fatalf("device %s did not come online: %v", id, err)
					}
				},
				Config: config,
				Check:  checkDeliveries(target.Server, id, 1),
			},
			{
				Config:           config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkDeliveries(target.Server, id, 1),
			},
		},
	})
}

func TestDeviceCommandResource_DeviceNotFound(t *testing.T) {
	t.Parallel()
	target := newTarget(t)
	ghost := *target
	ghost.DeviceID = "ghost-device-0"
	pattern := `(?s)Device Not Found.*"ghost-device-0".*project\s+"` + regexp.QuoteMeta(target.ProjectID) + `".*HTTP\s+404`
	if target.Server != nil {
		pattern += `.*IOTDA\.014000`
	}
	config := testAccDeviceCommandConfig(&ghost, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ExpectError: regexp.MustCompile(pattern)},
			expectPlanned(config, plancheck.ResourceActionCreate),
		},
	})
}

func TestDeviceCommandResource_Unauthorized(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{AuthToken: "right-token"})
	target.ProviderHCL = strings.Replace(target.ProviderHCL, `"right-token"`, `"wrong-token"`, 1)
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)IoTDA API Error.*"d1".*HTTP\s+401.*IOTDA\.000002.*auth_token.*` +
					`X-Request-Id:\s+\S+`),
			},
			expectPlanned(config, plancheck.ResourceActionCreate),
		},
	})
	if n := len(target.Server.Deliveries("")); n != 0 {
		t.Errorf("the mock delivered %d commands with a wrong token, want 0", n)
	}
}

func TestDeviceCommandResource_PlatformErrors(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		fault          mockserver.Fault
		pattern        string
		wantDeliveries int
	}{
		"400 bad request": {
			fault:   mockserver.Fault{Status: http.StatusBadRequest, ErrorCode: "IOTDA.000006", ErrorMsg: "Invalid input data."},
			pattern: `(?s)IoTDA API Error.*"d1".*HTTP\s+400.*IOTDA\.000006.*Invalid\s+input\s+data.*product\s+model.*X-Request-Id`,
		},
		"403 forbidden": {
			fault:   mockserver.Fault{Status: http.StatusForbidden, ErrorCode: "IOTDA.000021", ErrorMsg: "Not subscribed."},
			pattern: `(?s)IoTDA API Error.*"d1".*HTTP\s+403.*IOTDA\.000021.*permissions.*X-Request-Id`,
		},
		"404 from the gateway: no such API": {
			fault: mockserver.Fault{Status: http.StatusNotFound, ErrorCode: "APIG.0101",
				ErrorMsg: "The API does not exist or has not been published in the environment"},
			pattern: `(?s)IoTDA API Error.*"d1".*HTTP\s+404.*APIG\.0101.*Check\s+endpoint.*X-Request-Id`,
		},
		"500 server error": {
			fault:   mockserver.Fault{Status: http.StatusInternalServerError, ErrorCode: "IOTDA.000001", ErrorMsg: "Internal error."},
			pattern: `(?s)IoTDA API Error.*"d1".*HTTP\s+500.*IOTDA\.000001.*check\s+the\s+device's\s+state.*X-Request-Id`,
		},
		"200 with another delivery exception": {
			fault:          mockserver.Fault{Body: `{"command_id":"c-1","error_code":"IOTDA.014112","error_msg":"Not subscribed."}`},
			pattern:        `(?s)IoTDA API Error.*"d1".*HTTP\s+200.*IOTDA\.014112.*may\s+or\s+may\s+not\s+have\s+received`,
			wantDeliveries: 1,
		},
		"200 with a malformed body": {
			fault:          mockserver.Fault{Body: `<html>gateway</html>`},
			pattern:        `(?s)Command Delivery Outcome Unknown.*"d1".*may\s+or\s+may\s+not\s+have\s+executed`,
			wantDeliveries: 1,
		},
		"200 without a command_id": {
			fault:          mockserver.Fault{Body: `{}`},
			pattern:        `(?s)Command Delivery Outcome Unknown.*"d1".*no\s+usable\s+command_id.*NOT\s+be\s+retried`,
			wantDeliveries: 1,
		},
		"200 with a status but no command_id": {
			fault:          mockserver.Fault{Body: `{"status":"ok","response":{"result_code":0}}`},
			pattern:        `(?s)Command Delivery Outcome Unknown.*"d1".*no\s+usable\s+command_id`,
			wantDeliveries: 1,
		},
		"200 cut short of its Content-Length": {
			fault:          mockserver.Fault{Truncate: true},
			pattern:        `(?s)Command Delivery Outcome Unknown.*"d1".*unexpected\s+EOF`,
			wantDeliveries: 1,
		},
		"connection reset after delivery": {
			fault:          mockserver.Fault{ResetAfterDelivery: true},
			pattern:        `(?s)Command Delivery Outcome Unknown.*"d1".*NOT\s+be\s+retried`,
			wantDeliveries: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target := newMockTarget(t, mockserver.Options{})
			target.Server.InjectFault(tc.fault)
			config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ExpectError: regexp.MustCompile(tc.pattern)},
					// Nothing was saved, and nothing was retried.
					expectPlanned(config, plancheck.ResourceActionCreate),
				},
			})
			if n := len(target.Server.Deliveries("")); n != tc.wantDeliveries {
				t.Errorf("the mock delivered %d commands, want %d", n, tc.wantDeliveries)
			}
		})
	}
}

func TestDeviceCommandResource_Unreachable(t *testing.T) {
	t.Parallel()
	addr := testutil.ClosedAddr(t)
	target := &testTarget{DeviceID: "d1", ProviderHCL: fmt.Sprintf(`
provider "iotda" {
  endpoint    = "http://%[1]s"
  project_id  = "p1"
  auth_token  = "t"
  max_retries = 0
}
`, addr)}
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Cannot Reach IoTDA.*` + regexp.QuoteMeta(addr) + `.*"d1".*never\s+reached`),
			},
			expectPlanned(config, plancheck.ResourceActionCreate),
		},
	})
}

// TestDeviceCommandResource_Redirect: a redirect is never followed; the error names where
// it pointed and says so.
func TestDeviceCommandResource_Redirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Header().Set("Location", "https://iotda.example.com/v5/iot/p1/devices/d1/commands")
		w.WriteHeader(http.StatusMovedPermanently)
	}))
	t.Cleanup(ts.Close)
	target := &testTarget{DeviceID: "d1", ProviderHCL: fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = "p1"
  auth_token  = "redirect-test-token"
}
`, ts.URL)}
	config := testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)IoTDA API Error.*"d1".*HTTP\s+301.*redirect\s+to\s+` +
					`https://iotda\.example\.com/v5/iot/p1/devices/d1/commands.*does\s+not\s+follow\s+redirects`),
			},
			expectPlanned(config, plancheck.ResourceActionCreate),
		},
	})
	if n := hits.Load(); n != 1 {
		t.Errorf("the endpoint was hit %d times, want 1: a redirect is neither followed nor retried", n)
	}
}

// TestDeviceCommandResource_FailureMasksEchoedSecret: a device that echoes the provider's
// token in its reply does not get it printed in the failure diagnostic.
func TestDeviceCommandResource_FailureMasksEchoedSecret(t *testing.T) {
	t.Parallel()
	const token = "tok-3c9f1e7a5b"
	target := newMockTarget(t, mockserver.Options{AuthToken: token, Devices: []mockserver.Device{
		{ID: "echo-fail", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, ResultCode: 7}},
	}})
	config := testAccDeviceCommandConfig(target, fmt.Sprintf(`  paras = { wifi = { token = %q } }`, token))
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: regexp.MustCompile(`(?s)Device Reported a Command Failure.*"echo-fail".*result_code\s+7.*` +
					`The\s+device's\s+reply:.*"token":"\*\*\*"`),
			},
		},
	})
}
