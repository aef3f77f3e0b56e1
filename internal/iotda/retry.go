package iotda

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxRetryAfter is the longest server-requested wait honoured; a longer one ends the retries.
const maxRetryAfter = 2 * time.Minute

// response is a fully read HTTP answer.
type response struct {
	status     int
	requestID  string
	retryAfter time.Duration
	location   string    // the Location of a 3xx, resolved against the request URL
	date       time.Time // the Date header; zero when absent or invalid
	body       []byte
	readErr    error // set when the body could not be read completely or exceeded maxResponseBytes
}

// notSent is an attempt that provably put no request bytes on the wire.
type notSent struct {
	err       error
	retryable bool
}

func (n *notSent) Error() string { return n.err.Error() }

// sendTrace records, from httptrace callbacks, how far an attempt got.
type sendTrace struct {
	gotConn, wroteHeaders, tlsStarted atomic.Bool
}

func (s *sendTrace) clientTrace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn:           func(httptrace.GotConnInfo) { s.gotConn.Store(true) },
		WroteHeaders:      func() { s.wroteHeaders.Store(true) },
		TLSHandshakeStart: func() { s.tlsStarted.Store(true) },
	}
}

// request is one API call. POSTs (a command, a batch task) are not idempotent: the platform
// acts on each one it receives. GETs and DELETEs are: repeating one changes nothing.
type request struct {
	method, target string
	body           []byte // nil for GET and DELETE
	// maxBody bounds the response body; maxResponseBytes when zero.
	maxBody int64
	// effect says what a POST would have done, for the errors: "command" (the default) or
	// "batch task".
	effect string
	// decode, when set, reads a 2xx body as it arrives instead of it being read whole into
	// response.body; its error is the response's readErr. It is called once per attempt.
	decode func(io.Reader) error
	// throttled, when set, is set to true when an attempt was answered with a throttling
	// error: a platform that acted on a POST before it throttled the answer holds what the
	// retry then repeats.
	throttled *bool
}

func (r request) idempotent() bool {
	return r.method == http.MethodGet || r.method == http.MethodDelete
}

// send POSTs body to target and returns the first 2xx answer. The command API is not idempotent, so
// it retries only attempts that provably did not reach the platform: connection and DNS failures,
// TLS handshake failures other than certificate verification, and throttling answers.
func (c *Client) send(ctx context.Context, target string, body []byte) (*response, error) {
	return c.do(ctx, request{method: http.MethodPost, target: target, body: body})
}

// do makes req and returns the first 2xx answer, retrying at most MaxRetries times with backoff.
//
// Every request is retried when it provably did not reach the platform (see send) or was
// throttled. Idempotent requests (GET, DELETE) are also retried when they may have reached it:
// a connection lost after the request was written, a 5xx answer, or a 2xx answer whose body
// could not be read whole. Repeating them is harmless, and a poll of a long batch task should
// not fail on one dropped connection. A DELETE repeated after the platform deleted the task
// answers 404, which DeleteBatchTask reports as ErrNotFound.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	for attempt := 1; ; attempt++ {
		r, err := c.attempt(ctx, req)
		var failure error
		var retryable bool
		var hint time.Duration
		var ns *notSent
		var unknown *DeliveryUnknownError
		switch {
		case err == nil && r.status >= 200 && r.status < 300 && (r.readErr == nil || !req.idempotent()):
			return r, nil
		case err == nil && r.status >= 200 && r.status < 300:
			failure = &DeliveryUnknownError{Err: r.readErr, RequestID: r.requestID, host: c.host, effect: req.effect, reread: true}
			retryable = ctx.Err() == nil
		case err == nil:
			apiErr := c.apiError(r)
			failure, retryable, hint = apiErr, apiErr.throttled() || (req.idempotent() && apiErr.StatusCode >= 500), r.retryAfter
			if req.throttled != nil && apiErr.throttled() {
				*req.throttled = true
			}
		case errors.As(err, &ns):
			failure, retryable = ns.err, ns.retryable
		case req.idempotent() && errors.As(err, &unknown):
			unknown.reread = true
			failure, retryable = unknown, ctx.Err() == nil
		default:
			return nil, err // Possibly delivered: never retried.
		}
		if !retryable || attempt > c.maxRetries || hint > maxRetryAfter ||
			!c.sleep(ctx, max(c.backoff(attempt), hint)) {
			return nil, c.finalError(failure, attempt, req.effect)
		}
	}
}

func (c *Client) finalError(failure error, attempts int, effect string) error {
	var apiErr *APIError
	var unknown *DeliveryUnknownError
	switch {
	case errors.As(failure, &apiErr):
		return apiErr
	case errors.As(failure, &unknown):
		unknown.Attempts = attempts
		return unknown
	}
	return &NotSentError{Err: failure, Attempts: attempts, host: c.host, effect: effect}
}

// attempt makes one request. It returns a *notSent error when nothing was written, a
// *DeliveryUnknownError when the request may have been written, or the read response.
//
// "Nothing was written" is proven by the trace: no connection was ever handed to the request, so the
// failure happened while resolving, dialing or in the TLS handshake. Go's transport itself replays a
// POST only when it wrote nothing on a reused connection (the body is rewindable through GetBody).
func (c *Client) attempt(ctx context.Context, call request) (*response, error) {
	var tr sendTrace
	var body io.Reader
	if call.body != nil {
		body = bytes.NewReader(call.body)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, tr.clientTrace()), call.method,
		call.target, body)
	if err != nil {
		return nil, &notSent{err: fmt.Errorf("building the request: %w", err)}
	}
	if err := c.prepare(req, call.body); err != nil {
		return nil, &notSent{err: err}
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		if tr.gotConn.Load() || tr.wroteHeaders.Load() {
			return nil, &DeliveryUnknownError{Err: err, host: c.host, effect: call.effect}
		}
		return nil, classifyPreSend(ctx, err, tr.tlsStarted.Load())
	}
	defer func() { _ = resp.Body.Close() }()
	r := &response{status: resp.StatusCode, requestID: resp.Header.Get("X-Request-Id"),
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		r.location = redirectLocation(resp)
	}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		r.date = d
	}
	if call.decode != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.readErr = call.decode(resp.Body)
		return r, nil
	}
	limit := call.maxBody
	if limit <= 0 {
		limit = maxResponseBytes
	}
	r.body, r.readErr = readLimited(resp.Body, limit)
	return r, nil
}

// prepare sets the headers and authenticates the request as the official SDK does: for AK/SK the
// X-Project-Id and X-Security-Token headers are added before signing, so both are signed.
func (c *Client) prepare(req *http.Request, body []byte) error {
	req.Header.Set("Content-Type", "application/json")
	ua := c.userAgent
	if ua == "" {
		ua = "terraform-provider-iotda"
	}
	req.Header.Set("User-Agent", ua)
	if c.instanceID != "" {
		req.Header.Set("Instance-Id", c.instanceID)
	}
	if c.signer == nil {
		req.Header.Set("X-Auth-Token", c.authToken)
		return nil
	}
	req.Header.Set("X-Project-Id", c.projectID)
	if c.secToken != "" {
		req.Header.Set("X-Security-Token", c.secToken)
	}
	if err := c.signer.Sign(req, body, c.now()); err != nil {
		return fmt.Errorf("signing the request: %w", err)
	}
	return nil
}

// classifyPreSend decides whether an error that happened before any connection was obtained is worth
// retrying. Certificate verification failures are permanent and get a hint.
func classifyPreSend(ctx context.Context, err error, tlsStarted bool) *notSent {
	if ctx.Err() != nil {
		return &notSent{err: err}
	}
	if isCertificateError(err) {
		return &notSent{err: fmt.Errorf("TLS certificate verification failed; if the endpoint uses a private "+
			"certificate authority, set ca_cert_pem to its PEM certificate: %w", err)}
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr):
		return &notSent{err: err, retryable: true}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &notSent{err: err, retryable: true}
	case tlsStarted:
		return &notSent{err: fmt.Errorf("TLS handshake failed: %w", err), retryable: true}
	}
	return &notSent{err: err}
}

func isCertificateError(err error) bool {
	var verr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalid)
}

// backoff is a jittered exponential wait: a random value in [d/2, d] with d = base*2^(attempt-1), capped.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.backoffCap
	if attempt < 30 {
		d = min(c.backoffBase<<(attempt-1), c.backoffCap)
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // Jitter needs no cryptographic randomness.
}

// sleep waits for d unless ctx ends first. It refuses to start a wait that would outlast the
// context's deadline, since the next attempt could not complete anyway.
func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// retryAfterTooLong stands for a Retry-After beyond any wait worth making; it is above
// maxRetryAfter, so it ends the retries.
const retryAfterTooLong = 24 * time.Hour

// parseRetryAfter reads delay-seconds or an HTTP date; zero when absent or invalid. A number of
// seconds too large for int64 is still a number of seconds (RFC 9110 §10.2.3 sets no bound): it
// reads as too long to wait, never as absent, which would retry at once.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		switch {
		case secs <= 0:
			return 0 // Also a negative number beyond int64.
		case secs > int64(retryAfterTooLong/time.Second):
			return retryAfterTooLong
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), retryAfterTooLong)
	}
	return 0
}

// redirectLocation is where a redirect pointed, absolute and without a password, or the raw header
// when it is not a URL; "" without one. The client never follows it (see buildHTTPClient).
func redirectLocation(resp *http.Response) string {
	raw := resp.Header.Get("Location")
	if raw == "" {
		return ""
	}
	if u, err := resp.Location(); err == nil {
		return u.Redacted()
	}
	return raw
}

// readLimited reads at most limit bytes; a longer body is an error.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return b, err
	}
	if int64(len(b)) > limit {
		return b[:limit], fmt.Errorf("response body exceeds %d bytes", limit)
	}
	return b, nil
}
