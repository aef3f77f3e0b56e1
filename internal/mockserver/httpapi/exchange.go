package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
)

// TakeFault takes the next fault for the request's operation (faults.OperationOf its method
// and path) and deviceID ("" for a request that names no device), and applies what it does
// before the request is read: a reset, or an answer of its own. It reports whether the
// exchange is over; otherwise the fault, if any, holds the request in Body and has its say
// in Respond. Call it once the route and method are known to be served.
func (x *Exchange) TakeFault(deviceID string) (done bool) {
	f, ok := x.api.faults.Take(deviceID, faults.OperationOf(x.R.Method, x.R.URL.EscapedPath()))
	if !ok {
		return false
	}
	x.fault, x.Entry.Fault = &f, f.Label()
	switch {
	case f.ResetBeforeBody:
		x.Entry.Status = 0
		x.awaitLatency()
		if err := faults.Reset(x.W); err != nil {
			x.hijackFailed(err)
		}
	case f.Status != 0 && !f.Forward:
		status, body := f.Answer()
		x.Respond(Answer{Status: status, Body: body})
	default:
		return false
	}
	return true
}

// Respond writes a, after the exchange's fault (if any) has had its say, and records its
// status and error code in the journal entry. A zero status means nobody is listening:
// nothing is written.
func (x *Exchange) Respond(a Answer) {
	x.Entry.Status = a.Status
	if a.Status == 0 {
		return
	}
	var ec ErrorBody
	if json.Unmarshal(a.Body, &ec) == nil {
		x.Entry.ErrorCode = ec.ErrorCode
	}
	x.awaitLatency()
	defer x.journalRefusal()
	if x.fault == nil {
		x.write(a)
		return
	}
	sent, err := x.fault.Respond(x.W, x.R, a.Status, a.Body)
	x.Entry.Status = sent
	if err != nil {
		x.hijackFailed(err)
	}
}

// journalRefusal records what the client was sent when the Server refused the answer over
// its MaxAnswerBytes (answers.go).
func (x *Exchange) journalRefusal() {
	if refusedOverBudget(x.W) {
		x.Entry.Status, x.Entry.ErrorCode = http.StatusTooManyRequests, CodeThrottled
	}
}

func (x *Exchange) write(a Answer) {
	x.W.WriteHeader(a.Status)
	_, _ = x.W.Write(a.Body) // a write error means the client is gone
}

// hijackFailed answers 500 when a fault cannot take over the connection, which only
// happens if the server speaks HTTP/2 (the mock serves HTTP/1.1 only).
func (x *Exchange) hijackFailed(err error) {
	x.Entry.Status = http.StatusInternalServerError
	x.Entry.ErrorCode = CodeInternal
	x.write(ErrorAnswer(http.StatusInternalServerError, CodeInternal, "The fault could not take over the connection: "+err.Error()))
}

// Body checks the credentials, reads the body (at most limit bytes; Config.MaxBodyBytes
// when limit is 0) and checks the signature over it, then holds the request as its fault
// says (Fault.Hold; Context then outlives the client). A request whose credentials fail has
// its body drained, not read, so that a peer without credentials cannot make the mock
// read, hold or journal one. It returns the body, or the error answer.
func (x *Exchange) Body(limit int64) ([]byte, *Answer) {
	if limit <= 0 {
		limit = x.api.cfg.MaxBodyBytes
	}
	verifyBody, err := checkCredentials(&x.api.cfg, x.R)
	if err != nil {
		x.discardBody()
		a := ErrorAnswer(http.StatusUnauthorized, CodeUnauthorized, err.Error())
		return nil, &a
	}
	body, bad := x.readBody(limit)
	if bad != nil {
		return nil, bad
	}
	if verifyBody != nil {
		if err := verifyBody(body); err != nil {
			a := ErrorAnswer(http.StatusUnauthorized, CodeUnauthorized, err.Error())
			return nil, &a
		}
	}
	x.hold()
	return body, nil
}

// hold keeps a request its fault holds, then detaches the exchange's Context from the
// client: the platform acts on a held request even if the client gave up meanwhile.
func (x *Exchange) hold() {
	if x.fault == nil || x.fault.Hold <= 0 {
		return
	}
	x.held, x.release = context.WithCancel(context.WithoutCancel(x.R.Context()))
	stop := context.AfterFunc(x.api.ctx, x.release)
	release := x.release
	x.release = func() { stop(); release() }
	x.fault.WaitHold(x.api.ctx.Done())
}

// CheckTenant runs the checks that follow authentication, in the platform's order: the
// project in the path, then the Instance-Id header. It returns the error answer, or nil.
func (x *Exchange) CheckTenant(project string) *Answer {
	cfg := &x.api.cfg
	var a Answer
	switch {
	case project != cfg.ProjectID:
		a = ErrorAnswer(http.StatusForbidden, CodeProject, "The project id "+Quote(project)+
			" in the request path is not this endpoint's project "+Quote(cfg.ProjectID)+".")
	case cfg.InstanceID != "" && x.R.Header.Get("Instance-Id") != cfg.InstanceID:
		a = ErrorAnswer(http.StatusForbidden, CodeInstance, "The Instance-Id header "+Quote(x.R.Header.Get("Instance-Id"))+
			" does not name this endpoint's instance "+Quote(cfg.InstanceID)+".")
	default:
		return nil
	}
	return &a
}

// Gone reports whether the client went away (its request's context ended) while the
// mock itself is still running: nobody reads the answer.
func (x *Exchange) Gone() bool { return x.R.Context().Err() != nil && !x.api.ShuttingDown() }
