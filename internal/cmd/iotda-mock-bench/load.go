package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// target is a running mock the load client sends commands to.
type target struct {
	api     string // command API base URL
	project string
	token   string
	devices []string // device ids that echo commands
	// cpu returns the CPU time the mock's process has used so far; nil when unknown.
	cpu func() time.Duration
}

// level is one measurement: how many clients send commands back to back, for how long.
type level struct {
	concurrency int
	warmup      time.Duration // sent and checked, not measured
	duration    time.Duration
}

// result is what one level measured.
type result struct {
	concurrency int
	requests    int           // answered in the measured window
	elapsed     time.Duration // of the measured window
	p50, p99    time.Duration
	// lost counts commands without a 200 answer holding a reply; mismatched counts replies
	// that are not the echo of their own command. Both include the warm-up.
	lost, mismatched int
	firstProblem     string
	// mockCPU and clientCPU are the CPU time the mock's process and this one used in the
	// measured window (0 when unknown): per command, they say what the command path costs
	// whatever else the machine runs.
	mockCPU, clientCPU time.Duration
}

// perCommand is cpu divided by the commands answered in the window.
func (r result) perCommand(cpu time.Duration) time.Duration {
	if r.requests == 0 {
		return 0
	}
	return cpu / time.Duration(r.requests)
}

// throughput is answered commands per second.
func (r result) throughput() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// run sends commands from lv.concurrency workers, each waiting for its answer before the
// next, and checks every answer: a 200 whose response echoes the command's own sequence
// number and name. It is bounded by lv.warmup + lv.duration (plus one answer per worker).
func run(ctx context.Context, t target, lv level) result {
	if t.cpu == nil {
		t.cpu = func() time.Duration { return 0 }
	}
	var (
		seq      atomic.Int64
		measured atomic.Bool
		mu       sync.Mutex
		res      = result{concurrency: lv.concurrency}
		lat      []time.Duration
	)
	problem := func(lost bool, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if lost {
			res.lost++
		} else {
			res.mismatched++
		}
		if res.firstProblem == "" {
			res.firstProblem = msg
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range lv.concurrency {
		wg.Go(func() {
			client := &httpConn{url: t.api}
			defer client.close()
			var mine []time.Duration
			for {
				select {
				case <-stop:
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
					return
				default:
				}
				n := seq.Add(1)
				device := t.devices[int(n)%len(t.devices)]
				start := time.Now()
				lostIt, msg := send(ctx, client, t, device, n)
				took := time.Since(start)
				if msg != "" {
					problem(lostIt, msg)
					continue
				}
				if measured.Load() {
					mine = append(mine, took)
				}
			}
		})
	}
	sleep(ctx, lv.warmup)
	measured.Store(true)
	begin, mockBegin, clientBegin := time.Now(), t.cpu(), processCPU()
	sleep(ctx, lv.duration)
	measured.Store(false)
	res.elapsed = time.Since(begin)
	res.mockCPU, res.clientCPU = t.cpu()-mockBegin, processCPU()-clientBegin
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	res.requests = len(lat)
	res.p50, res.p99 = percentile(lat, 50), percentile(lat, 99)
	return res
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// percentile returns the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	return sorted[max(i-1, 0)]
}

// send delivers command n to device and checks its answer. It returns "" when the answer
// is a 200 holding the device's echo of this very command; otherwise a description, and
// whether the command was lost (no reply at all) rather than answered with another reply.
func send(ctx context.Context, client *httpConn, t target, device string, n int64) (lost bool, problem string) {
	if ctx.Err() != nil {
		return true, "interrupted"
	}
	seq := strconv.FormatInt(n, 10)
	name := "BENCH_" + strconv.FormatInt(n%1000, 10)
	paras := `{"seq":` + seq + `,"device":"` + device + `"}`
	body := `{"service_id":"bench","command_name":"` + name + `","paras":` + paras + `}`
	status, data, err := client.post("/v5/iot/"+t.project+"/devices/"+device+"/commands", t.token, body)
	if err != nil {
		return true, fmt.Sprintf("command %d to %s: %v", n, device, err)
	}
	if status != http.StatusOK {
		return true, fmt.Sprintf("command %d to %s: HTTP %d %.200s", n, device, status, data)
	}
	// The echo device answers {"result_code":0,"response_name":<name>,"paras":<paras>}, and
	// the platform embeds the reply as it was published: finding it byte for byte, with the
	// sequence number only this command has, is the cheapest exact check.
	want := `"response":{"result_code":0,"response_name":"` + name + `","paras":` + paras + `}`
	if bytes.Contains(data, []byte(want)) && bytes.HasPrefix(data, []byte(`{"command_id":"`)) &&
		!bytes.Contains(data, []byte(`"error_code"`)) {
		return false, ""
	}
	var a struct {
		CommandID string          `json:"command_id"`
		ErrorCode string          `json:"error_code"`
		Response  json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(data, &a); err != nil || a.CommandID == "" || a.ErrorCode != "" || a.Response == nil {
		return true, fmt.Sprintf("command %d to %s: no reply: %.200s", n, device, data)
	}
	return false, fmt.Sprintf("command %d to %s: the reply is not its echo: %.200s", n, device, data)
}
