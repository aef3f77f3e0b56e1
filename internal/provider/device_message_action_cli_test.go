package provider

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// TestDeviceMessageAction_InvokeCLI runs `terraform apply -invoke` on the documentation's
// example against the mock with a sleeping device that wakes while the action follows its
// message: Terraform shows the progress, the device reads the message once, and planning the
// invocation sends nothing. It needs Terraform 1.14+ (TF_ACC_TERRAFORM_PATH), and skips otherwise.
func TestDeviceMessageAction_InvokeCLI(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_14_0))
	target := newMessageMock(t, mockserver.Options{}, []string{"meter-17"}, "meter-17")
	s := target.Server
	r := newCLIRun(t, cli, target.ProviderHCL+readExample(t, "actions/iotda_device_message/action.tf"))

	out, ok := r.run("plan", "-no-color", "-input=false", "-invoke=action.iotda_device_message.upload_logs")
	if !ok || !strings.Contains(out, "action.iotda_device_message.upload_logs") {
		t.Fatalf("plan -invoke failed or did not show the action:\n%s", out)
	}
	if n := messageRequests(s, "meter-17", ""); n != 0 {
		t.Fatalf("planning the invocation sent %d message requests", n)
	}

	wakeWhenCreated(t, s, "meter-17")
	out, ok = r.run("apply", "-auto-approve", "-no-color", "-input=false", "-invoke=action.iotda_device_message.upload_logs")
	if !ok {
		t.Fatalf("apply -invoke failed:\n%s", out)
	}
	if err := checkMessages(s, "meter-17", 1, 1)(nil); err != nil {
		t.Fatal(err)
	}
	if got := received(s, "meter-17"); !slices.Equal(got, []string{`{"command":"upload_logs","since_hours":24}`}) {
		t.Fatalf("the device read %q", got)
	}
	id := regexp.QuoteMeta(s.MessageDeliveries("meter-17")[0].MessageID)
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
