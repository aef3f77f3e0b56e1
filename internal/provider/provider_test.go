package provider

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// testProviderFactories serves the provider in-process to the Terraform CLI the tests drive.
var testProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"iotda": providerserver.NewProtocol6WithError(New("test")()),
}

// Environment variables naming a real IoTDA endpoint for `make testacc`. The device must be
// online and answer every command with result_code 0.
const (
	envAccEndpoint   = "IOTDA_ACC_ENDPOINT"
	envAccProjectID  = "IOTDA_ACC_PROJECT_ID"
	envAccDeviceID   = "IOTDA_ACC_DEVICE_ID"
	envAccAuthToken  = "IOTDA_ACC_AUTH_TOKEN"
	envAccAccessKey  = "IOTDA_ACC_ACCESS_KEY"
	envAccSecretKey  = "IOTDA_ACC_SECRET_KEY"
	envAccSecToken   = "IOTDA_ACC_SECURITY_TOKEN"
	envAccRegion     = "IOTDA_ACC_REGION"
	envAccInstanceID = "IOTDA_ACC_INSTANCE_ID"
)

// providerEnvVars are the variables the provider reads. TestMain clears them so that a
// developer's shell cannot change what the tests see.
var providerEnvVars = []string{
	"IOTDA_ENDPOINT", "IOTDA_REGION", "HW_REGION_NAME", "IOTDA_PROJECT_ID", "HW_PROJECT_ID",
	"IOTDA_INSTANCE_ID", "IOTDA_AUTH_TOKEN", "IOTDA_ACCESS_KEY", "HW_ACCESS_KEY", "IOTDA_SECRET_KEY",
	"HW_SECRET_KEY", "IOTDA_SECURITY_TOKEN", "HW_SECURITY_TOKEN", "IOTDA_SIGNING_ALGORITHM",
	"IOTDA_MAX_RETRIES", "IOTDA_INSECURE", "IOTDA_CA_CERT_PEM",
}

func TestMain(m *testing.M) {
	LimitFrameworkTrace() // as main does: the in-process provider serves fleets too
	if err := useRepoTerraform(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := isolateProviderEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	removeBuiltProvider()
	os.Exit(code)
}

// realCredentials maps the IOTDA_ACC_* credential variables to the provider arguments
// they configure against a real endpoint.
var realCredentials = []struct{ env, argument string }{
	{envAccAuthToken, "auth_token"}, {envAccAccessKey, "access_key"}, {envAccSecretKey, "secret_key"},
	{envAccSecToken, "security_token"},
}

// isolateProviderEnv clears the provider's environment variables so that tests see only
// what they configure. Against a real endpoint it passes the credentials to Terraform as
// TF_VAR_* input variables, which keeps them out of configuration files and away from
// tests that configure the provider themselves.
func isolateProviderEnv() error {
	for _, name := range providerEnvVars {
		if err := os.Unsetenv(name); err != nil {
			return err
		}
	}
	if !realEndpoint() {
		return nil
	}
	for _, c := range realCredentials {
		if v := os.Getenv(c.env); v != "" {
			if err := os.Setenv("TF_VAR_iotda_acc_"+c.argument, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// useRepoTerraform points terraform-plugin-testing at ./bin/terraform unless
// TF_ACC_TERRAFORM_PATH already names a CLI (Terraform or OpenTofu), so that the tests
// never download one.
func useRepoTerraform() error {
	if os.Getenv("TF_ACC_TERRAFORM_PATH") != "" {
		return nil
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	tf := filepath.Join(root, "bin", "terraform")
	if _, err := os.Stat(tf); err != nil {
		return fmt.Errorf("no Terraform CLI at %s and TF_ACC_TERRAFORM_PATH is unset: "+
			"run `make test` (it installs Terraform into ./bin)", tf)
	}
	return os.Setenv("TF_ACC_TERRAFORM_PATH", tf)
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (no go.mod above the working directory)")
		}
		dir = parent
	}
}

// testTarget is where a test delivers commands: a fresh mock platform, or the real endpoint
// named by the IOTDA_ACC_* variables.
type testTarget struct {
	// ProviderHCL is the provider block.
	ProviderHCL string
	// DeviceID is an online device that answers with result_code 0 (the first mock device).
	DeviceID string
	// ProjectID is the project the provider is configured with.
	ProjectID string
	// Server is the mock, or nil against a real endpoint.
	Server *mockserver.Server
}

// realEndpoint reports whether TF_ACC=1 and IOTDA_ACC_* name a real endpoint and device.
func realEndpoint() bool {
	if os.Getenv("TF_ACC") == "" {
		return false
	}
	for _, name := range []string{envAccEndpoint, envAccProjectID, envAccDeviceID} {
		if os.Getenv(name) == "" {
			return false
		}
	}
	return os.Getenv(envAccAuthToken) != "" || (os.Getenv(envAccAccessKey) != "" && os.Getenv(envAccSecretKey) != "")
}

// newTarget returns the real endpoint when one is configured, and otherwise starts a mock
// with one echoing device "d1".
func newTarget(t *testing.T) *testTarget {
	t.Helper()
	if realEndpoint() {
		return &testTarget{
			ProviderHCL: realProviderHCL(), DeviceID: os.Getenv(envAccDeviceID), ProjectID: os.Getenv(envAccProjectID),
		}
	}
	return newMockTarget(t, mockserver.Options{})
}

// newMockTarget starts a mock platform for tests that need particular device behaviour or
// look at what the mock received; they skip against a real endpoint. Without devices in
// opts, it registers one echoing device "d1". The provider block authenticates with
// opts.AuthToken (default "test-token").
func newMockTarget(t *testing.T, opts mockserver.Options) *testTarget {
	t.Helper()
	if realEndpoint() {
		t.Skip("needs the mock platform's device behaviours or journal; skipped against a real IoTDA endpoint")
	}
	if len(opts.Devices) == 0 {
		opts.Devices = []mockserver.Device{{ID: "d1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	}
	if opts.AuthToken == "" {
		opts.AuthToken = "test-token"
	}
	s := mockserver.NewForTest(t, opts)
	hcl := fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = %[2]q
  auth_token  = %[3]q
  max_retries = 1
}
`, s.URL(), s.ProjectID(), opts.AuthToken)
	return &testTarget{ProviderHCL: hcl, DeviceID: opts.Devices[0].ID, ProjectID: s.ProjectID(), Server: s}
}

// realProviderHCL configures the provider from IOTDA_ACC_*. The credentials are sensitive
// input variables set through TF_VAR_* (see isolateProviderEnv).
func realProviderHCL() string {
	var vars, b strings.Builder
	b.WriteString("\nprovider \"iotda\" {\n")
	fmt.Fprintf(&b, "  endpoint   = %q\n  project_id = %q\n", os.Getenv(envAccEndpoint), os.Getenv(envAccProjectID))
	if v := os.Getenv(envAccRegion); v != "" {
		fmt.Fprintf(&b, "  region     = %q\n", v)
	}
	if v := os.Getenv(envAccInstanceID); v != "" {
		fmt.Fprintf(&b, "  instance_id = %q\n", v)
	}
	for _, c := range realCredentials {
		if os.Getenv(c.env) == "" {
			continue
		}
		fmt.Fprintf(&vars, "\nvariable \"iotda_acc_%[1]s\" {\n  type      = string\n  sensitive = true\n}\n", c.argument)
		fmt.Fprintf(&b, "  %[1]s = var.iotda_acc_%[1]s\n", c.argument)
	}
	b.WriteString("}\n")
	return vars.String() + b.String()
}

// requests counts the command API requests the mock answered for deviceID ("" for all).
func requests(s *mockserver.Server, deviceID string) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryRequest && (deviceID == "" || e.DeviceID == deviceID) {
			n++
		}
	}
	return n
}

// checkDeliveries asserts how many commands the mock has published to deviceID so far. It
// does nothing against a real endpoint, whose deliveries the test cannot see.
func checkDeliveries(s *mockserver.Server, deviceID string, want int) func(*terraform.State) error {
	return func(*terraform.State) error {
		if s == nil {
			return nil
		}
		if got := len(s.Deliveries(deviceID)); got != want {
			return fmt.Errorf("the mock delivered %d command(s) to %s, want %d", got, deviceID, want)
		}
		return nil
	}
}
