package mockserver

import (
	"encoding/json"
	"net/http"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
)

// Fault makes the platform API misbehave for the next matching requests; see package faults.
type Fault = faults.Fault

// InjectFault makes the command API misbehave as f says for the next matching requests.
func (s *Server) InjectFault(f Fault) { s.faults.Add(f) }

// ClearFaults removes every pending fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// takeFault takes the next fault for deviceID ("" for any request) and applies what it does
// before the request is read: a reset, or an answer of its own. It reports whether the
// exchange is over; otherwise the fault, if any, has its say in respond.
func (x *exchange) takeFault(deviceID string) (done bool) {
	f, ok := x.h.faults.Take(deviceID)
	if !ok {
		return false
	}
	x.fault, x.entry.Fault = &f, f.Label()
	switch {
	case f.ResetBeforeBody:
		x.entry.Status = 0
		if err := faults.Reset(x.w); err != nil {
			x.hijackFailed(err)
		}
	case f.Status != 0:
		status, body := f.Answer()
		x.respond(answer{status: status, body: body})
	default:
		return false
	}
	return true
}

// respond writes a, after the exchange's fault (if any) has had its say. A zero status
// means nobody is listening: nothing is written.
func (x *exchange) respond(a answer) {
	x.entry.Status = a.status
	if a.status == 0 {
		return
	}
	var ec apiError
	if json.Unmarshal(a.body, &ec) == nil {
		x.entry.ErrorCode = ec.ErrorCode
	}
	if x.fault == nil {
		x.write(a)
		return
	}
	sent, err := x.fault.Respond(x.w, x.r, a.status, a.body)
	x.entry.Status = sent
	if err != nil {
		x.hijackFailed(err)
	}
}

func (x *exchange) write(a answer) {
	x.w.WriteHeader(a.status)
	_, _ = x.w.Write(a.body) // a write error means the client is gone
}

// hijackFailed answers 500 when a fault cannot take over the connection, which only
// happens if the server speaks HTTP/2 (the mock serves HTTP/1.1 only).
func (x *exchange) hijackFailed(err error) {
	x.entry.Status = http.StatusInternalServerError
	x.entry.ErrorCode = codeInternal
	x.write(errorAnswer(http.StatusInternalServerError, codeInternal, "The fault could not take over the connection: "+err.Error()))
}
