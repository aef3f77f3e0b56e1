package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
)

// How iotda_device_message lives on: expiry, failures, eviction, lost answers, import,
// updates in place and write-only content, with the CLI against messagePlatform.

// waitStatus blocks until the device's only message has status.
func waitStatus(t *testing.T, p *messagePlatform, deviceID, status string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, _, err := p.backend.Wait(ctx, deviceID, "", func(messages.Message, bool) bool {
		list, _ := p.backend.List(deviceID)
		return len(list) > 0 && list[len(list)-1].Status == status
	})
	if err != nil {
		t.Fatalf("the message to %s never became %s: %v", deviceID, status, err)
	}
}

func expectMessageReplace() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(testMessageAddr, plancheck.ResourceActionReplace)}}
}

func expectMessageUpdate() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(testMessageAddr, plancheck.ResourceActionUpdate)}}
}

func expectMessageNoChange() resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
}

// A message whose ttl runs out before the device connects ends TIMEOUT: the refresh shows it
// and the plan sends it again, which then reaches the device.
func TestDeviceMessageResource_TTLExpiry(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	config := messageConfig(p, "d1", `
  message           = "short-lived"
  ttl               = 5
  wait_for_delivery = false
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")}},
			{
				PreConfig: func() {
					p.advance(5 * time.Minute)
					waitStatus(t, p, "d1", messages.StatusTimeout)
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check:              resource.TestCheckResourceAttr(testMessageAddr, "status", "TIMEOUT"),
			},
			{
				PreConfig:         func() { p.connect("d1") },
				Config:            config,
				ConfigPlanChecks:  expectMessageReplace(),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
				Check:             checkMessages(p, 2, 1),
			},
			{Config: config, ConfigPlanChecks: expectMessageNoChange()},
		},
	})
}

// FAILED is an error with the state saved, and the next apply sends the message again.
func TestDeviceMessageResource_FailedIsAnErrorAndSentAgain(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1", "d2")
	p.devices.setOnline("d1", true)
	config := messageConfig(p, "d1", `
  message = "on a topic the device has not subscribed to"
  topic   = "cfg"
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ExpectError: regexp.MustCompile(`(?s)Message Not Delivered.*IOTDA\.014112.*has not\s+subscribed.*next apply\s+sends\s+the\s+message\s+again`)},
			{
				PreConfig:         func() { p.devices.subscribe("d1", "$oc/devices/d1/user/cfg") },
				Config:            config,
				ConfigPlanChecks:  expectMessageReplace(),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
				Check:             checkMessages(p, 2, 1),
			},
		},
	})

	// ttl = 0 keeps nothing for an offline device: FAILED with IOTDA.014016.
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config:      messageConfig(p, "d2", `message = "now or never"`+"\n"+`ttl = 0`),
			ExpectError: regexp.MustCompile(`(?s)Message Not Delivered.*IOTDA\.014016.*ttl = 0`),
		}},
	})
}

// A message IoTDA no longer has (20 newer ones replaced it) keeps its last known state: it
// is neither removed nor sent again.
func TestDeviceMessageResource_ReplacedByTwentyNewerKeepsItsState(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	config := messageConfig(p, "d1", `
  message           = "first"
  wait_for_delivery = false
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")}},
			{
				PreConfig: func() {
					for i := range messages.MaxCached {
						if _, err := p.backend.Create("d1", fmt.Appendf(nil, `{"message":"newer %d"}`, i)); err != nil {
							t.Fatal(err)
						}
					}
				},
				Config:            config,
				ConfigPlanChecks:  expectMessageNoChange(),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")},
				Check:             checkMessages(p, 1, 0),
			},
			{RefreshState: true, Check: resource.TestCheckResourceAttr(testMessageAddr, "status", "PENDING")},
		},
	})
}

// A create whose answer is lost is resolved by reading the message by its id: one message,
// not two, and the state holds it.
func TestDeviceMessageResource_LostCreateAnswerResolvedByID(t *testing.T) {
	t.Parallel()
	for _, online := range []bool{true, false} {
		t.Run(fmt.Sprintf("online=%v", online), func(t *testing.T) {
			t.Parallel()
			p := newMessagePlatform(t, "d1")
			p.devices.setOnline("d1", online)
			p.dropNextCreate = true
			status := "DELIVERED"
			if !online {
				status = "PENDING"
			}
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{{
					Config:            messageConfig(p, "d1", `message = "once"`+"\n"+`wait_for_delivery = false`),
					ConfigStateChecks: []statecheck.StateCheck{expectStatus(status)},
					Check: resource.ComposeTestCheckFunc(checkMessages(p, 1, map[bool]int{true: 1}[online]),
						func(*terraform.State) error {
							if list, _ := p.backend.List("d1"); len(list) != 1 {
								return fmt.Errorf("the platform holds %d messages, want 1", len(list))
							}
							return nil
						}),
				}},
			})
		})
	}
}

// An imported message adopts the configuration's ttl and triggers, which IoTDA does not
// return, without sending anything; its status and arguments come from IoTDA.
func TestDeviceMessageResource_Import(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	p.devices.setOnline("d1", true)
	p.devices.subscribe("d1", "$oc/devices/d1/user/cfg")
	if _, err := p.backend.Create("d1", []byte(`{"message_id":"m-imported","name":"n1","message":{"interval":900},`+
		`"topic":"cfg","ttl":60}`)); err != nil {
		t.Fatal(err)
	}
	config := messageConfig(p, "d1", `
  name     = "n1"
  message  = { interval = 900 }
  topic    = "cfg"
  ttl      = 60
  triggers = { rev = "1" }
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config, ResourceName: testMessageAddr, ImportState: true, ImportStateId: "d1/m-imported",
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					a := states[0].Attributes
					for k, want := range map[string]string{"id": "d1/m-imported", "device_id": "d1", "message_id": "m-imported",
						"status": "DELIVERED", "name": "n1", "topic": "cfg", "message.interval": "900"} {
						if a[k] != want {
							return fmt.Errorf("imported %s = %q, want %q (%v)", k, a[k], want, a)
						}
					}
					return nil
				},
			},
			{Config: config, ConfigPlanChecks: expectMessageUpdate(), Check: checkMessages(p, 0, 1)},
			{Config: config, ConfigPlanChecks: expectMessageNoChange()},
			// A changed message after the import is sent as a new one.
			{Config: strings.Replace(config, "900", "600", 1), ConfigPlanChecks: expectMessageReplace(),
				Check: checkMessages(p, 1, 2)},
		},
	})
	for id, want := range map[string]string{
		"d1":            "not device_id/message_id",
		"d 1/m":         "does not start with a device ID",
		"d1/m.1":        "does not end with a message ID",
		"d1/not-there":  "Message Not Found",
		"ghost/m-there": "Message Not Found",
	} {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviderFactories,
			Steps: []resource.TestStep{{Config: config, ResourceName: testMessageAddr, ImportState: true,
				ImportStateId: id, ExpectError: regexp.MustCompile(regexp.QuoteMeta(want))}},
		})
	}
}

// Changes of form only, and of wait_for_delivery or the timeouts, update in place and send
// nothing; a change of what IoTDA receives, or of triggers, sends the message again.
func TestDeviceMessageResource_UpdatesInPlaceAndReplacements(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	p.devices.setOnline("d1", true)
	step := func(body string, plan resource.ConfigPlanChecks, creates int) resource.TestStep {
		return resource.TestStep{Config: messageConfig(p, "d1", body), ConfigPlanChecks: plan,
			ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
			Check:             checkMessages(p, creates, creates)}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			step(`message = { interval = 900, mode = "eco" }`, resource.ConfigPlanChecks{}, 1),
			step(`message = tomap({ mode = "eco", interval = "900" })`, expectMessageReplace(), 2), // "900" is a string now
			step(`message = tomap({ mode = "eco", interval = "900" })`+"\n"+`wait_for_delivery = false`, expectMessageUpdate(), 2),
			step(`message = tomap({ mode = "eco", interval = "900" })`+"\n"+`encoding = "none"`+"\n"+`payload_format = "standard"`+
				"\n"+`ttl = 1440`+"\n"+`name = ""`, expectMessageUpdate(), 2),
			step(`message = { mode = "eco", interval = "900" }`+"\n"+`timeouts {`+"\n"+`create = "2m"`+"\n"+`}`, expectMessageUpdate(), 2),
			step(`message = { mode = "eco", interval = "900" }`+"\n"+`triggers = {}`, expectMessageUpdate(), 2),
			step(`message = { mode = "eco", interval = "900" }`+"\n"+`triggers = { rev = "2" }`, expectMessageReplace(), 3),
			step(`message = { mode = "eco", interval = "900" }`+"\n"+`triggers = { rev = "2" }`+"\n"+`ttl = 60`, expectMessageReplace(), 4),
			step(`message = jsonencode({ mode = "eco", interval = "900" })`+"\n"+`triggers = { rev = "2" }`+"\n"+`ttl = 60`,
				expectMessageReplace(), 5), // A string holding JSON is another message than the object.
		},
	})
}

// Plan-time validation names the attribute, and nothing is sent.
func TestDeviceMessageResource_PlanTimeValidation(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "d1")
	long := strings.Repeat("a", 129)
	for name, tc := range map[string]struct{ body, want string }{
		"no message":          {`name = "n"`, `(?s)Missing Message.*message`},
		"both messages":       {`message = "a"` + "\n" + `message_wo = "b"` + "\n" + `message_wo_version = 1`, `Conflicting Message`},
		"wo without version":  {`message_wo = "b"`, `Missing Message Version`},
		"version without wo":  {`message = "a"` + "\n" + `message_wo_version = 1`, `Message Version Without`},
		"message a number":    {`message = 5`, `(?s)Invalid Message Value.*message must be a string.*got a number`},
		"message a list":      {`message = [1, 2]`, `(?s)message must be a string.*got a list`},
		"message too large":   {`message = "` + strings.Repeat("x", 256<<10+1) + `"`, `at most 256 KB`},
		"ttl step":            {`message = "a"` + "\n" + `ttl = 7`, `(?s)Invalid Message TTL.*ttl is 7`},
		"ttl too long":        {`message = "a"` + "\n" + `ttl = 1445`, `(?s)Invalid Message TTL.*ttl is 1445`},
		"ttl negative":        {`message = "a"` + "\n" + `ttl = -5`, `Invalid Message TTL`},
		"both topics":         {`message = "a"` + "\n" + `topic = "a"` + "\n" + `topic_full_name = "b"`, `(?s)Invalid Attribute Combination.*topic_full_name`},
		"topic wildcard":      {`message = "a"` + "\n" + `topic_full_name = "a/#"`, `(?s)Invalid Topic.*wildcard`},
		"topic full name":     {`message = "a"` + "\n" + `topic = "$oc/devices/d1/user/x"`, `(?s)Invalid Topic.*topic_full_name`},
		"topic slash":         {`message = "a"` + "\n" + `topic = "/x"`, `(?s)Invalid Topic.*starts with /`},
		"topic too long":      {`message = "a"` + "\n" + `topic = "` + long + `"`, `(?s)Invalid Topic.*at most 128`},
		"name charset":        {`message = "a"` + "\n" + `name = "a b"`, `(?s)Invalid Attribute Value.*name "a b" has a character`},
		"name too long":       {`message = "a"` + "\n" + `name = "` + long + `"`, `(?s)name is 129 characters`},
		"encoding":            {`message = "a"` + "\n" + `encoding = "gzip"`, `(?s)Invalid Attribute Value Match.*encoding`},
		"payload format":      {`message = "a"` + "\n" + `payload_format = "binary"`, `(?s)payload_format`},
		"base64 standard":     {`message = "aGk="` + "\n" + `encoding = "base64"` + "\n" + `payload_format = "standard"`, `Conflicting Payload Format`},
		"base64 not base64":   {`message = "not base64!"` + "\n" + `encoding = "base64"`, `(?s)Invalid Message Value.*standard base64.*byte 3`},
		"base64 object":       {`message = { a = 1 }` + "\n" + `encoding = "base64"`, `(?s)must be a string holding\s+standard base64`},
		"correlation data":    {`message = "a"` + "\n" + `properties = { correlation_data = "a b" }`, `(?s)correlation_data "a b"`},
		"prop key":            {`message = "a"` + "\n" + `properties = { user_properties = [{ prop_key = "k.1", prop_value = "v" }] }`, `(?s)prop_key "k.1"`},
		"too many user props": {`message = "a"` + "\n" + `properties = { user_properties = [` + strings.Repeat(`{ prop_key = "k", prop_value = "v" },`, 21) + `] }`, `(?s)user_properties.*at most 20`},
		"device id":           {`message = "a"`, `(?s)device_id.*letters, digits`},
		"zero timeout":        {`message = "a"` + "\n" + `timeouts {` + "\n" + `create = "0s"` + "\n" + `}`, `Invalid Timeout`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			deviceID := "d1"
			if name == "device id" {
				deviceID = "d 1"
			}
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{{Config: messageConfig(p, deviceID, tc.body), PlanOnly: true,
					ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
	t.Cleanup(func() {
		if posts, gets := p.counts(); posts != 0 || gets != 0 {
			t.Errorf("validation sent %d creates and %d reads", posts, gets)
		}
	})
}

// Write-only content reaches the device and nowhere else: not the plan, the state or the
// TRACE log. A new message_wo_version sends it again, once. It needs Terraform 1.11+.
func TestDeviceMessageResource_WriteOnlyMessage(t *testing.T) {
	const secret1, secret2 = "msg-SECRET-7a11", "msg-SECRET-8b22"
	p := newMessagePlatform(t, "d1")
	p.devices.setOnline("d1", true)
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	config := func(version int) string {
		return p.providerHCL() + fmt.Sprintf(`
variable "key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "iotda_device_message" "test" {
  device_id          = "d1"
  message_wo         = { key = var.key }
  message_wo_version = %d
}
`, version)
	}
	secrets := []string{secret1, secret2}
	noSecrets := stateCheckFunc(func(req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
		b, err := json.Marshal(req.State)
		if err != nil {
			resp.Error = err
			return
		}
		resp.Error = findSecret("the JSON state", string(b), secrets)
	})
	received := func(n int, want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			got := p.published("d1")
			if len(got) != n || !strings.Contains(string(got[n-1].Payload), want) {
				return fmt.Errorf("the device received %d messages, the last %q; want %d, the last with the secret", len(got),
					got[len(got)-1].Payload, n)
			}
			return nil
		}
	}
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() { t.Setenv("TF_VAR_key", secret1) },
				Config:    config(1),
				ConfigStateChecks: []statecheck.StateCheck{noSecrets, expectStatus("DELIVERED"),
					statecheck.ExpectKnownValue(testMessageAddr, tfjsonpath.New("message"), knownvalue.Null())},
				Check: received(1, secret1),
			},
			{PreConfig: func() { t.Setenv("TF_VAR_key", secret2) }, Config: config(1), ConfigPlanChecks: expectMessageNoChange()},
			{Config: config(2), ConfigPlanChecks: expectMessageReplace(), ConfigStateChecks: []statecheck.StateCheck{noSecrets},
				Check: received(2, secret2)},
		},
	})
	if t.Skipped() {
		return
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, "the TRACE log", string(b), secrets)
}
