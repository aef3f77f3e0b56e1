package provider

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// TestDeviceMessageAction_InvokeCLI runs `terraform apply -invoke` on the documentation's
// example with a device that wakes while the action follows its message: Terraform shows
// the progress, the device receives the message once, and planning the invocation sends
// nothing. It needs Terraform 1.14+ (TF_ACC_TERRAFORM_PATH), and skips otherwise.
func TestDeviceMessageAction_InvokeCLI(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_14_0))
	p := newMessagePlatform(t, "meter-17")
	r := newCLIRun(t, cli, p.providerHCL()+readExample(t, "actions/iotda_device_message/action.tf"))

	out, ok := r.run("plan", "-no-color", "-input=false", "-invoke=action.iotda_device_message.upload_logs")
	if !ok || !strings.Contains(out, "action.iotda_device_message.upload_logs") {
		t.Fatalf("plan -invoke failed or did not show the action:\n%s", out)
	}
	if posts, _ := p.counts(); posts != 0 {
		t.Fatalf("planning the invocation sent %d messages", posts)
	}

	p.connectWhenPending(t.Context(), "meter-17")
	out, ok = r.run("apply", "-auto-approve", "-no-color", "-input=false", "-invoke=action.iotda_device_message.upload_logs")
	if !ok {
		t.Fatalf("apply -invoke failed:\n%s", out)
	}
	got := p.published("meter-17")
	if posts, _ := p.counts(); posts != 1 || len(got) != 1 ||
		!strings.Contains(string(got[0].Payload), `"content":"{\"command\":\"upload_logs\",\"since_hours\":24}"`) {
		t.Fatalf("%d messages sent; the device received %+v", posts, got)
	}
	id := regexp.QuoteMeta(got[0].MessageID)
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`Sending message ` + id + ` to device "meter-17" on the default topic`),
		regexp.MustCompile(`IoTDA accepted message ` + id + ` and holds it \(PENDING\) until device "meter-17" connects`),
		regexp.MustCompile(`Message ` + id + ` delivered to device "meter-17"`),
	} {
		if !re.MatchString(out) {
			t.Errorf("the output lacks %s:\n%s", re, out)
		}
	}
	t.Logf("terraform apply -invoke printed:\n%s", out)
}
