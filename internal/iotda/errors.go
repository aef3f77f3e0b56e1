package iotda

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error codes with a meaning of their own.
const (
	codeDeviceTimeout  = "IOTDA.014111"
	codeDeviceOffline  = "IOTDA.014016"
	codeRateLimit      = "IOTDA.021101"
	codeTenantLimit    = "IOTDA.021102"
	codeGatewayLimited = "APIGW.0308"
)

// Sentinel errors matched by (*APIError).Is, for use with errors.Is.
var (
	// ErrDeviceTimeout: the platform answered 200 with IOTDA.014111, the device did not reply within 20 s.
	ErrDeviceTimeout = errors.New("iotda: device did not respond in time")
	// ErrDeviceOffline: 403 IOTDA.014016.
	ErrDeviceOffline = errors.New("iotda: device is offline")
	// ErrNotFound: a 404 from IoTDA itself, such as an unknown device.
	ErrNotFound = errors.New("iotda: not found")
	// ErrNoSuchAPI: a 404 from the API gateway in front of IoTDA (an APIG.* or APIGW.* code,
	// such as APIG.0101): the endpoint serves no such API, so the endpoint is wrong.
	ErrNoSuchAPI = errors.New("iotda: no such API at this endpoint")
	// ErrUnauthorized: 401.
	ErrUnauthorized = errors.New("iotda: unauthorized")
	// ErrForbidden: a 403 that is neither an offline device nor throttling.
	ErrForbidden = errors.New("iotda: forbidden")
	// ErrThrottled: 429, 403 IOTDA.021101/IOTDA.021102, or APIGW.0308.
	ErrThrottled = errors.New("iotda: request throttled")
	// ErrBadRequest: 400.
	ErrBadRequest = errors.New("iotda: bad request")
	// ErrServer: any 5xx.
	ErrServer = errors.New("iotda: server error")
	// ErrRedirect: a 3xx. The client never follows redirects: sending a command again to
	// another address could deliver it twice. APIError.Location says where it pointed.
	ErrRedirect = errors.New("iotda: redirect not followed")
	// ErrMalformedAnswer matches a batch task answer that arrived whole but is not an answer
	// to the request: JSON that does not parse, a task without its task_id or naming another
	// task, more records than asked for, pages that do not add up or go round in a cycle. A
	// proxy may garble one answer; an answer that stays so is the server's, not the
	// network's. An answer cut short (the connection lost, the body ending early) is not one.
	ErrMalformedAnswer = errors.New("iotda: the answer does not match the request")
)

// malformedError is an answer that does not match its request; see ErrMalformedAnswer.
type malformedError struct{ err error }

func (e *malformedError) Error() string { return e.err.Error() }

func (e *malformedError) Unwrap() error { return e.err }

func (e *malformedError) Is(target error) bool { return target == ErrMalformedAnswer }

// malformed marks err as an answer that does not match its request, unless it is the
// transport's: a body that could not be read to its end (see pageScanner.byte).
func malformed(err error) error {
	var cut *bodyReadError
	if err == nil || errors.As(err, &cut) || errors.Is(err, ErrMalformedAnswer) {
		return err
	}
	return &malformedError{err: err}
}

// bodyReadError is a body that could not be read to its end: the connection was lost, or the
// body ended before its JSON did.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return e.err.Error() }

func (e *bodyReadError) Unwrap() error { return e.err }

// APIError is an error answer of the IoTDA API, or a 200 whose body carries an error_code.
type APIError struct {
	StatusCode int
	ErrorCode  string
	ErrorMsg   string
	RequestID  string
	CommandID  string
	// RetryAfter is the server's Retry-After hint, zero when absent.
	RetryAfter time.Duration
	// Location is where a 3xx answer pointed (absolute, password removed, secrets masked),
	// "" for other answers or a redirect without a Location header.
	Location string
}

// Error renders e.g. "IoTDA API error: HTTP 403, error_code IOTDA.014016: the device is not online, request id abc".
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "IoTDA API error: HTTP %d", e.StatusCode)
	if e.ErrorCode != "" {
		b.WriteString(", error_code " + e.ErrorCode)
	}
	if e.ErrorMsg != "" {
		b.WriteString(": " + e.ErrorMsg)
	}
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		b.WriteString(", redirect to " + firstNonEmpty(e.Location, "(no Location header)") + " not followed")
	}
	if e.CommandID != "" {
		b.WriteString(", command id " + e.CommandID)
	}
	if e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	return b.String()
}

// Is matches the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrDeviceTimeout:
		return e.StatusCode >= 200 && e.StatusCode < 300 && e.ErrorCode == codeDeviceTimeout
	case ErrDeviceOffline:
		return e.StatusCode == http.StatusForbidden && e.ErrorCode == codeDeviceOffline
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound && !e.fromGateway()
	case ErrNoSuchAPI:
		return e.StatusCode == http.StatusNotFound && e.fromGateway()
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden && e.ErrorCode != codeDeviceOffline && !e.throttled()
	case ErrThrottled:
		return e.throttled()
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode < 600
	case ErrRedirect:
		return e.StatusCode >= 300 && e.StatusCode < 400
	}
	return false
}

// fromGateway reports whether the API gateway, not IoTDA, gave the error code.
func (e *APIError) fromGateway() bool {
	return strings.HasPrefix(e.ErrorCode, "APIG.") || strings.HasPrefix(e.ErrorCode, "APIGW.")
}

func (e *APIError) throttled() bool {
	switch {
	case e.StatusCode == http.StatusTooManyRequests, e.ErrorCode == codeGatewayLimited:
		return true
	case e.StatusCode == http.StatusForbidden:
		return e.ErrorCode == codeRateLimit || e.ErrorCode == codeTenantLimit
	}
	return false
}

// What a request would do on the platform, for the wording of DeliveryUnknownError and
// NotSentError.
const (
	effectCommand   = ""           // a command delivered to a device (the default)
	effectBatchTask = "batch task" // a batch task created
	effectMessage   = "message"    // a device message accepted for delivery
	effectNone      = "none"       // a read or a delete: nothing a repeat would do twice
)

// DeliveryUnknownError: the request may have reached the platform but no usable answer came (client timeout,
// context cancel after the request was written, connection reset after writing, malformed 200 body).
// For a command or a batch task, the platform may or may not have acted on it; it must not be retried
// blindly. For a read or a delete (idempotent, already retried up to MaxRetries times), it only
// means that no usable answer came.
type DeliveryUnknownError struct {
	Err       error
	RequestID string
	// Attempts is how many tries were made; 0 when the request was not retried.
	Attempts int
	host     string
	effect   string
	reread   bool // an idempotent request, retried
}

// Error says the outcome is unknown and names the endpoint host.
func (e *DeliveryUnknownError) Error() string {
	target := "IoTDA request"
	if e.host != "" {
		target = "IoTDA request to " + e.host
	}
	var msg string
	switch {
	case e.reread || e.effect == effectNone:
		msg = target + " got no usable answer"
		if e.Attempts > 1 {
			msg += fmt.Sprintf(" after %d attempts", e.Attempts)
		}
	case e.effect == effectBatchTask:
		msg = target + " outcome unknown: the platform may have created the batch task, but no usable answer came"
	case e.effect == effectMessage:
		msg = target + " outcome unknown: the platform may have accepted the message, but no usable answer came"
	default:
		msg = target + " outcome unknown: the platform may have received the command, but no usable answer came"
	}
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *DeliveryUnknownError) Unwrap() error { return e.Err }

// NotSentError: the request provably never reached the platform after all retries (connection refused, DNS
// failure, TLS handshake failure, ...). Err is the last cause; Attempts how many tries were made.
type NotSentError struct {
	Err      error
	Attempts int
	host     string
	effect   string
}

// Error names the endpoint host, the number of attempts and the last cause.
func (e *NotSentError) Error() string {
	target := "the IoTDA endpoint"
	if e.host != "" {
		target = e.host
	}
	tries := "1 attempt"
	if e.Attempts != 1 {
		tries = fmt.Sprintf("%d attempts", e.Attempts)
	}
	switch e.effect {
	case effectBatchTask:
		tries += "; the batch task was not created"
	case effectMessage:
		tries += "; the message was not sent"
	case effectNone:
	default:
		tries += "; the command was not delivered"
	}
	msg := fmt.Sprintf("could not send the request to %s (%s)", target, tries)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the last cause.
func (e *NotSentError) Unwrap() error { return e.Err }

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxMessageRunes bounds error_msg and body excerpts kept in errors.
const maxMessageRunes = 512

// sanitize makes server-provided text safe to show: valid UTF-8, no control characters, bounded length,
// and with any of the client's secrets replaced by "***" (a gateway could echo a credential back).
func sanitize(s string, secrets []string) string {
	s = maskSecrets(s, secrets)
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxMessageRunes {
		s = string([]rune(s)[:maxMessageRunes]) + "…"
	}
	return s
}

// MaskSecrets replaces every credential the client was configured with (token, secret key,
// security token) by "***" in s: for text from the platform or a device, such as a reply that
// echoes a token, before it goes into a diagnostic or a log. The HTTP debug log and every
// error of this package are masked already.
func (c *Client) MaskSecrets(s string) string {
	if c == nil {
		return s
	}
	return maskSecrets(s, c.secrets)
}

// maskSecrets replaces every occurrence of the secrets in s by "***".
func maskSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// trimSecretStart drops a tail of s that is the start of a secret. A text cut off in the
// middle of a secret ends with its start, which masking cannot recognize.
func trimSecretStart(s string, secrets []string) string {
	for trimmed := true; trimmed; {
		trimmed = false
		for _, sec := range secrets {
			for k := min(len(sec)-1, len(s)); k > 0; k-- {
				if strings.HasSuffix(s, sec[:k]) {
					s, trimmed = s[:len(s)-k], true
					break
				}
			}
		}
	}
	return s
}
