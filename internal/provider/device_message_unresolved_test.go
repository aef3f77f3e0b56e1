package provider

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// A message whose create's outcome is not known is sent once: the create answer comes after
// the lookup's reads (a request held on its way, with a short timeouts.create), the apply is
// interrupted while the request is on its way, the answer is lost and the message never
// created, or the platform throttled an answer to a request it acted on. The CLI runs as a
// process (newCLIRun), so that its output, its state file and an interrupt are the user's;
// each case applies again two or three times and counts what the device received.

// messageState is the resource as the CLI's state file holds it.
type messageState struct {
	Attributes map[string]any
	Tainted    bool
	// Private is the resource's private state, decoded.
	Private map[string][]byte
	raw     []byte
}

// readMessageState reads the state file of r's directory.
func readMessageState(t *testing.T, r *cliRun) messageState {
	t.Helper()
	in, raw := r.stateInstance("iotda_device_message")
	ms := messageState{Tainted: in.Status == "tainted", raw: raw}
	if err := json.Unmarshal(in.Attributes, &ms.Attributes); err != nil {
		t.Fatalf("attributes %s: %v", in.Attributes, err)
	}
	if in.Private != "" {
		b, err := base64.StdEncoding.DecodeString(in.Private)
		if err != nil || json.Unmarshal(b, &ms.Private) != nil {
			t.Fatalf("private %q: %v", in.Private, err)
		}
	}
	return ms
}

// applyOK applies and fails the test unless the apply succeeded and printed every want.
func applyOK(t *testing.T, r *cliRun, want ...string) string {
	t.Helper()
	out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false")
	if !ok {
		t.Fatalf("apply failed:\n%s", out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("the apply did not print %q:\n%s", w, out)
		}
	}
	return out
}

// planEmpty fails the test unless a plan shows no changes.
func planEmpty(t *testing.T, r *cliRun) {
	t.Helper()
	if out, ok := r.run("plan", "-no-color", "-input=false", "-detailed-exitcode"); !ok {
		t.Fatalf("the plan is not empty:\n%s", out)
	}
}

// sentOnce checks that the provider asked the mock to create one message for the device,
// that the mock created one, and that the device read it once.
func sentOnce(t *testing.T, s *mockserver.Server, deviceID string) {
	t.Helper()
	if err := checkMessages(s, deviceID, 1, 1)(nil); err != nil {
		t.Fatal(err)
	}
	if n := journalCount(s, mockserver.EntryMessage, deviceID); n != 1 {
		t.Fatalf("the mock created %d messages for %s, want 1", n, deviceID)
	}
}

// waitCreated waits until the mock has created a message for the device.
func waitCreated(t *testing.T, s *mockserver.Server, deviceID string) {
	t.Helper()
	waitJournal(t, s, "the held create acted on", func() bool {
		return journalCount(s, mockserver.EntryMessage, deviceID) == 1
	})
}

// unresolvedSaved checks that the state holds the message's id without a status, untainted,
// with the create recorded in the private state.
func unresolvedSaved(t *testing.T, r *cliRun) messageState {
	t.Helper()
	st := readMessageState(t, r)
	id, _ := st.Attributes["message_id"].(string)
	if !uuidPattern.MatchString(id) || st.Attributes["status"] != nil || st.Tainted || st.Private[privateMessageSent] == nil {
		t.Fatalf("the state does not keep the message unresolved: %s", st.raw)
	}
	return st
}

func TestDeviceMessageResource_CreateAnswerAfterTheLookup(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	for name, asleep := range map[string]bool{"online": false, "asleep": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var sleeping []string
			if asleep {
				sleeping = []string{"d1"}
			}
			target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, sleeping...)
			s := target.Server
			// The platform acts on the create 8 s after it reads it: after the apply's timeout
			// (1 s) and the reads that look for the message (about 3 s more).
			s.InjectFault(mockserver.Fault{Operation: "CreateMessage", Hold: 8 * time.Second})
			r := newFleetCLIRun(t, cli, messageConfig(target, "d1", `
  message = "once"
  timeouts {
    create = "1s"
  }
`))
			applyOK(t, r, "Warning: Message Send Outcome Unknown", "was NOT sent again")
			first := unresolvedSaved(t, r)
			waitCreated(t, s, "d1")
			if asleep {
				wakeAndDeliver(t, s, "d1", 1)
			}
			foundByItsID(t, r, s, first)
		})
	}
}

func TestDeviceMessageResource_InterruptedWhileTheCreateIsOnItsWay(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	s := target.Server
	proxy := testutil.NewFaultProxy(t, s.URL())
	onItsWay := make(chan struct{})
	var once sync.Once
	proxy.Add(&testutil.Rule{Match: func(r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") {
			once.Do(func() { close(onItsWay) })
			return true
		}
		return false
	}, Action: testutil.Action{Hold: 3 * time.Second}})
	target.ProviderHCL = strings.Replace(target.ProviderHCL, s.URL(), proxy.URL, 1)
	r := newFleetCLIRun(t, cli, messageConfig(target, "d1", `message = "once"`))
	p := r.start("apply", "-auto-approve", "-no-color", "-input=false")
	select {
	case <-onItsWay:
	case <-time.After(time.Minute):
		t.Fatalf("no create came:\n%s", p.output())
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if p.wait(t) {
		t.Fatalf("the interrupted apply succeeded:\n%s", p.output())
	}
	if out := p.output(); !strings.Contains(out, "Warning: Message Send Outcome Unknown") ||
		!strings.Contains(out, "interrupted") {
		t.Fatalf("the interrupted apply does not say what became of the message:\n%s", out)
	}
	first := unresolvedSaved(t, r)
	waitCreated(t, s, "d1") // The proxy passes the request on after its hold.
	foundByItsID(t, r, s, first)
}

// foundByItsID applies once the mock holds the message the state keeps unresolved (first):
// the refresh finds it by its id, DELIVERED, and two more applies and a plan change nothing.
// The device read it once.
func foundByItsID(t *testing.T, r *cliRun, s *mockserver.Server, first messageState) {
	t.Helper()
	applyOK(t, r, "Warning: Message Found by Its ID", "No changes.")
	st := readMessageState(t, r)
	if st.Attributes["status"] != "DELIVERED" || st.Attributes["message_id"] != first.Attributes["message_id"] ||
		st.Private[privateMessageSent] != nil {
		t.Fatalf("after the refresh found it: %s", st.raw)
	}
	applyOK(t, r, "No changes.")
	planEmpty(t, r)
	sentOnce(t, s, "d1")
}

// A create whose answer is lost and that IoTDA never acted on is kept, unresolved, and never
// sent again on its own: once it is long overdue the warning says how to send it, and
// -replace sends it once.
func TestDeviceMessageResource_NeverCreatedIsKeptUntilReplaced(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	s := target.Server
	// The connection is reset once the request is sent, before the platform reads it.
	s.InjectFault(mockserver.Fault{Operation: "CreateMessage", ResetBeforeBody: true})
	r := newFleetCLIRun(t, cli, messageConfig(target, "d1", `message = "once"`))
	applyOK(t, r, "Warning: Message Send Outcome Unknown")
	st := unresolvedSaved(t, r)
	applyOK(t, r, "Warning: Message Not Found on IoTDA Yet", "does not show it yet", "No changes.")
	// Long after the request, by this machine's clock: the private state says when it was sent.
	agePrivateSent(t, r, st, 10*time.Minute)
	for range 2 {
		applyOK(t, r, "Warning: Message Not Found on IoTDA Yet", "still does not show it", "-replace=<address>", "No changes.")
	}
	if n := messageRequests(s, "d1", http.MethodPost); n != 1 || journalCount(s, mockserver.EntryMessage, "d1") != 0 {
		t.Fatalf("%d creates sent, %d created; want the one create, never acted on", n, journalCount(s, mockserver.EntryMessage, "d1"))
	}
	if out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false", "-replace=iotda_device_message.test"); !ok ||
		!strings.Contains(out, "1 added, 0 changed, 1 destroyed") {
		t.Fatalf("apply -replace:\n%s", out)
	}
	if st := readMessageState(t, r); st.Attributes["status"] != "DELIVERED" || st.Private[privateMessageSent] != nil {
		t.Fatalf("state %s", st.raw)
	}
	applyOK(t, r, "No changes.")
	if err := checkMessages(s, "d1", 2, 1)(nil); err != nil {
		t.Fatal(err)
	}
}

// agePrivateSent moves the time the state's private state records for the create back by d.
func agePrivateSent(t *testing.T, r *cliRun, st messageState, d time.Duration) {
	t.Helper()
	var sent sentMessage
	if err := json.Unmarshal(st.Private[privateMessageSent], &sent); err != nil {
		t.Fatalf("%s: %v", st.Private[privateMessageSent], err)
	}
	aged, err := json.Marshal(sentMessage{At: sent.At.Add(-d)})
	if err != nil {
		t.Fatal(err)
	}
	st.Private[privateMessageSent] = aged
	private, err := json.Marshal(st.Private)
	if err != nil {
		t.Fatal(err)
	}
	var state map[string]any
	if err := json.Unmarshal(st.raw, &state); err != nil {
		t.Fatal(err)
	}
	resources, _ := state["resources"].([]any)
	res, _ := resources[0].(map[string]any)
	instances, _ := res["instances"].([]any)
	inst, _ := instances[0].(map[string]any)
	inst["private"] = base64.StdEncoding.EncodeToString(private)
	state["serial"] = state["serial"].(float64) + 1 //nolint:forcetypeassert // A state file's serial is a number.
	b, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "terraform.tfstate"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A create answered 429 after the platform acted on it is retried; the retry is refused
// because its message_id is used, and the message is read by that id: the apply goes on.
// The same when every attempt is answered 429.
func TestDeviceMessageResource_ThrottledAnswerToACreateThePlatformActedOn(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	for name, times := range map[string]int{"once": 1, "every attempt": -1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
			s := target.Server
			s.InjectFault(mockserver.Fault{Operation: "CreateMessage", Times: times, Status: http.StatusTooManyRequests,
				ErrorCode: "APIGW.0308", ErrorMsg: "The request is throttled.", Forward: true})
			r := newFleetCLIRun(t, cli, messageConfig(target, "d1", `message = "once"`))
			applyOK(t, r)
			if st := readMessageState(t, r); st.Attributes["status"] != "DELIVERED" || st.Tainted {
				t.Fatalf("state %s", st.raw)
			}
			s.ClearFaults()
			for range 2 {
				applyOK(t, r, "No changes.")
			}
			if err := checkMessages(s, "d1", 2, 1)(nil); err != nil { // The create and its retry.
				t.Fatal(err)
			}
			if n := journalCount(s, mockserver.EntryMessage, "d1"); n != 1 {
				t.Fatalf("%d messages created, want 1", n)
			}
		})
	}
}

// Write-only content echoed by a create answer that does not name the message, while reads
// do not find it: it shows in no diagnostic, log, state or plan. The message is sent once,
// and found once the reads work again.
func TestDeviceMessageResource_WriteOnlyContentEchoedByAnUnusableAnswer(t *testing.T) {
	const secret = "S3cr3tValueXYZ"
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_11_0))
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"})
	s := target.Server
	s.InjectFault(mockserver.Fault{Operation: "CreateMessage", Body: `{"message":{"key":"` + secret + `"}}`})
	s.InjectFault(mockserver.Fault{Operation: "ShowDeviceMessage", Times: -1, MergePatch: json.RawMessage(`{"message_id":null}`)})
	w := newWriteOnlyMessageRun(t, cli, target, secret, "")
	r := w.cliRun
	var outputs []string
	outputs = append(outputs, applyOK(t, r, "Warning: Message Send Outcome Unknown"))
	unresolvedSaved(t, r)
	outputs = append(outputs, applyOK(t, r, "Warning: Message Not Found on IoTDA Yet", "No changes."))
	out, ok := r.run("plan", "-no-color", "-input=false", "-out=tfplan")
	if !ok {
		t.Fatalf("plan:\n%s", out)
	}
	outputs = append(outputs, out)
	for _, args := range [][]string{{"show", "-json", "tfplan"}, {"show", "-json"}, {"show", "-no-color"}} {
		out, ok := r.run(args...)
		if !ok {
			t.Fatalf("%v:\n%s", args, out)
		}
		outputs = append(outputs, out)
	}
	s.ClearFaults()
	outputs = append(outputs, applyOK(t, r, "Warning: Message Found by Its ID"), applyOK(t, r, "No changes."))
	if st := readMessageState(t, r); st.Attributes["status"] != "DELIVERED" {
		t.Fatalf("state %s", st.raw)
	}
	sentOnce(t, s, "d1")
	if got := received(s, "d1"); len(got) != 1 || got[0] != `{"key":"`+secret+`"}` {
		t.Fatalf("the device read %q", got)
	}
	w.checkNoSecret(t, outputs, "Message Send Outcome Unknown")
}

// Reads of a pending message sent with write-only content, whose answers quote the content
// (an error_msg, a status IoTDA does not document): the refresh warns and keeps the state, and
// the content shows in no diagnostic, log or state. A read has no value to mask it with, so
// those texts are left out whole. Nothing is sent again.
func TestDeviceMessageResource_WriteOnlyContentQuotedByFailingReads(t *testing.T) {
	const secret = "S3cr3tValueXYZ"
	cli := requireCLI(t, tfversion.SkipBelow(tfversion.Version1_11_0))
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	w := newWriteOnlyMessageRun(t, cli, target, secret, "  wait_for_delivery = false\n")
	r := w.cliRun
	outputs := []string{applyOK(t, r)}
	if st := readMessageState(t, r); st.Attributes["status"] != "PENDING" {
		t.Fatalf("state %s", st.raw)
	}
	quoted := `failed to render message {"key":"` + secret + `"}`
	s.InjectFault(mockserver.Fault{Operation: "ShowDeviceMessage", Times: -1, Status: 500,
		ErrorCode: "IOTDA.000500", ErrorMsg: quoted})
	outputs = append(outputs, applyOK(t, r, "Warning: Reading the Message Failed", "(error_msg", "No changes."))
	s.ClearFaults()
	s.InjectFault(mockserver.Fault{Operation: "ShowDeviceMessage", Times: -1, Status: 403,
		ErrorCode: "IOTDA.000004", ErrorMsg: secret})
	outputs = append(outputs, applyOK(t, r, "Warning: Reading the Message Failed", "No changes."))
	s.ClearFaults()
	s.InjectFault(mockserver.Fault{Operation: "ShowDeviceMessage", Times: -1,
		MergePatch: json.RawMessage(`{"status":"` + secret + `","result":{"status":"` + secret + `"}}`)})
	outputs = append(outputs, applyOK(t, r, "Warning: Message Status Unknown", "UNDOCUMENTED"))
	s.ClearFaults()
	w.checkNoSecret(t, outputs, "Reading the Message Failed")
	if n := journalCount(s, mockserver.EntryMessage, "d1"); n != 1 {
		t.Fatalf("%d messages created, want 1", n)
	}
}

// writeOnlyMessageRun is a CLI run of one iotda_device_message with message_wo fed from an
// ephemeral variable holding secret, with TRACE logs of the CLI and of the provider.
type writeOnlyMessageRun struct {
	*cliRun
	secret              string
	providerLog, cliLog string
}

// newWriteOnlyMessageRun writes the configuration for device d1 of target, with extra
// arguments (each line ending in a newline).
func newWriteOnlyMessageRun(t *testing.T, cli string, target *testTarget, secret, extra string) *writeOnlyMessageRun {
	t.Helper()
	logDir := t.TempDir()
	w := &writeOnlyMessageRun{secret: secret, providerLog: filepath.Join(logDir, "provider.log"),
		cliLog: filepath.Join(logDir, "cli.log")}
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", w.providerLog)
	w.cliRun = newFleetCLIRun(t, cli, messageConfig(target, "d1", `
  message_wo         = { key = var.key }
  message_wo_version = 1
`+extra)+`
variable "key" {
  type      = string
  sensitive = true
  ephemeral = true
}
`)
	w.env = append(w.env, "TF_VAR_key="+secret, "TF_LOG=TRACE", "TF_LOG_PATH="+w.cliLog)
	return w
}

// checkNoSecret checks that the secret is in none of the CLI outputs, the state file and the
// two TRACE logs, and that the provider's log holds the diagnostic summary (else it proves
// nothing).
func (w *writeOnlyMessageRun) checkNoSecret(t *testing.T, outputs []string, summary string) {
	t.Helper()
	for i, o := range outputs {
		checkNoSecrets(t, fmt.Sprintf("CLI output %d", i), o, []string{w.secret})
	}
	checkNoSecrets(t, "the state file", string(readMessageState(t, w.cliRun).raw), []string{w.secret})
	for _, path := range []string{w.providerLog, w.cliLog} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if path == w.providerLog && !strings.Contains(string(b), summary) {
			t.Errorf("the provider's TRACE log does not hold %q, so it proves nothing", summary)
		}
		checkNoSecrets(t, filepath.Base(path), string(b), []string{w.secret})
	}
}
