package faults

import "sync"

// Set holds the pending faults. It is safe for concurrent use.
type Set struct {
	mu   sync.Mutex
	list []Fault
}

// NewSet returns an empty set.
func NewSet() *Set { return &Set{} }

// Add queues f behind the faults already pending; Times 0 counts as 1.
func (s *Set) Add(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, f)
}

// Clear removes every pending fault.
func (s *Set) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = nil
}

// Pending returns a copy of the faults that still apply, with Times the remaining count.
func (s *Set) Pending() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault{}, s.list...) // [] rather than null in JSON when there is none
}

// Take returns the first fault matching a request that makes operation (OperationOf; ""
// for none, which only faults without an Operation match) for deviceID ("" for a request
// that names no device, which only faults without a DeviceID match), and uses up one of its
// applications.
func (s *Set) Take(deviceID, operation string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.list {
		if (f.DeviceID != "" && f.DeviceID != deviceID) || (f.Operation != "" && f.Operation != operation) {
			continue
		}
		if f.Times > 0 {
			s.list[i].Times--
			if s.list[i].Times == 0 {
				s.list = append(s.list[:i:i], s.list[i+1:]...)
			}
		}
		return f, true
	}
	return Fault{}, false
}
