package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// rawDeviceWait bounds every MQTT wait of the raw device so that a failure cannot hang.
const rawDeviceWait = 10 * time.Second

// rawDevice is a device written only against the platform's documented MQTT interface: a
// plain paho client that authenticates with the documented credentials, subscribes to its
// command topic and answers each command on the documented response topic. It shares no
// code with the mock's simulated devices.
type rawDevice struct {
	id     string
	client paho.Client
	// replies receives the result of publishing each reply, so the test can see failures
	// that happen on paho's goroutines.
	replies chan error

	// payload, when set, is published as each reply byte for byte (it may be empty);
	// otherwise the reply is a JSON object echoing the request_id.
	payload *[]byte

	mu         sync.Mutex
	requestIDs []string          // request_id of every command received, in order
	commands   []json.RawMessage // downstream payloads, in order
}

// rawDeviceCredentials computes the MQTT CONNECT credentials from the documented rule:
// client id {device_id}_0_0_{YYYYMMDDHH} (identity type 0, signType 0: the platform does
// not check the timestamp), username = device id, password = lowercase hex of
// HMAC-SHA256 keyed by the timestamp over the device secret.
func rawDeviceCredentials(id, secret string, now time.Time) (clientID, username, password string) {
	ts := now.UTC().Format("2006010215")
	mac := hmac.New(sha256.New, []byte(ts))
	_, _ = mac.Write([]byte(secret))
	return id + "_0_0_" + ts, id, hex.EncodeToString(mac.Sum(nil))
}

// connectRawDevice connects a raw device to the mock's broker, subscribes it to
// $oc/devices/{id}/sys/commands/# and disconnects it when the test ends.
func connectRawDevice(t *testing.T, s *mockserver.Server, id, secret string, replyParas map[string]any) *rawDevice {
	t.Helper()
	return connectRawDeviceWith(t, s, &rawDevice{id: id, replies: make(chan error, 16)}, secret, replyParas)
}

// connectRawDeviceReplying connects a raw device that answers every command with payload,
// byte for byte, whatever it is (empty, not JSON).
func connectRawDeviceReplying(t *testing.T, s *mockserver.Server, id, secret string, payload []byte) *rawDevice {
	t.Helper()
	return connectRawDeviceWith(t, s, &rawDevice{id: id, replies: make(chan error, 16), payload: &payload}, secret, nil)
}

func connectRawDeviceWith(t *testing.T, s *mockserver.Server, d *rawDevice, secret string, replyParas map[string]any) *rawDevice {
	t.Helper()
	id := d.id
	clientID, username, password := rawDeviceCredentials(id, secret, time.Now())
	// OrderMatters(false) runs each message handler on its own goroutine, so a handler may
	// wait for its reply's PUBACK without stalling paho's router.
	d.client = paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + s.MQTTAddr()).
		SetClientID(clientID).SetUsername(username).SetPassword(password).
		SetProtocolVersion(4).SetCleanSession(true).SetAutoReconnect(false).
		SetConnectTimeout(rawDeviceWait).SetOrderMatters(false))
	waitToken(t, "connect", d.client.Connect())
	t.Cleanup(func() { d.client.Disconnect(0) })
	filter := "$oc/devices/" + id + "/sys/commands/#"
	waitToken(t, "subscribe", d.client.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		d.replies <- d.answer(m, replyParas)
	}))
	return d
}

// answer records a command and publishes the reply to the documented response topic, with
// the request_id taken from the command's topic. The reply echoes the request_id in its
// paras, so the test can tie the reply in the state to this very command.
func (d *rawDevice) answer(m paho.Message, replyParas map[string]any) error {
	prefix := "$oc/devices/" + d.id + "/sys/commands/request_id="
	requestID, ok := strings.CutPrefix(m.Topic(), prefix)
	if !ok || requestID == "" {
		return fmt.Errorf("command on unexpected topic %q", m.Topic())
	}
	d.mu.Lock()
	d.requestIDs = append(d.requestIDs, requestID)
	d.commands = append(d.commands, slices.Clone(m.Payload()))
	d.mu.Unlock()
	paras := map[string]any{"request_id": requestID}
	for k, v := range replyParas {
		paras[k] = v
	}
	reply, err := json.Marshal(map[string]any{"result_code": 0, "response_name": "RAW_REPLY", "paras": paras})
	if err != nil {
		return err
	}
	if d.payload != nil {
		reply = *d.payload
	}
	tok := d.client.Publish("$oc/devices/"+d.id+"/sys/commands/response/request_id="+requestID, 1, false, reply)
	if !tok.WaitTimeout(rawDeviceWait) {
		return fmt.Errorf("reply to %s: no PUBACK within %s", requestID, rawDeviceWait)
	}
	return tok.Error()
}

// seen returns the request ids and payloads of the commands received so far.
func (d *rawDevice) seen() ([]string, []json.RawMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.requestIDs), slices.Clone(d.commands)
}

// waitToken waits a bounded time for a paho token and fails the test on error.
func waitToken(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(rawDeviceWait) {
		t.Fatalf("MQTT %s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("MQTT %s: %v", what, err)
	}
}

// waitCtx is a test context bounded by rawDeviceWait.
func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rawDeviceWait)
	t.Cleanup(cancel)
	return ctx
}

// TestDeviceCommandResource_RawMQTTDevice delivers a command with `terraform apply` to a
// device that knows only the documented topics, then takes the device offline.
func TestDeviceCommandResource_RawMQTTDevice(t *testing.T) {
	t.Parallel()
	const id, secret = "raw-dev-01", "raw-secret-5c1e"
	target := newMockTarget(t, mockserver.Options{
		PlatformTimeout: 5 * time.Second,
		Devices:         []mockserver.Device{{ID: id, Secret: secret}}, // no simulator: offline until we connect
	})
	s := target.Server
	if s.Online(id) {
		t.Fatalf("device %s is online before the raw client connected", id)
	}
	dev := connectRawDevice(t, s, id, secret, map[string]any{"firmware": "raw-fw-9.4.1", "temperature": 21.5})
	if err := s.WaitOnline(waitCtx(t), id); err != nil {
		t.Fatalf("device %s did not come online: %v", id, err)
	}

	config := func(trigger string) string {
		return testAccDeviceCommandConfig(target, fmt.Sprintf(`
  service_id   = "Firmware"
  command_name = "REPORT_VERSION"
  paras        = { verbose = true }
  triggers     = { round = %[1]q }
`, trigger))
	}
	paras := tfjsonpath.New("response").AtMapKey("paras")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The raw device answers; its values land in the state under the command's id.
			{
				Config: config("1"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("firmware"), knownvalue.StringExact("raw-fw-9.4.1")),
					statecheck.ExpectKnownValue(testResourceAddr, paras.AtMapKey("temperature"), knownvalue.Float64Exact(21.5)),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response").AtMapKey("response_name"), knownvalue.StringExact("RAW_REPLY")),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("command_id"), knownvalue.StringFunc(dev.sawOnly)),
					statecheck.CompareValuePairs(testResourceAddr, tfjsonpath.New("command_id"), testResourceAddr, paras.AtMapKey("request_id"), compare.ValuesSame()),
				},
				Check: func(*terraform.State) error {
					return dev.checkCommand(`"service_id":"Firmware"`, `"command_name":"REPORT_VERSION"`, `"paras":{"verbose":true}`)
				},
			},
			// The device disconnects; the next delivery fails as the device is offline.
			{
				PreConfig:   func() { dev.disconnect(t, s) },
				Config:      config("2"),
				ExpectError: regexp.MustCompile(`(?s)Device Is Offline.*"` + id + `".*HTTP\s+403.*IOTDA\.014016`),
			},
			// Nothing was delivered and nothing saved: the next apply would create it again.
			{
				PreConfig: func() {
					if ids, _ := dev.seen(); len(ids) != 1 {
						t.Errorf("the raw device received %d commands, want 1 (none while offline)", len(ids))
					}
				},
				Config:             config("2"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PostApplyPreRefresh: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionCreate)},
				},
			},
		},
	})
	dev.checkReplies(t)
}

// checkReplies reports every reply the device failed to publish.
func (d *rawDevice) checkReplies(t *testing.T) {
	t.Helper()
	for {
		select {
		case err := <-d.replies:
			if err != nil {
				t.Errorf("raw device: %v", err)
			}
		default:
			return
		}
	}
}

// sawOnly checks that the device received exactly one command and that its request_id is
// the command_id in the state.
func (d *rawDevice) sawOnly(commandID string) error {
	ids, _ := d.seen()
	if len(ids) != 1 || ids[0] != commandID {
		return fmt.Errorf("command_id %q is not the only request_id the device saw (%q)", commandID, ids)
	}
	return nil
}

// checkCommand checks that the one command the device received carries every fragment.
func (d *rawDevice) checkCommand(fragments ...string) error {
	_, cmds := d.seen()
	if len(cmds) != 1 {
		return fmt.Errorf("the raw device received %d commands, want 1", len(cmds))
	}
	for _, f := range fragments {
		if !strings.Contains(string(cmds[0]), f) {
			return fmt.Errorf("command payload %s does not contain %s", cmds[0], f)
		}
	}
	return nil
}

// disconnect ends the device's session and waits until the mock has taken it offline.
func (d *rawDevice) disconnect(t *testing.T, s *mockserver.Server) {
	t.Helper()
	d.client.Disconnect(250)
	_, err := s.WaitJournal(waitCtx(t), func(e mockserver.Entry) bool {
		return e.Kind == mockserver.EntryDisconnect && e.DeviceID == d.id
	})
	if err != nil {
		t.Fatalf("the mock did not see %s disconnect: %v", d.id, err)
	}
	if s.Online(d.id) {
		t.Fatalf("device %s is still online after disconnecting", d.id)
	}
}
