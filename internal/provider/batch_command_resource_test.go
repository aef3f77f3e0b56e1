package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// The iotda_batch_command tests drive the Terraform CLI against the in-process mock, whose
// journal tells how many tasks were created and how many batch requests were made.

const testBatchAddr = "iotda_batch_command.test"

// batchMock starts a mock with an echo fleet fleet-1..fleet-n (none when n is 0) and the
// given options.
func batchMock(t *testing.T, n int, mutate func(*mockserver.Options)) *testTarget {
	t.Helper()
	opts := mockserver.Options{PlatformTimeout: time.Second}
	if n > 0 {
		opts.Fleets = []mockserver.Fleet{{Prefix: "fleet-", Count: n, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	}
	if mutate != nil {
		mutate(&opts)
	}
	if len(opts.Devices) == 0 {
		// newMockTarget adds a device "d1" when there is none; the fleet is enough here.
		opts.Devices = []mockserver.Device{{ID: "spare-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	}
	return newMockTarget(t, opts)
}

// batchConfig renders the provider and one iotda_batch_command.test with body as arguments.
func batchConfig(target *testTarget, body string) string {
	return fmt.Sprintf("%s\nresource \"iotda_batch_command\" \"test\" {\n%s\n}\n", target.ProviderHCL, body)
}

// hclList renders ids as an HCL list.
func hclList(ids ...string) string {
	return `["` + strings.Join(ids, `", "`) + `"]`
}

// tasksCreated counts the batch tasks the mock created.
func tasksCreated(s *mockserver.Server) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryBatchTask {
			n++
		}
	}
	return n
}

// batchRequests counts the batch task requests the mock answered with the given method
// ("" for all).
func batchRequests(s *mockserver.Server, method string) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryRequest && strings.Contains(e.Path, "/batchtasks") && (method == "" || e.Method == method) {
			n++
		}
	}
	return n
}

// checkTasks asserts how many tasks the mock has created so far.
func checkTasks(s *mockserver.Server, want int) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := tasksCreated(s); got != want {
			return fmt.Errorf("the mock created %d batch task(s), want %d", got, want)
		}
		return nil
	}
}

// checkCreateFaulted checks that fault f took a create of a batch task, so that a test of a
// lost answer cannot pass on a fault some other request used up.
func checkCreateFaulted(s *mockserver.Server, f mockserver.Fault) resource.TestCheckFunc {
	label := f.Label()
	return func(*terraform.State) error {
		for _, e := range s.Journal() {
			if e.Kind == mockserver.EntryRequest && e.Method == http.MethodPost &&
				strings.HasSuffix(e.Path, "/batchtasks") && e.Fault == label {
				return nil
			}
		}
		return fmt.Errorf("no create of a batch task met the fault %s", label)
	}
}

// noBatchRequestsSince records the number of batch requests now, and checks later that no
// more were made.
func noBatchRequestsSince(s *mockserver.Server) (mark func(), check resource.TestCheckFunc) {
	before := -1
	return func() { before = batchRequests(s, "") }, func(*terraform.State) error {
		if got := batchRequests(s, ""); got != before {
			return fmt.Errorf("%d batch request(s) were made, want none", got-before)
		}
		return nil
	}
}

// expectResults checks a resource's results: check gets each device's entry as JSON text.
func expectResults(addr string, check func(results map[string]json.RawMessage) error) statecheck.StateCheck {
	return resultsCheck{addr: addr, check: check}
}

type resultsCheck struct {
	addr  string
	check func(map[string]json.RawMessage) error
}

func (c resultsCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = errors.New("no state")
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != c.addr {
			continue
		}
		text, ok := r.AttributeValues["results"].(string)
		if !ok {
			resp.Error = fmt.Errorf("%s: results is %v, not a string", c.addr, r.AttributeValues["results"])
			return
		}
		var results map[string]json.RawMessage
		if err := json.Unmarshal([]byte(text), &results); err != nil {
			resp.Error = fmt.Errorf("%s: results is not a JSON object: %w", c.addr, err)
			return
		}
		resp.Error = c.check(results)
		return
	}
	resp.Error = fmt.Errorf("%s is not in the state", c.addr)
}

// resultKeys checks that results hold exactly the given devices.
func resultKeys(ids ...string) func(map[string]json.RawMessage) error {
	return func(results map[string]json.RawMessage) error {
		got := slices.Sorted(maps.Keys(results))
		want := slices.Sorted(slices.Values(ids))
		if !slices.Equal(got, want) {
			return fmt.Errorf("results hold %v, want %v", got, want)
		}
		return nil
	}
}

// resultCount checks how many devices results hold.
func resultCount(n int) func(map[string]json.RawMessage) error {
	return func(results map[string]json.RawMessage) error {
		if len(results) != n {
			return fmt.Errorf("results hold %d devices, want %d", len(results), n)
		}
		return nil
	}
}

// resultEntries checks entries against patterns.
func resultEntries(patterns map[string]string) func(map[string]json.RawMessage) error {
	return func(results map[string]json.RawMessage) error {
		for id, p := range patterns {
			if !regexp.MustCompile(p).Match(results[id]) {
				return fmt.Errorf("result of %s is %s, want %s", id, results[id], p)
			}
		}
		return nil
	}
}

// mockCheck is a state check that looks at the mock instead of the state.
type mockCheck func() error

func (f mockCheck) CheckState(_ context.Context, _ statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	resp.Error = f()
}

var taskIDRegexp = regexp.MustCompile(`^[0-9a-f]{24}$`)

// wrapped compiles a pattern matched across lines in which each space also matches the line
// breaks Terraform puts in long diagnostics.
func wrapped(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(pattern, " ", `\s+`))
}

func TestBatchCommandResource_Success(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 3, nil)
	config := batchConfig(target, `
  device_ids   = ["fleet-3", "fleet-1", "fleet-2"]
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = { delay = 5, big = 12345678901234567890 }
`) + `
output "fleet_2" {
  value = jsondecode(iotda_batch_command.test.results)["fleet-2"]
}
`
	mark, noRequests := noBatchRequestsSince(target.Server)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("task_id"), knownvalue.StringRegexp(taskIDRegexp)),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status_desc"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("task_name"), knownvalue.StringRegexp(regexp.MustCompile(`^tf_\d{8}T\d{6}_[0-9a-f]{8}$`))),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("created_at"), knownvalue.StringRegexp(rfc3339UTC)),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"), knownvalue.ListSizeExact(0)),
					expectResults(testBatchAddr, resultKeys("fleet-1", "fleet-2", "fleet-3")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("progress"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"total": knownvalue.Int64Exact(3), "success": knownvalue.Int64Exact(3), "fail": knownvalue.Int64Exact(0)})),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("max_failed_devices"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("delete_task_on_destroy"), knownvalue.Bool(false)),
					// The device's reply, numbers exact, read back with jsondecode().
					statecheck.ExpectKnownOutputValue("fleet_2", knownvalue.ObjectExact(map[string]knownvalue.Check{
						"status":      knownvalue.StringExact("Success"),
						"command_id":  knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`)),
						"result_code": knownvalue.Int64Exact(0),
						"response": knownvalue.ObjectExact(map[string]knownvalue.Check{
							"result_code": knownvalue.Int64Exact(0), "response_name": knownvalue.StringExact("REBOOT"),
							"paras": knownvalue.ObjectExact(map[string]knownvalue.Check{
								"big": knownvalue.NumberExact(mustBigFloat("12345678901234567890")), "delay": knownvalue.Int64Exact(5)}),
						}),
						"error_code": knownvalue.Null(),
						"error_msg":  knownvalue.Null(),
					})),
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 1),
					checkDeliveries(target.Server, "fleet-1", 1), checkDeliveries(target.Server, "fleet-3", 1)),
			},
			// Plan and refresh ask IoTDA nothing about a finished task and run nothing.
			{
				PreConfig: mark,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: resource.ComposeTestCheckFunc(noRequests, checkTasks(target.Server, 1)),
			},
			{
				RefreshState: true,
				Check:        resource.ComposeTestCheckFunc(noRequests, checkTasks(target.Server, 1)),
			},
			// Reordering the devices, or writing paras as JSON, runs nothing.
			{
				Config: batchConfig(target, `
  device_ids   = ["fleet-1", "fleet-2", "fleet-3"]
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = jsonencode({ big = 12345678901234567890, delay = 5 })
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeTestCheckFunc(noRequests, checkTasks(target.Server, 1)),
			},
		},
	})
}

func TestBatchCommandResource_PartialFailure(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 3, func(o *mockserver.Options) {
		o.PlatformTimeout = 300 * time.Millisecond
		o.Devices = []mockserver.Device{
			{ID: "offline-1"},
			{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}},
			{ID: "failing-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, ResultCode: 7}},
		}
	})
	config := func(maxFailed int) string {
		return batchConfig(target, fmt.Sprintf(`
  device_ids         = %s
  command_name       = "PING"
  paras              = {}
  max_failed_devices = %d
`, hclList("fleet-1", "offline-1", "fleet-2", "silent-1", "failing-1", "unknown-1", "fleet-3"), maxFailed)) + `
output "not_ok" {
  # Every device's result has the same members, null where they do not apply: no try().
  value = { for id, r in jsondecode(iotda_batch_command.test.results) : id => r.error_code if r.status != "Success" || r.result_code != 0 }
}
`
	}
	failed := knownvalue.ListExact([]knownvalue.Check{
		knownvalue.StringExact("failing-1"), knownvalue.StringExact("offline-1"),
		knownvalue.StringExact("silent-1"), knownvalue.StringExact("unknown-1")})
	stateChecks := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("PartialSuccess")),
		statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"), failed),
		expectResults(testBatchAddr, resultCount(7)),
		expectResults(testBatchAddr, resultEntries(map[string]string{
			"offline-1": `^\{"status":"Fail","command_id":null,"result_code":null,"response":null,"error_code":"IOTDA.014016",` +
				`"error_msg":"Operation not allowed. The device is not online."\}$`,
			"silent-1": `^\{"status":"Fail","command_id":null,"result_code":null,"response":null,"error_code":"IOTDA.014111",` +
				`"error_msg":"[^"]+"\}$`,
			"unknown-1": `^\{"status":"Fail","command_id":null,"result_code":null,"response":null,"error_code":"IOTDA.014000",`,
			// The failing device answered: the subtask succeeded, its reply says 7.
			"failing-1": `^\{"status":"Success","command_id":"[0-9a-f-]{36}","result_code":7,"response":\{"result_code":7,.*\},` +
				`"error_code":null,"error_msg":null\}$`,
			"fleet-1": `^\{"status":"Success","command_id":"[0-9a-f-]{36}","result_code":0,"response":\{"result_code":0,.*\},` +
				`"error_code":null,"error_msg":null\}$`,
		})),
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// Over the threshold: an error naming the devices, the results saved.
			{
				Config: config(3),
				ExpectError: wrapped(`Batch Command Failed on Some Devices.*4 devices failed out of 7.*` +
					`failing-1: answered with result_code 7.*offline-1: Fail, IOTDA.014016.*silent-1: Fail, IOTDA.014111.*` +
					`unknown-1: Fail, IOTDA.014000.*more than max_failed_devices \(3\)`),
				Check: checkTasks(target.Server, 1),
			},
			// The failed apply saved the state, tainted: the next plan runs the task again.
			{
				Config:             config(3),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigStateChecks:  stateChecks,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionReplace)},
				},
			},
			// Within the threshold (a new task, since the old one is tainted): a warning only,
			// and the resource is kept.
			{
				Config: config(4),
				ConfigStateChecks: append(slices.Clone(stateChecks), statecheck.ExpectKnownOutputValue("not_ok",
					knownvalue.ObjectExact(map[string]knownvalue.Check{
						"failing-1": knownvalue.Null(), "offline-1": knownvalue.StringExact("IOTDA.014016"),
						"silent-1": knownvalue.StringExact("IOTDA.014111"), "unknown-1": knownvalue.StringExact("IOTDA.014000"),
					}))),
				Check: checkTasks(target.Server, 2),
			},
			{
				Config: config(4),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkTasks(target.Server, 2),
			},
			// Raising max_failed_devices updates it in place and runs nothing.
			{
				Config: config(10),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate)},
				},
				Check: checkTasks(target.Server, 2),
			},
		},
	})
}

func TestBatchCommandResource_RetryOnlyTheFailedDevices(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, func(o *mockserver.Options) {
		o.Devices = []mockserver.Device{{ID: "offline-1"}, {ID: "offline-2"}}
	})
	config := target.ProviderHCL + `
resource "iotda_batch_command" "first" {
  device_ids         = ["fleet-1", "offline-1", "fleet-2", "offline-2"]
  paras              = { mode = "soft" }
  max_failed_devices = 2
}

resource "iotda_batch_command" "retry" {
  device_ids = iotda_batch_command.first.failed_device_ids
  paras      = { mode = "soft" }
  max_failed_devices = 2
}
`
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("iotda_batch_command.retry", tfjsonpath.New("device_ids"), knownvalue.ListExact(
					[]knownvalue.Check{knownvalue.StringExact("offline-1"), knownvalue.StringExact("offline-2")})),
				expectResults("iotda_batch_command.retry", resultKeys("offline-1", "offline-2")),
			},
			Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 2), checkDeliveries(target.Server, "fleet-1", 1)),
		}},
	})
}

func TestBatchCommandResource_GroupTargets(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 4, func(o *mockserver.Options) {
		o.Groups = []mockserver.Group{
			{ID: "aaaa-0001", DeviceIDs: []string{"fleet-1", "fleet-2"}},
			{ID: "bbbb-0002", DeviceIDs: []string{"fleet-2", "fleet-4"}},
		}
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: batchConfig(target, `
  group_ids = ["aaaa-0001", "bbbb-0002"]
  paras     = { on = true }
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("device_ids"), knownvalue.Null()),
					expectResults(testBatchAddr, resultKeys("fleet-1", "fleet-2", "fleet-4")),
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 1), checkDeliveries(target.Server, "fleet-2", 1),
					checkDeliveries(target.Server, "fleet-3", 0)),
			},
			// A group that does not exist fails the whole task: always an error, state saved.
			{
				Config: batchConfig(target, `
  group_ids = ["cccc-0003"]
  paras     = { on = true }
`),
				ExpectError: wrapped(`Batch Task Failed.*failed as a whole: The device group cccc-0003 does not exist`),
				Check:       checkTasks(target.Server, 2),
			},
		},
	})
}

func TestBatchCommandResource_RetriesRecoverADeviceThatComesOnline(t *testing.T) {
	t.Parallel()
	// A minute of retry_interval lasts 100 ms.
	target := batchMock(t, 1, func(o *mockserver.Options) {
		o.BatchTimeScale = 100.0 / 60000
		o.Devices = []mockserver.Device{{ID: "late-1"}}
	})
	s := target.Server
	// The device comes online as soon as the task has failed on it once.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.WaitJournal(ctx, func(e mockserver.Entry) bool {
			return e.Kind == mockserver.EntryBatchSubtask && e.DeviceID == "late-1" && e.TaskStatus == "FailWaitRetry"
		}); err != nil {
			return
		}
		s.RemoveDevice("late-1")
		_ = s.AddDevice(mockserver.Device{ID: "late-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}})
	}()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: batchConfig(target, `
  device_ids     = ["fleet-1", "late-1"]
  paras          = {}
  retry_count    = 3
  retry_interval = 1
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
				statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"), knownvalue.ListSizeExact(0)),
				statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("retry_count"), knownvalue.Int64Exact(3)),
			},
			Check: resource.ComposeTestCheckFunc(checkTasks(s, 1), checkDeliveries(s, "late-1", 1)),
		}},
	})
}

func TestBatchCommandResource_TriggersRunTheTaskAgainOnce(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2, nil)
	config := func(firmware string) string {
		return batchConfig(target, fmt.Sprintf(`
  device_ids = ["fleet-1", "fleet-2"]
  paras      = { action = "update" }
  triggers   = { firmware = %q }
`, firmware))
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config("1.1"), Check: checkTasks(target.Server, 1)},
			{
				Config: config("1.2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionReplace)},
				},
				Check: resource.ComposeTestCheckFunc(checkTasks(target.Server, 2), checkDeliveries(target.Server, "fleet-1", 2)),
			},
			{
				Config:           config("1.2"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkTasks(target.Server, 2),
			},
		},
	})
}

func TestBatchCommandResource_PagesThroughTwoThousandDevices(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 2000, nil)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: batchConfig(target, `
  device_ids = flatten([for i in range(2) : [for j in range(1000) : "fleet-${i * 1000 + j + 1}"]])
  paras      = { n = 1 }
`) + `
output "successes" {
  value = length([for id, r in jsondecode(iotda_batch_command.test.results) : id if r.status == "Success"])
}
`,
			ConfigStateChecks: []statecheck.StateCheck{
				expectResults(testBatchAddr, resultCount(2000)),
				statecheck.ExpectKnownOutputValue("successes", knownvalue.Int64Exact(2000)),
				statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"), knownvalue.ListSizeExact(0)),
			},
			Check: func(*terraform.State) error {
				// Every subtask was read, 50 a page: at least 40 pages, besides the polls.
				if got := batchRequests(target.Server, "GET"); got < 40 {
					return fmt.Errorf("%d GET requests, want at least 40 pages of task_details", got)
				}
				return checkTasks(target.Server, 1)(nil)
			},
		}},
	})
}

func TestBatchCommandResource_DeleteTaskOnDestroy(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 1, nil)
	config := func(del bool) string {
		return batchConfig(target, fmt.Sprintf(`
  device_ids             = ["fleet-1"]
  paras                  = {}
  delete_task_on_destroy = %t
`, del))
	}
	taskGone := func(*terraform.State) error {
		if tasks := target.Server.BatchTasks(); len(tasks) != 1 {
			return fmt.Errorf("the mock holds %d tasks, want only the one kept by the first resource", len(tasks))
		}
		if n := batchRequests(target.Server, "DELETE"); n != 1 {
			return fmt.Errorf("%d DELETE requests, want 1", n)
		}
		return nil
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// Destroying without delete_task_on_destroy only forgets the task.
			{Config: config(false)},
			{Config: target.ProviderHCL, Check: func(*terraform.State) error {
				if n := batchRequests(target.Server, "DELETE"); n != 0 || len(target.Server.BatchTasks()) != 1 {
					return fmt.Errorf("%d DELETE requests, %d tasks: destroy must only forget", n, len(target.Server.BatchTasks()))
				}
				return nil
			}},
			// With it, destroy deletes the finished task from IoTDA.
			{Config: config(true), Check: checkTasks(target.Server, 2)},
			{Config: target.ProviderHCL, Check: taskGone},
		},
	})
}

func mustBigFloat(s string) *big.Float {
	f, _, err := big.ParseFloat(s, 10, numberPrecision, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	return f
}
