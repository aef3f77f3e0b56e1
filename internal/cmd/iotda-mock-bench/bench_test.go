package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// inProcessTarget starts a mock with the given devices and returns it as a load target.
func inProcessTarget(t *testing.T, devices ...mockserver.Device) target {
	t.Helper()
	s := mockserver.NewForTest(t, mockserver.Options{AuthToken: benchToken, PlatformTimeout: 5 * time.Second, Devices: devices})
	ids := make([]string, 0, len(devices))
	for _, d := range devices {
		ids = append(ids, d.ID)
	}
	return target{api: s.URL(), project: s.ProjectID(), token: benchToken, devices: ids}
}

func TestRun_EchoDevicesNothingLostOrMismatched(t *testing.T) {
	var devs []mockserver.Device
	for _, id := range deviceIDs(5) {
		devs = append(devs, mockserver.Device{ID: id, Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}})
	}
	tg := inProcessTarget(t, devs...)
	r := run(t.Context(), tg, level{concurrency: 4, warmup: 50 * time.Millisecond, duration: 300 * time.Millisecond})
	if r.requests == 0 || r.lost != 0 || r.mismatched != 0 {
		t.Fatalf("result %+v, want answered commands and none lost or mismatched", r)
	}
	if r.p50 <= 0 || r.p99 < r.p50 || r.throughput() <= 0 {
		t.Errorf("latencies p50 %v p99 %v, throughput %v", r.p50, r.p99, r.throughput())
	}
}

// TestRun_CountsLostAndMismatched points the load at a device that answers every command
// with the same reply and at one that is offline: the first is a mismatch, the second a
// loss, and neither counts as answered.
func TestRun_CountsLostAndMismatched(t *testing.T) {
	for _, tt := range []struct {
		name           string
		device         mockserver.Device
		lost, mismatch bool
	}{
		{"fixed reply", mockserver.Device{ID: "bench-1", Simulated: &mockserver.Behavior{Response: json.RawMessage(
			`{"result_code":0,"response_name":"BENCH_0","paras":{"seq":0,"device":"bench-1"}}`)}}, false, true},
		{"offline", mockserver.Device{ID: "bench-1"}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tg := inProcessTarget(t, tt.device)
			r := run(t.Context(), tg, level{concurrency: 2, duration: 200 * time.Millisecond})
			if (r.lost > 0) != tt.lost || (r.mismatched > 0) != tt.mismatch || r.requests != 0 || r.firstProblem == "" {
				t.Fatalf("result %+v, want lost %v, mismatched %v, nothing answered", r, tt.lost, tt.mismatch)
			}
		})
	}
}

func TestParseArgs(t *testing.T) {
	c, err := parseArgs([]string{"-base", "main", "-concurrency", "1, 50", "-devices", "10", "-rounds", "2"}, &bytes.Buffer{})
	if err != nil || c.base != "main" || len(c.levels) != 2 || c.levels[1] != 50 || c.devices != 10 || c.rounds != 2 {
		t.Fatalf("parseArgs = %+v, %v", c, err)
	}
	for _, args := range [][]string{
		{"-concurrency", "0"}, {"-concurrency", "x"}, {"-devices", "0"}, {"-rounds", "0"}, {"-duration", "0s"},
		{"-cpuprofile", "f"}, {"-inprocess", "-base", "main"}, {"-fleet", "-base", "main"}, {"extra"}, {"-bin", "nopath"},
	} {
		if _, err := parseArgs(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseArgs(%q) accepted", args)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 50); p != 50 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 99); p != 99 {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(d[:1], 99); p != 1 {
		t.Errorf("p99 of one = %v", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of none = %v", p)
	}
}

// TestBench_WorkingTreeStandalone builds the standalone mock from this tree and measures it
// briefly, as make bench-mock does: the output has a row per concurrency and a summary.
func TestBench_WorkingTreeStandalone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the mock")
	}
	var out bytes.Buffer
	c, err := parseArgs([]string{"-repo", "../../..", "-devices", "3", "-concurrency", "1,2", "-duration", "200ms", "-warmup", "0s"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	c.stdout, c.stderr, c.loadAverage = &out, &out, loadAverage
	ok, err := bench(context.Background(), c)
	if err != nil || !ok {
		t.Fatalf("bench = %v, %v\n%s", ok, err, out.String())
	}
	for _, want := range []string{"3 simulated echo devices", "working tree", "median over rounds:", "conc    2:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
