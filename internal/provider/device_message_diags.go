package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Diagnostics of iotda_device_message and its action. Every detail names the device and the
// message_id, and what to do; none holds the message's content or a credential.

const (
	summaryMessageFailed         = "Message Not Delivered"
	summaryMessageExpired        = "Message Expired Before the Device Connected"
	summaryMessagePending        = "Message Still Pending"
	summaryMessageGone           = "Message No Longer on IoTDA"
	summaryMessageStatusUnknown  = "Message Status Unknown"
	summaryMessageOutcomeUnknown = "Message Send Outcome Unknown"
	summaryMessageRefused        = "Message Refused by IoTDA"
	summaryMessageReadFailed     = "Reading the Message Failed"
	summaryMessageFoundByID      = "Message Found by Its ID"
	summaryMessageNotFoundYet    = "Message Not Found on IoTDA Yet"
)

// report adds the diagnostic for how the message ended, or where the wait left it.
func (d *messageDelivery) report(ctx context.Context, res *iotda.DeviceMessage, end messageEnd, err error, diags *diag.Diagnostics) {
	who := fmt.Sprintf("message %s to device %q", d.msg.MessageID, d.msg.DeviceID)
	switch res.Status {
	case iotda.MessageDelivered:
		if d.told != res.Status { // The create answer already said so.
			d.progress(fmt.Sprintf("Message %s delivered to device %q", d.msg.MessageID, d.msg.DeviceID))
		}
		return
	case iotda.MessageFailed, iotda.MessageTimeout:
		d.progress(fmt.Sprintf("Message %s to device %q ended %s", d.msg.MessageID, d.msg.DeviceID, res.Status))
		summary, detail := notDeliveredDetail(d.msg.DeviceID, d.msg.MessageID, res, ttlOf(d.msg))
		diags.AddError(summary, withRequestID(detail+d.afterFailure(), res.RequestID))
		return
	case iotda.MessagePending, "": // An answer without a status is saved PENDING, and read again.
	default:
		diags.AddWarning(summaryMessageStatusUnknown, unknownStatusDetail(who, res.Status, d.use == messageForResource))
		return
	}
	switch end {
	case messageNoWait:
		return // The caller asked not to wait: PENDING is the expected answer.
	case messageTimedOut:
		why := fmt.Sprintf("the wait ended after %s (%s)", d.timeout, d.timeoutName())
		if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled) {
			why = "the operation was interrupted"
		}
		diags.AddWarning(summaryMessagePending, withRequestID(fmt.Sprintf("IoTDA accepted %s and holds it (PENDING) "+
			"until the device connects, for up to %d minutes, but %s before it was delivered.%s\n\n%s", who,
			ttlOf(d.msg), why, d.failedReadsNote(), d.pendingAdvice()), requestIDOf(d.readErr)))
	case messageGone:
		diags.AddWarning(summaryMessageStatusUnknown, fmt.Sprintf("IoTDA accepted %s (status %s), but stopped "+
			"reporting it while the provider followed it: %v.\n\n%s", who, res.Status, err, d.pendingAdvice()))
	case messageReadFailed:
		diags.AddWarning(summaryMessageStatusUnknown, withRequestID(fmt.Sprintf("IoTDA accepted %s (status %s), "+
			"but reading its status failed: %v.\n\n%s", who, res.Status, err, d.pendingAdvice()), requestIDOf(err)))
	}
}

// failedReadsNote says, after a wait that ended with the message still pending, that reads of
// its status failed: all of them, or the last, so that "still pending" is not taken for what
// IoTDA said when the provider could not ask. "" when the last read worked.
func (d *messageDelivery) failedReadsNote() string {
	switch {
	case d.readErr == nil:
		return ""
	case d.readsFailed == d.reads:
		return fmt.Sprintf(" Every read of its status while waiting failed (%d of %d), so PENDING is only what "+
			"IoTDA said when it accepted it; the last read: %v.", d.readsFailed, d.reads, d.readErr)
	default:
		return fmt.Sprintf(" The last read of its status failed (%d of %d reads did): %v.", d.readsFailed, d.reads,
			d.readErr)
	}
}

// knownStatus reports whether status is one of the four the platform documents.
func knownStatus(status string) bool {
	return status == iotda.MessagePending || iotda.MessageFinal(status)
}

// unknownStatusDetail explains a status the platform does not document; saved says whether
// the resource keeps it.
func unknownStatusDetail(who, status string, saved bool) string {
	shown := fmt.Sprintf("%q", firstNonEmpty(status, "(none)"))
	if status == iotda.MessageUndocumented {
		shown = iotda.MessageUndocumented + " (the provider's word: IoTDA's is not shown, as the message's content is " +
			"write-only and the platform's text could quote it)"
	}
	detail := fmt.Sprintf("IoTDA reports %s with status %s, which is none of the statuses it documents (PENDING, "+
		"DELIVERED, FAILED, TIMEOUT), so the provider cannot tell whether the device has it.", who, shown)
	if saved {
		detail += " The resource is saved with this status; every refresh reads the message again, without sending " +
			"it again, until IoTDA reports a status the provider knows."
	}
	return detail
}

// addMessageUnresolved warns that the request sending a message may have reached IoTDA
// without the message being found by its id yet: the resource is saved with its message_id
// and no status, and refreshes read it by that id. It is never sent again because of this.
func addMessageUnresolved(m iotda.Message, e *iotda.MessageOutcomeUnknownError, diags *diag.Diagnostics) {
	detail := fmt.Sprintf("The request sending message %s to device %q may have reached IoTDA, but its answer did "+
		"not say what became of it: %v.\n\nThe message was NOT sent again: a second request would reach the device "+
		"a second time. The resource is saved with message_id %s and no status, and every refresh (so the next "+
		"plan or apply) reads the message by this ID: once IoTDA shows it, its status is recorded and followed as "+
		"usual. If IoTDA never shows it (it did not take the request), the resource is kept as it is and the "+
		"message is not sent again on its own: send it with terraform apply -replace=<address>, or remove it with "+
		"terraform state rm <address>.", m.MessageID, m.DeviceID, e, m.MessageID)
	diags.AddWarning(summaryMessageOutcomeUnknown, withRequestID(detail, requestIDOf(e.Err)))
}

// timeoutName names the setting that bounds the wait.
func (d *messageDelivery) timeoutName() string {
	if d.use == messageForAction {
		return "the action's timeout argument"
	}
	return "timeouts.create"
}

// pendingAdvice says what happens to a message left PENDING.
func (d *messageDelivery) pendingAdvice() string {
	if d.use == messageForAction {
		return "IoTDA still delivers it when the device connects within the message's ttl. To wait longer, raise " +
			"the action's timeout, or set wait_for_delivery = false to return as soon as IoTDA accepts a message."
	}
	return "The resource is saved with status PENDING. Every later plan or refresh reads the message's status " +
		"again, without sending it again, until it is DELIVERED, or FAILED or TIMEOUT (then the next apply sends it " +
		"again). To wait longer in the apply, raise timeouts.create; to return as soon as IoTDA accepts the message, " +
		"set wait_for_delivery = false."
}

// afterFailure says what happens after a FAILED or TIMEOUT message.
func (d *messageDelivery) afterFailure() string {
	if d.use == messageForAction {
		return ""
	}
	return "\n\nThe resource is saved with this status, and the next apply sends the message again (the plan shows " +
		"a replacement)."
}

// ttlOf is the message's cache time in minutes.
func ttlOf(m iotda.Message) int {
	if m.TTL == nil {
		return iotda.DefaultMessageTTL
	}
	return int(*m.TTL)
}

// notDeliveredDetail explains a FAILED or TIMEOUT message and what to check.
func notDeliveredDetail(deviceID, messageID string, res *iotda.DeviceMessage, ttl int) (summary, detail string) {
	if res.Status == iotda.MessageTimeout {
		return summaryMessageExpired, fmt.Sprintf("Device %q did not connect within the message's ttl of %d "+
			"minutes, so IoTDA gave up message %s (status TIMEOUT). Check that the device connects to IoTDA at least "+
			"that often, or raise ttl (at most 1440 minutes).", deviceID, ttl, messageID)
	}
	detail = fmt.Sprintf("IoTDA could not deliver message %s to device %q (status FAILED, error_code %s: %s).",
		messageID, deviceID, firstNonEmpty(res.ErrorCode, "(none)"), firstNonEmpty(res.ErrorMsg, "no reason given"))
	switch res.ErrorCode {
	case codeMessageDeviceOffline:
		detail += " The device is offline, and with ttl = 0 IoTDA keeps nothing for it. Raise ttl (in steps of 5 " +
			"minutes) so that IoTDA holds the message until the device connects."
	case codeMessageNotSubscribed:
		detail += " The device is online but has not subscribed to the message's topic. A device must subscribe to a " +
			"custom topic (topic or topic_full_name) itself; only the default topic $oc/devices/{device_id}/sys/" +
			"messages/down is subscribed for it by IoTDA."
	}
	return summaryMessageFailed, detail
}

// Codes in error_info of a FAILED message (the SDK's ErrorInfoDto).
const (
	codeMessageDeviceOffline = "IOTDA.014016"
	codeMessageNotSubscribed = "IOTDA.014112"
)

// diagnoseMessageSendError explains a message IoTDA did not take, or may not have taken.
func diagnoseMessageSendError(ctx context.Context, pd *providerData, m iotda.Message, err error, use messageUse, diags *diag.Diagnostics) {
	who := fmt.Sprintf("message %s to device %q", m.MessageID, m.DeviceID)
	var (
		outcome *iotda.MessageOutcomeUnknownError
		notSent *iotda.NotSentError
		unknown *iotda.DeliveryUnknownError
		apiErr  *iotda.APIError
	)
	switch {
	case errors.As(err, &outcome):
		diags.AddError(summaryMessageOutcomeUnknown, withRequestID(fmt.Sprintf("The request sending %s may have "+
			"reached IoTDA, but its answer did not say what became of it, and the message was not found by its ID "+
			"(%v).\n\n%s", who, err, outcomeAdvice(m, use)), requestIDOf(outcome.Err)))
	case errors.As(err, &notSent):
		diags.AddError(summaryCannotReach, fmt.Sprintf("Could not connect to IoTDA at %s to send %s (%d "+
			"attempt(s)): %v\n\nThe request never reached IoTDA, so the message was not sent. %s",
			pd.endpoint, who, notSent.Attempts, notSent.Err, connectAdvice(ctx, "Check the endpoint and region "+
				"settings, the network path and proxy, and the TLS settings (ca_cert_pem, insecure).",
				"Apply again to send the message.")))
	case errors.As(err, &unknown):
		diags.AddError(summaryMessageOutcomeUnknown, withRequestID(fmt.Sprintf("The request sending %s may have "+
			"reached IoTDA, but no usable answer came (%v).\n\n%s", who, err, outcomeAdvice(m, use)), unknown.RequestID))
	case errors.As(err, &apiErr):
		diagnoseMessageAPIError(pd, m, apiErr, diags)
	default:
		diags.AddError("Message Not Sent", fmt.Sprintf("Sending %s failed: %v", who, err))
	}
}

// outcomeAdvice says what to do about a message that may or may not have been accepted.
// In practice only the action gets here: CreateMessage reports an unknown outcome as a
// MessageOutcomeUnknownError, which the resource saves and reads by its ID (see run); the
// resource's words are a fallback.
func outcomeAdvice(m iotda.Message, use messageUse) string {
	if use == messageForAction {
		return fmt.Sprintf("If IoTDA did accept it, the device receives it; ListDeviceMessages of device %q shows it "+
			"as %s. Invoking the action again sends a new message, with a new message_id.", m.DeviceID, m.MessageID)
	}
	return fmt.Sprintf("Nothing was saved. If IoTDA did accept it, the device receives it. To adopt it, import it "+
		"once IoTDA shows it: terraform import <address> %s.", messageImportID(m.DeviceID, m.MessageID))
}

func diagnoseMessageAPIError(pd *providerData, m iotda.Message, e *iotda.APIError, diags *diag.Diagnostics) {
	status := fmt.Sprintf("HTTP %d %s, error_code %s, error_msg %q",
		e.StatusCode, http.StatusText(e.StatusCode), firstNonEmpty(e.ErrorCode, "(none)"), e.ErrorMsg)
	who := fmt.Sprintf("message %s to device %q", m.MessageID, m.DeviceID)
	switch {
	case errors.Is(e, iotda.ErrNotFound):
		diags.AddError(summaryDeviceNotFound, withRequestID(fmt.Sprintf("Device %q was not found in project %q "+
			"(%s), so the message was not sent.\n\nCheck device_id, and the provider's project_id and instance_id.",
			m.DeviceID, pd.projectID, status), e.RequestID))
	case errors.Is(e, iotda.ErrBadRequest):
		diags.AddError(summaryMessageRefused, withRequestID(fmt.Sprintf("IoTDA refused %s (%s); it was not "+
			"sent.\n\nThe provider checks the documented rules at plan time, but IoTDA also refuses a topic the "+
			"device's product does not define: check topic against the product's custom topics, or use "+
			"topic_full_name.", who, status), e.RequestID))
	default:
		diags.AddError(summaryAPIError, withRequestID(fmt.Sprintf("IoTDA answered the request sending %s with an "+
			"error: %s.\n\n%s", who, status, messageAPIErrorHint(e)), e.RequestID))
	}
}

// messageAPIErrorHint says what to do next for each class of API error.
func messageAPIErrorHint(e *iotda.APIError) string {
	switch {
	case errors.Is(e, iotda.ErrUnauthorized):
		return "Authentication failed. Check auth_token (IOTDA_AUTH_TOKEN), or access_key and secret_key " +
			"(IOTDA_ACCESS_KEY, IOTDA_SECRET_KEY) and signing_algorithm."
	case errors.Is(e, iotda.ErrForbidden):
		return "The credentials are not allowed to send messages (IAM action iotda:messages:send). Check the IAM " +
			"permissions, the project_id and the instance_id."
	case errors.Is(e, iotda.ErrThrottled):
		return "The request was throttled and the message was not sent. Try again later."
	case errors.Is(e, iotda.ErrNoSuchAPI):
		return "The endpoint serves no such API, so the request did not reach IoTDA and nothing was sent. Check " +
			"endpoint (or IOTDA_ENDPOINT): it must be an IoTDA API address, such as " +
			"https://iotda.cn-north-4.myhuaweicloud.com or an instance's access address; or unset it and set region."
	case errors.Is(e, iotda.ErrRedirect):
		return redirectHint(e, "sending the message again to another address could send it twice",
			"the message was most likely not sent")
	}
	return "The message was not sent."
}
