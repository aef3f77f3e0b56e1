// Package httpapi is what every platform service's responses layer shares on the IoTDA
// mock's HTTP API, so that no service copies it:
//
//   - Server: the listener (HTTP or HTTPS) with the mock's limits, an X-Request-Id and a
//     JSON content type on every answer, /healthz, the admin API under /_mock/, and routing
//     to the services (each a Service), with the platform's 404 for any other path;
//   - API and Exchange: one request on its way to an answer, with the checks in the
//     platform's order (fault injection, credentials before the body is read, the body
//     within its limit, the signature over it, a fault's hold, project, then Instance-Id),
//     the simulated latency before any answer (Config.Latency), and its journal entry,
//     written when the request is done;
//   - auth.go: X-Auth-Token and AK/SK signatures (SDK-HMAC-SHA256 and V11-HMAC-SHA256)
//     verified from the SignedHeaders list, with errors that never quote a secret;
//   - errors.go: the platform's error body and the codes every service answers with;
//   - tls.go: the certificate of HTTPS (and of the broker's MQTTS listener).
//
// A service's responses layer is then a few lines per route:
//
//	x := api.Begin(w, r)
//	defer x.Finish()
//	if x.TakeFault(deviceID) { return }
//	body, bad := x.Body(0)
//	if bad == nil { bad = x.CheckTenant(project) }
//	if bad != nil { x.Respond(*bad); return }
//	x.Respond(answer) // from the service's backend, acting in x.Context()
package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// HeaderRequestID names the header that carries each answer's request id.
const HeaderRequestID = "X-Request-Id"

// Config is what the platform API checks on every request.
type Config struct {
	// ProjectID is the only project the API accepts.
	ProjectID string
	// Region is the region V11-HMAC-SHA256 signatures must be scoped to.
	Region string
	// AuthToken is the X-Auth-Token the API accepts. Empty disables token authentication.
	AuthToken string
	// Credentials maps access keys to secret keys accepted in AK/SK signatures. With
	// neither AuthToken nor Credentials set, requests are not authenticated.
	Credentials map[string]string
	// InstanceID, when set, must be sent in the Instance-Id header.
	InstanceID string
	// MaxBodyBytes bounds a request body, unless the service gives a larger limit.
	MaxBodyBytes int64
	// ReadTimeout bounds the reading of a whole request (the server enforces it; answers
	// name it).
	ReadTimeout time.Duration
	// Now is the clock signature dates are checked against.
	Now func() time.Time
	// Latency is a simulated network delay: every answer (an error, a fault's own answer
	// and a connection reset included) is written no sooner than Latency after its request
	// arrived. Time the platform spends on the request (waiting for a device, a fault's
	// Hold) counts toward it; each request waits on its own, without a lock.
	Latency time.Duration
	// Sleep, when set, replaces the latency's timer (for tests): it waits d, or until ctx
	// ends.
	Sleep func(ctx context.Context, d time.Duration)
}

// API is the shared part of every service's responses layer on one mock.
type API struct {
	cfg     Config
	journal *journal.Journal
	faults  *faults.Set
	ctx     context.Context // ends at Shutdown
	cancel  context.CancelFunc
}

// NewAPI returns the API of one mock, which journals in j and takes its faults from f.
func NewAPI(cfg Config, j *journal.Journal, f *faults.Set) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &API{cfg: cfg, journal: j, faults: f}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a
}

// Config returns the API's configuration.
func (a *API) Config() Config { return a.cfg }

// Shutdown cancels every request in flight (their contexts derive from the API's), so that
// none waits out the platform timeout. The Server calls it when it closes.
func (a *API) Shutdown() { a.cancel() }

// ShuttingDown reports whether Shutdown has been called.
func (a *API) ShuttingDown() bool { return a.ctx.Err() != nil }

// Exchange is one platform API request on its way to an answer. Its journal entry, Entry,
// is written by Finish.
type Exchange struct {
	W     http.ResponseWriter
	R     *http.Request
	Entry journal.Entry
	api   *API
	fault *faults.Fault
	// arrived is when the exchange began: its headers had been read. Latency counts from it.
	arrived time.Time
	// held is the context of a request its fault held (see Context), and release ends it.
	held    context.Context
	release context.CancelFunc
}

// Begin starts the exchange of a request: its journal entry holds the request id, the
// method, the path and the headers with credentials masked. Call Finish when it is done.
func (a *API) Begin(w http.ResponseWriter, r *http.Request) *Exchange {
	return &Exchange{W: w, R: r, api: a, arrived: time.Now(), Entry: journal.Entry{
		Kind:      journal.EntryRequest,
		RequestID: w.Header().Get(HeaderRequestID),
		Method:    r.Method,
		Path:      r.URL.Path,
		Header:    journal.MaskHeader(r.Header),
	}}
}

// Finish journals the exchange.
func (x *Exchange) Finish() {
	if x.release != nil {
		x.release()
	}
	x.api.journal.Add(x.Entry)
}

// Context is the context the platform acts on the request in: the request's own, which ends
// when the client goes away, or, for a request its fault held (Fault.Hold), one that ends
// only with the mock, since the platform acts on a held request whether or not the client
// still waits.
func (x *Exchange) Context() context.Context {
	if x.held != nil {
		return x.held
	}
	return x.R.Context()
}

// awaitLatency waits until Config.Latency has passed since the request arrived, or until
// the client goes away or the mock shuts down.
func (x *Exchange) awaitLatency() {
	lat := x.api.cfg.Latency
	if lat <= 0 {
		return
	}
	d := lat - time.Since(x.arrived)
	if d <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(x.R.Context())
	defer cancel()
	stop := context.AfterFunc(x.api.ctx, cancel)
	defer stop()
	if x.api.cfg.Sleep != nil {
		x.api.cfg.Sleep(ctx, d)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// NotFound answers a path no service routes: 404 with the API Gateway's APIG.0101, journaled.
func (a *API) NotFound(w http.ResponseWriter, r *http.Request) {
	x := a.Begin(w, r)
	defer x.Finish()
	x.Respond(ErrorAnswer(http.StatusNotFound, CodeNoAPI, MsgNoAPI))
}

// NotAllowed answers a known path with another method: 405 with allow in the Allow header
// and the API Gateway's APIG.0101.
func (x *Exchange) NotAllowed(allow string) {
	x.W.Header().Set("Allow", allow)
	x.Respond(ErrorAnswer(http.StatusMethodNotAllowed, CodeNoAPI, MsgNoAPI))
}

// Answer is what a service decided to respond, before faults have their say.
type Answer struct {
	Status int
	Body   []byte
}

// ErrorAnswer is an answer with the platform's error body.
func ErrorAnswer(status int, code, msg string) Answer {
	return Answer{Status: status, Body: errorJSON(code, msg)}
}
