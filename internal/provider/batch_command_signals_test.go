//go:build unix

package provider

import (
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// Signals sent to a process group, as systemd, GNU timeout and CI runners send them: the
// signal reaches Terraform and the provider it launched at once. These tests run the
// provider's own binary, built here and installed through dev_overrides, as Terraform
// launches it for a user (the in-process provider of the other tests never gets a signal).
// The provider must live through a SIGTERM, so that Terraform's own graceful stop runs and
// saves the task; then the user applies again, plainly, and every device is commanded once.

// startInGroup runs the CLI in a process group of its own, which the provider it launches
// joins, and kills the group when the test ends. With timeoutArgs, GNU timeout runs the CLI
// with those arguments before its duration, as a CI job's time limit does: timeout leads the
// group, and passes a signal it gets on to the CLI, and without --foreground to the whole
// group as well.
func (r *cliRun) startInGroup(timeoutArgs []string, args ...string) *cliProc {
	r.t.Helper()
	cmd := r.command(args...)
	if timeoutArgs != nil {
		all := append(append(timeoutArgs, "600", r.cli), args...)
		cmd = exec.Command("timeout", all...) //nolint:gosec // The test's own CLI.
		cmd.Dir, cmd.Env = r.dir, r.env
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := r.startCmd(cmd)
	r.t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	return p
}

func TestBatchCommandResource_GroupSignals(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	providerBinaryDir(t) // built once, before the subtests run side by side
	for name, c := range map[string]struct {
		signal syscall.Signal
		// duringCreate signals while the creating request is held on its way, rather than
		// while the task runs.
		duringCreate bool
		// timeout runs the CLI under GNU timeout with these arguments, and signals timeout
		// alone, which passes the signal on.
		timeout []string
	}{
		"SIGTERM while the task runs":                {signal: syscall.SIGTERM},
		"SIGTERM during the create":                  {signal: syscall.SIGTERM, duringCreate: true},
		"SIGINT while the task runs":                 {signal: syscall.SIGINT},
		"SIGINT during the create":                   {signal: syscall.SIGINT, duringCreate: true},
		"GNU timeout while the task runs":            {signal: syscall.SIGTERM, timeout: []string{}},
		"GNU timeout --foreground while it runs":     {signal: syscall.SIGTERM, timeout: []string{"--foreground"}},
		"GNU timeout --foreground during the create": {signal: syscall.SIGTERM, timeout: []string{"--foreground"}, duringCreate: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := exec.LookPath("timeout"); c.timeout != nil && err != nil {
				t.Skip("GNU timeout is not installed")
			}
			// The silent device keeps the task running for 15 s: the signal comes long before it ends.
			ft := batchFaultMock(t, 4, func(o *mockserver.Options) {
				o.PlatformTimeout = 15 * time.Second
				o.Devices = []mockserver.Device{{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}}}
			})
			ft.ids = append(ft.ids, "silent-1")
			release := make(chan struct{})
			var releaseOnce sync.Once
			releaseCreate := func() { releaseOnce.Do(func() { close(release) }) }
			t.Cleanup(releaseCreate)
			var onItsWay <-chan struct{}
			if c.duringCreate {
				onItsWay = signalWhenHeld(ft.proxy, isCreate, testutil.Action{Release: release})
			}
			r := newBinaryCLIRun(t, cli, ft.config("  max_failed_devices = 1\n"))
			p := r.startInGroup(c.timeout, "apply", "-auto-approve", "-no-color", "-input=false")
			if c.duringCreate {
				waitHeld(t, onItsWay, p)
			} else {
				waitTask(t, ft.Server)
			}
			target := -p.cmd.Process.Pid // the group
			if c.timeout != nil {
				target = p.cmd.Process.Pid
			}
			if err := syscall.Kill(target, c.signal); err != nil {
				t.Fatal(err)
			}
			if p.wait(t) {
				t.Fatalf("the interrupted apply succeeded:\n%s", p.output())
			}
			out := p.output()
			t.Logf("interrupted apply:\n%s", out)
			if strings.Contains(out, "Plugin did not respond") {
				t.Fatalf("the provider died:\n%s", out)
			}
			// GNU timeout without --foreground signals Terraform twice (itself, then its
			// group), and Terraform takes the second for another Ctrl-C: it exits at once,
			// whether or not it has saved the task yet (the documentation says so, and to use
			// --foreground). The provider lived through it; nothing more can be promised.
			if c.timeout != nil && len(c.timeout) == 0 && strings.Contains(out, "Two interrupts received") {
				t.Skip("Terraform took GNU timeout's second signal for a second interrupt and exited at once")
			}
			saysWhatBecame(t, out, c.duringCreate)
			savedUntainted(t, r, "iotda_batch_command")
			// The held request reaches IoTDA late and creates the task; a plain apply finds it
			// and follows it to its end, without running it again.
			releaseCreate()
			waitTask(t, ft.Server)
			r.env = append(r.env, "TF_LOG_PROVIDER=INFO")
			out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false")
			if !ok || !strings.Contains(out, "0 added, 1 changed, 0 destroyed") {
				t.Fatalf("the next apply:\n%s", out)
			}
			checkProgressLines(t, out)
			for range 2 {
				if out, ok := r.run("apply", "-auto-approve", "-no-color", "-input=false"); !ok ||
					!strings.Contains(out, "0 added, 0 changed, 0 destroyed") {
					t.Fatalf("an apply after:\n%s", out)
				}
				if err := ft.deliveredOnceTo(stateTaskID(t, r)); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// checkProgressLines checks the progress lines Terraform printed from the provider's log
// (TF_LOG_PROVIDER=INFO): there are some, and each is short enough to read in a terminal,
// without the file and line it was logged at.
func checkProgressLines(t *testing.T, out string) {
	t.Helper()
	longest := 0
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "@module=iotda.batch") || !strings.Contains(line, ": task ") {
			continue
		}
		n++
		longest = max(longest, len(line))
		if strings.Contains(line, "@caller=") || len(line) > 200 {
			t.Errorf("a progress line of %d characters, or with its caller:\n%s", len(line), line)
		}
	}
	if n == 0 {
		t.Errorf("no progress line in the apply's output:\n%s", out)
	}
	t.Logf("%d progress lines, the longest %d characters", n, longest)
}
