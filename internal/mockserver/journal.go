package mockserver

import "context"

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
