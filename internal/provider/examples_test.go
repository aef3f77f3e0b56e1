package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// readExample returns a file under examples/, which tfplugindocs puts into docs/.
func readExample(t *testing.T, name string) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExamples_ResourceAndDataSource applies the documentation's examples against a mock
// with the device they name, so that every example in docs/ is a configuration that works.
func TestExamples_ResourceAndDataSource(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})

	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The resource example delivers both of its commands.
			{
				Config: target.ProviderHCL + readExample(t, "resources/iotda_device_command/resource.tf"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("switch_result", knownvalue.StringExact("success")),
				},
				Check: checkDeliveries(target.Server, "d-123", 2),
			},
			// The data source example delivers its command on read.
			{
				Config: target.ProviderHCL + readExample(t, "data-sources/iotda_device_command/data-source.tf"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("device_status",
						knownvalue.ObjectExact(map[string]knownvalue.Check{"result": knownvalue.StringExact("success")})),
				},
			},
		},
	})
}

// TestExamples_Provider plans a command with each provider configuration of the provider
// example, one at a time: Terraform validates and configures only the providers something
// uses, and the tests serve every alias from one in-process provider server, which must not
// be configured twice at once.
func TestExamples_Provider(t *testing.T) {
	t.Parallel()
	variables := config.Variables{
		"project_id":  config.StringVariable("0123456789abcdef"),
		"instance_id": config.StringVariable("instance-1"),
		"auth_token":  config.StringVariable("example-token"),
		"access_key":  config.StringVariable("example-ak"),
		"secret_key":  config.StringVariable("example-sk"),
	}
	step := func(providerRef string) resource.TestStep {
		return resource.TestStep{
			Config: readExample(t, "provider/provider.tf") + fmt.Sprintf(`
resource "iotda_device_command" "example" {
  provider  = %s
  device_id = "d-123"
  paras     = { value = "ON" }
}
`, providerRef),
			ConfigVariables:    variables,
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps:                    []resource.TestStep{step("iotda"), step("iotda.instance")},
	})
}

// TestExamples_WriteOnly applies the write-only example with its password from the
// environment (the variable is ephemeral), on a CLI with write-only arguments: the password
// reaches the device and stays out of the state. It cannot run in parallel (t.Setenv).
func TestExamples_WriteOnly(t *testing.T) {
	const password = "example-SECRET-pw"
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})
	t.Setenv("TF_VAR_wifi_password", password)
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config:            target.ProviderHCL + readExample(t, "resources/iotda_device_command/write-only.tf"),
			ConfigStateChecks: []statecheck.StateCheck{stateWithoutSecrets([]string{password})},
			Check: func(*terraform.State) error {
				d := target.Server.Deliveries("d-123")
				if len(d) != 1 || !strings.Contains(string(d[0].Body), `"password":"`+password+`"`) {
					return fmt.Errorf("the mock delivered %d commands, want 1 with the password: %v", len(d), d)
				}
				return nil
			},
		}},
	})
}
