package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Distinctive secret values: none may appear in any log, state, diagnostic or journal.
const (
	logSecretToken      = "tok-SECRET-7f3a9"
	logSecretKey        = "sk-SECRET-91bd"
	logSecretST         = "st-SECRET-44c2"
	logWrongSecretToken = "tok-SECRET-wrong-5e0d"
	logWrongSecretKey   = "sk-SECRET-wrong-c3a8"
	logAccessKey        = "AKLOGTESTKEY0001"
)

// logScenario is one way of authenticating, with the same set of secrets in a good and a
// wrong variant. The secrets reach the provider through sensitive input variables:
// terraform-plugin-testing logs each step's configuration text at TRACE, so a secret
// written into the configuration would be logged by the test harness, not the provider.
type logScenario struct {
	opts      mockserver.Options
	variables string // variable blocks
	provider  string // provider arguments after endpoint and project_id
	good      config.Variables
	wrong     config.Variables
	secrets   []string
	// wantLogged are fragments the provider's request log must contain.
	wantLogged []string
}

func logScenarios() map[string]logScenario {
	const sensitive = "variable %q {\n  type      = string\n  sensitive = true\n}\n"
	return map[string]logScenario{
		"token": {
			opts:       mockserver.Options{AuthToken: logSecretToken},
			variables:  fmt.Sprintf(sensitive, "auth_token"),
			provider:   "  auth_token = var.auth_token\n",
			good:       config.Variables{"auth_token": config.StringVariable(logSecretToken)},
			wrong:      config.Variables{"auth_token": config.StringVariable(logWrongSecretToken)},
			secrets:    []string{logSecretToken, logWrongSecretToken},
			wantLogged: []string{"X-Auth-Token: ***"},
		},
		"AK/SK with security token": {
			opts:      mockserver.Options{Credentials: map[string]string{logAccessKey: logSecretKey}},
			variables: fmt.Sprintf(sensitive, "secret_key") + fmt.Sprintf(sensitive, "security_token"),
			provider: fmt.Sprintf("  region = \"cn-north-4\"\n  access_key = %q\n"+
				"  secret_key = var.secret_key\n  security_token = var.security_token\n", logAccessKey),
			good: config.Variables{
				"secret_key": config.StringVariable(logSecretKey), "security_token": config.StringVariable(logSecretST),
			},
			wrong: config.Variables{
				"secret_key": config.StringVariable(logWrongSecretKey), "security_token": config.StringVariable(logSecretST),
			},
			secrets:    []string{logSecretKey, logSecretST, logWrongSecretKey},
			wantLogged: []string{"Authorization: ***", "X-Security-Token: ***"},
		},
	}
}

// TestProvider_LogsWithoutSecrets runs the provider in-process with TRACE logging to a file
// and checks that its logs, the state, the diagnostics and the mock's journal never
// contain a secret. It cannot run in parallel: logging is configured through t.Setenv.
func TestProvider_LogsWithoutSecrets(t *testing.T) {
	for name, sc := range logScenarios() {
		t.Run(name, func(t *testing.T) {
			if realEndpoint() {
				t.Skip("needs the mock platform's journal; skipped against a real IoTDA endpoint")
			}
			logPath := filepath.Join(t.TempDir(), "terraform.log")
			// TF_LOG sets the level of the in-process provider's logger (terraform-plugin-log's
			// test sink). TF_ACC_LOG_PATH sends both that sink and the Terraform CLI's own
			// TRACE log (through terraform-exec) to one file.
			t.Setenv("TF_LOG", "TRACE")
			t.Setenv("TF_ACC_LOG_PATH", logPath)
			runLoggedScenario(t, sc, logPath)
		})
	}
}

func runLoggedScenario(t *testing.T, sc logScenario, logPath string) {
	t.Helper()
	sc.opts.Devices = []mockserver.Device{{ID: "d1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	s := mockserver.NewForTest(t, sc.opts)
	cfg := func(round string) string {
		return fmt.Sprintf(`%[1]s
provider "iotda" {
  endpoint    = %[2]q
  project_id  = %[3]q
  max_retries = 0
%[4]s}

resource "iotda_device_command" "test" {
  device_id = "d1"
  paras     = { value = "ON" }
  triggers  = { round = %[5]q }
}
`, sc.variables, s.URL(), s.ProjectID(), sc.provider, round)
	}
	unauthorized := regexp.MustCompile(`(?s)IoTDA API Error.*"d1".*HTTP\s+401.*IOTDA\.000002`)
	var failing bool
	var diagnostics string
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		// The failing step has no ExpectError, so that this sees the full error text.
		ErrorCheck: func(err error) error {
			if !failing || !unauthorized.MatchString(err.Error()) {
				return err
			}
			diagnostics = err.Error()
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg("1"), ConfigVariables: sc.good,
				ConfigStateChecks: []statecheck.StateCheck{stateWithoutSecrets(sc.secrets)},
				Check:             resource.ComposeAggregateTestCheckFunc(checkDeliveries(s, "d1", 1), shimStateWithoutSecrets(sc.secrets)),
			},
			// A second plan reads the state and configures the provider again.
			{
				Config: cfg("1"), ConfigVariables: sc.good,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			// Wrong credentials: the platform answers 401 and the apply fails.
			{
				PreConfig: func() { failing = true },
				Config:    cfg("2"), ConfigVariables: sc.wrong,
			},
		},
	})
	if diagnostics == "" {
		t.Fatal("the apply with wrong credentials did not fail with 401 IOTDA.000002")
	}
	checkNoSecrets(t, "the diagnostics of the failed apply", diagnostics, sc.secrets)
	checkProviderLog(t, logPath, s.ProjectID(), sc)
	journal, err := json.Marshal(s.Journal())
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, "the mock's journal", string(journal), sc.secrets)
}

// checkProviderLog checks that the log proves the iotda subsystem logged the requests and
// the failure, and that it holds no secret.
func checkProviderLog(t *testing.T, logPath, projectID string, sc logScenario) {
	t.Helper()
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	log := string(b)
	// The transport logs at DEBUG through a logger named after the "iotda" subsystem.
	for _, re := range []*regexp.Regexp{iotdaLogLine("Sending IoTDA API request"), iotdaLogLine("Received IoTDA API response")} {
		if !re.MatchString(log) {
			t.Errorf("the log (%d bytes) has no line matching %s", len(log), re)
		}
	}
	want := append([]string{
		"/v5/iot/" + projectID + "/devices/d1/commands",
		"status=401",
		// terraform-plugin-go logs every error diagnostic with its detail.
		"Response contains error diagnostic",
		"error_code IOTDA.000002",
	}, sc.wantLogged...)
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("the log (%d bytes) does not contain %q", len(log), w)
		}
	}
	checkNoSecrets(t, "the log", log, sc.secrets)
}

// iotdaLogLine matches a log line of the iotda subsystem with the message.
func iotdaLogLine(message string) *regexp.Regexp {
	return regexp.MustCompile(`\[DEBUG\] [\w.-]*\biotda: ` + regexp.QuoteMeta(message) + `:`)
}

// checkNoSecrets fails the test for every secret found in text.
func checkNoSecrets(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("secret %q found in %s: ...%s...", s, where, text[max(i-200, 0):min(i+len(s)+50, len(text))])
		}
	}
}

// stateWithoutSecrets checks the state as `terraform show -json` returns it.
func stateWithoutSecrets(secrets []string) statecheck.StateCheck {
	return stateCheckFunc(func(req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
		b, err := json.Marshal(req.State)
		if err != nil {
			resp.Error = err
			return
		}
		if len(b) < 100 || !strings.Contains(string(b), "iotda_device_command") {
			resp.Error = fmt.Errorf("the state is unexpectedly empty: %s", b)
			return
		}
		resp.Error = findSecret("the JSON state", string(b), secrets)
	})
}

// shimStateWithoutSecrets checks the flatmap state the harness builds, every attribute of
// every resource in the root module.
func shimStateWithoutSecrets(secrets []string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources[testResourceAddr]
		if !ok || rs.Primary == nil || len(rs.Primary.Attributes) == 0 {
			return fmt.Errorf("%s is not in the state", testResourceAddr)
		}
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return findSecret("the state", string(b), secrets)
	}
}

func findSecret(where, text string, secrets []string) error {
	var errs []error
	for _, s := range secrets {
		if strings.Contains(text, s) {
			errs = append(errs, fmt.Errorf("%s contains the secret %q", where, s))
		}
	}
	return errors.Join(errs...)
}

// stateCheckFunc adapts a function to statecheck.StateCheck.
type stateCheckFunc func(statecheck.CheckStateRequest, *statecheck.CheckStateResponse)

func (f stateCheckFunc) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	f(req, resp)
}
