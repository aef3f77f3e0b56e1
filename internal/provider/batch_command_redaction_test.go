package provider

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// TestBatchCommandResource_RedactsEchoedCredentials: devices answer a batch command with a
// reply that holds the provider's auth_token. The token is hidden in results, and appears in
// no diagnostic, state or log line (TRACE, the provider's binary launched by Terraform); a
// warning names the attribute and the devices, never the value.
func TestBatchCommandResource_RedactsEchoedCredentials(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	const token = "tok-SECRET-batch-5c1e"
	reply := json.RawMessage(fmt.Sprintf(`{"result_code":0,"paras":{"seen":"Bearer %s","n":1}}`, token))
	failing := json.RawMessage(fmt.Sprintf(`{"result_code":7,"paras":{"why":"bad token %s"}}`, token))
	ft := batchFaultMock(t, 3, func(o *mockserver.Options) {
		o.AuthToken = token
		o.Fleets[0].Behavior = mockserver.Behavior{Kind: mockserver.BehaviorReply, Response: reply}
		o.Devices = []mockserver.Device{{ID: "failing-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply,
			Response: failing}}}
	})
	ft.ids = append(ft.ids, "failing-1")
	// The token reaches the provider through a sensitive variable, as a user's would.
	provider := strings.Replace(ft.ProviderHCL, fmt.Sprintf("%q", token), "var.auth_token", 1)
	config := "variable \"auth_token\" {\n  type      = string\n  sensitive = true\n}\n" + strings.Replace(
		ft.config("  max_failed_devices = 1\n"), ft.ProviderHCL, provider, 1)
	r := newBinaryCLIRun(t, cli, config)
	logPath := filepath.Join(r.dir, "terraform.log")
	r.env = append(r.env, "TF_VAR_auth_token="+token, "TF_LOG=TRACE", "TF_LOG_PATH="+logPath)
	out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false")
	if !ok {
		t.Fatalf("apply:\n%s", out)
	}
	for _, want := range []string{"Warning: Device Reply Redacted", "4 devices of batch task", "the provider's auth_token",
		"fleet-1, fleet-2, fleet-3", "failing-1: answered with result_code 7"} {
		if !strings.Contains(out, want) {
			t.Errorf("the apply does not say %q:\n%s", want, out)
		}
	}
	if err := ft.deliveredOnceTo(stateTaskID(t, r)); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(r.dir, "terraform.tfstate"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(state), `"seen\":\"Bearer ***\"`) {
		t.Errorf("the state's results do not hold the reply with the token hidden:\n%s", state)
	}
	log, err := os.ReadFile(logPath)
	if err != nil || !strings.Contains(string(log), "/batchtasks/") {
		t.Fatalf("the TRACE log holds no batch task request (%v)", err)
	}
	for where, text := range map[string]string{"the apply's output": out, "the state": string(state), "the log": string(log)} {
		checkNoSecrets(t, where, text, []string{token})
	}
}
