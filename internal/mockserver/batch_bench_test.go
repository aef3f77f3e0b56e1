package mockserver

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkBatchExecutor measures how fast the batch executor delivers a createCommands task
// to a fleet of simulated devices over the real delivery path (publish into the broker, the
// fleet session's reply, the platform subscription matching it), and checks that every
// device answered its own command. Run it with
//
//	go test -run '^$' -bench BatchExecutor -benchtime 5x ./internal/mockserver/
//
// and read commands/s.
func BenchmarkBatchExecutor(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("devices=%d", n), func(b *testing.B) {
			s := NewForTest(b, Options{Fleets: []Fleet{{Prefix: "sensor-", Count: n,
				Behavior: Behavior{Kind: BehaviorEcho}}}})
			body := taskBody(n, "sensor-")
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				task, errResp := s.batch.Create(body)
				if errResp != nil {
					b.Fatal(errResp)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				done, err := s.batch.Wait(ctx, task.TaskID)
				cancel()
				if err != nil || done.Status != "Success" || done.Progress.Success != n {
					b.Fatalf("task %s: %v, status %s, progress %+v", task.TaskID, err, done.Status, done.Progress)
				}
				checkEchoes(b, s, task.TaskID)
			}
			b.StopTimer()
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "commands/s")
		})
	}
}

// taskBody is a createCommands body for the n devices prefix1..prefixN.
func taskBody(n int, prefix string) []byte {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	b, _ := json.Marshal(map[string]any{"task_name": "bench", "task_type": "createCommands", "targets": ids,
		"document": map[string]any{"service_id": "Bench", "command_name": "PING", "paras": map[string]int{"n": 1}}})
	return b
}

// checkEchoes verifies that every subtask's output is its own command's echo: nothing lost,
// nothing crossed.
func checkEchoes(tb testing.TB, s *Server, taskID string) {
	tb.Helper()
	subs, _ := s.BatchSubtasks(taskID)
	for _, st := range subs {
		var out struct {
			CommandID string `json:"command_id"`
			Response  struct {
				ResponseName string `json:"response_name"`
			} `json:"response"`
		}
		if err := json.Unmarshal([]byte(st.Output), &out); err != nil || out.CommandID != st.CommandID ||
			out.Response.ResponseName != "PING" || !strings.HasPrefix(st.Target, "sensor-") {
			tb.Fatalf("subtask %s: output %q does not answer command %s", st.Target, st.Output, st.CommandID)
		}
	}
}
