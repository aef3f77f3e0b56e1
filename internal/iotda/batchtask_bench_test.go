package iotda_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// BenchmarkBatchTaskResults measures how long reading every result of a finished
// 30,000-device task takes, through a proxy that holds each request as a network the given
// latency away would, in front of the mock; paging by marker alone, one page after the other
// (how the client read results before), and with the pages at offsets 0 to 500 of each
// marker read at once (how it reads them now). The mock is on this machine, so without the
// proxy's latency every request costs almost nothing and the number of requests made one
// after the other would not show. Run it with
//
//	go test -run '^$' -bench BatchTaskResults -benchtime 1x ./internal/iotda/
//
// and read round-trips (the longest chain of requests made one after the other, which the
// latency multiplies), requests and s/op.
func BenchmarkBatchTaskResults(b *testing.B) {
	const devices = 30000
	s := fleetMock(b, devices, func(o *mockserver.Options) { o.BatchConcurrency = 1000 })
	direct := newClient(b, s, nil)
	task, err := direct.CreateBatchTask(b.Context(), commandTask(b, "bench_results", fleetIDs(devices)))
	if err != nil {
		b.Fatal(err)
	}
	waitDone(b, s, task.TaskID)
	for _, bench := range []struct {
		latency time.Duration
		atOnce  int
	}{{0, 1}, {0, 0}, {100 * time.Millisecond, 1}, {100 * time.Millisecond, 0}} {
		latency, paging := bench.latency, "marker"
		if bench.atOnce == 0 {
			paging = "offsets"
		}
		b.Run(fmt.Sprintf("devices=%d/latency=%s/paging=%s", devices, latency, paging), func(b *testing.B) {
			proxy := testutil.NewFaultProxy(b, s.URL())
			proxy.SetLatency(latency)
			c := newClient(b, s, func(cfg *iotda.Config) { cfg.Endpoint = proxy.URL })
			var elapsed time.Duration
			for b.Loop() {
				start := time.Now()
				d, err := c.ShowBatchTask(b.Context(), task.TaskID, iotda.ReadOptions{Expected: devices, PagesAtOnce: bench.atOnce})
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if len(d.Subtasks) != devices {
					b.Fatalf("read %d results, want %d", len(d.Subtasks), devices)
				}
			}
			b.ReportMetric(float64(proxy.Requests())/float64(b.N), "requests/op")
			b.ReportMetric(float64(proxy.SequentialRequests())/float64(b.N), "round-trips/op")
			b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/op")
		})
	}
}

// BenchmarkFindBatchTasks_HeavyPages measures a lookup by name through list pages whose every
// task echoes 30,000 targets of 128 characters (a page of ten weighs 39 MB): what it allocates
// (B/op) stays far below what it reads (page-MB), since the pages are read as they arrive and
// only four fields of each task are kept. The task sought is the 25th, on the third page.
func BenchmarkFindBatchTasks_HeavyPages(b *testing.B) {
	var targets strings.Builder
	for i := range 30000 {
		if i > 0 {
			targets.WriteByte(',')
		}
		fmt.Fprintf(&targets, `"%0128d"`, i)
	}
	echo := []byte(targets.String())
	var pageBytes atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		top := 1000
		if m := r.URL.Query().Get("marker"); m != "" {
			v, _ := strconv.ParseInt(m, 16, 64)
			top = int(v) - 1
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		cw := &countingWriter{w: w}
		_, _ = io.WriteString(cw, `{"batchtasks":[`)
		for id := top; id > top-limit; id-- {
			if id < top {
				_, _ = io.WriteString(cw, ",")
			}
			name := "other"
			if id == 975 {
				name = "mine"
			}
			created := time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC).Add(time.Duration(id) * 10 * time.Second)
			fmt.Fprintf(cw, `{"task_id":"%024x","task_name":%q,"task_type":"createCommands","status":"Success",`+
				`"create_time":%q,"targets":[`, id, name, created.Format("20060102T150405Z"))
			_, _ = cw.Write(echo) // Written as it is: the server allocates nothing per page.
			_, _ = io.WriteString(cw, `],"document":{"paras":{}}}`)
		}
		_, _ = io.WriteString(cw, `],"page":{"count":1000}}`)
		pageBytes.Add(cw.n)
	}))
	b.Cleanup(ts.Close)
	c, err := iotda.NewClient(iotda.Config{Endpoint: ts.URL, ProjectID: "p", AuthToken: "t"})
	if err != nil {
		b.Fatal(err)
	}
	// Task n was created at n × 10 s; the mark is just after task 960.
	mark := iotda.TaskMark{NewestID: fmt.Sprintf("%024x", 960), At: time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC).Add(9605 * time.Second)}
	b.ReportAllocs()
	for b.Loop() {
		found, err := c.FindBatchTasks(b.Context(), iotda.TaskTypeCreateCommands, "mine", mark)
		if err != nil || len(found) != 1 {
			b.Fatalf("found %+v, %v", found, err)
		}
	}
	b.ReportMetric(float64(pageBytes.Load())/float64(b.N)/(1<<20), "read-MB/op")
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
