package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The delivery of one message, shared by the resource and the action: send it once, then
// follow its status until it is final, the caller's time ends, or reading it fails.

// Polling a PENDING message: soon at first (a device that wakes in seconds), then twice as
// long each time up to messagePollMax. Tests shorten them.
var (
	messagePollFirst = 500 * time.Millisecond
	messagePollMax   = 15 * time.Second
	// messageNoteEvery is how often a message still PENDING is reported while it is followed.
	messageNoteEvery = 30 * time.Second
)

// messageUse is the way in that sends a message, which words its diagnostics.
type messageUse int

const (
	messageForResource messageUse = iota
	messageForAction
)

// messageEnd says why following a message stopped before its status was final.
type messageEnd int

const (
	messageFinal      messageEnd = iota // the status is final
	messageNoWait                       // the caller did not ask to wait
	messageTimedOut                     // the caller's time ended (or the apply was interrupted)
	messageGone                         // IoTDA no longer has the message, or the device
	messageReadFailed                   // reading the status failed for good
)

// messageDelivery is one message on its way: what to send and how to report it.
type messageDelivery struct {
	pd  *providerData
	msg iotda.Message
	// wait follows the message until it is final.
	wait bool
	use  messageUse
	// progress receives a line at each step: Terraform's progress for the action, the log
	// for the resource.
	progress func(string)
	// timeout is the time the caller gave, for the diagnostics.
	timeout time.Duration
	// told is the status progress last reported, so that a status is told once.
	told string
	// reads and readsFailed count follow's reads of the status, and readErr is the error of
	// the last one when it failed, for a wait that ends with the message still pending.
	reads, readsFailed int
	readErr            error
}

// sendOutcome is what became of the one create of a delivery.
type sendOutcome int

const (
	// messageNotSent: IoTDA did not take the message (refused, or never reached); the error
	// is in the diagnostics.
	messageNotSent sendOutcome = iota
	// messageAccepted: IoTDA holds the message; the result says what is known of it.
	messageAccepted
	// messageUnresolved: the request may have reached IoTDA, but the message has not been
	// found by its id yet. The resource saves it without a status, with a warning, and
	// refreshes read it by its id; it is never sent again because of this.
	messageUnresolved
)

// run sends the message and, when asked, follows it. It reports what became of it: when
// accepted, the result is what is known of it (to be saved by the resource), and diags hold
// an error when it ended FAILED or TIMEOUT, a warning when it is still PENDING past the wait.
// When the outcome is unresolved, the resource's diags hold a warning (the action's an
// error: it keeps nothing to look again with).
func (d *messageDelivery) run(ctx context.Context, diags *diag.Diagnostics) (*iotda.DeviceMessage, sendOutcome) {
	if d.pd == nil || d.pd.client == nil {
		diags.AddError("Provider Not Configured", notConfiguredDetail(d.pd,
			fmt.Sprintf("The message to device %q cannot be sent", d.msg.DeviceID)))
		return nil, messageNotSent
	}
	client := d.pd.client
	d.progress(fmt.Sprintf("Sending message %s to device %q on %s", d.msg.MessageID, d.msg.DeviceID, describeTopic(d.msg)))
	res, err := client.CreateMessage(ctx, d.msg)
	var unresolved *iotda.MessageOutcomeUnknownError
	switch {
	case errors.As(err, &unresolved) && d.use == messageForResource:
		d.progress(fmt.Sprintf("The outcome of sending message %s to device %q is not known yet", d.msg.MessageID,
			d.msg.DeviceID))
		addMessageUnresolved(d.msg, unresolved, diags)
		return nil, messageUnresolved
	case err != nil:
		diagnoseMessageSendError(ctx, d.pd, d.msg, err, d.use, diags)
		d.progress(fmt.Sprintf("Sending message %s to device %q failed", d.msg.MessageID, d.msg.DeviceID))
		return nil, messageNotSent
	}
	if res.Recovered {
		tflog.Warn(ctx, "the answer to sending the message did not say what became of it; found the message by its id",
			map[string]any{"device_id": d.msg.DeviceID, "message_id": d.msg.MessageID, "status": res.Status,
				"lost_answer": res.LostAnswer})
	}
	d.progress(acceptedMessage(d.msg, res))
	d.told = res.Status
	end := messageNoWait
	var followErr error
	switch {
	case iotda.MessageFinal(res.Status):
		end = messageFinal
	case d.wait:
		res, end, followErr = d.follow(ctx, client, res)
	}
	if res.Status == iotda.MessageFailed && res.ErrorCode == "" {
		res = d.failureReason(ctx, client, res)
	}
	d.report(ctx, res, end, followErr, diags)
	return res, messageAccepted
}

// finalReadMargin is how long before the caller's deadline following a message makes its
// last read, so that a device that connects in the last seconds is seen DELIVERED: the polls
// back off to messagePollMax, and without it the last read could come up to that long
// before the deadline. It is at most a tenth of the time given.
const finalReadMargin = time.Second

// follow reads the message until its status is final or ctx ends, with one last read just
// before ctx's deadline. A read that fails for a moment (throttled, a lost answer, already
// retried by the client) is tried again; one that cannot succeed ends the wait, keeping what
// was last seen.
func (d *messageDelivery) follow(ctx context.Context, client *iotda.Client, last *iotda.DeviceMessage) (
	*iotda.DeviceMessage, messageEnd, error,
) {
	start, interval := time.Now(), messagePollFirst
	nextNote := start.Add(messageNoteEvery)
	lastReadAt, hasDeadline := ctx.Deadline()
	if hasDeadline {
		lastReadAt = lastReadAt.Add(-min(finalReadMargin, time.Until(lastReadAt)/10))
	}
	for !iotda.MessageFinal(last.Status) {
		wait, final := interval, false
		if until := time.Until(lastReadAt); hasDeadline && wait >= until {
			wait, final = max(until, 0), true
		}
		if !sleepCtx(ctx, wait) {
			return last, messageTimedOut, ctx.Err()
		}
		interval = min(2*interval, messagePollMax)
		got, err := client.ShowDeviceMessage(ctx, d.msg.Ref())
		d.reads++
		d.readErr = nil
		switch {
		case err == nil:
			last = mergeMessage(last, got)
		case ctx.Err() != nil:
			return last, messageTimedOut, ctx.Err()
		case noSuchMessage(err):
			return last, messageGone, err
		case permanentReadError(err):
			return last, messageReadFailed, err
		default:
			d.readsFailed++
			d.readErr = err
			tflog.Warn(ctx, "reading the message's status failed; trying again", map[string]any{
				"device_id": d.msg.DeviceID, "message_id": d.msg.MessageID, "error": err.Error()})
		}
		if final && !iotda.MessageFinal(last.Status) {
			return last, messageTimedOut, context.DeadlineExceeded
		}
		if now := time.Now(); !iotda.MessageFinal(last.Status) && now.After(nextNote) {
			nextNote = now.Add(messageNoteEvery)
			d.progress(fmt.Sprintf("Message %s to device %q is still %s after %s", d.msg.MessageID, d.msg.DeviceID,
				last.Status, now.Sub(start).Round(time.Second)))
		}
	}
	return last, messageFinal, nil
}

// noSuchMessage reports an error that says IoTDA has no such message, or no such device
// (whose messages it forgets with it).
func noSuchMessage(err error) bool {
	return errors.Is(err, iotda.ErrMessageNotFound) || errors.Is(err, iotda.ErrNotFound)
}

// failureReason reads a FAILED message once for its error_info, which the create answer
// does not carry (facts §1.3). Without it the message is reported all the same.
func (d *messageDelivery) failureReason(ctx context.Context, client *iotda.Client, res *iotda.DeviceMessage) *iotda.DeviceMessage {
	got, err := client.ShowDeviceMessage(ctx, d.msg.Ref())
	if err != nil {
		tflog.Warn(ctx, "reading why the message failed did not succeed", map[string]any{
			"device_id": d.msg.DeviceID, "message_id": d.msg.MessageID, "error": err.Error()})
		return res
	}
	return mergeMessage(res, got)
}

// mergeMessage is the newer reading of a message, keeping what only the older one had (the
// create answer names no error; a read may leave out a field).
func mergeMessage(older, newer *iotda.DeviceMessage) *iotda.DeviceMessage {
	m := *newer
	if m.Status == "" {
		m.Status = older.Status
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt, m.CreatedTime = older.CreatedAt, older.CreatedTime
	}
	return &m
}

// describeTopic names where a message goes.
func describeTopic(m iotda.Message) string {
	if m.Topic == "" && m.TopicFullName == "" {
		return "the default topic " + defaultMessageTopic(m.DeviceID)
	}
	return "topic " + messageTopic(m.DeviceID, m.Topic, m.TopicFullName)
}

// acceptedMessage says what IoTDA answered to the message.
func acceptedMessage(m iotda.Message, res *iotda.DeviceMessage) string {
	switch res.Status {
	case iotda.MessageDelivered:
		return fmt.Sprintf("IoTDA delivered message %s to device %q", m.MessageID, m.DeviceID)
	case iotda.MessagePending:
		return fmt.Sprintf("IoTDA accepted message %s and holds it (PENDING) until device %q connects", m.MessageID, m.DeviceID)
	}
	return fmt.Sprintf("IoTDA accepted message %s for device %q with status %s", m.MessageID, m.DeviceID,
		firstNonEmpty(res.Status, "(none)"))
}
