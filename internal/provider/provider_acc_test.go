package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// resourceOnly is a configuration that relies on the environment for the whole provider
// configuration.
const resourceOnly = `
resource "iotda_device_command" "test" {
  device_id = "d1"
  paras     = { value = "ON" }
}
`

// Tests that call t.Setenv cannot run in parallel with others.

func TestProvider_EnvironmentConfiguration(t *testing.T) {
	target := newMockTarget(t, mockserver.Options{AuthToken: "env-token"})
	t.Setenv("IOTDA_ENDPOINT", target.Server.URL())
	t.Setenv("IOTDA_PROJECT_ID", target.ProjectID)
	t.Setenv("IOTDA_AUTH_TOKEN", "env-token")
	t.Setenv("IOTDA_MAX_RETRIES", "0")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: resourceOnly,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
				},
				Check: checkDeliveries(target.Server, "d1", 1),
			},
		},
	})
}

// TestProvider_HuaweiCloudEnvironmentFallbacks configures AK/SK signing entirely through
// the HW_* variables of the Huawei Cloud provider.
func TestProvider_HuaweiCloudEnvironmentFallbacks(t *testing.T) {
	target := newMockTarget(t, mockserver.Options{
		Region:      "cn-north-4",
		Credentials: map[string]string{"HWTESTACCESSKEY": "hw-test-secret-key"},
	})
	t.Setenv("IOTDA_ENDPOINT", target.Server.URL())
	t.Setenv("HW_REGION_NAME", "cn-north-4")
	t.Setenv("HW_PROJECT_ID", target.ProjectID)
	t.Setenv("HW_ACCESS_KEY", "HWTESTACCESSKEY")
	t.Setenv("HW_SECRET_KEY", "hw-test-secret-key")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: resourceOnly, Check: checkDeliveries(target.Server, "d1", 1)},
		},
	})
	for _, e := range target.Server.Journal() {
		if e.Kind == mockserver.EntryRequest && len(e.Header["X-Auth-Token"]) > 0 {
			t.Errorf("request %s used a token, want an AK/SK signature", e.RequestID)
		}
	}
}

func TestProvider_EnvironmentErrors(t *testing.T) {
	t.Setenv("IOTDA_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("IOTDA_AUTH_TOKEN", "t")
	t.Setenv("HW_ACCESS_KEY", "ak")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// No project id anywhere, a token and an access key at once, and no secret key.
			{
				Config:   resourceOnly,
				PlanOnly: true,
				ExpectError: regexp.MustCompile(`(?s)Missing Project ID.*IOTDA_PROJECT_ID\s+or\s+HW_PROJECT_ID.*` +
					`Conflicting Credentials.*IOTDA_AUTH_TOKEN.*HW_ACCESS_KEY`),
			},
		},
	})
}

func TestProvider_ConfigurationErrors(t *testing.T) {
	t.Parallel()
	config := func(provider string) string { return provider + resourceOnly }
	step := func(provider, pattern string) resource.TestStep {
		return resource.TestStep{Config: config(provider), PlanOnly: true, ExpectError: regexp.MustCompile(pattern)}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			step(`
provider "iotda" {
  endpoint   = "http://127.0.0.1:1"
  auth_token = "t"
}
`, `(?s)Missing Project ID.*project_id.*IOTDA_PROJECT_ID`),
			step(`
provider "iotda" {
  endpoint   = "http://127.0.0.1:1"
  project_id = "p"
  auth_token = "t"
  access_key = "ak"
  secret_key = "sk"
}
`, `(?s)Conflicting Credentials.*auth_token.*access_key`),
			step(`
provider "iotda" {
  project_id = "p"
  auth_token = "t"
}
`, `(?s)Missing Region or Endpoint.*IOTDA_REGION.*IOTDA_ENDPOINT`),
			step(`
provider "iotda" {
  endpoint   = "http://127.0.0.1:1"
  project_id = "p"
  access_key = "ak"
}
`, `(?s)Missing Secret Key.*IOTDA_SECRET_KEY`),
			step(`
provider "iotda" {
  endpoint   = "http://127.0.0.1:1"
  project_id = "p"
}
`, `(?s)Missing Credentials.*auth_token`),
			step(`
provider "iotda" {
  endpoint   = "iotda.example.com"
  project_id = "p"
  auth_token = "t"
}
`, `(?s)Invalid Endpoint.*https://`),
			// The region becomes part of the default endpoint's host: a space once surfaced as
			// an invalid endpoint, and a slash sent the token to another host.
			step(`
provider "iotda" {
  region     = "cn-north-4 "
  project_id = "p"
  auth_token = "t"
}
`, `(?s)Invalid Region.*region\s+ID\s+such\s+as\s+cn-north-4`),
			step(`
provider "iotda" {
  region     = "example.com/x"
  project_id = "p"
  auth_token = "t"
}
`, `(?s)Invalid Region.*no\s+spaces,\s+dots\s+or\s+slashes`),
			step(`
provider "iotda" {
  endpoint          = "http://127.0.0.1:1"
  project_id        = "p"
  access_key        = "ak"
  secret_key        = "sk"
  signing_algorithm = "MD5"
}
`, `(?s)signing_algorithm.*SDK-HMAC-SHA256`),
			step(`
provider "iotda" {
  endpoint    = "http://127.0.0.1:1"
  project_id  = "p"
  auth_token  = "t"
  max_retries = -1
}
`, `(?s)max_retries.*at\s+least\s+0`),
		},
	})
}

// TestProvider_UnknownConfiguration checks that a provider configured from values only
// known during apply does not fail the plan, while what can be judged without them is
// still reported at plan.
func TestProvider_UnknownConfiguration(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	config := fmt.Sprintf(`
resource "terraform_data" "project" {
  input = %[2]q
}

provider "iotda" {
  endpoint   = %[1]q
  project_id = terraform_data.project.output
  auth_token = "test-token"
}
`, target.Server.URL(), target.ProjectID) + resourceOnly
	noCredentials := strings.Replace(config, `  auth_token = "test-token"`+"\n", "", 1)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: noCredentials, PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)Missing Credentials.*auth_token`)},
			{Config: config, Check: checkDeliveries(target.Server, "d1", 1)},
		},
	})
}

// TestProvider_PrivateCA delivers over HTTPS to a mock whose certificate comes from a CA
// given in ca_cert_pem.
func TestProvider_PrivateCA(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{TLS: true})
	config := fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = %[2]q
  auth_token  = "test-token"
  ca_cert_pem = %[3]q
}
`, target.Server.URL(), target.ProjectID, target.Server.CACertPEM()) + resourceOnly
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: config, Check: checkDeliveries(target.Server, "d1", 1)},
		},
	})
}
