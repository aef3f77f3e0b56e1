package provider

import (
	"fmt"
	"regexp"
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
)

// Tests of iotda_device_message driven by the Terraform CLI against messagePlatform: the
// mock's message rules behind HTTP, with devices the test switches on and off.

const testMessageAddr = "iotda_device_message.test"

// uuidPattern matches the message ids the provider generates.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// messageConfig renders the platform's provider block and iotda_device_message.test with
// body as its arguments after device_id.
func messageConfig(p *messagePlatform, deviceID, body string) string {
	return fmt.Sprintf(`%s
resource "iotda_device_message" "test" {
  device_id = %q
%s
}
`, p.providerHCL(), deviceID, body)
}

// checkMessages asserts how many creates the platform answered and how many messages device
// d1 received.
func checkMessages(p *messagePlatform, creates, published int) resource.TestCheckFunc {
	const deviceID = "d1"
	return func(*terraform.State) error {
		posts, _ := p.counts()
		if got := len(p.published(deviceID)); posts != creates || got != published {
			return fmt.Errorf("the platform answered %d creates and published %d messages to %s; want %d and %d",
				posts, got, deviceID, creates, published)
		}
		return nil
	}
}

func expectStatus(status string) statecheck.StateCheck {
	return statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("status"), knownvalue.StringExact(status))
}

func TestDeviceMessageResource_OnlineDeviceDelivered(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	p.devices.setOnline("d1", true)
	config := messageConfig(p, "d1", `
  name    = "set_interval"
  message = { interval = 900, big = 12345678901234567890 }
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		CheckDestroy:             checkMessages(p, 1, 1),
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
				Check: resource.ComposeTestCheckFunc(checkMessages(p, 1, 1), func(*terraform.State) error {
					got := p.published("d1")
					if len(got) != 1 || got[0].Topic != "$oc/devices/d1/sys/messages/down" || !strings.Contains(string(got[0].Payload),
						`"content":"{\"big\":12345678901234567890,\"interval\":900}"`) {
						return fmt.Errorf("published %+v", got)
					}
					return nil
				}),
			},
			// Plan and refresh send nothing, and a DELIVERED message is not even read again.
			{Config: config, PlanOnly: true},
			{RefreshState: true, Check: checkMessages(p, 1, 1)},
		},
	})
	if _, gets := p.counts(); gets != 0 {
		t.Errorf("a DELIVERED message was read %d times; a final status never changes", gets)
	}
}

// A sleeping device that wakes while the apply follows its message: the apply ends
// DELIVERED.
func TestDeviceMessageResource_SleepingDeviceWakesWithinTheTimeout(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	p.connectWhenPending(t.Context(), "d1")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: messageConfig(p, "d1", `
  message = "wake up"
  timeouts {
    create = "1m"
  }
`),
			ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
			Check:             checkMessages(p, 1, 1),
		}},
	})
}

// A device that wakes after the apply's timeout: the apply saves the message PENDING with a
// warning; a refresh after the device connected shows DELIVERED without sending again.
func TestDeviceMessageResource_SleepingDeviceWakesAfterTheTimeout(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	config := messageConfig(p, "d1", `
  message = "config v2"
  timeouts {
    create = "1s"
  }
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:            config,
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING"), statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("finished_at"), knownvalue.Null())},
				Check:             checkMessages(p, 1, 0),
			},
			{
				PreConfig: func() { p.connect("d1") },
				Config:    config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED"),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("finished_at"), knownvalue.StringRegexp(rfc3339UTC))},
				Check: checkMessages(p, 1, 1),
			},
		},
	})
}

// wait_for_delivery = false returns once IoTDA accepted the message.
func TestDeviceMessageResource_NoWait(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: messageConfig(p, "d1", `
  message           = "later"
  wait_for_delivery = false
`),
			ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")},
			Check:             checkMessages(p, 1, 0),
		}},
	})
	if _, gets := p.counts(); gets > 3 {
		t.Errorf("%d reads of a message the apply was not to wait for (only refreshes should read it)", gets)
	}
}

// The message sent is what the device receives on its topic: raw and base64 payloads, a
// custom topic and a full topic name.
func TestDeviceMessageResource_PayloadsAndTopics(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		body, topic, payload string
	}{
		"raw string":      {`message = "plain <text>"` + "\n" + `payload_format = "raw"`, "$oc/devices/d1/sys/messages/down", "plain <text>"},
		"raw object":      {`message = { a = [1, 2.5] }` + "\n" + `payload_format = "raw"`, "$oc/devices/d1/sys/messages/down", `{"a":[1,2.5]}`},
		"base64":          {`message = base64encode("\u0001bin")` + "\n" + `encoding = "base64"`, "$oc/devices/d1/sys/messages/down", "\x01bin"},
		"custom topic":    {`message = "x"` + "\n" + `topic = "cfg"` + "\n" + `payload_format = "raw"`, "$oc/devices/d1/user/cfg", "x"},
		"full topic name": {`message = "x"` + "\n" + `topic_full_name = "/factory/cfg"` + "\n" + `payload_format = "raw"`, "/factory/cfg", "x"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := newMessagePlatform(t, "d1")
			p.devices.setOnline("d1", true)
			p.devices.subscribe("d1", tc.topic)
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{{
					Config:            messageConfig(p, "d1", tc.body),
					ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
					Check: func(*terraform.State) error {
						got := p.published("d1")
						if len(got) != 1 || got[0].Topic != tc.topic || string(got[0].Payload) != tc.payload {
							return fmt.Errorf("published %+v, want %q on %s", got, tc.payload, tc.topic)
						}
						return nil
					},
				}},
			})
		})
	}
}

// On CLIs without Terraform 1.5's go-cty bug, whole numbers from 2^63 up that a float holds
// exactly reach the device with every digit, and plan again empty.
func TestDeviceMessageResource_NumbersBeyondInt64(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	p.devices.setOnline("d1", true)
	config := messageConfig(p, "d1", `message = { n = 9223372036854775808, m = 18446744073709551616 }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		Steps: []resource.TestStep{
			{Config: config, Check: func(*terraform.State) error {
				got := p.published("d1")
				if len(got) != 1 || !strings.Contains(string(got[0].Payload), `{\"m\":18446744073709551616,\"n\":9223372036854775808}`) {
					return fmt.Errorf("published %+v", got)
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
	p := newMessagePlatform(t, "d1")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipAbove(version.Must(version.NewVersion("1.5.99")))},
		Steps: []resource.TestStep{{
			Config:      messageConfig(p, "d1", `message = { n = 9223372036854775808 }`),
			ExpectError: regexp.MustCompile(`(?s)Provider produced invalid plan.*message`),
		}},
	})
	if posts, _ := p.counts(); posts != 0 {
		t.Errorf("the failed plan sent %d messages", posts)
	}
}
