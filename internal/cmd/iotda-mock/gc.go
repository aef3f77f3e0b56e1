package main

import (
	"runtime/debug"
)

// Garbage collector settings of the standalone mock, unless GOGC or GOMEMLIMIT set them.
// The mock's live heap is small (about 15 MB with 200 simulated devices and a full
// journal) while a busy command path allocates fast, mostly journal entries: collecting
// when the heap reaches five times the live data instead of twice takes about an eighth of
// the CPU a command costs (make bench-mock: 146 to 129 µs per command), and the soft limit
// makes the collector work harder as the heap nears it, so the process stays well within
// what the mock promises under abuse.
const (
	gcPercent   = 400
	memoryLimit = 150 << 20 // bytes
)

// tuneGC applies the settings the environment does not override.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
