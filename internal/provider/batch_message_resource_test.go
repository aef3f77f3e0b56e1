package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// The iotda_batch_message tests drive the Terraform CLI against the mock, whose fleet
// devices sleep and wake, and whose journal tells how many messages each device was sent
// and received, across two or three applies.

const testMessageFleetAddr = "iotda_batch_message.test"

// msgFleet is a mock with a fleet fleet-1..fleet-n behind a fault proxy.
type msgFleet struct{ *faultTarget }

func newMsgFleet(t *testing.T, n int, mutate func(*mockserver.Options)) *msgFleet {
	t.Helper()
	return &msgFleet{batchFaultMock(t, n, mutate)}
}

// config renders one iotda_batch_message.test for the fleet with extra arguments.
func (m *msgFleet) config(extra string) string { return m.configFor(m.ids, extra) }

// configFor is config for the given devices.
func (m *msgFleet) configFor(ids []string, extra string) string {
	return fmt.Sprintf("%s\nresource \"iotda_batch_message\" \"test\" {\n  device_ids = %s\n  name       = \"set_interval\"\n"+
		"  message    = { interval = 900, big = 12345678901234567890 }\n%s}\n", m.ProviderHCL, hclList(ids...), extra)
}

// sleep puts devices to sleep until they are woken.
func (m *msgFleet) sleep(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := m.Server.SleepDevice(id, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// wake wakes devices and waits until the mock has published to all of them the messages
// it kept: deliveries message deliveries in all.
func (m *msgFleet) wake(t *testing.T, deliveries int, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := m.Server.WakeDevice(id); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := m.Server.WaitJournal(ctx, func(mockserver.Entry) bool {
		return len(m.Server.MessageDeliveries("")) >= deliveries
	}); err != nil {
		t.Fatalf("%d message deliveries, want %d: %v", len(m.Server.MessageDeliveries("")), deliveries, err)
	}
}

// messagesCreated counts the messages the mock created for a device, by message id.
func messagesCreated(s *mockserver.Server, deviceID string) map[string]int {
	out := map[string]int{}
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryMessage && e.DeviceID == deviceID {
			out[e.MessageID]++
		}
	}
	return out
}

// sentOnce checks that the mock ran one createMessages task, the one the state holds, that
// every device of the fleet was sent exactly one message, that of the state's message_id,
// and that the mock published delivered messages in all, none twice.
func (m *msgFleet) sentOnce(delivered int) resource.TestCheckFunc {
	return func(st *terraform.State) error {
		r := st.RootModule().Resources[testMessageFleetAddr]
		if r == nil {
			return fmt.Errorf("%s is not in the state", testMessageFleetAddr)
		}
		return m.sentOnceTo(r.Primary.Attributes["task_id"], r.Primary.Attributes["message_id"], delivered)
	}
}

func (m *msgFleet) sentOnceTo(taskID, messageID string, delivered int) error {
	tasks := m.Server.BatchTasks()
	if len(tasks) != 1 || tasks[0].TaskID != taskID || tasks[0].TaskType != iotda.TaskTypeCreateMessages {
		return fmt.Errorf("the mock ran %d tasks (%+v), want one createMessages task, the state's %s", len(tasks), tasks, taskID)
	}
	for _, id := range m.ids {
		if got := messagesCreated(m.Server, id); len(got) != 1 || got[messageID] != 1 {
			return fmt.Errorf("%s was sent messages %v, want %s once", id, got, messageID)
		}
	}
	published := map[string]int{}
	for _, e := range m.Server.MessageDeliveries("") {
		published[e.DeviceID]++
	}
	n := 0
	for id, count := range published {
		if count != 1 {
			return fmt.Errorf("%s was published %d messages, want at most 1", id, count)
		}
		n++
	}
	if n != delivered {
		return fmt.Errorf("the mock published the message to %d devices, want %d", n, delivered)
	}
	if posts := messageRequestsOf(m.Server, "POST"); posts != 0 {
		return fmt.Errorf("the provider sent %d messages itself, want none (the task sends them)", posts)
	}
	return nil
}

// messageRequestsOf counts the requests to the device message API with the method.
func messageRequestsOf(s *mockserver.Server, method string) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryRequest && strings.Contains(e.Path, "/messages") && e.Method == method {
			n++
		}
	}
	return n
}

// statuses checks the message_status of devices in the results.
func statuses(want map[string]string) statecheck.StateCheck {
	return expectResults(testMessageFleetAddr, func(results map[string]json.RawMessage) error {
		for id, status := range want {
			var e struct {
				Status        string  `json:"status"`
				MessageStatus *string `json:"message_status"`
			}
			if err := json.Unmarshal(results[id], &e); err != nil {
				return fmt.Errorf("result of %s: %s: %w", id, results[id], err)
			}
			if e.MessageStatus == nil || *e.MessageStatus != status || e.Status != "Success" {
				return fmt.Errorf("result of %s is %s, want message_status %s", id, results[id], status)
			}
		}
		return nil
	})
}

func listSize(attr string, n int) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New(attr), knownvalue.ListSizeExact(n))
}

func emptyMessagePlan() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
}

// A fleet of 1,000 with 50 devices asleep: the apply ends once IoTDA has accepted the message
// for all of them, listing the 50 as pending; once they wake, a refresh shows them delivered,
// and nothing is ever sent again.
func TestBatchMessageResource_SleepingFleet(t *testing.T) {
	t.Parallel()
	m := newMsgFleet(t, 1000, nil)
	asleep := m.ids[:50]
	m.sleep(t, asleep...)
	config := m.config("")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("message_id"),
						knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f-]{36}$`))),
					listSize("pending_device_ids", 50), listSize("failed_device_ids", 0),
					statuses(map[string]string{"fleet-1": "PENDING", "fleet-50": "PENDING", "fleet-51": "DELIVERED",
						"fleet-1000": "DELIVERED"}),
					expectResults(testMessageFleetAddr, resultCount(1000)),
				},
				Check: m.sentOnce(950),
			},
			{
				PreConfig:        func() { m.wake(t, 1000, asleep...) },
				Config:           config,
				ConfigPlanChecks: emptyMessagePlan(),
				ConfigStateChecks: []statecheck.StateCheck{
					listSize("pending_device_ids", 0), listSize("failed_device_ids", 0),
					statuses(map[string]string{"fleet-1": "DELIVERED", "fleet-50": "DELIVERED", "fleet-51": "DELIVERED"}),
				},
				Check: m.sentOnce(1000),
			},
			{Config: config, ConfigPlanChecks: emptyMessagePlan(), Check: resource.ComposeTestCheckFunc(m.sentOnce(1000),
				func(*terraform.State) error {
					if n := batchRequests(m.Server, "POST"); n != 1 {
						return fmt.Errorf("%d batch tasks were requested, want 1", n)
					}
					return nil
				})},
		},
	})
}

// A message that outlives its ttl while the device sleeps ends TIMEOUT: the refresh moves
// the device to failed_device_ids with a warning. Even beyond max_failed_devices the message
// is not sent to the fleet again on its own (the devices that have it would get it twice, and
// a device that stays asleep would make every apply send it again): plans show no change.
func TestBatchMessageResource_PendingThenTimeout(t *testing.T) {
	t.Parallel()
	clock := &testClock{}
	m := newMsgFleet(t, 3, func(o *mockserver.Options) { o.Now = clock.Now })
	m.sleep(t, "fleet-2")
	config := m.config("  ttl = 5\n")
	var firstTask string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{listSize("pending_device_ids", 1), statuses(map[string]string{"fleet-2": "PENDING"})},
				Check: resource.ComposeTestCheckFunc(m.sentOnce(2), func(st *terraform.State) error {
					firstTask = st.RootModule().Resources[testMessageFleetAddr].Primary.Attributes["task_id"]
					return nil
				}),
			},
			{
				PreConfig: func() {
					clock.advance(6 * time.Minute)
					m.Server.ExpireMessages()
				},
				RefreshState: true,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(testMessageFleetAddr, "pending_device_ids.#", "0"),
					resource.TestCheckResourceAttr(testMessageFleetAddr, "failed_device_ids.#", "1"),
					resource.TestCheckResourceAttr(testMessageFleetAddr, "failed_device_ids.0", "fleet-2"),
					m.sentOnce(2)),
			},
			{
				PreConfig:         func() { m.wake(t, 2, "fleet-2") }, // Its message ended TIMEOUT: nothing to deliver.
				Config:            config,
				ConfigPlanChecks:  emptyMessagePlan(),
				ConfigStateChecks: []statecheck.StateCheck{listSize("pending_device_ids", 0), listSize("failed_device_ids", 1)},
				Check: resource.ComposeTestCheckFunc(m.sentOnce(2), func(st *terraform.State) error {
					if id := st.RootModule().Resources[testMessageFleetAddr].Primary.Attributes["task_id"]; id != firstTask {
						return fmt.Errorf("the state holds task %s, want the first task %s", id, firstTask)
					}
					for _, id := range m.ids {
						if got := messagesCreated(m.Server, id); len(got) != 1 {
							return fmt.Errorf("%s was sent %v, want the one message of the first task", id, got)
						}
					}
					return nil
				}),
			},
			{Config: config, ConfigPlanChecks: emptyMessagePlan(), Check: m.sentOnce(2)},
		},
	})
}

// The create reaches IoTDA and its answer is lost: the task is found by its name and
// followed, each device is sent the message once, and the next applies send nothing.
func TestBatchMessageResource_LostCreateAnswer(t *testing.T) {
	t.Parallel()
	for name, act := range map[string]testutil.Action{
		"502 page":         {Status: 502, Body: testutil.GatewayPage(502)},
		"reset":            {Reset: true},
		"201 without task": {Rewrite: rewriteJSON(func(v map[string]any) { delete(v, "task_id") })},
		// The machinery's answer check (iotda_batch_command's tests try the rest): a task
		// IoTDA does not have is resolved by the name lookup.
		"201 naming a task IoTDA does not have": {Rewrite: rewriteJSON(func(v map[string]any) {
			v["task_id"] = "0123456789abcdef01234567"
		})},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newMsgFleet(t, 4, nil)
			m.sleep(t, "fleet-4")
			m.proxy.Add(rule(isCreate, act))
			config := m.config("")
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigStateChecks: []statecheck.StateCheck{listSize("pending_device_ids", 1),
						statuses(map[string]string{"fleet-1": "DELIVERED", "fleet-4": "PENDING"})}, Check: m.sentOnce(3)},
					{Config: config, ConfigPlanChecks: emptyMessagePlan(), Check: m.sentOnce(3)},
					{PreConfig: func() { m.wake(t, 4, "fleet-4") }, Config: config, ConfigPlanChecks: emptyMessagePlan(),
						ConfigStateChecks: []statecheck.StateCheck{listSize("pending_device_ids", 0)}, Check: m.sentOnce(4)},
				},
			})
		})
	}
}

// The create timeout ends while every read of the task is held on its way: the task is kept
// with a warning, and a plain apply follows the same task to its end, sending nothing.
func TestBatchMessageResource_TimeoutThenApply(t *testing.T) {
	t.Parallel()
	m := newMsgFleet(t, 4, nil)
	m.sleep(t, "fleet-1")
	m.proxy.Add(rule(isPoll, testutil.Action{Hold: 3 * time.Second}))
	config := m.config("  timeouts {\n    create = \"1s\"\n  }\n")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:             config,
				ExpectNonEmptyPlan: true,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("task_id"),
						knownvalue.StringRegexp(taskIDRegexp)),
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("results"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("pending_device_ids"), knownvalue.Null()),
				},
			},
			{
				PreConfig: m.proxy.Clear,
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testMessageFleetAddr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(testMessageFleetAddr, tfjsonpath.New("results")),
					plancheck.ExpectUnknownValue(testMessageFleetAddr, tfjsonpath.New("pending_device_ids")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{listSize("pending_device_ids", 1), listSize("failed_device_ids", 0),
					statuses(map[string]string{"fleet-1": "PENDING", "fleet-2": "DELIVERED"})},
				Check: m.sentOnce(3),
			},
			{Config: config, ConfigPlanChecks: emptyMessagePlan(), Check: m.sentOnce(3)},
		},
	})
}

// Devices IoTDA refuses, or whose message fails, count against max_failed_devices: beyond
// it, an error naming them with the state saved, and the next apply sends the message again.
func TestBatchMessageResource_Threshold(t *testing.T) {
	t.Parallel()
	// sim-1 is an MQTT client that subscribes to no custom topic; the fleet's in-process
	// sessions take every topic.
	m := newMsgFleet(t, 3, func(o *mockserver.Options) {
		o.Devices = []mockserver.Device{{ID: "sim-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	})
	withGhost := m.configFor(append([]string{"ghost-1"}, m.ids...), "")
	onTopic := m.configFor(append([]string{"sim-1"}, m.ids...), "  topic = \"cfg\"\n")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      withGhost,
				ExpectError: wrapped(`Batch Message Failed on Some Devices .* 1 device failed out of 4\. .* ghost-1: Fail, IOTDA\.014000 .* more than max_failed_devices \(0\)`),
			},
			{
				// The failed task is saved (tainted), and the next apply sends the message again, as
				// a new task; with the limit raised, the unknown device is a warning.
				Config: m.configFor(append([]string{"ghost-1"}, m.ids...), "  max_failed_devices = 1\n"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testMessageFleetAddr, plancheck.ResourceActionReplace)}},
				ConfigStateChecks: []statecheck.StateCheck{statecheck.ExpectKnownValue(testMessageFleetAddr,
					tfjsonpath.New("failed_device_ids"), knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("ghost-1")}))},
				Check: func(*terraform.State) error {
					if n := tasksCreated(m.Server); n != 2 {
						return fmt.Errorf("%d tasks, want 2", n)
					}
					if got := messagesCreated(m.Server, "fleet-1"); len(got) != 2 {
						return fmt.Errorf("fleet-1 was sent %v, want one message per task", got)
					}
					return nil
				},
			},
			{
				// On a custom topic a device has not subscribed to, IoTDA accepts the message and it
				// fails (IOTDA.014112, which only a read of the message tells).
				Config:      onTopic,
				ExpectError: wrapped(`Batch Message Failed on Some Devices .* 1 device failed out of 4\. .* sim-1: FAILED, IOTDA\.014112`),
			},
		},
	})
}

// Plan-time validation names the attribute and sends nothing.
func TestBatchMessageResource_Validation(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 1, nil)
	cfg := func(body string) string {
		return fmt.Sprintf("%s\nresource \"iotda_batch_message\" \"test\" {\n%s\n}\n", target.ProviderHCL, body)
	}
	var steps []resource.TestStep
	for _, c := range []struct{ body, want string }{
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `ttl = 7`, `Invalid Message TTL .* ttl is 7`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `ttl = 1445`, `Invalid Message TTL`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `topic = "a"` + "\n" + `topic_full_name = "/b"`, `Invalid Attribute Combination`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `topic = "/a"`, `Invalid Topic .* starts with /`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `topic_full_name = "a/#"`, `wildcard`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "not base64!"` + "\n" + `encoding = "base64"`, `Invalid Message Value .* standard base64`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "eA=="` + "\n" + `encoding = "base64"` + "\n" + `payload_format = "standard"`, `Conflicting Payload Format`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `encoding = "gzip"`, `encoding`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `name = "a/b"`, `name "a/b" has a character`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = 5`, `Invalid Message Value .* got a number`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = ["a"]`, `Invalid Message Value`},
		{`device_ids = ["fleet-1"]` + "\n" + `group_ids = ["0a1b"]` + "\n" + `message = "x"`, `Invalid Attribute Combination`},
		{`message = "x"`, `Missing Attribute Configuration`},
		{`device_ids = ["fleet-1", "fleet-1"]` + "\n" + `message = "x"`, `Duplicate Device ID`},
		{`device_ids = ["bad id"]` + "\n" + `message = "x"`, `device_ids\[0\]`},
		{`device_ids = []` + "\n" + `message = "x"`, `device_ids`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `retry_count = 1`, `retry_interval`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `task_name = "a-b"`, `task_name`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `properties = { user_properties = [for i in range(21) : { prop_key = "k${i}", prop_value = "v" }] }`, `user_properties`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = "x"` + "\n" + `properties = { correlation_data = "a b" }`, `correlation_data`},
		{`device_ids = ["fleet-1"]` + "\n" + `message = { a = 1 }` + "\n" + `max_failed_devices = -1`, `max_failed_devices`},
		{`device_ids = ["fleet-1"]`, `"message" is required`},
	} {
		steps = append(steps, resource.TestStep{Config: cfg(c.body), PlanOnly: true, ExpectError: wrapped(c.want)})
	}
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testProviderFactories, Steps: steps})
	if n := batchRequests(target.Server, ""); n != 0 {
		t.Fatalf("%d batch task requests were made, want none", n)
	}
}

// createMessageTaskOutside creates a createMessages task on the mock, as the console would.
func createMessageTaskOutside(t *testing.T, target *testTarget, targets []string, doc string) string {
	t.Helper()
	c, err := iotda.NewClient(iotda.Config{Endpoint: target.Server.URL(), ProjectID: target.ProjectID, AuthToken: "test-token"})
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.CreateBatchTask(t.Context(), iotda.NewBatchTask{TaskName: "console_task", TaskType: iotda.TaskTypeCreateMessages,
		Targets: targets, Document: json.RawMessage(doc)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := target.Server.WaitBatchTask(ctx, task.TaskID); err != nil {
		t.Fatal(err)
	}
	return task.TaskID
}

// Import never sends the message again: the imported message compares with the
// configuration as the JSON value it sends, whatever order and spelling IoTDA answers with,
// and the pending device is followed from then on.
func TestBatchMessageResource_Import(t *testing.T) {
	t.Parallel()
	m := newMsgFleet(t, 2, nil)
	m.sleep(t, "fleet-2")
	id := createMessageTaskOutside(t, m.testTarget, m.ids,
		`{"message_id":"console-1","name":"cfg","message":{"b":1.0,"a":{"x":[1E2,"é"]}},"payload_format":"standard"}`)
	config := fmt.Sprintf(`%s
import {
  to = iotda_batch_message.test
  id = %q
}

resource "iotda_batch_message" "test" {
  device_ids = ["fleet-2", "fleet-1"]
  task_name  = "console_task"
  name       = "cfg"
  message    = { a = { x = [100, "é"] }, b = 1 }
  triggers   = { rev = "1" }
}
`, m.ProviderHCL, id)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testMessageFleetAddr, plancheck.ResourceActionUpdate)}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("id"), knownvalue.StringExact(id)),
					statecheck.ExpectKnownValue(testMessageFleetAddr, tfjsonpath.New("message_id"), knownvalue.StringExact("console-1")),
					listSize("pending_device_ids", 1), statuses(map[string]string{"fleet-1": "DELIVERED", "fleet-2": "PENDING"}),
				},
				Check: m.sentOnce(1),
			},
			{PreConfig: func() { m.wake(t, 2, "fleet-2") }, Config: config, ConfigPlanChecks: emptyMessagePlan(),
				ConfigStateChecks: []statecheck.StateCheck{listSize("pending_device_ids", 0)}, Check: m.sentOnce(2)},
		},
	})
}

// Interrupted while it follows the task (every read of it held on its way), or while the
// creating request is, the apply keeps the task; a plain apply follows the same task to its
// end, and no device is sent the message twice.
func TestBatchMessageResource_Interrupts(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	for name, duringCreate := range map[string]bool{"SIGINT while following": false, "SIGINT during create": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := newMsgFleet(t, 4, nil)
			m.sleep(t, "fleet-3")
			match := isPoll
			if duringCreate {
				match = isCreate
			}
			onItsWay := signalWhenHeld(m.proxy, match, testutil.Action{Hold: 2 * time.Second})
			r := newFleetCLIRun(t, cli, m.config(""))
			p := r.start("apply", "-auto-approve", "-no-color", "-input=false")
			waitHeld(t, onItsWay, p)
			if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			if p.wait(t) {
				t.Fatalf("the interrupted apply succeeded:\n%s", p.output())
			}
			saysWhatBecame(t, p.output(), false)
			savedUntainted(t, r, "iotda_batch_message")
			m.proxy.Clear()
			if out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false"); !ok ||
				!strings.Contains(out, "0 added, 1 changed, 0 destroyed") {
				t.Fatalf("the next apply:\n%s", out)
			}
			if out, ok := r.run("plan", "-no-color", "-input=false", "-detailed-exitcode"); !ok {
				t.Fatalf("the plan after is not empty:\n%s", out)
			}
			in, _ := r.stateInstance("iotda_batch_message")
			var a struct {
				TaskID           string   `json:"task_id"`
				MessageID        string   `json:"message_id"`
				PendingDeviceIDs []string `json:"pending_device_ids"`
			}
			if err := json.Unmarshal(in.Attributes, &a); err != nil {
				t.Fatalf("attributes %s: %v", in.Attributes, err)
			}
			if err := m.sentOnceTo(a.TaskID, a.MessageID, 3); err != nil {
				t.Fatal(err)
			}
			if strings.Join(a.PendingDeviceIDs, ",") != "fleet-3" {
				t.Fatalf("pending %v, want fleet-3", a.PendingDeviceIDs)
			}
		})
	}
}
