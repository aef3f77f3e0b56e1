package provider

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// Faults between the provider and IoTDA, each one example of a class (issue 13), tried as a
// careful user would: a fault proxy between the provider and the mock fails, holds or
// rewrites one kind of request during the first apply, then the user applies again, plainly.
// Every case checks, after every apply, that each device received the command exactly once
// (the mock's journal) and that the state holds the task the mock ran, and what the plan
// after the fault does.

// faultTarget is a mock with a fleet fleet-1..fleet-n behind a fault proxy; ProviderHCL
// points the provider at the proxy.
type faultTarget struct {
	*testTarget
	proxy *testutil.FaultProxy
	ids   []string
}

func batchFaultMock(t *testing.T, n int, mutate func(*mockserver.Options)) *faultTarget {
	t.Helper()
	target := batchMock(t, n, mutate)
	proxy := testutil.NewFaultProxy(t, target.Server.URL())
	ft := &faultTarget{testTarget: target, proxy: proxy}
	ft.ProviderHCL = strings.Replace(target.ProviderHCL, target.Server.URL(), proxy.URL, 1)
	for i := 1; i <= n; i++ {
		ft.ids = append(ft.ids, fmt.Sprintf("fleet-%d", i))
	}
	return ft
}

// config renders the resource for the fleet with extra arguments.
func (ft *faultTarget) config(extra string) string {
	return batchConfig(ft.testTarget, fmt.Sprintf("  device_ids   = %s\n  command_name = \"REBOOT\"\n  paras        = { delay = 5 }\n%s",
		hclList(ft.ids...), extra))
}

// Routes of the batch task API, for fault rules.
var (
	isCreate = func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/batchtasks")
	}
	isList = func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/batchtasks")
	}
	isPoll = func(r *http.Request) bool { return isShow(r) && r.URL.Query().Get("limit") == "1" }
	isPage = func(r *http.Request) bool { return isShow(r) && r.URL.Query().Get("limit") == "50" }
)

func isShow(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/batchtasks/")
}

// rule is a fault on requests that match, the nth of them (all when none are given).
func rule(match func(*http.Request) bool, act testutil.Action, nth ...int) *testutil.Rule {
	return &testutil.Rule{Match: match, Nth: nth, Action: act}
}

// deliveredOnce checks that every device of the fleet received exactly one command, that the
// mock ran exactly one task, and that the state holds that task.
func (ft *faultTarget) deliveredOnce() resource.TestCheckFunc {
	return func(st *terraform.State) error {
		r := st.RootModule().Resources[testBatchAddr]
		if r == nil {
			return fmt.Errorf("%s is not in the state", testBatchAddr)
		}
		return ft.deliveredOnceTo(r.Primary.Attributes["task_id"])
	}
}

// deliveredOnceTo is deliveredOnce for the task id a state holds.
func (ft *faultTarget) deliveredOnceTo(stateTaskID string) error {
	for _, id := range ft.ids {
		if n := len(ft.Server.Deliveries(id)); n != 1 {
			return fmt.Errorf("the mock delivered %d command(s) to %s, want 1", n, id)
		}
	}
	tasks := ft.Server.BatchTasks()
	if len(tasks) != 1 {
		return fmt.Errorf("the mock ran %d batch tasks, want 1", len(tasks))
	}
	if stateTaskID != tasks[0].TaskID {
		return fmt.Errorf("the state holds task %q, the mock ran %s", stateTaskID, tasks[0].TaskID)
	}
	return nil
}

// noTaskYet checks that the mock has run no task and the state holds none.
func (ft *faultTarget) noTaskYet() resource.TestCheckFunc {
	return func(st *terraform.State) error {
		if n := len(ft.Server.BatchTasks()); n != 0 {
			return fmt.Errorf("the mock ran %d batch tasks, want none yet", n)
		}
		if r := st.RootModule().Resources[testBatchAddr]; r == nil || r.Primary.Attributes["task_id"] != "" {
			return fmt.Errorf("the state should keep the resource without a task: %+v", r)
		}
		return nil
	}
}

// resultsRead checks the state's results: every device, all succeeded.
func (ft *faultTarget) resultsRead() []statecheck.StateCheck {
	return []statecheck.StateCheck{
		statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
		statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"), knownvalue.ListSizeExact(0)),
		expectResults(testBatchAddr, resultKeys(ft.ids...)),
	}
}

// followsInPlace is the plan after a fault that left the task to follow: an update whose
// status and results are known after the apply, not a replacement.
func followsInPlace() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionUpdate),
		plancheck.ExpectUnknownValue(testBatchAddr, tfjsonpath.New("results")),
	}}
}

func emptyPlan() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
}

// rewriteJSON rewrites a JSON answer body with edit, which gets it decoded (numbers kept).
func rewriteJSON(edit func(map[string]any)) func(int, []byte) (int, []byte) {
	return func(status int, body []byte) (int, []byte) {
		var v map[string]any
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.UseNumber()
		if status >= 300 || dec.Decode(&v) != nil {
			return status, body
		}
		edit(v)
		out, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		return status, out
	}
}

// TestBatchCommandResource_LostCreateAnswers: the create reaches IoTDA, then its answer is
// lost in every way a network loses one. The apply finds the task by its name and follows it;
// the next apply runs nothing.
func TestBatchCommandResource_LostCreateAnswers(t *testing.T) {
	t.Parallel()
	page := func(status int) testutil.Action {
		return testutil.Action{Status: status, Body: testutil.GatewayPage(status)}
	}
	// heavyList makes every listed task echo 30,000 targets of 120 characters (3.7 MB each),
	// as tasks of large fleets do: the lookup reads them without keeping them.
	heavyList := rule(isList, testutil.Action{Rewrite: rewriteJSON(func(v map[string]any) {
		ids := make([]any, 30000)
		for i := range ids {
			ids[i] = fmt.Sprintf("%0120d", i)
		}
		tasks, _ := v["batchtasks"].([]any)
		for _, t := range tasks {
			if t, ok := t.(map[string]any); ok {
				t["targets"] = ids
			}
		}
	})})
	for name, c := range map[string]struct {
		act   testutil.Action
		extra string
		more  []*testutil.Rule
	}{
		"500 error":          {act: testutil.Action{Status: 500, ContentType: "application/json", Body: `{"error_code":"IOTDA.000001","error_msg":"Internal error"}`}},
		"502 page":           {act: page(502)},
		"504 page":           {act: page(504)},
		"503 page":           {act: page(503)},
		"reset":              {act: testutil.Action{Reset: true}},
		"201 without task":   {act: testutil.Action{Rewrite: rewriteJSON(func(v map[string]any) { delete(v, "task_id") })}},
		"201 another's name": {act: testutil.Action{Rewrite: rewriteJSON(func(v map[string]any) { v["task_name"] = "other_task" })}},
		"201 cut short": {act: testutil.Action{Rewrite: func(s int, b []byte) (int, []byte) {
			return s, b[:len(b)/2]
		}}},
		"502 page, name chosen":   {act: page(502), extra: "  task_name = \"nightly_reboot\"\n"},
		"reset, list pages heavy": {act: testutil.Action{Reset: true}, more: []*testutil.Rule{heavyList}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ft := batchFaultMock(t, 4, nil)
			ft.proxy.Add(rule(isCreate, c.act))
			ft.proxy.Add(c.more...)
			config := ft.config(c.extra)
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigStateChecks: ft.resultsRead(), Check: ft.deliveredOnce()},
					{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
				},
			})
		})
	}
}

// TestBatchCommandResource_CreateRefusedBeforeIoTDA: a gateway answers 500 without passing the
// request on. The task cannot be told apart from a lost one, so the apply keeps the create in
// state and looks for the task; once the lookup window is over, plans stop looking and say
// how to send it again, and only the user's -replace (here a taint) sends it, once.
func TestBatchCommandResource_CreateRefusedBeforeIoTDA(t *testing.T) {
	t.Parallel()
	ft := batchFaultMock(t, 4, nil)
	ft.proxy.Add(rule(isCreate, testutil.Action{Refuse: true, Status: 500, Body: testutil.GatewayPage(500)}, 1))
	config := ft.config("  timeouts {\n    create = \"2s\"\n  }\n")
	base := t.TempDir()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		WorkingDir:               base,
		Steps: []resource.TestStep{
			// The lookup finds nothing before the create timeout: the create is kept.
			{Config: config, Check: ft.noTaskYet(), ExpectNonEmptyPlan: true},
			// Looked for again, still nothing, and a task could still appear: kept.
			{Config: config, ConfigPlanChecks: followsInPlace(), Check: ft.noTaskYet(), ExpectNonEmptyPlan: true},
			// Once the request is older than the lookup window, the plan sends nothing and
			// says how to send it again; refreshes go on looking.
			{
				PreConfig: func() { backdateSent(t, base, 3*time.Minute) },
				Config:    config, ConfigPlanChecks: emptyPlan(), Check: ft.noTaskYet(),
			},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.noTaskYet()},
			// The user, having checked, replaces it: the task is created, once.
			{
				Config: config, Taint: []string{testBatchAddr},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionReplace),
				}},
				ConfigStateChecks: ft.resultsRead(),
				Check:             ft.deliveredOnce(),
			},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
		},
	})
}

// backdateSent moves the time recorded for a create not found yet back by d, in the state of
// the test's working directory under base: as if that much time had passed.
func backdateSent(t *testing.T, base string, d time.Duration) {
	t.Helper()
	states, err := filepath.Glob(filepath.Join(base, "work*", "terraform.tfstate"))
	if err != nil || len(states) != 1 {
		t.Fatalf("working directory: %v, %v", states, err)
	}
	raw, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	// Only the instances' private values change; everything else is kept as it is.
	var whole map[string]json.RawMessage
	var resources []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &whole); err != nil || json.Unmarshal(whole["resources"], &resources) != nil {
		t.Fatalf("state %s: %v", raw, err)
	}
	done := false
	for _, r := range resources {
		var instances []map[string]json.RawMessage
		if err := json.Unmarshal(r["instances"], &instances); err != nil {
			t.Fatal(err)
		}
		for _, inst := range instances {
			var encoded string
			_ = json.Unmarshal(inst["private"], &encoded)
			priv, _ := base64.StdEncoding.DecodeString(encoded)
			// The framework keeps each key's value base64-encoded.
			var p map[string][]byte
			if err := json.Unmarshal(priv, &p); err != nil {
				t.Fatalf("private state %q: %v", priv, err)
			}
			var fp fleetPrivate
			if err := json.Unmarshal(p[privateFleetKey], &fp); err != nil || fp.Sent == nil {
				t.Fatalf("no create recorded in %s: %v", priv, err)
			}
			fp.Sent.At = fp.Sent.At.Add(-d)
			var err error
			if p[privateFleetKey], err = json.Marshal(fp); err != nil {
				t.Fatal(err)
			}
			if priv, err = json.Marshal(p); err != nil {
				t.Fatal(err)
			}
			if inst["private"], err = json.Marshal(base64.StdEncoding.EncodeToString(priv)); err != nil {
				t.Fatal(err)
			}
			done = true
		}
		var err error
		if r["instances"], err = json.Marshal(instances); err != nil {
			t.Fatal(err)
		}
	}
	if !done {
		t.Fatal("no resource instance in the state")
	}
	if whole["resources"], err = json.Marshal(resources); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(whole)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(states[0], out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestBatchCommandResource_CreateHeldInTransit: the create is held on its way longer than
// timeouts.create, and reaches IoTDA after the apply gave up on it. The next apply looks the
// task up again, finds it once it exists, and follows it.
func TestBatchCommandResource_CreateHeldInTransit(t *testing.T) {
	t.Parallel()
	ft := batchFaultMock(t, 4, nil)
	ft.proxy.Add(rule(isCreate, testutil.Action{Hold: 6 * time.Second}, 1))
	config := ft.config("  timeouts {\n    create = \"4s\"\n  }\n")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: ft.noTaskYet(), ExpectNonEmptyPlan: true},
			{Config: config, ConfigPlanChecks: followsInPlace(), ConfigStateChecks: ft.resultsRead(), Check: ft.deliveredOnce()},
			{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
		},
	})
}

// TestBatchCommandResource_FollowingFaults: the task exists, then following it goes wrong in
// one of many ways. The state keeps the task; the next apply follows the same task and reads
// its results; the one after runs nothing.
func TestBatchCommandResource_FollowingFaults(t *testing.T) {
	t.Parallel()
	notFound := testutil.Action{Refuse: true, Status: 404, ContentType: "application/json",
		Body: `{"error_code":"IOTDA.016404","error_msg":"The batch task does not exist."}`}
	serverError := testutil.Action{Refuse: true, Status: 500, Body: testutil.GatewayPage(500)}
	batchtask := func(edit func(map[string]any)) testutil.Action {
		return testutil.Action{Rewrite: rewriteJSON(func(v map[string]any) {
			if t, ok := v["batchtask"].(map[string]any); ok {
				edit(t)
			}
		})}
	}
	details := func(edit func([]any) []any) testutil.Action {
		return testutil.Action{Rewrite: rewriteJSON(func(v map[string]any) {
			d, _ := v["task_details"].([]any)
			v["task_details"] = edit(d)
		})}
	}
	// A create timeout the faults outlast, for those that last.
	const short = "  timeouts {\n    create = \"3s\"\n  }\n"
	for name, c := range map[string]struct {
		rules []*testutil.Rule
		// slow keeps the task running for a while (a silent device the platform waits 1 s for).
		slow  bool
		extra string
		// transient faults are over before the first apply ends: it reads the results.
		transient bool
	}{
		// IoTDA may not list a task it has just created (eventual consistency): a 404 just
		// after the create is read again, not taken as the task gone.
		"404 on the first poll after the create": {rules: []*testutil.Rule{rule(isPoll, notFound, 2)}, slow: true,
			transient: true},
		"404 on the read back and the first polls": {rules: []*testutil.Rule{rule(isPoll, notFound, 1, 2, 3, 4)},
			slow: true, transient: true},
		"every poll fails": {rules: []*testutil.Rule{rule(isPoll, serverError)}, slow: true, extra: short},
		"polls without task_id": {rules: []*testutil.Rule{rule(isPoll, batchtask(func(t map[string]any) { delete(t, "task_id") }))},
			slow: true, extra: short},
		"polls naming another task": {rules: []*testutil.Rule{rule(isPoll, batchtask(func(t map[string]any) {
			t["task_id"] = "ffffffffffffffffffffffff"
		}))}, slow: true, extra: short},
		"polls of another, finished task": {rules: []*testutil.Rule{rule(isPoll, batchtask(func(t map[string]any) {
			t["task_id"], t["status"] = "ffffffffffffffffffffffff", "Success"
		}))}, slow: true, extra: short},
		// Answers that do not match the task end the apply after a few, whatever the create
		// timeout (30 minutes by default), with the task saved to follow.
		"polls without task_id, default timeout": {rules: []*testutil.Rule{afterReadBack(isPoll,
			batchtask(func(t map[string]any) { delete(t, "task_id") }))}, slow: true},
		"polls with a subtask more than asked": {rules: []*testutil.Rule{afterReadBack(isPoll,
			details(func(d []any) []any { return append(d, d...) }))}, slow: true},
		"read back without task_id, default timeout": {rules: []*testutil.Rule{rule(isPoll,
			batchtask(func(t map[string]any) { delete(t, "task_id") }))}, slow: true},
		"a few polls without task_id": {rules: []*testutil.Rule{rule(isPoll, batchtask(func(t map[string]any) { delete(t, "task_id") }),
			1, 2, 3, 4)}, slow: true, transient: true},
		"a poll of another task": {rules: []*testutil.Rule{rule(isPoll, batchtask(func(t map[string]any) {
			t["task_id"], t["status"] = "ffffffffffffffffffffffff", "Success"
		}), 1, 2)}, slow: true, transient: true},
		"results page fails":             {rules: []*testutil.Rule{rule(isPage, serverError)}},
		"results page of another task":   {rules: []*testutil.Rule{rule(isPage, batchtask(func(t map[string]any) { t["task_id"] = "ffffffffffffffffffffffff" }))}},
		"results without one device":     {rules: []*testutil.Rule{rule(isPage, details(func(d []any) []any { return d[1:] }))}},
		"results without any device":     {rules: []*testutil.Rule{rule(isPage, details(func([]any) []any { return []any{} }))}},
		"results with a device not sent": {rules: []*testutil.Rule{rule(isPage, details(func(d []any) []any { return append(d, map[string]any{"target": "intruder-1", "status": "Success"}) }))}},
		"results with a device twice":    {rules: []*testutil.Rule{rule(isPage, details(func(d []any) []any { return append(d, d[0]) }))}},
		"results page larger than asked": {rules: []*testutil.Rule{rule(isPage, details(func(d []any) []any { return append(d, make([]any, 60)...) }))}},
		"results page with a fresh marker": {rules: []*testutil.Rule{rule(isPage, testutil.Action{Rewrite: rewriteJSON(func(v map[string]any) {
			d, _ := v["task_details"].([]any)
			for len(d) < 50 {
				d = append(d, d[0])
			}
			v["task_details"], v["page"] = d, map[string]any{"count": 50, "marker": fmt.Sprintf("%024x", time.Now().UnixNano())}
		})})}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ft := batchFaultMock(t, 4, func(o *mockserver.Options) {
				if c.slow {
					o.PlatformTimeout = time.Second
					o.Devices = []mockserver.Device{{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}}}
				}
			})
			extra := c.extra
			if c.slow {
				// The silent device keeps the task running for a second, then fails.
				ft.ids = append(ft.ids, "silent-1")
				extra += "  max_failed_devices = 1\n"
			}
			ft.proxy.Add(c.rules...)
			config := ft.config(extra)
			checks := ft.resultsRead()
			if c.slow {
				checks = []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("PartialSuccess")),
					statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("failed_device_ids"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("silent-1")})),
					expectResults(testBatchAddr, resultKeys(ft.ids...)),
				}
			}
			steps := []resource.TestStep{
				{
					Config: config, Check: ft.deliveredOnce(),
					// Whatever went wrong, the results of the task are not in the state.
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("results"), knownvalue.Null()),
					},
					ExpectNonEmptyPlan: true,
				},
				{PreConfig: ft.proxy.Clear, Config: config, ConfigPlanChecks: followsInPlace(), ConfigStateChecks: checks,
					Check: ft.deliveredOnce()},
				{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
			}
			if c.transient {
				steps = []resource.TestStep{
					{Config: config, ConfigStateChecks: checks, Check: ft.deliveredOnce()},
					{Config: config, ConfigPlanChecks: emptyPlan(), Check: ft.deliveredOnce()},
				}
			}
			resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testProviderFactories, Steps: steps})
		})
	}
}

// afterReadBack is a rule on the requests that match, except the first, which reads back
// the task a create's answer named.
func afterReadBack(match func(*http.Request) bool, act testutil.Action) *testutil.Rule {
	var seen atomic.Int32
	return &testutil.Rule{Match: func(r *http.Request) bool { return match(r) && seen.Add(1) > 1 }, Action: act}
}

// TestBatchCommandResource_TaskGone: IoTDA no longer has the task while it runs. The state
// keeps it as last seen; no plan runs it again by itself.
func TestBatchCommandResource_TaskGone(t *testing.T) {
	t.Parallel()
	ft := batchFaultMock(t, 2, func(o *mockserver.Options) {
		o.PlatformTimeout = time.Second
		o.Devices = []mockserver.Device{{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}}}
	})
	ft.ids = append(ft.ids, "silent-1")
	// The task is read back after its create and polled once, then IoTDA has it no more.
	var reads atomic.Int32
	ft.proxy.Add(&testutil.Rule{Match: func(r *http.Request) bool { return isShow(r) && reads.Add(1) > 2 },
		Action: testutil.Action{Refuse: true, Status: 404, ContentType: "application/json",
			Body: `{"error_code":"IOTDA.016404","error_msg":"The batch task does not exist."}`}})
	config := ft.config("  max_failed_devices = 1\n")
	stillThere := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("task_id"), knownvalue.StringRegexp(taskIDRegexp)),
		statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("results"), knownvalue.Null()),
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: stillThere, Check: ft.deliveredOnce()},
			{Config: config, ConfigPlanChecks: emptyPlan(), ConfigStateChecks: stillThere, Check: ft.deliveredOnce()},
		},
	})
}
