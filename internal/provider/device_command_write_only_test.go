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

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Secrets sent as write-only paras; none may appear in a plan, the state or a log.
const (
	woSecret1 = "psk-SECRET-1c0ffee"
	woSecret2 = "psk-SECRET-2decade"
)

// woConfig configures a command whose paras_wo carries the ephemeral variable wifi_psk.
func woConfig(target *testTarget, version int) string {
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
  paras_wo         = { ssid = "home", psk = var.wifi_psk }
  paras_wo_version = %[2]d
}
`, target.DeviceID, version)
}

// planWithoutSecrets checks the plan as `terraform show -json` renders it.
type planWithoutSecrets []string

func (p planWithoutSecrets) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal(req.Plan)
	if err != nil {
		resp.Error = err
		return
	}
	if !strings.Contains(string(b), "iotda_device_command") {
		resp.Error = fmt.Errorf("the plan is unexpectedly empty: %s", b)
		return
	}
	resp.Error = findSecret("the plan JSON", string(b), p)
}

// deliveredParasContain checks that the n-th command delivered to deviceID carried want:
// the secret did reach the device.
func deliveredParasContain(s *mockserver.Server, deviceID string, n int, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		d := s.Deliveries(deviceID)
		if len(d) < n {
			return fmt.Errorf("the mock delivered %d commands to %s, want at least %d", len(d), deviceID, n)
		}
		if body := string(d[n-1].Body); !strings.Contains(body, `"psk":"`+want+`"`) {
			return fmt.Errorf("delivery %d carried %s, not the write-only psk", n, body)
		}
		return nil
	}
}

// TestDeviceCommandResource_WriteOnlyParas delivers paras_wo from an ephemeral variable and
// proves that the secret reaches the device and nowhere else: not the plan JSON, not the
// state, not the TRACE log of the CLI and the provider. A new paras_wo_version delivers
// the command once more. It needs a CLI with write-only arguments (Terraform or OpenTofu
// 1.11+), and cannot run in parallel: logging and the variable go through t.Setenv.
func TestDeviceCommandResource_WriteOnlyParas(t *testing.T) {
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		// A device that answers without echoing its parameters.
		{ID: "wifi-dev", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})
	logPath := filepath.Join(t.TempDir(), "terraform.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	secrets := planWithoutSecrets{woSecret1, woSecret2}
	stateChecks := func(version int64) []statecheck.StateCheck {
		return []statecheck.StateCheck{
			stateWithoutSecrets(secrets),
			statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("paras_wo"), knownvalue.Null()),
			statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("paras"), knownvalue.Null()),
			statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("paras_wo_version"), knownvalue.Int64Exact(version)),
			// The reply is kept as for any command.
			statecheck.ExpectKnownValue(testResourceAddr,
				tfjsonpath.New("response").AtMapKey("paras").AtMapKey("result"), knownvalue.StringExact("success")),
		}
	}
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() { t.Setenv("TF_VAR_wifi_psk", woSecret1) },
				Config:    woConfig(target, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{secrets, plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionCreate)},
				},
				ConfigStateChecks: stateChecks(1),
				Check: resource.ComposeAggregateTestCheckFunc(checkDeliveries(target.Server, "wifi-dev", 1),
					deliveredParasContain(target.Server, "wifi-dev", 1, woSecret1), shimStateWithoutSecrets(secrets)),
			},
			// The same version plans nothing, whatever the secret is now: it is not compared.
			{
				PreConfig: func() { t.Setenv("TF_VAR_wifi_psk", woSecret2) },
				Config:    woConfig(target, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkDeliveries(target.Server, "wifi-dev", 1),
			},
			// A new version delivers the command again, once, with the secret of now.
			{
				Config: woConfig(target, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{secrets, plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionReplace)},
				},
				ConfigStateChecks: stateChecks(2),
				Check: resource.ComposeAggregateTestCheckFunc(checkDeliveries(target.Server, "wifi-dev", 2),
					deliveredParasContain(target.Server, "wifi-dev", 2, woSecret2), shimStateWithoutSecrets(secrets)),
			},
			{
				Config: woConfig(target, 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				Check: checkDeliveries(target.Server, "wifi-dev", 2),
			},
		},
	})
	if t.Skipped() {
		return
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	log := string(b)
	// The requests were logged, without their bodies.
	if n := strings.Count(log, "(not logged: the parameters are secret)"); n != 2 {
		t.Errorf("the log (%d bytes) shows %d command requests without their body, want 2", len(log), n)
	}
	checkNoSecrets(t, "the TRACE log", log, secrets)
}

// From paras to paras_wo (and back) is a new delivery, once each way.
func TestDeviceCommandResource_ParasToWriteOnly(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	plain := testAccDeviceCommandConfig(target, `  paras = { psk = "not-secret-yet" }`)
	writeOnly := testAccDeviceCommandConfig(target, `
  paras_wo         = { psk = "now-write-only" }
  paras_wo_version = 1
`)
	replace := func(cfg string, n int) resource.TestStep {
		return resource.TestStep{
			Config: cfg,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(testResourceAddr, plancheck.ResourceActionReplace)},
			},
			Check: checkDeliveries(target.Server, target.DeviceID, n),
		}
	}
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: plain, Check: checkDeliveries(target.Server, target.DeviceID, 1)},
			replace(writeOnly, 2),
			{
				Config:           writeOnly,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            checkDeliveries(target.Server, target.DeviceID, 2),
			},
			replace(plain, 3),
		},
	})
}

// A CLI older than 1.11 cannot keep a write-only value out of the state, so the provider
// refuses paras_wo there at plan time instead of storing it.
func TestDeviceCommandResource_WriteOnlyRefusedBefore1_11(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipAbove(tfversion.Version1_10_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: testAccDeviceCommandConfig(target, `
  paras_wo         = { psk = "secret" }
  paras_wo_version = 1
`),
			ExpectError: regexp.MustCompile(`(?s)WriteOnly Attribute Not Allowed.*paras_wo.*1\.11`),
		}},
	})
	if n := requests(target.Server, ""); n != 0 {
		t.Errorf("the mock received %d command requests, want none", n)
	}
}

// Without paras or paras_wo the plan fails on paras, with any CLI, and nothing is sent.
func TestDeviceCommandResource_MissingParas(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config:      testAccDeviceCommandConfig(target, `  command_name = "ON_OFF"`),
			ExpectError: regexp.MustCompile(`(?s)Missing Paras.*set paras.*or set paras_wo\s+with\s+paras_wo_version`),
		}},
	})
	if n := requests(target.Server, ""); n != 0 {
		t.Errorf("the mock received %d command requests, want none", n)
	}
}

// The combinations of paras, paras_wo and paras_wo_version, checked by
// ValidateResourceConfig as a CLI with write-only arguments sends it.
func TestDeviceCommandResource_ValidateWriteOnlyParas(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	typ := p.schemas.ResourceSchemas[actionType].ValueType()
	version := tftypes.NewValue(tftypes.Number, 1)
	unknown := tftypes.NewValue(tftypes.DynamicPseudoType, tftypes.UnknownValue)
	tests := map[string]struct {
		args    map[string]tftypes.Value
		attr    string // "" for no diagnostic
		summary string
		detail  string
		absent  string // text the detail must not hold, such as part of a write-only value
	}{
		"paras":                     {args: map[string]tftypes.Value{"paras": parasON()}},
		"paras_wo with version":     {args: map[string]tftypes.Value{"paras_wo": parasON(), "paras_wo_version": version}},
		"unknown paras_wo":          {args: map[string]tftypes.Value{"paras_wo": unknown, "paras_wo_version": version}},
		"paras_wo as a JSON string": {args: map[string]tftypes.Value{"paras_wo": str(`{"psk":"x"}`), "paras_wo_version": version}},
		"both": {map[string]tftypes.Value{"paras": parasON(), "paras_wo": parasON(), "paras_wo_version": version},
			"paras_wo", "Conflicting Paras", "not both", ""},
		"neither": {map[string]tftypes.Value{}, "paras", "Missing Paras", "set paras", ""},
		"paras_wo without version": {map[string]tftypes.Value{"paras_wo": parasON()},
			"paras_wo_version", "Missing Paras Version", "change it whenever paras_wo changes", ""},
		"version without paras_wo": {map[string]tftypes.Value{"paras": parasON(), "paras_wo_version": version},
			"paras_wo_version", "Paras Version Without Write-Only Paras", "only applies with paras_wo", ""},
		"paras_wo a list": {map[string]tftypes.Value{"paras_wo": tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{str("x")}), "paras_wo_version": version}, "paras_wo", "Invalid Paras Value", "paras_wo must be an object", ""},
		"paras_wo malformed JSON": {map[string]tftypes.Value{"paras_wo": str(`{"psk":`), "paras_wo_version": version},
			"paras_wo", "Invalid Paras Value", "the paras_wo string is not valid JSON", ""},
		// Go's JSON errors quote the character they stopped at: here the secret's first one.
		"paras_wo unquoted secret": {map[string]tftypes.Value{"paras_wo": str(`{"psk":Wifi-Pass}`), "paras_wo_version": version},
			"paras_wo", "Invalid Paras Value", "the paras_wo string is not valid JSON (at byte 8)", "'W'"},
		"paras_wo not an object": {map[string]tftypes.Value{"paras_wo": str(`"Wifi-Pass"`), "paras_wo_version": version},
			"paras_wo", "Invalid Paras Value", "the paras_wo string must hold a JSON object", "Wifi"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			args := with(tc.args, "device_id", str("d1"))
			resp, err := p.server.ValidateResourceConfig(t.Context(), &tfprotov6.ValidateResourceConfigRequest{
				TypeName: actionType, Config: p.dynamicValue(typ, objectValue(typ, args)),
				ClientCapabilities: &tfprotov6.ValidateResourceConfigClientCapabilities{WriteOnlyAttributesAllowed: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.attr == "" {
				if len(resp.Diagnostics) > 0 {
					t.Fatalf("diagnostics: %s", formatProtoDiags(resp.Diagnostics))
				}
				return
			}
			if len(resp.Diagnostics) != 1 {
				t.Fatalf("diagnostics: %s\nwant one", formatProtoDiags(resp.Diagnostics))
			}
			d := resp.Diagnostics[0]
			if want := tftypes.NewAttributePath().WithAttributeName(tc.attr); !d.Attribute.Equal(want) ||
				d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) ||
				(tc.absent != "" && strings.Contains(d.Detail, tc.absent)) {
				t.Errorf("diagnostic %q at %v: %q\nwant %q at %s with %q", d.Summary, d.Attribute, d.Detail, tc.summary, tc.attr, tc.detail)
			}
		})
	}
}

// The data source and the action take paras only, and paras_wo is write-only.
func TestWriteOnlyParas_OnlyOnTheResource(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	attr := func(b *tfprotov6.SchemaBlock, name string) *tfprotov6.SchemaAttribute {
		for _, a := range b.Attributes {
			if a.Name == name {
				return a
			}
		}
		return nil
	}
	if a := attr(p.schemas.ResourceSchemas[actionType].Block, "paras_wo"); a == nil || !a.WriteOnly || !a.Optional ||
		!strings.Contains(a.Description, "reply is still stored") || !strings.Contains(a.Description, "1.11") {
		t.Errorf("resource paras_wo = %+v, want an optional write-only attribute whose description says the reply is stored and the CLI it needs", a)
	}
	for kind, b := range map[string]*tfprotov6.SchemaBlock{
		"data source": p.schemas.DataSourceSchemas[actionType].Block,
		"action":      p.schemas.ActionSchemas[actionType].Schema.Block,
	} {
		if attr(b, "paras_wo") != nil || attr(b, "paras_wo_version") != nil {
			t.Errorf("the %s has write-only paras", kind)
		}
		if a := attr(b, "paras"); a == nil || !a.Required {
			t.Errorf("the %s's paras = %+v, want required", kind, a)
		}
	}
}

// The resource delivers paras_wo with SecretParas, and paras without.
func TestDeviceCommandModel_SecretParas(t *testing.T) {
	t.Parallel()
	paras := types.DynamicValue(types.ObjectValueMust(map[string]attr.Type{"psk": types.StringType},
		map[string]attr.Value{"psk": types.StringValue("x")}))
	for _, secret := range []bool{false, true} {
		m := deviceCommandModel{DeviceID: types.StringValue("d1"), Paras: paras, secretParas: secret}
		var diags diag.Diagnostics
		cmd, ok := m.command(&diags)
		if !ok || cmd.SecretParas != secret || string(cmd.Paras) != `{"psk":"x"}` {
			t.Errorf("secretParas %v: command %+v, %v", secret, cmd, diags)
		}
	}
}
