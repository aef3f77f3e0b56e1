package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Terraform-driven tests of the action. They need Terraform 1.14 or newer: they run when
// TF_ACC_TERRAFORM_PATH names one and skip otherwise (Terraform 1.5.7 and OpenTofu have no
// actions).

// providerAddress is the address the provider is served under.
const providerAddress = "registry.terraform.io/iotdalabs/iotda"

// requireCLI skips the test unless the CLI named by TF_ACC_TERRAFORM_PATH passes the
// version checks, and returns its path.
func requireCLI(t *testing.T, checks ...tfversion.TerraformVersionCheck) string {
	t.Helper()
	cli := os.Getenv("TF_ACC_TERRAFORM_PATH")
	out, err := exec.CommandContext(t.Context(), cli, "version", "-json").Output()
	if err != nil {
		t.Fatalf("%s version -json: %v", cli, err)
	}
	var v struct {
		TerraformVersion string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s version -json printed %q: %v", cli, out, err)
	}
	ver, err := version.NewVersion(v.TerraformVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		var resp tfversion.CheckTerraformVersionResponse
		c.CheckTerraformVersion(t.Context(), tfversion.CheckTerraformVersionRequest{TerraformVersion: ver}, &resp)
		if resp.Error != nil {
			t.Fatal(resp.Error)
		}
		if resp.Skip != "" {
			t.Skip(resp.Skip)
		}
	}
	return cli
}

// reattachConfig is one entry of TF_REATTACH_PROVIDERS.
type reattachConfig struct {
	Protocol        string
	ProtocolVersion int
	Pid             int
	Test            bool
	Addr            struct{ Network, String string }
}

// serveProvider serves the provider in-process for a Terraform CLI started by the test and
// returns the TF_REATTACH_PROVIDERS value that points the CLI at it. It stops when the
// test ends.
func serveProvider(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig)
	closed := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		served <- tf6server.Serve(providerAddress, providerserver.NewProtocol6(New("test")()),
			tf6server.WithDebug(ctx, reattach, closed), tf6server.WithGoPluginLogger(hclog.NewNullLogger()),
			// Provider logs follow TF_LOG and TF_ACC_LOG_PATH, as under terraform-plugin-testing.
			tf6server.WithLoggingSink(t))
	}()
	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case err := <-served:
		cancel()
		t.Fatalf("serving the provider: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-closed
	})
	entry := reattachConfig{Protocol: string(rc.Protocol), ProtocolVersion: rc.ProtocolVersion, Pid: rc.Pid, Test: rc.Test}
	entry.Addr.Network, entry.Addr.String = rc.Addr.Network(), rc.Addr.String()
	b, err := json.Marshal(map[string]reattachConfig{providerAddress: entry})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// cliRun is a working directory where a test runs the Terraform CLI against the provider
// served in-process.
type cliRun struct {
	t   *testing.T
	cli string
	dir string
	env []string
}

func newCLIRun(t *testing.T, cli, configuration string) *cliRun {
	t.Helper()
	dir := t.TempDir()
	main := `terraform {
  required_providers {
    iotda = { source = "iotdalabs/iotda" }
  }
}
` + configuration
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TF_REATTACH_PROVIDERS=" + serveProvider(t), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TF_CLI_CONFIG_FILE=" + os.DevNull}
	for _, kv := range os.Environ() {
		// The CLI's own logging and configuration come from the test alone.
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	return &cliRun{t: t, cli: cli, dir: dir, env: env}
}

// run runs the CLI with args and returns what it printed and whether it succeeded.
func (r *cliRun) run(args ...string) (string, bool) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.cli, args...)
	cmd.Dir, cmd.Env = r.dir, r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		r.t.Fatalf("%s %v: %v", r.cli, args, err)
	}
	return out.String(), err == nil
}

// stateInstance is the one resource instance of the state file in a cliRun's directory.
type stateInstance struct {
	Status     string          `json:"status"` // "tainted" when tainted
	Attributes json.RawMessage `json:"attributes"`
	Private    string          `json:"private"` // base64, as the state file holds it
}

// stateInstance reads the state file in r's directory, which must hold one resource, of type
// resourceType, with one instance, and returns that instance and the file's bytes.
func (r *cliRun) stateInstance(resourceType string) (stateInstance, []byte) {
	r.t.Helper()
	raw, err := os.ReadFile(filepath.Join(r.dir, "terraform.tfstate"))
	if err != nil {
		r.t.Fatal(err)
	}
	var state struct {
		Resources []struct {
			Type      string          `json:"type"`
			Instances []stateInstance `json:"instances"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(raw, &state); err != nil || len(state.Resources) != 1 || len(state.Resources[0].Instances) != 1 ||
		state.Resources[0].Type != resourceType {
		r.t.Fatalf("state %s: %v", raw, err)
	}
	return state.Resources[0].Instances[0], raw
}

// TestDeviceCommandAction_Invoke runs `terraform apply -invoke` on the documentation's
// example: Terraform shows the progress messages, the device receives the command once, and
// planning an invocation delivers nothing.
func TestDeviceCommandAction_Invoke(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_14_0))
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply}},
	}})
	r := newCLIRun(t, cli, target.ProviderHCL+readExample(t, "actions/iotda_device_command/action.tf"))

	out, ok := r.run("plan", "-no-color", "-input=false", "-invoke=action.iotda_device_command.reboot")
	if !ok || !strings.Contains(out, "action.iotda_device_command.reboot") {
		t.Fatalf("plan -invoke failed or did not show the action:\n%s", out)
	}
	if n := len(target.Server.Deliveries("d-123")); n != 0 {
		t.Fatalf("planning the invocation delivered %d commands", n)
	}

	out, ok = r.run("apply", "-auto-approve", "-no-color", "-input=false", "-invoke=action.iotda_device_command.reboot")
	if !ok {
		t.Fatalf("apply -invoke failed:\n%s", out)
	}
	deliveries := target.Server.Deliveries("d-123")
	if len(deliveries) != 1 {
		t.Fatalf("the mock delivered %d commands to d-123, want 1", len(deliveries))
	}
	if !strings.Contains(string(deliveries[0].Body), `"paras":{"delay":5}`) {
		t.Errorf("delivered %s, want the example's paras", deliveries[0].Body)
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`Delivering command "REBOOT" of service "Maintenance" to device "d-123"`),
		regexp.MustCompile(`Device "d-123" answered \(command_id ` + regexp.QuoteMeta(deliveries[0].CommandID) +
			`\) with result_code 0 and reply \{"result_code":0,.*"result":"success"`),
	} {
		if !re.MatchString(out) {
			t.Errorf("the output lacks %s:\n%s", re, out)
		}
	}
	t.Logf("terraform apply -invoke printed:\n%s", out)
}

// A failed delivery fails the invocation with the resource's diagnostic.
func TestDeviceCommandAction_InvokeOffline(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_14_0))
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{{ID: "d-123"}}})
	r := newCLIRun(t, cli, target.ProviderHCL+readExample(t, "actions/iotda_device_command/action.tf"))
	out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false", "-invoke=action.iotda_device_command.reboot")
	if ok {
		t.Fatalf("apply -invoke succeeded with an offline device:\n%s", out)
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`failed: Device Is Offline`),
		regexp.MustCompile(`(?s)Error: Error when invoking action\s+Device Is Offline.*"d-123".*HTTP\s+403.*IOTDA\.014016`),
	} {
		if !re.MatchString(out) {
			t.Errorf("the output lacks %s:\n%s", re, out)
		}
	}
}

// TestDeviceCommandAction_Trigger applies the documentation's action_trigger example: both
// actions run after the firmware resource is created and after each change, in order, and
// not when nothing changed.
func TestDeviceCommandAction_Trigger(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d-123", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
	}})
	cfg := target.ProviderHCL + readExample(t, "actions/iotda_device_command/action_trigger.tf")
	firmware := func(v string) config.Variables {
		return config.Variables{"firmware_version": config.StringVariable(v)}
	}
	// deliveredCommands checks the commands delivered so far, in order.
	deliveredCommands := func(want ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			var got []string
			for _, d := range target.Server.Deliveries("d-123") {
				var cmd struct {
					CommandName string          `json:"command_name"`
					Paras       json.RawMessage `json:"paras"`
				}
				if err := json.Unmarshal(d.Body, &cmd); err != nil {
					return err
				}
				got = append(got, cmd.CommandName+" "+string(cmd.Paras))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				return errors.New("delivered:\n" + strings.Join(got, "\n") + "\nwant:\n" + strings.Join(want, "\n"))
			}
			return nil
		}
	}
	resource.UnitTest(t, resource.TestCase{
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_14_0)},
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, ConfigVariables: firmware("1.2.0"),
				Check: deliveredCommands(`INSTALL {"version":"1.2.0"}`, `REBOOT {"delay":5}`)},
			{Config: cfg, ConfigVariables: firmware("1.3.0"),
				Check: deliveredCommands(`INSTALL {"version":"1.2.0"}`, `REBOOT {"delay":5}`,
					`INSTALL {"version":"1.3.0"}`, `REBOOT {"delay":5}`)},
			{Config: cfg, ConfigVariables: firmware("1.3.0"),
				Check: deliveredCommands(`INSTALL {"version":"1.2.0"}`, `REBOOT {"delay":5}`,
					`INSTALL {"version":"1.3.0"}`, `REBOOT {"delay":5}`)},
		},
	})
}
