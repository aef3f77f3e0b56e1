package iotda_test

import (
	"fmt"
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
