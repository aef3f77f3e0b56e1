package batchtask

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAnswersOfLargeTasks measures what the answers to ListBatchTasks and to one page of
// ShowBatchTask cost in memory when the backend holds ten tasks of 30,000 targets (each
// answer echoes the tasks' targets), and how much the tasks themselves hold. Run it with
//
//	go test -run '^$' -bench AnswersOfLargeTasks -benchmem ./internal/mockserver/batchtask/
//
// and read B/op (per answer), body-MB and held-MB.
func BenchmarkAnswersOfLargeTasks(b *testing.B) {
	const tasks, targets = 10, MaxTargets
	ids := make([]string, targets)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%026d", i) // 33 characters, as a generated device id
	}
	var seq atomic.Int64
	devs := newFakeDevices()
	be := New(Config{Devices: devs, PlatformTimeout: time.Second, Concurrency: 50,
		NewCommandID: func() string { return fmt.Sprintf("cmd-%d", seq.Add(1)) }})
	b.Cleanup(be.Close)
	devs.online(ids...)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var last string
	for range tasks {
		r := be.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json", body(ids, nil))
		if r.Status != http.StatusCreated {
			b.Fatalf("create: %d %s", r.Status, r.Body)
		}
		last = taskIDOf(r.Body)
		if _, err := be.Wait(b.Context(), last); err != nil {
			b.Fatal(err)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Run("list", func(b *testing.B) {
		q := url.Values{"task_type": {TaskTypeCreateCommands}, "limit": {"50"}}
		var size int
		b.ReportAllocs()
		for b.Loop() {
			r := be.Respond(http.MethodGet, []string{"batchtasks"}, q, "", nil)
			if r.Status != http.StatusOK {
				b.Fatalf("list: %d", r.Status)
			}
			size = len(r.Body)
		}
		b.ReportMetric(float64(size)/(1<<20), "body-MB")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "held-MB")
	})
	b.Run("show", func(b *testing.B) {
		q := url.Values{"limit": {"50"}}
		var size int
		b.ReportAllocs()
		for b.Loop() {
			r := be.Respond(http.MethodGet, []string{"batchtasks", last}, q, "", nil)
			if r.Status != http.StatusOK {
				b.Fatalf("show: %d", r.Status)
			}
			size = len(r.Body)
		}
		b.ReportMetric(float64(size)/(1<<20), "body-MB")
	})
}

func taskIDOf(body []byte) string {
	const key = `"task_id":"`
	s := string(body)
	for i := 0; i+len(key) < len(s); i++ {
		if s[i:i+len(key)] == key {
			j := i + len(key)
			k := j
			for k < len(s) && s[k] != '"' {
				k++
			}
			return s[j:k]
		}
	}
	return ""
}
