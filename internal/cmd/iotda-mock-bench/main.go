// Command iotda-mock-bench load-tests the IoTDA mock's command path: HTTP request,
// delivery over MQTT to a simulated echo device, the device's reply, the HTTP answer. It
// prints throughput and p50/p99 latency at fixed concurrencies, and checks every answer:
// a command without its device's reply is lost, a reply that is not the echo of its own
// command is mismatched, and either makes it exit with status 1.
//
// Usage:
//
//	iotda-mock-bench [-base git-ref] [-devices 200] [-concurrency 1,10,100] [-duration 5s]
//	                 [-warmup 1s] [-rounds 1] [-fleet] [-inprocess [-cpuprofile file]]
//
// By default it builds the standalone mock from the working tree and runs it as its own
// process, with -devices simulated echo devices (real MQTT clients) and token
// authentication. With -base it also builds the mock from that git ref (git archive into a
// temporary directory) and measures both in the same run, alternating them round by round
// so that both see the same machine. -fleet answers from a fleet of in-process devices
// instead (the working tree only). -inprocess runs the mock inside this process, for
// -cpuprofile.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	base        string
	devices     int
	levels      []int
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	fleet       bool
	inprocess   bool
	cpuprofile  string
	memprofile  string
	mutexprof   string
	keepBuilds  bool
	repo        string
	bins        binFlags // prebuilt mocks to measure as well
	stdout      io.Writer
	stderr      io.Writer
	loadAverage func() string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-mock-bench:", err)
		return 2
	}
	cfg.stdout, cfg.stderr, cfg.loadAverage = stdout, stderr, loadAverage
	ok, err := bench(ctx, cfg)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-mock-bench:", err)
		return 1
	}
	if !ok {
		return 1
	}
	return 0
}

func parseArgs(args []string, stderr io.Writer) (config, error) {
	var c config
	var levels string
	fs := flag.NewFlagSet("iotda-mock-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.base, "base", "", "also measure the mock built from this git `ref`, side by side")
	fs.IntVar(&c.devices, "devices", 200, "simulated echo devices")
	fs.StringVar(&levels, "concurrency", "1,10,100", "comma-separated numbers of concurrent clients")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per concurrency")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.IntVar(&c.rounds, "rounds", 1, "times to measure each mock, alternating them")
	fs.BoolVar(&c.fleet, "fleet", false, "answer from a fleet of in-process devices instead of MQTT clients")
	fs.BoolVar(&c.inprocess, "inprocess", false, "run the working tree's mock in this process")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "with -inprocess, write a CPU profile of the measured runs to `file`")
	fs.StringVar(&c.memprofile, "memprofile", "", "with -inprocess, write an allocation profile to `file` at the end")
	fs.StringVar(&c.mutexprof, "mutexprofile", "", "with -inprocess, write a mutex contention profile to `file` at the end")
	fs.BoolVar(&c.keepBuilds, "keep", false, "keep the temporary directory with the built mocks")
	fs.StringVar(&c.repo, "repo", ".", "the git work tree to build from")
	fs.Var(&c.bins, "bin", "also measure this prebuilt mock binary, as `name=path` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, f := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 10000 {
			return c, fmt.Errorf("-concurrency: %q is not a number from 1 to 10000", f)
		}
		c.levels = append(c.levels, n)
	}
	switch {
	case c.devices < 1 || c.devices > 100000:
		return c, errors.New("-devices must be from 1 to 100000")
	case c.duration <= 0 || c.warmup < 0 || c.duration > time.Hour:
		return c, errors.New("-duration must be positive (at most 1h) and -warmup not negative")
	case c.rounds < 1 || c.rounds > 100:
		return c, errors.New("-rounds must be from 1 to 100")
	case (c.cpuprofile != "" || c.memprofile != "" || c.mutexprof != "") && !c.inprocess:
		return c, errors.New("-cpuprofile, -memprofile and -mutexprofile need -inprocess")
	case c.inprocess && c.base != "":
		return c, errors.New("-inprocess measures the working tree only; drop -base")
	case c.fleet && c.base != "":
		return c, errors.New("-fleet needs fleets, which the base may lack; drop -base")
	}
	return c, nil
}

// bench builds the mocks, measures them round by round and prints the results. ok is false
// when a command was lost or mismatched.
func bench(ctx context.Context, c config) (ok bool, err error) {
	dir, err := os.MkdirTemp("", "iotda-mock-bench")
	if err != nil {
		return false, err
	}
	if c.keepBuilds {
		_, _ = fmt.Fprintln(c.stderr, "builds kept in", dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	if c.mutexprof != "" {
		runtime.SetMutexProfileFraction(5)
	}
	mocks, err := prepareMocks(ctx, c, dir)
	if err != nil {
		return false, err
	}
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return false, err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return false, err
		}
		defer pprof.StopCPUProfile()
	}
	kind := "simulated echo devices (MQTT clients)"
	if c.fleet {
		kind = "fleet echo devices (in-process)"
	}
	_, _ = fmt.Fprintf(c.stdout, "iotda-mock-bench: %d %s, %v per concurrency after %v warm-up, %d round(s); load average %s\n",
		c.devices, kind, c.duration, c.warmup, c.rounds, c.loadAverage())
	table := newTable(c.stdout)
	ok = true
	for round := 1; round <= c.rounds; round++ {
		order := mocks
		if round%2 == 0 {
			order = reversed(mocks)
		}
		for _, m := range order {
			results, err := measure(ctx, c, m)
			if err != nil {
				return false, fmt.Errorf("%s: %w", m.name, err)
			}
			for _, r := range results {
				table.add(round, m.name, r)
				ok = ok && r.lost == 0 && r.mismatched == 0
			}
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
		}
	}
	table.summary(mocks)
	for file, profile := range map[string]string{c.memprofile: "allocs", c.mutexprof: "mutex"} {
		if file != "" {
			if err := writeProfile(file, profile); err != nil {
				return false, err
			}
		}
	}
	_, _ = fmt.Fprintf(c.stdout, "load average after: %s\n", c.loadAverage())
	return ok, nil
}

// measure starts the mock, runs every concurrency level against it and stops it.
func measure(ctx context.Context, c config, m mock) ([]result, error) {
	t, stop, err := m.start(ctx, c)
	if err != nil {
		return nil, err
	}
	var results []result
	for _, n := range c.levels {
		results = append(results, run(ctx, t, level{concurrency: n, warmup: c.warmup, duration: c.duration}))
		if ctx.Err() != nil {
			break
		}
	}
	if err := stop(); err != nil {
		return results, err
	}
	return results, nil
}

func reversed(ms []mock) []mock {
	out := make([]mock, 0, len(ms))
	for i := len(ms) - 1; i >= 0; i-- {
		out = append(out, ms[i])
	}
	return out
}

// writeProfile writes a runtime profile ("allocs": what the runs allocated; "mutex": where
// they waited for locks).
func writeProfile(path, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	return pprof.Lookup(name).WriteTo(f, 0)
}

// binFlags collects -bin name=path flags.
type binFlags []namedBin

type namedBin struct{ name, path string }

func (b *binFlags) String() string { return fmt.Sprint(*b) }

func (b *binFlags) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" || path == "" {
		return errors.New("want name=path")
	}
	*b = append(*b, namedBin{name: name, path: path})
	return nil
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
