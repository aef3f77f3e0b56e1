package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// How iotda_device_message lives on: expiry, failures, eviction, lost answers, import,
// updates in place and write-only content, with the CLI against the mock platform.

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

// A message whose ttl runs out before the device wakes ends TIMEOUT: the refresh shows it
// and the plan sends it again, which then reaches the device. The mock's clock moves on by
// the ttl; the device never reads the expired message.
func TestDeviceMessageResource_TTLExpiry(t *testing.T) {
	t.Parallel()
	clock := &testClock{}
	target := newMessageMock(t, mockserver.Options{Now: clock.Now}, []string{"d1"}, "d1")
	s := target.Server
	config := messageConfig(target, "d1", `
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
					clock.advance(5 * time.Minute)
					s.ExpireMessages()
					if got := messageStatuses(t, s, "d1"); !slices.Equal(got, []string{"TIMEOUT"}) {
						t.Fatalf("the mock holds %v", got)
					}
				},
				RefreshState:       true,
				ExpectNonEmptyPlan: true,
				Check:              resource.TestCheckResourceAttr(testMessageAddr, "status", "TIMEOUT"),
			},
			{
				PreConfig:         func() { wakeAndDeliver(t, s, "d1", 0) },
				Config:            config,
				ConfigPlanChecks:  expectMessageReplace(),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
				Check:             checkMessages(s, "d1", 2, 1),
			},
			{Config: config, ConfigPlanChecks: expectMessageNoChange(), Check: checkMessages(s, "d1", 2, 1)},
		},
	})
	if got := messageStatuses(t, s, "d1"); !slices.Equal(got, []string{"TIMEOUT", "DELIVERED"}) {
		t.Errorf("the mock holds %v", got)
	}
}

// FAILED is an error with the state saved, and the next apply sends the message again: here
// once the device, updated, subscribes to the topic.
func TestDeviceMessageResource_FailedIsAnErrorAndSentAgain(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1", "d2"}, "d2")
	s := target.Server
	config := messageConfig(target, "d1", `
  message = "on a topic the device has not subscribed to"
  topic   = "cfg"
`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config:      config,
				ExpectError: regexp.MustCompile(`(?s)Message Not Delivered.*IOTDA\.014112.*has not\s+subscribed.*next apply\s+sends\s+the\s+message\s+again`),
			},
			{
				PreConfig: func() {
					if err := checkMessages(s, "d1", 1, 0)(nil); err != nil {
						t.Fatal(err)
					}
					if got := messageStatuses(t, s, "d1"); !slices.Equal(got, []string{"FAILED"}) {
						t.Fatalf("the mock holds %v", got)
					}
					// New firmware: the device subscribes to its custom topic.
					s.RemoveDevice("d1")
					if err := s.AddDevice(mockserver.Device{ID: "d1", Simulated: &mockserver.Behavior{
						Subscribe: []string{"$oc/devices/d1/user/cfg"}}}); err != nil {
						t.Fatal(err)
					}
				},
				Config:            config,
				ConfigPlanChecks:  expectMessageReplace(),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
				Check:             checkMessages(s, "d1", 2, 1),
			},
		},
	})

	// ttl = 0 keeps nothing for a sleeping device: FAILED with IOTDA.014016.
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config:      messageConfig(target, "d2", `message = "now or never"`+"\n"+`ttl = 0`),
			ExpectError: regexp.MustCompile(`(?s)Message Not Delivered.*IOTDA\.014016.*ttl = 0`),
		}},
	})
	wakeAndDeliver(t, s, "d2", 0)
	if err := checkMessages(s, "d2", 1, 0)(nil); err != nil {
		t.Error(err)
	}
}

// A message IoTDA no longer has (20 newer ones replaced it) keeps its last known state: it
// is neither removed nor sent again, and the device, once awake, reads the 20 newer ones only.
func TestDeviceMessageResource_ReplacedByTwentyNewerKeepsItsState(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	config := messageConfig(target, "d1", `
  message           = "first"
  wait_for_delivery = false
`)
	pendingAndUnsent := resource.ComposeTestCheckFunc(resource.TestCheckResourceAttr(testMessageAddr, "status", "PENDING"),
		func(*terraform.State) error {
			if n := journalCount(s, mockserver.EntryMessage, "d1"); n != 21 {
				return fmt.Errorf("%d messages created in all, want 21 (the provider's, then 20 others)", n)
			}
			return nil
		})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")}},
			{
				PreConfig: func() {
					for i := range 20 {
						postMessage(t, target, "d1", fmt.Sprintf(`{"message":"newer %d"}`, i))
					}
					waitJournal(t, s, "the provider's message replaced", func() bool {
						return journalCount(s, mockserver.EntryMessageRemoved, "d1") == 1
					})
				},
				Config:            config,
				ConfigPlanChecks:  expectMessageNoChange(),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("PENDING")},
				Check:             pendingAndUnsent,
			},
			{
				PreConfig:    func() { wakeAndDeliver(t, s, "d1", 20) },
				RefreshState: true,
				Check:        pendingAndUnsent,
			},
			{Config: config, ConfigPlanChecks: expectMessageNoChange(), Check: pendingAndUnsent},
		},
	})
	got := received(s, "d1")
	if len(got) != 20 || got[0] != `"newer 0"` || slices.Contains(got, `"first"`) {
		t.Errorf("the device read %q, want the 20 newer messages only", got)
	}
}

// A create whose answer is lost (the mock takes the message, then resets the connection) is
// resolved by reading the message by its id: one message, not two, and the state holds it.
// Two more applies send nothing.
func TestDeviceMessageResource_LostCreateAnswerResolvedByID(t *testing.T) {
	t.Parallel()
	for _, online := range []bool{true, false} {
		t.Run(fmt.Sprintf("online=%v", online), func(t *testing.T) {
			t.Parallel()
			var asleep []string
			status, delivered := "DELIVERED", 1
			if !online {
				asleep, status, delivered = []string{"d1"}, "PENDING", 0
			}
			target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, asleep...)
			s := target.Server
			s.InjectFault(mockserver.Fault{DeviceID: "d1", Operation: "CreateMessage", ResetAfterDelivery: true})
			config := messageConfig(target, "d1", `message = "once"`+"\n"+`wait_for_delivery = false`)
			once := resource.ComposeTestCheckFunc(checkMessages(s, "d1", 1, delivered), func(*terraform.State) error {
				if n := journalCount(s, mockserver.EntryMessage, "d1"); n != 1 {
					return fmt.Errorf("the mock created %d messages, want 1", n)
				}
				return nil
			})
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{Config: config, ConfigStateChecks: []statecheck.StateCheck{expectStatus(status)}, Check: once},
					{Config: config, ConfigPlanChecks: expectMessageNoChange(), Check: once},
					{Config: config, ConfigPlanChecks: expectMessageNoChange(), Check: once},
				},
			})
			if n := len(s.Journal()); n == 0 {
				t.Fatal("empty journal")
			}
			faulted := 0
			for _, e := range s.Journal() {
				if e.Kind == mockserver.EntryRequest && e.Fault != "" {
					faulted++
				}
			}
			if faulted != 1 {
				t.Errorf("%d requests took the fault, want the create", faulted)
			}
		})
	}
}

// An imported message adopts the configuration's ttl and triggers, which IoTDA does not
// return, without sending anything; its status and arguments come from IoTDA.
func TestDeviceMessageResource_Import(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "d1", Simulated: &mockserver.Behavior{
		Subscribe: []string{"$oc/devices/d1/user/cfg"}}}}})
	s := target.Server
	postMessage(t, target, "d1", `{"message_id":"m-imported","name":"n1","message":{"interval":900},"topic":"cfg","ttl":60}`)
	config := messageConfig(target, "d1", `
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
						"status": "DELIVERED", "name": "n1", "topic": "cfg"} {
						if a[k] != want {
							return fmt.Errorf("imported %s = %q, want %q (%v)", k, a[k], want, a)
						}
					}
					// The content stays out of the state: the configuration may send it write-only.
					for k := range a {
						if strings.HasPrefix(k, "message.") || k == "message" {
							return fmt.Errorf("imported %s = %q: the state holds the content", k, a[k])
						}
					}
					return nil
				},
			},
			{Config: config, ConfigPlanChecks: expectMessageUpdate(), Check: checkMessages(s, "d1", 1, 1)},
			{Config: config, ConfigPlanChecks: expectMessageNoChange()},
			// A changed message after the import is sent as a new one.
			{Config: strings.Replace(config, "900", "600", 1), ConfigPlanChecks: expectMessageReplace(),
				Check: checkMessages(s, "d1", 2, 2)},
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
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	step := func(body string, plan resource.ConfigPlanChecks, creates int) resource.TestStep {
		return resource.TestStep{Config: messageConfig(target, "d1", body), ConfigPlanChecks: plan,
			ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
			Check:             checkMessages(target.Server, "d1", creates, creates)}
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
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
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
		"ttl fraction":        {`message = "a"` + "\n" + `ttl = 2.5`, `(?s)Invalid Message TTL.*ttl is 2.5, which is not a\s+whole number`},
		"ttl huge":            {`message = "a"` + "\n" + `ttl = 1e30`, `(?s)Invalid Message TTL.*ttl is 1e\+30, far beyond the range`},
		"system topic":        {`message = "a"` + "\n" + `topic_full_name = "$oc/devices/d1/sys/commands/request_id=fake"` + "\n" + `payload_format = "raw"`, `(?s)Invalid Topic.*topic_full_name.*is under \$oc/`},
		"custom under $oc":    {`message = "a"` + "\n" + `topic_full_name = "$oc/devices/d1/user/cfg"`, `(?s)Invalid Topic.*set topic to the\s+part after\s+it`},
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
				Steps: []resource.TestStep{{Config: messageConfig(target, deviceID, tc.body), PlanOnly: true,
					ExpectError: regexp.MustCompile(tc.want)}},
			})
		})
	}
	t.Cleanup(func() {
		if n := messageRequests(target.Server, "d1", "") + messageRequests(target.Server, "d 1", ""); n != 0 {
			t.Errorf("validation sent %d message requests", n)
		}
	})
}

// Write-only content reaches the device and nowhere else: not the plan, the state or the
// TRACE log. A new message_wo_version sends it again, once. It needs Terraform 1.11+.
func TestDeviceMessageResource_WriteOnlyMessage(t *testing.T) {
	const secret1, secret2 = "msg-SECRET-7a11", "msg-SECRET-8b22"
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	s := target.Server
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	config := func(version int) string {
		return target.ProviderHCL + fmt.Sprintf(`
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
	read := func(n int, want string) resource.TestCheckFunc {
		return resource.ComposeTestCheckFunc(checkMessages(s, "d1", n, n), func(*terraform.State) error {
			if got := received(s, "d1"); got[n-1] != `{"key":"`+want+`"}` {
				return fmt.Errorf("the device read %q, the last one without the secret", got)
			}
			return nil
		})
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
				Check: read(1, secret1),
			},
			{PreConfig: func() { t.Setenv("TF_VAR_key", secret2) }, Config: config(1), ConfigPlanChecks: expectMessageNoChange()},
			{Config: config(2), ConfigPlanChecks: expectMessageReplace(), ConfigStateChecks: []statecheck.StateCheck{noSecrets},
				Check: read(2, secret2)},
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
