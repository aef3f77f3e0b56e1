package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The diagnostics below follow the table in DESIGN.md. Every detail names the device and
// the error code where there is one, and none ever includes a credential.

const (
	summaryDeviceFailure   = "Device Reported a Command Failure"
	summaryDeviceTimeout   = "Device Did Not Respond in Time"
	summaryOutcomeUnknown  = "Command Delivery Outcome Unknown"
	summaryDeviceOffline   = "Device Is Offline"
	summaryDeviceNotFound  = "Device Not Found"
	summaryAPIError        = "IoTDA API Error"
	summaryCannotReach     = "Cannot Reach IoTDA"
	summaryDeliveryFailure = "Command Delivery Failed"

	summaryReplyBeyondLimits   = "Device Reply Kept Only as JSON"
	summaryReplyInexactNumbers = "Device Reply Numbers Kept as Strings"
	summaryReplyNotJSON        = "Device Reply Is Not JSON"
	summaryReplyRedacted       = "Device Reply Redacted"
	summaryReplyShortEchoes    = "Device Reply May Echo Write-Only Values"

	errorCodeDeviceTimeout = "IOTDA.014111"
)

// describeCommand names a command for messages: `command "ON_OFF" of service "Switch"`.
func describeCommand(cmd iotda.Command) string {
	switch {
	case cmd.CommandName != "" && cmd.ServiceID != "":
		return fmt.Sprintf("command %q of service %q", cmd.CommandName, cmd.ServiceID)
	case cmd.CommandName != "":
		return fmt.Sprintf("command %q", cmd.CommandName)
	case cmd.ServiceID != "":
		return fmt.Sprintf("the command of service %q", cmd.ServiceID)
	default:
		return "the command"
	}
}

func withRequestID(detail, requestID string) string {
	if requestID == "" {
		return detail
	}
	return detail + "\n\nX-Request-Id: " + requestID
}

// reportDeviceFailure reports a reply with a non-zero result_code, or one that is not an
// integer (codeErr), as an error or, with fail_on_device_error = false, a warning. mask
// hides the provider's credentials in what the device sent: a device may echo a token it
// was given in paras, and the diagnostic is printed and logged.
func reportDeviceFailure(m *deviceCommandModel, r *iotda.CommandResult, codeErr error, use deliveryUse,
	mask func(string) string, diags *diag.Diagnostics) {
	var b strings.Builder
	cmd := iotda.Command{ServiceID: m.ServiceID.ValueString(), CommandName: m.CommandName.ValueString()}
	outcome := fmt.Sprintf("with result_code %d", m.ResultCode.ValueInt64())
	if codeErr != nil {
		outcome = fmt.Sprintf("but its %v, so it is not a success (0)", codeErr)
	}
	fmt.Fprintf(&b, "Device %q answered %s (command_id %s) %s.",
		m.DeviceID.ValueString(), describeCommand(cmd), r.CommandID, outcome)
	if len(r.Response) > 0 {
		// Masked before it is cut, so that a secret crossing the cut cannot show in part.
		fmt.Fprintf(&b, "\n\nThe device's reply: %s", shorten(mask(string(r.Response)), maxShownReply))
	}
	if m.failOnDeviceError() {
		b.WriteString("\n\n")
		if use == deliveryForResource {
			b.WriteString("The device received the command, so the result is saved, and Terraform marks the " +
				"resource as tainted: the next apply delivers the command again. ")
		}
		b.WriteString("Set fail_on_device_error = false to accept failures reported by the device.")
		diags.AddError(summaryDeviceFailure, mask(withRequestID(b.String(), r.RequestID)))
		return
	}
	if use == deliveryForAction {
		b.WriteString("\n\nfail_on_device_error is false, so this is only a warning and the action succeeds.")
	} else {
		b.WriteString("\n\nfail_on_device_error is false, so this is only a warning and the result is kept.")
	}
	diags.AddWarning(summaryDeviceFailure, mask(withRequestID(b.String(), r.RequestID)))
}

// maxShownReply bounds the part of a reply a diagnostic shows; response_json has all of it.
const maxShownReply = 2048

// reportReplyNotes warns about a reply that is not recorded in full in response: beyond the
// limits of its object form, holding numbers Terraform cannot hold exactly, or not JSON.
func reportReplyNotes(cmd iotda.Command, commandID string, r deviceReply, mask func(string) string, diags *diag.Diagnostics) {
	who := fmt.Sprintf("Device %q answered %s (command_id %s)", cmd.DeviceID, describeCommand(cmd), commandID)
	if r.NotJSON {
		diags.AddWarning(summaryReplyNotJSON, mask(who+" with a reply that is not JSON. response holds it as a "+
			"string, and response_json as a JSON string."))
	}
	if r.Beyond != "" {
		diags.AddWarning(summaryReplyBeyondLimits, mask(fmt.Sprintf("%s with a reply too large to keep as an "+
			"object: %s. So response is null, and response_json holds the reply exactly: read it with "+
			"jsondecode(<address>.response_json).\n\n%s", who, r.Beyond, replyLimitsText)))
	}
	if r.InexactCount > 0 {
		diags.AddWarning(summaryReplyInexactNumbers, mask(fmt.Sprintf("%s with %d number(s) that Terraform "+
			"cannot hold exactly: %s. In response each of them is a string holding the number as the device "+
			"wrote it; response_json holds them as numbers, exactly as received. Terraform numbers keep about "+
			"155 significant digits and exponents up to about ±1233.",
			who, r.InexactCount, strings.Join(r.Inexact, ", "))))
	}
}

// reportRedaction warns that the device's reply held values that must never be stored or
// shown, which the client replaced by "***" (see iotda.Redaction): values sent in paras_wo,
// or a credential of the provider. The warning names the attributes, never the values. It
// also warns when the reply holds strings equal to strings of paras_wo too short to
// redact, which are kept.
func reportRedaction(cmd iotda.Command, commandID string, red iotda.Redacted, diags *diag.Diagnostics) {
	if len(red.Attributes) == 0 && red.ShortEchoes == 0 {
		return
	}
	who := fmt.Sprintf("Device %q answered %s (command_id %s)", cmd.DeviceID, describeCommand(cmd), commandID)
	shortNote := fmt.Sprintf("Strings of paras_wo shorter than %d characters, and its numbers, booleans and "+
		"nulls, are not redacted: they are too common to tell an echo from the rest of a reply, so a device that "+
		"echoes them puts them in the state. Send such a value inside a longer string, or have the device leave "+
		"its parameters out of its reply.", iotda.MinRedactedLength)
	if len(red.Attributes) == 0 {
		diags.AddWarning(summaryReplyShortEchoes, fmt.Sprintf("%s with a reply that holds %d string(s) equal to "+
			"a string of paras_wo, which is write-only. %s", who, red.ShortEchoes, shortNote))
		return
	}
	var what []string
	for _, a := range red.Attributes {
		if a == iotda.AttrParasWO {
			what = append(what, "values sent in paras_wo, which is write-only")
		} else {
			what = append(what, "the provider's "+a)
		}
	}
	detail := fmt.Sprintf("%s with a reply that holds %s. Each such value is replaced by *** in response, "+
		"response_json, the provider's diagnostics and its logs, so that it is never stored or shown; the "+
		"rest of the reply is kept.", who, strings.Join(what, " and "))
	if cmd.SecretParas {
		if red.ShortEchoes > 0 {
			detail += fmt.Sprintf(" The reply also holds %d string(s) equal to a short string of paras_wo, "+
				"which are kept.", red.ShortEchoes)
		}
		detail += "\n\n" + shortNote
	}
	diags.AddWarning(summaryReplyRedacted, detail)
}

// diagnoseDeliveryError turns a CreateCommand error into the diagnostic the design calls
// for. The order matters: a platform timeout carries a result, a request that provably
// never left beats a context that expired meanwhile, and an expired context or a lost
// answer makes the outcome unknown.
func diagnoseDeliveryError(ctx context.Context, pd *providerData, cmd iotda.Command, r *iotda.CommandResult, err error, diags *diag.Diagnostics) {
	if err == nil {
		err = errors.New("IoTDA returned no result")
	}
	var (
		apiErr     *iotda.APIError
		notSent    *iotda.NotSentError
		unknownErr *iotda.DeliveryUnknownError
	)
	switch {
	case errors.Is(err, iotda.ErrDeviceTimeout):
		diags.AddError(summaryDeviceTimeout, deviceTimeoutDetail(cmd, r, err))
	case errors.As(err, &notSent):
		diags.AddError(summaryCannotReach, cannotReachDetail(ctx, pd, cmd, notSent))
	case errors.As(err, &unknownErr):
		diags.AddError(summaryOutcomeUnknown, outcomeUnknownDetail(ctx, cmd, err, unknownErr.RequestID))
	case errors.As(err, &apiErr):
		// IoTDA answered, so the outcome is known even if the context ended since (a
		// throttled request whose retry wait the timeout cut short).
		diagnoseAPIError(pd, cmd, apiErr, diags)
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		diags.AddError(summaryOutcomeUnknown, outcomeUnknownDetail(ctx, cmd, err, ""))
	default:
		diags.AddError(summaryDeliveryFailure, fmt.Sprintf("Delivering %s to device %q failed: %v\n\n"+
			"The device may or may not have received the command; it will not be retried automatically.",
			describeCommand(cmd), cmd.DeviceID, err))
	}
}

func deviceTimeoutDetail(cmd iotda.Command, r *iotda.CommandResult, err error) string {
	commandID, msg, requestID := "", "", ""
	var apiErr *iotda.APIError
	if errors.As(err, &apiErr) {
		commandID, msg, requestID = apiErr.CommandID, apiErr.ErrorMsg, apiErr.RequestID
	}
	if r != nil {
		commandID = firstNonEmpty(r.CommandID, commandID)
		msg = firstNonEmpty(r.ErrorMsg, msg)
		requestID = firstNonEmpty(r.RequestID, requestID)
	}
	detail := fmt.Sprintf("Device %q did not answer %s (command_id %s) within the platform's 20 s limit: "+
		"IoTDA returned error_code %s (%s).\n\n"+
		"The device may still have executed the command, but no result was recorded and the next apply "+
		"delivers it again. Check that:\n"+
		"  - the device is online and connected over MQTT;\n"+
		"  - it handles the command IoTDA publishes to $oc/devices/%s/sys/commands/request_id={request_id} "+
		"(IoTDA delivers it whether or not the device subscribed) and publishes its reply to "+
		"$oc/devices/%s/sys/commands/response/request_id={request_id};\n"+
		"  - it answers within 20 seconds. For a device that is slow or sleeps, send an asynchronous message "+
		"with the iotda_device_message resource instead: IoTDA keeps it until the device connects.",
		cmd.DeviceID, describeCommand(cmd), firstNonEmpty(commandID, "unknown"), errorCodeDeviceTimeout,
		firstNonEmpty(msg, "command request timed out"), cmd.DeviceID, cmd.DeviceID)
	return withRequestID(detail, requestID)
}

func outcomeUnknownDetail(ctx context.Context, cmd iotda.Command, err error, requestID string) string {
	why := "no usable answer came back"
	advice := " If the platform is just slow to answer, raise the timeout (the timeouts block, or the action's " +
		"timeout argument) above the platform's 20 s limit."
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		why = "the operation's timeout expired before IoTDA answered"
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
		// Interrupted (Ctrl-C): no timeout was too short.
		why, advice = "the operation was cancelled before IoTDA answered", ""
	}
	detail := fmt.Sprintf("The request delivering %s to device %q may have reached IoTDA, but %s (%v).\n\n"+
		"The device may or may not have executed the command. Nothing was saved, and the command will NOT be "+
		"retried automatically, because a second delivery could act on the device twice. Check the device's "+
		"state before applying again.%s",
		describeCommand(cmd), cmd.DeviceID, why, err, advice)
	return withRequestID(detail, requestID)
}

func cannotReachDetail(ctx context.Context, pd *providerData, cmd iotda.Command, notSent *iotda.NotSentError) string {
	return fmt.Sprintf("Could not connect to IoTDA at %s to deliver %s to device %q (%d attempt(s)): %v\n\n"+
		"The request never reached the platform, so the command was not delivered. %s",
		pd.endpoint, describeCommand(cmd), cmd.DeviceID, notSent.Attempts, notSent.Err,
		connectAdvice(ctx, "Check the endpoint and region settings, the network path and proxy, and the TLS "+
			"settings (ca_cert_pem, insecure).", "Apply again to deliver the command."))
}

// connectAdvice says what to do about a request that never reached IoTDA: check the
// connection settings (check), unless the operation was cancelled while connecting, which
// says nothing about them (again says how to try once more), or its timeout expired then.
func connectAdvice(ctx context.Context, check, again string) string {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "The operation was cancelled while connecting. " + again
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "The timeout expired while connecting. " + check
	}
	return check
}

func diagnoseAPIError(pd *providerData, cmd iotda.Command, e *iotda.APIError, diags *diag.Diagnostics) {
	status := fmt.Sprintf("HTTP %d %s, error_code %s, error_msg %q",
		e.StatusCode, http.StatusText(e.StatusCode), firstNonEmpty(e.ErrorCode, "(none)"), e.ErrorMsg)
	switch {
	case errors.Is(e, iotda.ErrDeviceOffline):
		diags.AddError(summaryDeviceOffline, withRequestID(fmt.Sprintf(
			"IoTDA did not deliver %s because device %q is not online (%s).\n\n"+
				"Nothing was delivered. Make sure the device is connected to the platform over MQTT, then apply again. "+
				"For a device that is often offline, send an iotda_device_message instead: IoTDA keeps it until the "+
				"device connects.",
			describeCommand(cmd), cmd.DeviceID, status), e.RequestID))
	case errors.Is(e, iotda.ErrNotFound):
		diags.AddError(summaryDeviceNotFound, withRequestID(fmt.Sprintf(
			"Device %q was not found in project %q (%s).\n\n"+
				"Check device_id, and the provider's project_id and instance_id.",
			cmd.DeviceID, pd.projectID, status), e.RequestID))
	default:
		diags.AddError(summaryAPIError, withRequestID(fmt.Sprintf(
			"IoTDA answered the request delivering %s to device %q with an error: %s.\n\n%s",
			describeCommand(cmd), cmd.DeviceID, status, apiErrorHint(e)), e.RequestID))
	}
}

// apiErrorHint says what to do next for each class of API error.
func apiErrorHint(e *iotda.APIError) string {
	switch {
	case e.StatusCode == http.StatusOK:
		return "IoTDA accepted the request but reported a command delivery exception. The device may or may not " +
			"have received the command; nothing was saved, and it will not be retried automatically."
	case errors.Is(e, iotda.ErrUnauthorized):
		return "Authentication failed. Check auth_token (IOTDA_AUTH_TOKEN), or access_key and secret_key " +
			"(IOTDA_ACCESS_KEY, IOTDA_SECRET_KEY) and signing_algorithm."
	case errors.Is(e, iotda.ErrForbidden):
		return "The credentials are not allowed to deliver this command. Check the IAM permissions, the project_id " +
			"and the instance_id."
	case errors.Is(e, iotda.ErrThrottled):
		return "The request was throttled. Try again later."
	case errors.Is(e, iotda.ErrNoSuchAPI):
		return "The endpoint serves no such API, so the request did not reach IoTDA and nothing was delivered. " +
			"Check endpoint (or IOTDA_ENDPOINT): it must be an IoTDA API address, such as " +
			"https://iotda.cn-north-4.myhuaweicloud.com or an instance's access address; or unset it and set region."
	case errors.Is(e, iotda.ErrRedirect):
		return redirectHint(e, "sending the command again to another address could deliver it twice",
			"the command was most likely not delivered")
	case errors.Is(e, iotda.ErrBadRequest):
		return "The platform rejected the request. Check service_id, command_name and paras against the device's " +
			"product model."
	case errors.Is(e, iotda.ErrServer):
		return "The platform reported an internal error. It does not say whether the command reached the device; " +
			"check the device's state before applying again."
	default:
		return "The command was not delivered."
	}
}

// redirectHint explains a redirect the client did not follow (iotda.ErrRedirect): where it
// pointed, why following it could repeat the request (twice), what that means for this
// request (outcome), and what to do.
func redirectHint(e *iotda.APIError, twice, outcome string) string {
	return fmt.Sprintf("The endpoint answered with a redirect to %s, and the provider does not follow "+
		"redirects: %s. A redirect normally means the request was not processed there, so %s. Set endpoint (or "+
		"IOTDA_ENDPOINT) to the address IoTDA gives for your instance, such as "+
		"https://iotda.cn-north-4.myhuaweicloud.com, or to where the redirect points if you trust it.",
		firstNonEmpty(e.Location, "an address it did not give (no Location header)"), twice, outcome)
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
