package iotda

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"
)

const (
	// logSubsystem is the tflog subsystem of the HTTP exchange logs.
	logSubsystem = "iotda"
	// maxLoggedBody bounds the body bytes written to a log entry.
	maxLoggedBody = 4096
	masked        = "***"
)

// credentialHeaders are never logged with their values.
var credentialHeaders = map[string]bool{"Authorization": true, "X-Auth-Token": true, "X-Security-Token": true}

// loggingTransport logs each request and response at DEBUG in the "iotda" subsystem. Credential
// headers are replaced by "***", and the secret values themselves are masked in every field and
// message, so a body echoing a credential does not leak it either.
type loggingTransport struct {
	next    http.RoundTripper
	secrets []string
}

// RoundTrip implements http.RoundTripper.
func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	red := redactionFrom(req.Context(), t.secrets)
	ctx := t.logContext(req.Context(), red)
	if !tflog.SubsystemIsDebug(ctx, logSubsystem) {
		return t.next.RoundTrip(req)
	}
	tflog.SubsystemDebug(ctx, logSubsystem, "Sending IoTDA API request", map[string]any{
		"method":  req.Method,
		"url":     req.URL.Redacted(),
		"headers": formatHeaders(req.Header),
		"body":    requestBody(req, red),
	})
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	fields := map[string]any{"method": req.Method, "url": req.URL.Redacted(),
		"duration_ms": time.Since(start).Milliseconds()}
	if err != nil {
		fields["error"] = err.Error()
		tflog.SubsystemDebug(ctx, logSubsystem, "IoTDA API request failed", fields)
		return resp, err
	}
	fields["status"] = resp.StatusCode
	fields["request_id"] = resp.Header.Get("X-Request-Id")
	fields["headers"] = formatHeaders(resp.Header)
	if secretAnswer(req.Context()) {
		fields["body"] = secretAnswerLogged
	} else {
		fields["body"] = peekBody(resp, red)
	}
	tflog.SubsystemDebug(ctx, logSubsystem, "Received IoTDA API response", fields)
	return resp, nil
}

// logContext adds the subsystem and the secret masks to the request's context: the
// credentials, and the values red hides (write-only parameters) in all their forms. The
// bodies are redacted before they are logged; the masks also cover every other field. The
// provider passes the framework's context, which carries the root logger; without one tflog
// is a no-op.
func (t *loggingTransport) logContext(ctx context.Context, red *Redaction) context.Context {
	ctx = tflog.NewSubsystem(ctx, logSubsystem)
	if masks := append(slices.Clone(t.secrets), red.values()...); len(masks) > 0 {
		ctx = tflog.SubsystemMaskAllFieldValuesStrings(ctx, logSubsystem, masks...)
		ctx = tflog.SubsystemMaskMessageStrings(ctx, logSubsystem, masks...)
	}
	return ctx
}

// formatHeaders renders headers one per line, sorted, as a string so that tflog's masks apply.
func formatHeaders(h http.Header) string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		for _, v := range h[k] {
			if credentialHeaders[http.CanonicalHeaderKey(k)] {
				v = masked
			}
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// secretBodyKey marks a request context whose body must not be logged.
type secretBodyKey struct{}

// secretBodyLogged stands in the log for a body that holds secret parameters.
const secretBodyLogged = "(not logged: the parameters are secret)"

// withSecretBody marks ctx so that the logging transport leaves the request body out.
func withSecretBody(ctx context.Context) context.Context {
	return context.WithValue(ctx, secretBodyKey{}, true)
}

// secretAnswerKey marks a request context whose response body must not be logged either:
// reading a message sent with write-only content answers with that content.
type secretAnswerKey struct{}

// secretAnswerLogged stands in the log for an answer that may hold secret content.
const secretAnswerLogged = "(not logged: the answer may hold secret content)"

// withSecretAnswer marks ctx so that the logging transport leaves the response body out.
func withSecretAnswer(ctx context.Context) context.Context {
	return context.WithValue(ctx, secretAnswerKey{}, true)
}

// secretAnswer reports whether ctx was marked by withSecretAnswer.
func secretAnswer(ctx context.Context) bool {
	secret, _ := ctx.Value(secretAnswerKey{}).(bool)
	return secret
}

// requestBody reads a copy of the body through GetBody, leaving the request untouched.
func requestBody(req *http.Request, red *Redaction) string {
	if secret, _ := req.Context().Value(secretBodyKey{}).(bool); secret {
		return secretBodyLogged
	}
	if req.GetBody == nil {
		return ""
	}
	rc, err := req.GetBody()
	if err != nil {
		return ""
	}
	defer func() { _ = rc.Close() }()
	b, _ := io.ReadAll(io.LimitReader(rc, maxLoggedBody+1)) // A partial copy is fine for a log.
	return logBody(b, false, red)
}

// peekBody reads the start of the response body for the log and puts it back in front of the rest,
// passing any read error on to the real reader. Only a clean io.EOF ends the body: a body cut
// short of its Content-Length reads as io.ErrUnexpectedEOF, which the caller must see exactly as
// it would without this transport (io.ReadFull would turn both into the same short read).
//
// With write-only values to hide, it reads as much of the body as the client will (up to
// maxResponseBytes), so that red sees the whole JSON answer and finds an echo however it is
// escaped; otherwise the first maxLoggedBody bytes are enough.
func peekBody(resp *http.Response, red *Redaction) string {
	size := maxLoggedBody + 1
	if red.hidesWriteOnly() {
		size = maxResponseBytes + 1
	}
	buf := make([]byte, size)
	n, err := readUpTo(resp.Body, buf)
	buf = buf[:n]
	var rest io.Reader = resp.Body
	switch {
	case errors.Is(err, io.EOF):
		rest = eofReader{}
	case err != nil:
		rest = errReader{err}
	}
	resp.Body = &replayBody{Reader: io.MultiReader(bytes.NewReader(buf), rest), closer: resp.Body}
	return logBody(buf, n == size, red)
}

// readUpTo fills buf from r until it is full or r fails, and returns r's own error: io.EOF
// for a body that ended, anything else (io.ErrUnexpectedEOF included) as it came.
func readUpTo(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// logBody renders the start of a body for the log. b holds the body, or its start when more
// is true or b is longer than maxLoggedBody. tflog masks the secrets in what is logged, but a
// secret crossing the cut would have its start logged, and an escaped one would not be
// recognized, so red hides them first (in the whole of b), and a tail that starts one is
// dropped.
func logBody(b []byte, more bool, red *Redaction) string {
	s := string(red.Apply(b).Text)
	truncated := more || len(s) > maxLoggedBody
	if len(s) > maxLoggedBody {
		s = s[:maxLoggedBody]
	}
	if truncated {
		s = red.trimStart(s) + "…(truncated)"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

type replayBody struct {
	io.Reader
	closer io.Closer
}

func (r *replayBody) Close() error { return r.closer.Close() }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
