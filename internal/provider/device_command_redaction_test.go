package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// A device that echoes its command must not bring back what the provider keeps out of the
// plan, the state and the logs: the values of paras_wo and the provider's credentials. These
// tests run the real CLI against echoing devices with TRACE logging to a file, and look for
// the values in the plan JSON, the state, the diagnostics and the log.

// Secrets echoed by devices in these tests. echoToken has a "/" so that a device can echo it
// escaped as "\/".
const (
	echoPSK   = "psk-SECRET-echo-4711"
	echoToken = "tok/SECRET-echo-0815"
)

// traceLog sends the TRACE log of the CLI and of the in-process provider to a file and
// returns its path; the test cannot run in parallel.
func traceLog(t *testing.T) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	return logPath
}

func readLog(t *testing.T, logPath string) string {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	return string(b)
}

// TestDeviceCommandResource_WriteOnlyEchoRedacted: an echoing device answers a command sent
// with paras_wo. The state keeps the reply with the write-only strings replaced by ***
// (short ones kept, as documented), a warning names paras_wo, and neither the plan JSON, the
// state, the failure diagnostic of a device that reports an error, nor the TRACE log holds
// the value. Each apply delivers exactly once. Needs a CLI with write-only arguments.
func TestDeviceCommandResource_WriteOnlyEchoRedacted(t *testing.T) {
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "wifi-echo", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
		{ID: "wifi-fail", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, ResultCode: 3}},
	}})
	logPath := traceLog(t)
	t.Setenv("TF_VAR_wifi_psk", echoPSK)
	cfg := func(deviceID string, version int) string {
		return target.ProviderHCL + fmt.Sprintf(`
variable "wifi_psk" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "iotda_device_command" "test" {
  device_id        = %[1]q
  service_id       = "WiFi"
  command_name     = "SET_PSK"
  paras_wo         = { ssid = "plant-3", psk = var.wifi_psk, band = "5G", channel = 36 }
  paras_wo_version = %[2]d
}
`, deviceID, version)
	}
	secrets := []string{echoPSK, "plant-3"}
	paras := tfjsonpath.New("response").AtMapKey("paras")
	var failure string
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		// The failing step has no ExpectError, so that this sees the full error text.
		ErrorCheck: func(err error) error {
			if !strings.Contains(err.Error(), summaryDeviceFailure) {
				return err
			}
			failure = err.Error()
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg("wifi-echo", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{planWithoutSecrets(secrets)},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					stateWithoutSecrets(secrets),
					statecheck.ExpectKnownValue(testResourceAddr, paras, knownvalue.ObjectExact(map[string]knownvalue.Check{
						"ssid": knownvalue.StringExact("***"), "psk": knownvalue.StringExact("***"),
						// Too short to redact, and a number: kept, as the warning says.
						"band": knownvalue.StringExact("5G"), "channel": knownvalue.Int64Exact(36),
					})),
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("response_json"),
						knownvalue.StringRegexp(regexp.MustCompile(`"psk":"\*\*\*"`))),
				},
				Check: resource.ComposeAggregateTestCheckFunc(checkDeliveries(target.Server, "wifi-echo", 1),
					deliveredParasContain(target.Server, "wifi-echo", 1, echoPSK), shimStateWithoutSecrets(secrets)),
			},
			// The device reports a failure: the error shows the reply, redacted.
			{
				Config: cfg("wifi-fail", 1),
				Check:  checkDeliveries(target.Server, "wifi-fail", 1),
			},
		},
	})
	if t.Skipped() {
		return
	}
	if n := len(target.Server.Deliveries("wifi-fail")); n != 1 {
		t.Errorf("the failing device received %d commands, want 1", n)
	}
	if failure == "" {
		t.Fatal("the apply against wifi-fail did not fail with " + summaryDeviceFailure)
	}
	if !strings.Contains(failure, `"psk":"***"`) {
		t.Errorf("the failure diagnostic does not show the redacted reply:\n%s", failure)
	}
	checkNoSecrets(t, "the failure diagnostic", failure, secrets)
	log := readLog(t, logPath)
	checkRedactionWarningLogged(t, log, "paras_wo", "shorter than 4 characters")
	// "plant-3" is written in the configuration, which the test harness logs.
	checkNoSecrets(t, "the TRACE log", log, []string{echoPSK})
}

// checkRedactionWarningLogged finds the redaction warning, as terraform-plugin-go logs it
// (an entry of several lines), with each of want in its detail.
func checkRedactionWarningLogged(t *testing.T, log string, want ...string) {
	t.Helper()
	var found bool
	for _, entry := range logEntryStart.Split(log, -1) {
		if !strings.Contains(entry, "Response contains warning diagnostic") || !strings.Contains(entry, summaryReplyRedacted) {
			continue
		}
		found = true
		for _, w := range want {
			if !strings.Contains(entry, w) {
				t.Errorf("the warning does not say %q: %s", w, entry)
			}
		}
	}
	if !found {
		t.Errorf("the log (%d bytes) has no %q warning", len(log), summaryReplyRedacted)
	}
}

// logEntryStart matches the timestamp that starts each entry of a TRACE log.
var logEntryStart = regexp.MustCompile(`(?m)^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}`)

// echoTokenMock starts a mock whose devices answer with the provider's token in their reply,
// raw and escaped, and returns the provider block (the token in a sensitive variable, since
// the test harness logs each configuration) and its variables.
func echoTokenMock(t *testing.T) (*testTarget, string, config.Variables) {
	t.Helper()
	escaped := strings.ReplaceAll(echoToken, "/", `\/`)
	reply := json.RawMessage(`{"result_code":0,"paras":{"seen":"` + echoToken + `","escaped":"Bearer ` + escaped + `","ok":"yes"}}`)
	failing := json.RawMessage(`{"result_code":7,"paras":{"seen":"` + escaped + `"}}`)
	target := newMockTarget(t, mockserver.Options{AuthToken: echoToken, Devices: []mockserver.Device{
		{ID: "gw", Simulated: &mockserver.Behavior{Response: reply}},
		{ID: "gw-fail", Simulated: &mockserver.Behavior{Response: failing}},
	}})
	hcl := fmt.Sprintf(`
variable "auth_token" {
  type      = string
  sensitive = true
}

provider "iotda" {
  endpoint    = %[1]q
  project_id  = %[2]q
  auth_token  = var.auth_token
  max_retries = 1
}
`, target.Server.URL(), target.ProjectID)
	return target, hcl, config.Variables{"auth_token": config.StringVariable(echoToken)}
}

// TestDeviceCommand_CredentialEchoRedacted: a device (or a gateway) that echoes the
// provider's token, as written or escaped, has it replaced by *** in the resource's and the
// data source's response and response_json, with a warning naming auth_token, and in the
// diagnostic of a reported failure; the TRACE log never holds it. Any CLI.
func TestDeviceCommand_CredentialEchoRedacted(t *testing.T) {
	target, provider, vars := echoTokenMock(t)
	logPath := traceLog(t)
	seen := func(addr string) []statecheck.StateCheck {
		return []statecheck.StateCheck{
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("response").AtMapKey("paras"), knownvalue.ObjectExact(map[string]knownvalue.Check{
				"seen": knownvalue.StringExact("***"), "escaped": knownvalue.StringExact("Bearer ***"), "ok": knownvalue.StringExact("yes"),
			})),
			statecheck.ExpectKnownValue(addr, tfjsonpath.New("response_json"),
				knownvalue.StringExact(`{"result_code":0,"paras":{"seen":"***","escaped":"Bearer ***","ok":"yes"}}`)),
		}
	}
	var failure string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		ErrorCheck: func(err error) error {
			if !strings.Contains(err.Error(), summaryDeviceFailure) {
				return err
			}
			failure = err.Error()
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config:          provider + `resource "iotda_device_command" "test" {` + "\n  device_id = \"gw\"\n  paras = { value = \"ON\" }\n}\n",
				ConfigVariables: vars,
				// The plan JSON holds the token, as the value of the variable it is set through.
				ConfigStateChecks: append(seen(testResourceAddr), stateWithoutSecrets([]string{echoToken})),
				Check:             checkDeliveries(target.Server, "gw", 1),
			},
			{
				Config: provider + `resource "iotda_device_command" "test" {` + "\n  device_id = \"gw\"\n  paras = { value = \"ON\" }\n}\n" +
					`data "iotda_device_command" "test" {` + "\n  device_id = \"gw\"\n  paras = { value = \"STATUS\" }\n}\n",
				ConfigVariables:   vars,
				ConfigStateChecks: append(seen("data.iotda_device_command.test"), stateWithoutSecrets([]string{echoToken})),
			},
			{
				Config:          provider + `resource "iotda_device_command" "test" {` + "\n  device_id = \"gw-fail\"\n  paras = { value = \"ON\" }\n}\n",
				ConfigVariables: vars,
			},
		},
	})
	if failure == "" {
		t.Fatal("the apply against gw-fail did not fail with " + summaryDeviceFailure)
	}
	if !strings.Contains(failure, `"seen":"***"`) {
		t.Errorf("the failure diagnostic does not show the redacted reply:\n%s", failure)
	}
	checkNoSecrets(t, "the failure diagnostic", failure, []string{echoToken, strings.ReplaceAll(echoToken, "/", `\/`)})
	log := readLog(t, logPath)
	checkRedactionWarningLogged(t, log, "auth_token")
	checkNoSecrets(t, "the TRACE log", log, []string{echoToken, strings.ReplaceAll(echoToken, "/", `\/`)})
}

// The action redacts an echoed credential in its progress message and its diagnostics, and
// warns, naming auth_token (protocol level: any CLI).
func TestDeviceCommandAction_CredentialEchoRedacted(t *testing.T) {
	t.Parallel()
	escaped := strings.ReplaceAll(echoToken, "/", `\/`)
	opts := mockserver.Options{AuthToken: echoToken, Devices: []mockserver.Device{
		{ID: "gw", Simulated: &mockserver.Behavior{Response: json.RawMessage(`{"result_code":0,"paras":{"seen":"` + escaped + `"}}`)}},
		{ID: "gw-fail", Simulated: &mockserver.Behavior{Response: json.RawMessage(`{"result_code":2,"paras":{"seen":"` + echoToken + `"}}`)}},
	}}
	s := mockserver.NewForTest(t, opts)
	p := newProtoProvider(t)
	p.configure(s, echoToken)
	for device, severity := range map[string]tfprotov6.DiagnosticSeverity{
		"gw": tfprotov6.DiagnosticSeverityWarning, "gw-fail": tfprotov6.DiagnosticSeverityError,
	} {
		progress, diags := p.invoke(switchOn(device))
		all := strings.Join(progress, "\n") + "\n" + formatProtoDiags(diags)
		checkNoSecrets(t, device+"'s progress and diagnostics", all, []string{echoToken, escaped})
		var warned, failed bool
		for _, d := range diags {
			warned = warned || (d.Summary == summaryReplyRedacted && d.Severity == tfprotov6.DiagnosticSeverityWarning &&
				strings.Contains(d.Detail, "the provider's auth_token"))
			failed = failed || d.Severity == tfprotov6.DiagnosticSeverityError
		}
		if !warned || failed != (severity == tfprotov6.DiagnosticSeverityError) {
			t.Errorf("%s: diagnostics %s\nwant the redaction warning and an error only for the failing device", device, formatProtoDiags(diags))
		}
		if device == "gw" && !strings.Contains(progress[len(progress)-1], `"seen":"***"`) {
			t.Errorf("%s: progress %q, want the reply redacted", device, progress)
		}
		if n := len(s.Deliveries(device)); n != 1 {
			t.Errorf("%s received %d commands, want 1", device, n)
		}
	}
}

// TestDeviceCommandAction_CLICredentialEchoRedacted runs `terraform apply -invoke` against a
// device that echoes the token: neither the CLI's output nor its TRACE log, nor the
// provider's, holds it. It needs Terraform 1.14 or newer, and cannot run in parallel.
func TestDeviceCommandAction_CLICredentialEchoRedacted(t *testing.T) {
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_14_0))
	target, provider, _ := echoTokenMock(t)
	logPath := traceLog(t)
	r := newCLIRun(t, cli, provider+`
action "iotda_device_command" "echo" {
  config {
    device_id = "gw"
    paras     = { value = "ON" }
  }
}
`)
	r.env = append(r.env, "TF_LOG=TRACE", "TF_LOG_PATH="+logPath+".cli", "TF_VAR_auth_token="+echoToken)
	out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false", "-invoke=action.iotda_device_command.echo")
	if !ok || !strings.Contains(out, `"seen":"***"`) || !strings.Contains(out, summaryReplyRedacted) {
		t.Fatalf("apply -invoke failed or did not show the redacted reply and the warning:\n%s", out)
	}
	if n := len(target.Server.Deliveries("gw")); n != 1 {
		t.Errorf("gw received %d commands, want 1", n)
	}
	secrets := []string{echoToken, strings.ReplaceAll(echoToken, "/", `\/`)}
	checkNoSecrets(t, "the CLI's output", out, secrets)
	checkNoSecrets(t, "the CLI's TRACE log", readLog(t, logPath+".cli"), secrets)
	checkNoSecrets(t, "the provider's log", readLog(t, logPath), secrets)
}
