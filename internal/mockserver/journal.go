package mockserver

import (
	"context"
	"fmt"
)

// WaitJournal returns the first journal entry, already there or yet to come, for which
// match is true. It waits until ctx ends, then returns ctx.Err(). Tests use it to wait for
// a delivery or a connection without sleeping.
func (s *Server) WaitJournal(ctx context.Context, match func(Entry) bool) (Entry, error) {
	return s.journal.WaitFor(ctx, match)
}

// JournalDropped is how many entries the journal has dropped, oldest first, to stay within
// its bounds (Options.Limits.JournalMaxBytes, and 10,000 entries) since it was last cleared.
func (s *Server) JournalDropped() int {
	_, dropped := s.journal.Snapshot()
	return dropped
}

// Journal returns a copy of every entry so far, oldest first.
func (s *Server) Journal() []Entry { return s.journal.Entries() }

// Deliveries returns the EntryDelivery entries for deviceID ("" for every device).
func (s *Server) Deliveries(deviceID string) []Entry {
	var out []Entry
	for _, e := range s.journal.Entries() {
		if e.Kind == EntryDelivery && (deviceID == "" || e.DeviceID == deviceID) {
			out = append(out, e)
		}
	}
	return out
}

// AddFault makes the platform API misbehave as f says for the next matching requests, as
// POST /_mock/faults does. It fails, adding nothing, when f is not valid (Fault.Validate):
// a field out of range, an unknown Operation, contradicting parts, a malformed patch.
func (s *Server) AddFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("mockserver: fault: %w", err)
	}
	s.faults.Add(f)
	return nil
}

// InjectFault adds f without validating it, as tests always have; prefer AddFault, which
// refuses a fault no request could follow.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() { s.faults.Clear() }
