package mockserver

import (
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
)

// Fault makes the platform API misbehave for the next matching requests; see package faults.
type Fault = faults.Fault

// InjectFault makes the command API misbehave as f says for the next matching requests.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() { s.faults.Clear() }
