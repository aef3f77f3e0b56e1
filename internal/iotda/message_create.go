package iotda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sending a message once. The provider generates every message's id, so a create whose
// outcome is not known (its answer lost, a 5xx, a retry refused because the id is already
// used) is resolved by reading the message by that id, never by sending it again.

// MessageOutcomeUnknownError: CreateMessage's request may have reached the platform, but its
// answer does not say what became of it, and reading the message by its id did not find it
// (yet). The platform may still accept it later (a request it is still processing, held on
// its way), or may hold it already (a retry refused because the id is in use). Err is the
// create's error: a *DeliveryUnknownError (a lost answer, an interrupt) or an *APIError (a
// 5xx, or a refusal naming the message's id as used). Lookup is what the reads found;
// Interrupted says there were none, because the caller cancelled.
type MessageOutcomeUnknownError struct {
	DeviceID, MessageID string
	Err                 error
	Lookup              error
	Interrupted         bool
}

// Error says what was sent and what the reads found.
func (e *MessageOutcomeUnknownError) Error() string {
	if e.Interrupted {
		return fmt.Sprintf("%v; the operation was interrupted before message %s of device %s could be read by its id",
			e.Err, e.MessageID, e.DeviceID)
	}
	return fmt.Sprintf("%v; reading message %s of device %s afterwards found nothing: %v",
		e.Err, e.MessageID, e.DeviceID, e.Lookup)
}

// Unwrap returns the create's error.
func (e *MessageOutcomeUnknownError) Unwrap() error { return e.Err }

// secretErrorMsg stands for the error_msg of an error answer about a message sent with
// secret content: the platform may quote what it was sent, in forms no mask can be sure to
// catch, and a read has no value to mask it with at all.
const secretErrorMsg = "(error_msg not shown: it may quote write-only content)"

// hideErrorMsg replaces the error_msg of an *APIError in err by secretErrorMsg.
func hideErrorMsg(err error) {
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.ErrorMsg != "" {
		apiErr.ErrorMsg = secretErrorMsg
	}
}

// lookupReads is how many reads look for a message whose create's outcome is unknown: at
// once, then after the client's backoff waits (about 0.2, 0.4, 0.8 and 1.6 s by default). The
// platform answers a create within milliseconds, so a message it accepted is found by the
// first reads; one it accepts later (a request held on its way) is found by a later refresh.
const lookupReads = 5

// lookupTimeout bounds the reads of a lost create answer. They get this time of their own,
// since the timeout that cut the answer may have been the caller's.
const lookupTimeout = 30 * time.Second

// CreateMessage sends m once: POST {endpoint}/v5/iot/{project_id}/devices/{device_id}/messages
// (201, facts §1.3). The answer carries the status: DELIVERED when the device was online and
// the platform published it, PENDING when it is cached for an offline device, FAILED when it
// could not be sent.
//
// It is never sent twice. When its outcome is not known, the message is looked for by its id
// instead, and returned with Recovered set when found: after a lost answer (a
// *DeliveryUnknownError), a 5xx, a throttled answer (the platform may have acted before it
// throttled the answer, and a retry repeats the request), or a refusal naming m's id as
// already used (a retry of a request the platform took). Not found, the error is a
// *MessageOutcomeUnknownError for the first, second and last (the message may exist), and
// the throttling or not-sent error otherwise. Other errors: *APIError (400 for an invalid
// message, errors.Is ErrNotFound for an unknown device) or *NotSentError (provably not sent).
// When ctx is cancelled (an interrupt), no read is made.
//
// With m.Secret, neither the request body nor the platform's answers (which echo the
// content) are logged, and the errors hold no excerpt of an answer and no error_msg
// (secretErrorMsg stands for it): the content is hidden wherever it could show, numbers and
// short strings too, which a Redaction does not mask.
func (c *Client) CreateMessage(ctx context.Context, m Message) (*DeviceMessage, error) {
	body, err := messageBody(m)
	if err != nil {
		return nil, err
	}
	var writeOnly json.RawMessage
	sendCtx := ctx
	if m.Secret {
		sendCtx, writeOnly = withSecretAnswer(withSecretBody(ctx)), m.Message
	}
	red := c.Redaction(writeOnly)
	var throttled bool
	r, err := c.do(withRedaction(sendCtx, red), request{method: http.MethodPost,
		target: c.apiURL("devices", m.DeviceID, "messages").String(), body: body, effect: effectMessage,
		throttled: &throttled})
	if err == nil {
		var res *DeviceMessage
		if res, err = c.decodeCreated(r, m); err == nil {
			return res, nil
		}
	}
	red.hideInError(err)
	mayExist := messageMayExist(err, m.MessageID)
	if m.Secret {
		hideErrorMsg(err) // Only once it was read for the message's id.
	}
	if !mayExist && !throttled {
		return nil, err // Refused or provably not sent: nothing to look for.
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		if !mayExist {
			return nil, err
		}
		return nil, &MessageOutcomeUnknownError{DeviceID: m.DeviceID, MessageID: m.MessageID, Err: err, Interrupted: true}
	}
	found, lookupErr := c.lookupLostMessage(ctx, m)
	if lookupErr != nil {
		red.hideInError(lookupErr)
		if !mayExist {
			return nil, err
		}
		return nil, &MessageOutcomeUnknownError{DeviceID: m.DeviceID, MessageID: m.MessageID, Err: err, Lookup: lookupErr}
	}
	found.ErrorCode, found.ErrorMsg = red.String(found.ErrorCode), red.String(found.ErrorMsg)
	found.Recovered, found.LostAnswer = true, err.Error()
	return found, nil
}

// messageMayExist reports whether a create's error leaves the message possibly accepted: no
// usable answer, a 5xx, or a refusal that names the message's own id as used.
func messageMayExist(err error, messageID string) bool {
	var unknown *DeliveryUnknownError
	var apiErr *APIError
	switch {
	case errors.As(err, &unknown):
		return true
	case !errors.As(err, &apiErr):
		return false
	case errors.Is(apiErr, ErrServer):
		return true
	}
	return idAlreadyUsed(apiErr, messageID)
}

// idAlreadyUsed reports a refusal of a create because its message_id is already used on the
// device: the platform holds a message with that id, and the provider's ids are random
// UUIDs, so it is this one, taken by an earlier attempt of the same request. The platform
// "returns an error" for a duplicate id, with a status and code that are not documented
// (iotda-messages-facts.md §4: 400 or 409, UNCONFIRMED); an error_msg that names the id
// is taken to be that refusal.
func idAlreadyUsed(e *APIError, messageID string) bool {
	return (e.StatusCode == http.StatusBadRequest || e.StatusCode == http.StatusConflict) &&
		messageID != "" && strings.Contains(e.ErrorMsg, messageID)
}

// lookupLostMessage reads the message m after its create's outcome was not known, a few
// times: it reports the message once the platform has it, or why it was not found.
func (c *Client) lookupLostMessage(ctx context.Context, m Message) (*DeviceMessage, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupTimeout)
	defer cancel()
	var last error
	for read := 1; read <= lookupReads; read++ {
		if read > 1 && !c.sleep(ctx, c.backoff(read-1)) {
			break
		}
		found, err := c.ShowDeviceMessage(ctx, m.Ref())
		if err == nil {
			return found, nil
		}
		last = err
		if !errors.Is(err, ErrMessageNotFound) && permanent(err) {
			break
		}
	}
	return nil, last
}

// permanent reports a refusal that reading again will not change (an unknown device,
// authentication, permissions).
func permanent(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 && !apiErr.throttled()
}
