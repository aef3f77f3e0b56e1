package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Tests of iotda_device_message driven by the Terraform CLI against the mock platform, with
// simulated devices that are online, asleep, or wake while an apply follows their message.

const testMessageAddr = "iotda_device_message.test"

// uuidPattern matches the message ids the provider generates.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// messageConfig renders the target's provider block and iotda_device_message.test with body
// as its arguments after device_id.
func messageConfig(target *testTarget, deviceID, body string) string {
	return fmt.Sprintf(`%s
resource "iotda_device_message" "test" {
  device_id = %q
%s
}
`, target.ProviderHCL, deviceID, body)
}

func expectStatus(status string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("status"), knownvalue.StringExact(status))
}

func TestDeviceMessageResource_OnlineDeviceDelivered(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	s := target.Server
	config := messageConfig(target, "d1", `
  name    = "set_interval"
  message = { interval = 900, big = 12345678901234567890 }
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkMessages(s, "d1", 1, 1),
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					expectStatus("DELIVERED"),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("message_id"), knownvalue.StringRegexp(uuidPattern)),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^d1/[0-9a-f-]{36}$`))),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("created_at"), knownvalue.StringRegexp(rfc3339UTC)),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("finished_at"), knownvalue.StringRegexp(rfc3339UTC)),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("error_code"), knownvalue.Null()),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("wait_for_delivery"), knownvalue.Bool(true)),
				},
				Check: resource.ComposeTestCheckFunc(checkMessages(s, "d1", 1, 1), func(*terraform.State) error {
					d := s.MessageDeliveries("d1")
					if len(d) != 1 || d[0].Topic != "$oc/devices/d1/sys/messages/down" || !strings.Contains(string(d[0].Body),
						`"name":"set_interval","id":"`+d[0].MessageID+`","content":"{\"big\":12345678901234567890,\"interval\":900}"`) {
						return fmt.Errorf("published %+v", d)
					}
					// The device read the content as the standard format carries it.
					if got := received(s, "d1"); !slices.Equal(got, []string{`{"big":12345678901234567890,"interval":900}`}) {
						return fmt.Errorf("the device read %q", got)
					}
					return nil
				}),
			},
			// Plan and refresh send nothing, and a DELIVERED message is not even read again.
			{Config: config, PlanOnly: true},
			{RefreshState: true, Check: checkMessages(s, "d1", 1, 1)},
		},
	})
	if gets := messageRequests(s, "d1", http.MethodGet); gets != 0 {
		t.Errorf("a DELIVERED message was read %d times; a final status never changes", gets)
	}
}

// A sleeping device that wakes while the apply follows its message: the apply ends
// DELIVERED, and the device reads the message once.
func TestDeviceMessageResource_SleepingDeviceWakesWithinTheTimeout(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	wakeWhenCreated(t, s, "d1")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: messageConfig(target, "d1", `
  message = "wake up"
  timeouts {
    create = "1m"
  }
`),
			ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
			Check: resource.ComposeTestCheckFunc(checkMessages(s, "d1", 1, 1), func(*terraform.State) error {
				// The message was created while the device slept: PENDING until it connected.
				if journalCount(s, mockserver.EntryConnect, "d1") != 2 || !slices.Equal(received(s, "d1"), []string{`"wake up"`}) {
					return fmt.Errorf("connects %d, read %q", journalCount(s, mockserver.EntryConnect, "d1"), received(s, "d1"))
				}
				return nil
			}),
		}},
	})
}

// A device that wakes after the apply's timeout: the apply saves the message PENDING with a
// warning; a refresh after the device woke shows DELIVERED without sending again, and the
// applies after it change nothing.
func TestDeviceMessageResource_SleepingDeviceWakesAfterTheTimeout(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	config := messageConfig(target, "d1", `
  message = "config v2"
  timeouts {
    create = "1s"
  }
`)
	delivered := []statecheck.StateCheck{expectStatus("DELIVERED"),
		statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("finished_at"), knownvalue.StringRegexp(rfc3339UTC))}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING"), statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("finished_at"), knownvalue.Null())},
				Check:             checkMessages(s, "d1", 1, 0),
			},
			{
				PreConfig:         func() { wakeAndDeliver(t, s, "d1", 1) },
				Config:            config,
				ConfigPlanChecks:  expectMessageNoChange(),
				ConfigStateChecks: delivered,
				Check:             checkMessages(s, "d1", 1, 1),
			},
			{Config: config, ConfigPlanChecks: expectMessageNoChange(), ConfigStateChecks: delivered, Check: checkMessages(s, "d1", 1, 1)},
		},
	})
}

// wait_for_delivery = false returns once IoTDA accepted the message.
func TestDeviceMessageResource_NoWait(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: messageConfig(target, "d1", `
  message           = "later"
  wait_for_delivery = false
`),
			ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")},
			Check:             checkMessages(s, "d1", 1, 0),
		}},
	})
	if gets := messageRequests(s, "d1", http.MethodGet); gets > 3 {
		t.Errorf("%d reads of a message the apply was not to wait for (only refreshes should read it)", gets)
	}
}

// The message sent is what the device reads on its topic: raw and base64 payloads, a custom
// topic and a full topic name the device subscribed to.
func TestDeviceMessageResource_PayloadsAndTopics(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		body, topic, published, read string
	}{
		// The journal holds a payload that is not JSON as a JSON string, HTML-escaped.
		"raw string": {`message = "plain <text>"` + "\n" + `payload_format = "raw"`, "$oc/devices/d1/sys/messages/down",
			`"plain \u003ctext\u003e"`, `"plain \u003ctext\u003e"`},
		"raw object": {`message = { a = [1, 2.5] }` + "\n" + `payload_format = "raw"`, "$oc/devices/d1/sys/messages/down",
			`{"a":[1,2.5]}`, `{"a":[1,2.5]}`},
		"base64": {`message = base64encode("\u0001bin")` + "\n" + `encoding = "base64"`, "$oc/devices/d1/sys/messages/down",
			`"\u0001bin"`, `"\u0001bin"`},
		"standard": {`message = "x"` + "\n" + `name = "n1"`, "$oc/devices/d1/sys/messages/down",
			`{"name":"n1","id":"@","content":"x"}`, `"x"`},
		"custom topic": {`message = "x"` + "\n" + `topic = "cfg"` + "\n" + `payload_format = "raw"`, "$oc/devices/d1/user/cfg",
			`"x"`, `"x"`},
		"full topic name": {`message = "x"` + "\n" + `topic_full_name = "/factory/cfg"` + "\n" + `payload_format = "raw"`,
			"/factory/cfg", `"x"`, `"x"`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "d1", Simulated: &mockserver.Behavior{
				Subscribe: []string{"$oc/devices/d1/user/cfg", "/factory/cfg"}}}}})
			s := target.Server
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{{
					Config:            messageConfig(target, "d1", tc.body),
					ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
					Check: resource.ComposeTestCheckFunc(checkMessages(s, "d1", 1, 1), func(*terraform.State) error {
						d := s.MessageDeliveries("d1")
						want := strings.ReplaceAll(tc.published, "@", d[0].MessageID)
						if d[0].Topic != tc.topic || string(d[0].Body) != want {
							return fmt.Errorf("published %s on %s, want %s on %s", d[0].Body, d[0].Topic, want, tc.topic)
						}
						if got := s.ReceivedMessages("d1"); got[0].Topic != tc.topic || string(got[0].Body) != tc.read {
							return fmt.Errorf("the device read %s on %s, want %s", got[0].Body, got[0].Topic, tc.read)
						}
						return nil
					}),
				}},
			})
		})
	}
}

// On CLIs without Terraform 1.5's go-cty bug, whole numbers from 2^63 up that a float holds
// exactly reach the device with every digit, and plan again empty.
func TestDeviceMessageResource_NumbersBeyondInt64(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	s := target.Server
	config := messageConfig(target, "d1", `message = { n = 9223372036854775808, m = 18446744073709551616 }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			{Config: config, Check: func(*terraform.State) error {
				if got := received(s, "d1"); len(got) != 1 || got[0] != `{"m":18446744073709551616,"n":9223372036854775808}` {
					return fmt.Errorf("the device read %q", got)
				}
				return nil
			}},
			{Config: config, PlanOnly: true},
		},
	})
}

// TestDeviceMessageResource_NumbersBeyondInt64_Terraform15 records the Terraform 1.5 bug the
// documentation describes: such numbers in an object fail the plan, and nothing is sent.
func TestDeviceMessageResource_NumbersBeyondInt64_Terraform15(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipAbove(version.Must(version.NewVersion("1.5.99")))},
		Steps: []resource.TestStep{{
			Config:      messageConfig(target, "d1", `message = { n = 9223372036854775808 }`),
			ExpectError: regexp.MustCompile(`(?s)Provider produced invalid plan.*message`),
		}},
	})
	if n := messageRequests(target.Server, "d1", ""); n != 0 {
		t.Errorf("the failed plan sent %d message requests", n)
	}
}

// Several devices of a fleet, some asleep: one resource each. The awake ones end DELIVERED
// within the apply, the sleeping ones PENDING with a warning; once they wake, a refresh shows
// every message DELIVERED, each device having read its own once, and nothing is sent again.
func TestDeviceMessageResource_FleetDevicesAsleepAndAwake(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "gateway"}},
		Fleets: []mockserver.Fleet{{Prefix: "valve-", Count: 6, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}})
	s := target.Server
	asleep := []string{"valve-2", "valve-5"}
	for _, id := range asleep {
		sleepDevice(t, s, id)
	}
	config := target.ProviderHCL + `
resource "iotda_device_message" "valve" {
  count     = 6
  device_id = "valve-${count.index + 1}"
  message   = { position = "closed", device = "valve-${count.index + 1}" }
  timeouts {
    create = "2s"
  }
}

output "statuses" {
  value = { for m in iotda_device_message.valve : m.device_id => m.status }
}
`
	statuses := func(pending ...string) statecheck.StateCheck {
		want := map[string]knownvalue.Check{}
		for i := 1; i <= 6; i++ {
			id := fmt.Sprintf("valve-%d", i)
			want[id] = knownvalue.StringExact("DELIVERED")
			if slices.Contains(pending, id) {
				want[id] = knownvalue.StringExact("PENDING")
			}
		}
		return statecheck.ExpectKnownOutputValue("statuses", knownvalue.MapExact(want))
	}
	// each checks that every valve got one create and read its own message, unless it is
	// among unread.
	each := func(unread ...string) func(*terraform.State) error {
		return func(st *terraform.State) error {
			for i := 1; i <= 6; i++ {
				id, n := fmt.Sprintf("valve-%d", i), 1
				if slices.Contains(unread, id) {
					n = 0
				}
				if err := checkMessages(s, id, 1, n)(st); err != nil {
					return err
				}
				if want := []string{`{"device":"` + id + `","position":"closed"}`}; n == 1 && !slices.Equal(received(s, id), want) {
					return fmt.Errorf("%s read %q, want %q", id, received(s, id), want)
				}
			}
			return nil
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{statuses(asleep...)}, Check: each(asleep...)},
			{
				PreConfig: func() {
					for _, id := range asleep {
						wakeAndDeliver(t, s, id, 1)
					}
				},
				Config:            config,
				ConfigPlanChecks:  resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{noResourceChanges{}}},
				ConfigStateChecks: []statecheck.StateCheck{statuses()},
				Check:             each(),
			},
			{Config: config, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: each()},
		},
	})
}

// noResourceChanges is a plan check that no resource is created, updated, replaced or
// destroyed (outputs may change: a refresh moved a status).
type noResourceChanges struct{}

func (noResourceChanges) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if !rc.Change.Actions.NoOp() {
			resp.Error = fmt.Errorf("%s is planned to %v", rc.Address, rc.Change.Actions)
			return
		}
	}
}
