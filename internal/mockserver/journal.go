package mockserver

import (
	"context"
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

// InjectFault makes the platform API misbehave as f says for the next matching requests.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() { s.faults.Clear() }
