package mockserver

import "testing"

// NewForTest starts a mock platform on 127.0.0.1:0 (unless opts say otherwise) and stops it
// when the test ends. It fails the test if the mock cannot start.
func NewForTest(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("mockserver: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("mockserver: start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("mockserver: close: %v", err)
		}
	})
	return s
}
