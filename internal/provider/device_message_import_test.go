package provider

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Importing a message: the state never holds its content (the configuration may send it
// write-only), and the first plan compares the configuration's content with what IoTDA shows.
// The CLI runs as a process, so that the plan is checked as the user reads it.

// writeOnlyMessageConfig is the resource sending content, with the ephemeral variable key.
func writeOnlyMessageConfig(target *testTarget, content string) string {
	return messageConfig(target, "d1", content) + `
variable "key" {
  type      = string
  sensitive = true
  ephemeral = true
}
`
}

// importMessage imports m-1 of the device and checks that the state holds no content.
func importMessage(t *testing.T, r *cliRun, deviceID string, secrets []string) {
	t.Helper()
	out, ok := r.run("import", "-no-color", "-input=false", testMessageAddr, deviceID+"/m-1")
	if !ok {
		t.Fatalf("import:\n%s", out)
	}
	checkNoSecrets(t, "the import's output", out, secrets)
	st := readMessageState(t, r)
	if st.Attributes["message"] != nil || st.Attributes["status"] != "DELIVERED" {
		t.Fatalf("the imported state: %s", st.raw)
	}
	checkNoSecrets(t, "the imported state", string(st.raw), secrets)
}

func TestDeviceMessageResource_ImportUnderWriteOnlyContent(t *testing.T) {
	const secret, other = "S3cr3tValueXYZ", "An0therSecret"
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_11_0))
	logDir := t.TempDir()
	providerLog := filepath.Join(logDir, "provider.log")
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", providerLog)
	for name, tc := range map[string]struct {
		key     string
		replace bool
	}{
		"the same content": {key: secret},
		"other content":    {key: other, replace: true},
	} {
		t.Run(name, func(t *testing.T) {
			target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
			s := target.Server
			postMessage(t, target, "d1", `{"message_id":"m-1","message":{"key":"`+secret+`"},"ttl":60}`)
			r := newFleetCLIRun(t, cli, writeOnlyMessageConfig(target, `
  message_wo         = { key = var.key }
  message_wo_version = 1
  ttl                = 60
`))
			cliLog := filepath.Join(logDir, name+".log")
			r.env = append(r.env, "TF_VAR_key="+tc.key, "TF_LOG=TRACE", "TF_LOG_PATH="+cliLog)
			secrets := []string{secret, other}
			importMessage(t, r, "d1", secrets)
			var outputs []string
			out, ok := r.run("plan", "-no-color", "-input=false", "-out=tfplan")
			if !ok {
				t.Fatalf("plan:\n%s", out)
			}
			outputs = append(outputs, out)
			want := "1 to change, 0 to destroy"
			if tc.replace {
				want = "1 to add, 0 to change, 1 to destroy"
			}
			if !strings.Contains(out, want) {
				t.Fatalf("the plan does not say %q:\n%s", want, out)
			}
			shown, ok := r.run("show", "-json", "tfplan")
			if !ok {
				t.Fatalf("show:\n%s", shown)
			}
			outputs = append(outputs, shown, applyOK(t, r), applyOK(t, r, "No changes."))
			for i, o := range outputs {
				checkNoSecrets(t, fmt.Sprintf("CLI output %d", i), o, secrets)
			}
			st := readMessageState(t, r)
			checkNoSecrets(t, "the state file", string(st.raw), secrets)
			if st.Attributes["status"] != "DELIVERED" || st.Private[privateImported] != nil {
				t.Fatalf("state %s", st.raw)
			}
			creates, published := 1, 1 // The message imported, created by another client.
			if tc.replace {
				creates, published = 2, 2
				if got := received(s, "d1"); got[1] != `{"key":"`+other+`"}` {
					t.Fatalf("the device read %q", got)
				}
			}
			if err := checkMessages(s, "d1", creates, published)(nil); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(cliLog)
			if err != nil {
				t.Fatal(err)
			}
			checkNoSecrets(t, "the CLI's TRACE log", string(b), secrets)
		})
	}
	b, err := os.ReadFile(providerLog)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecrets(t, "the provider's TRACE log", string(b), []string{secret, other})
}

// An imported message with plain content: the first plan shows the configuration's message
// added in place when IoTDA shows the same JSON value (written another way), and a
// replacement when it shows another. A message IoTDA no longer has by then is adopted as
// configured, with a warning: nothing can be compared, nothing is sent.
func TestDeviceMessageResource_ImportComparesContentWithIoTDA(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	for name, tc := range map[string]struct {
		content, plan, warning string
		evict                  bool
		creates                int
	}{
		"same value":           {content: `message = { b = [1, 2], a = "x" }`, plan: "0 to add, 1 to change, 0 to destroy", creates: 1},
		"other value":          {content: `message = { b = [1, 3], a = "x" }`, plan: "1 to add, 0 to change, 1 to destroy", creates: 2},
		"a string":             {content: `message = jsonencode({ a = "x", b = [1, 2] })`, plan: "1 to add, 0 to change, 1 to destroy", creates: 2},
		"gone before the plan": {content: `message = { b = [1, 3] }`, plan: "0 to add, 1 to change, 0 to destroy", evict: true, creates: 21, warning: "Warning: Message No Longer on IoTDA"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			const meter = "meter-17"
			target := newMessageMock(t, mockserver.Options{}, []string{meter})
			s := target.Server
			postMessage(t, target, meter, `{"message_id":"m-1","message":{"a":"x","b":[1,2]}}`)
			r := newFleetCLIRun(t, cli, messageConfig(target, meter, "  "+tc.content+"\n"))
			importMessage(t, r, meter, nil)
			if tc.evict {
				for i := range 20 {
					postMessage(t, target, meter, fmt.Sprintf(`{"message":"newer %d"}`, i))
				}
			}
			out, ok := r.run("plan", "-no-color", "-input=false")
			if !ok || !strings.Contains(out, tc.plan) || !strings.Contains(out, tc.warning) {
				t.Fatalf("the plan does not say %q and %q:\n%s", tc.plan, tc.warning, out)
			}
			applyOK(t, r)
			applyOK(t, r, "No changes.")
			planEmpty(t, r)
			if n := messageRequests(s, meter, http.MethodPost); n != tc.creates {
				t.Fatalf("%d creates, want %d", n, tc.creates)
			}
		})
	}
}
