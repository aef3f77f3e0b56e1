package provider

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// Interrupting a real `terraform apply` (terraform-plugin-testing cannot send signals): the
// CLI runs as a process against the provider served in this test's process, and gets SIGINT
// (once or twice) or SIGTERM while the batch task runs, or while its creating request is on
// its way. Then the user applies again, plainly: the fleet is commanded once.

// newFleetCLIRun is newCLIRun with the provider's full address in required_providers, so that
// OpenTofu, whose default registry is another, uses the provider served by the test too.
func newFleetCLIRun(t *testing.T, cli, configuration string) *cliRun {
	t.Helper()
	r := newCLIRun(t, cli, configuration)
	main := filepath.Join(r.dir, "main.tf")
	b, err := os.ReadFile(main)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), `source = "iotdalabs/iotda"`, `source = "`+providerAddress+`"`, 1))
	if err := os.WriteFile(main, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

// cliProc is a running CLI whose output lines can be waited for.
type cliProc struct {
	cmd  *exec.Cmd
	done chan error

	mu    sync.Mutex
	out   strings.Builder
	added *sync.Cond
	ended bool
}

// start runs the CLI with args in the background.
func (r *cliRun) start(args ...string) *cliProc {
	r.t.Helper()
	return r.startCmd(r.command(args...))
}

// command is the CLI with args, in r's directory and environment.
func (r *cliRun) command(args ...string) *exec.Cmd {
	cmd := exec.Command(r.cli, args...) //nolint:gosec // The test's own CLI.
	cmd.Dir, cmd.Env = r.dir, r.env
	return cmd
}

// startCmd runs cmd, the CLI, in the background.
func (r *cliRun) startCmd(cmd *exec.Cmd) *cliProc {
	r.t.Helper()
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &cliProc{cmd: cmd, done: make(chan error, 1)}
	p.added = sync.NewCond(&p.mu)
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.added.Broadcast()
			p.mu.Unlock()
		}
	}()
	go func() {
		err := cmd.Wait()
		_ = pw.Close()
		<-scanned // Every line is in out before the CLI counts as ended.
		p.mu.Lock()
		p.ended = true
		p.added.Broadcast()
		p.mu.Unlock()
		p.done <- err
	}()
	r.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return p
}

func (p *cliProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// wait waits for the CLI to end and reports whether it succeeded.
func (p *cliProc) wait(t *testing.T) bool {
	t.Helper()
	select {
	case err := <-p.done:
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		return err == nil
	case <-time.After(2 * time.Minute):
		t.Fatalf("the CLI did not end:\n%s", p.output())
		return false
	}
}

func TestBatchCommandResource_Interrupts(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	for name, c := range map[string]struct {
		signals []os.Signal
		// duringCreate interrupts while the creating request is held on its way, rather
		// than while the task runs.
		duringCreate bool
	}{
		"SIGINT":                {signals: []os.Signal{os.Interrupt}},
		"SIGINT twice":          {signals: []os.Signal{os.Interrupt, os.Interrupt}},
		"SIGTERM":               {signals: []os.Signal{syscall.SIGTERM}},
		"SIGINT during create":  {signals: []os.Signal{os.Interrupt}, duringCreate: true},
		"SIGTERM during create": {signals: []os.Signal{syscall.SIGTERM}, duringCreate: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// The silent device keeps the task running for 8 s: the signal comes long before it ends.
			ft := batchFaultMock(t, 4, func(o *mockserver.Options) {
				o.PlatformTimeout = 8 * time.Second
				o.Devices = []mockserver.Device{{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}}}
			})
			ft.ids = append(ft.ids, "silent-1")
			var onItsWay <-chan struct{}
			if c.duringCreate {
				onItsWay = signalWhenHeld(ft.proxy, isCreate, testutil.Action{Hold: 2 * time.Second})
			}
			r := newFleetCLIRun(t, cli, ft.config("  max_failed_devices = 1\n"))
			p := r.start("apply", "-auto-approve", "-no-color", "-input=false")
			if c.duringCreate {
				waitHeld(t, onItsWay, p)
			} else {
				waitTask(t, ft.Server)
			}
			for i, sig := range c.signals {
				if err := p.cmd.Process.Signal(sig); errors.Is(err, os.ErrProcessDone) && i > 0 {
					t.Log("Terraform had stopped before the second interrupt")
				} else if err != nil {
					t.Fatal(err)
				}
				if i == 0 && len(c.signals) > 1 {
					// A second interrupt makes Terraform exit at once, without waiting for the
					// provider: it loses what the provider had not handed back yet. The
					// provider hands the task back as soon as it is interrupted; the second
					// interrupt comes once Terraform has saved it, as a user's second Ctrl-C
					// a moment later would.
					waitStateFile(t, r, p)
				}
			}
			if p.wait(t) {
				t.Fatalf("the interrupted apply succeeded:\n%s", p.output())
			}
			out := p.output()
			t.Logf("interrupted apply:\n%s", out)
			if len(c.signals) == 1 {
				saysWhatBecame(t, out, c.duringCreate)
			}
			savedUntainted(t, r, "iotda_batch_command")
			// A plain apply follows the task to its end, without running it again.
			if out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false"); !ok ||
				!strings.Contains(out, "0 added, 1 changed, 0 destroyed") {
				t.Fatalf("the next apply:\n%s", out)
			}
			if out, ok := r.run("plan", "-no-color", "-input=false", "-detailed-exitcode"); !ok {
				t.Fatalf("the plan after is not empty:\n%s", out)
			}
			if err := ft.deliveredOnceTo(stateTaskID(t, r)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// signalWhenHeld adds a rule to the proxy that holds the requests match selects with act,
// and returns a channel closed when the first of them comes.
func signalWhenHeld(proxy *testutil.FaultProxy, match func(*http.Request) bool, act testutil.Action) <-chan struct{} {
	came := make(chan struct{})
	var once sync.Once
	proxy.Add(&testutil.Rule{Match: func(r *http.Request) bool {
		if match(r) {
			once.Do(func() { close(came) })
			return true
		}
		return false
	}, Action: act})
	return came
}

// waitHeld waits until came is closed, failing the test with the CLI's output if it is not.
func waitHeld(t *testing.T, came <-chan struct{}, p *cliProc) {
	t.Helper()
	select {
	case <-came:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no request came:\n%s", p.output())
	}
}

// saysWhatBecame checks that an interrupted apply says what became of the task: still
// running, or not found yet (the only one when it was interrupted during the create).
func saysWhatBecame(t *testing.T, out string, duringCreate bool) {
	t.Helper()
	found := strings.Contains(out, "Warning: Batch Task Still Running")
	notYet := strings.Contains(out, "Warning: Batch Task Not Found Yet")
	if (duringCreate && !notYet) || (!duringCreate && !found && !notYet) {
		t.Errorf("the interrupted apply does not say what became of the task:\n%s", out)
	}
}

// savedUntainted checks that the state in r's directory keeps the resource of type
// resourceType, untainted.
func savedUntainted(t *testing.T, r *cliRun, resourceType string) {
	t.Helper()
	state, err := os.ReadFile(filepath.Join(r.dir, "terraform.tfstate"))
	if err != nil || !strings.Contains(string(state), `"`+resourceType+`"`) || strings.Contains(string(state), `"tainted"`) {
		t.Fatalf("the state does not keep the resource untainted (%v):\n%s", err, state)
	}
}

// waitStateFile waits until the CLI has saved a state holding the resource, or has ended.
func waitStateFile(t *testing.T, r *cliRun, p *cliProc) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		if b, err := os.ReadFile(filepath.Join(r.dir, "terraform.tfstate")); err == nil &&
			strings.Contains(string(b), `"iotda_batch_command"`) {
			return
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("no state saved:\n%s", p.output())
		}
	}
}

// waitTask waits until the mock has created the task.
func waitTask(t *testing.T, s *mockserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := s.WaitJournal(ctx, func(e mockserver.Entry) bool { return e.Kind == mockserver.EntryBatchTask }); err != nil {
		t.Fatal(err)
	}
}

// stateTaskID is the task_id the state in r's directory holds.
func stateTaskID(t *testing.T, r *cliRun) string {
	t.Helper()
	in, _ := r.stateInstance("iotda_batch_command")
	var a struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(in.Attributes, &a); err != nil {
		t.Fatalf("attributes %s: %v", in.Attributes, err)
	}
	return a.TaskID
}
