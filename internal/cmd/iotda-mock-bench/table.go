package main

import (
	"fmt"
	"io"
	"slices"
	"time"
)

// table prints results as they come and a summary at the end.
type table struct {
	w    io.Writer
	rows []row
}

type row struct {
	round int
	mock  string
	result
}

func newTable(w io.Writer) *table {
	_, _ = fmt.Fprintf(w, "%-5s  %-28s  %5s  %9s  %9s  %9s  %9s  %5s  %10s  %12s  %12s\n",
		"round", "mock", "conc", "commands", "cmds/s", "p50", "p99", "lost", "mismatched", "mock CPU/cmd", "load CPU/cmd")
	return &table{w: w}
}

func (t *table) add(round int, mock string, r result) {
	t.rows = append(t.rows, row{round: round, mock: mock, result: r})
	_, _ = fmt.Fprintf(t.w, "%-5d  %-28s  %5d  %9d  %9.0f  %9s  %9s  %5d  %10d  %12s  %12s\n",
		round, mock, r.concurrency, r.requests, r.throughput(), ms(r.p50), ms(r.p99), r.lost, r.mismatched,
		us(r.perCommand(r.mockCPU)), us(r.perCommand(r.clientCPU)))
	if r.firstProblem != "" {
		_, _ = fmt.Fprintf(t.w, "       first problem: %s\n", r.firstProblem)
	}
}

// summary prints, per concurrency, each mock's median throughput over the rounds and, with
// two mocks, the ratio of the last to the first.
func (t *table) summary(mocks []mock) {
	var levels []int
	for _, r := range t.rows {
		if !slices.Contains(levels, r.concurrency) {
			levels = append(levels, r.concurrency)
		}
	}
	_, _ = fmt.Fprintln(t.w, "median over rounds:")
	for _, n := range levels {
		var medians []float64
		line := fmt.Sprintf("  conc %4d:", n)
		for _, m := range mocks {
			var tp []float64
			var p50, p99, cpu []time.Duration
			for _, r := range t.rows {
				if r.mock == m.name && r.concurrency == n {
					tp = append(tp, r.throughput())
					p50, p99 = append(p50, r.p50), append(p99, r.p99)
					cpu = append(cpu, r.perCommand(r.mockCPU))
				}
			}
			med := median(tp)
			medians = append(medians, med)
			line += fmt.Sprintf("  %s %.0f cmds/s (p50 %s, p99 %s, mock CPU %s/cmd)", m.name, med, ms(median(p50)),
				ms(median(p99)), us(median(cpu)))
		}
		if len(medians) == 2 && medians[0] > 0 {
			line += fmt.Sprintf("  ratio %.2fx", medians[1]/medians[0])
		}
		_, _ = fmt.Fprintln(t.w, line)
	}
}

func median[T float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// us formats a duration in microseconds, "-" for 0 (unknown).
func us(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

// ms formats a duration in milliseconds with one decimal.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
