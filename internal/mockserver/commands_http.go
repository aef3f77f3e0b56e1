package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// Codes and messages of the command API beyond httpapi's (iotda-platform-facts.md §1).
const (
	codeTimeout = "IOTDA.014111"
	msgTimeout  = "Command request timed out. Check whether the device returns a response " +
		"within the specified time after receiving the request."
	// msgDeliveryFailed is followed by the error.
	msgDeliveryFailed = "The mock failed to deliver: "
)

// commandAPI serves POST /v5/iot/{project_id}/devices/{device_id}/commands.
type commandAPI struct {
	api *httpapi.API
	s   *Server
}

// Route reports whether a path is the command route.
func (c *commandAPI) Route(escaped string) bool {
	_, _, ok := parseCommandPath(escaped)
	return ok
}

// ServeHTTP answers a command request.
func (c *commandAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := c.api.Begin(w, r)
	defer x.Finish()
	project, deviceID, _ := parseCommandPath(r.URL.EscapedPath())
	x.Entry.DeviceID = deviceID
	if r.Method != http.MethodPost {
		x.NotAllowed(http.MethodPost)
		return
	}
	if x.TakeFault(deviceID) {
		return
	}
	x.Respond(c.command(x, project, deviceID))
}

// parseCommandPath splits /v5/iot/{project_id}/devices/{device_id}/commands. It works on
// the escaped path so that an escaped "/" inside the device id is rejected as an invalid
// id rather than routed elsewhere.
func parseCommandPath(escaped string) (project, deviceID string, ok bool) {
	segs := strings.Split(escaped, "/")
	if len(segs) != 7 || segs[0] != "" || segs[1] != "v5" || segs[2] != "iot" || segs[4] != "devices" ||
		segs[6] != "commands" {
		return "", "", false
	}
	project, err := url.PathUnescape(segs[3])
	if err != nil {
		return "", "", false
	}
	deviceID, err = url.PathUnescape(segs[5])
	if err != nil {
		return "", "", false
	}
	return project, deviceID, true
}

// command runs the checks in the platform's order, then delivers the command. Credentials
// are checked before the body is read, and the body is journaled only once they have passed.
func (c *commandAPI) command(x *httpapi.Exchange, project, deviceID string) httpapi.Answer {
	body, bad := x.Body(0)
	if bad != nil {
		return *bad
	}
	x.Entry.Body = body
	if a := x.CheckTenant(project); a != nil {
		return *a
	}
	if !registry.ValidDeviceID(deviceID) {
		return httpapi.ErrorAnswer(http.StatusBadRequest, httpapi.CodeInvalidInput,
			httpapi.MsgInvalidInput+" device_id must be 1 to 128 letters, digits, underscores or hyphens.")
	}
	cmd, bad := parseCommand(x.R.Header.Get("Content-Type"), body)
	if bad != nil {
		return *bad
	}
	cmd.DeviceID = deviceID
	cmd.CommandID = httpapi.NewUUID()
	x.Entry.CommandID = cmd.CommandID
	return c.deliver(x, cmd)
}

// commandBody is the request body. Paras stays raw so that it reaches the device byte for
// byte: a round trip through float64 would change large or precise numbers.
type commandBody struct {
	ServiceID   *string         `json:"service_id"`
	CommandName *string         `json:"command_name"`
	Paras       json.RawMessage `json:"paras"`
}

// parseCommand validates the content type and body. It returns the command, or the error
// answer.
func parseCommand(contentType string, body []byte) (Command, *httpapi.Answer) {
	bad := func(code, msg string) (Command, *httpapi.Answer) {
		a := httpapi.ErrorAnswer(http.StatusBadRequest, code, msg)
		return Command{}, &a
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return bad(httpapi.CodeBadRequest, httpapi.MsgBadRequest+" The Content-Type must be application/json.")
	}
	if !json.Valid(body) {
		return bad(httpapi.CodeBadRequest, httpapi.MsgBadRequest+" The request body is not valid JSON.")
	}
	if !httpapi.IsJSONObject(body) {
		return bad(httpapi.CodeInvalidInput, httpapi.MsgInvalidInput+" The request body must be a JSON object.")
	}
	var cb commandBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return bad(httpapi.CodeInvalidInput,
			httpapi.MsgInvalidInput+" service_id and command_name must be strings.")
	}
	if !httpapi.IsJSONObject(cb.Paras) {
		return bad(httpapi.CodeInvalidInput, httpapi.MsgInvalidInput+" paras is required and must be a JSON object.")
	}
	cmd := Command{Paras: cb.Paras}
	if cb.ServiceID != nil {
		cmd.ServiceID = *cb.ServiceID
	}
	if cb.CommandName != nil {
		cmd.CommandName = *cb.CommandName
	}
	if utf8.RuneCountInString(cmd.ServiceID) > 64 {
		return bad(httpapi.CodeInvalidInput, httpapi.MsgInvalidInput+" service_id is longer than 64 characters.")
	}
	if utf8.RuneCountInString(cmd.CommandName) > 128 {
		return bad(httpapi.CodeInvalidInput,
			httpapi.MsgInvalidInput+" command_name is longer than 128 characters.")
	}
	return cmd, nil
}

// deliver hands the command to the delivery path, waiting at most the platform timeout,
// and turns the outcome into the platform's answer.
func (c *commandAPI) deliver(x *httpapi.Exchange, cmd Command) httpapi.Answer {
	ctx, cancel := context.WithTimeout(x.R.Context(), c.s.opts.PlatformTimeout)
	defer cancel()
	start := time.Now()
	reply, err := c.s.deliver(ctx, cmd)
	a, outcome := c.outcome(ctx, x, cmd, reply, err)
	msg := "command delivered"
	if errors.Is(err, delivery.ErrDeviceNotFound) || errors.Is(err, delivery.ErrDeviceOffline) {
		msg = "command not delivered"
	}
	// Paras and replies are the user's data and may be sensitive: they go to the journal only.
	c.s.opts.Logger.Info(msg,
		"device_id", cmd.DeviceID, "command_id", cmd.CommandID, "service_id", cmd.ServiceID,
		"command_name", cmd.CommandName, "outcome", outcome, "status", a.Status,
		"duration", time.Since(start).Round(time.Millisecond))
	return a
}

// outcome maps the delivery path's result to the platform's answer and a word for the log.
func (c *commandAPI) outcome(ctx context.Context, x *httpapi.Exchange, cmd Command, reply json.RawMessage, err error) (httpapi.Answer, string) {
	switch {
	case err == nil:
		return httpapi.Answer{Status: http.StatusOK, Body: replyBody(cmd.CommandID, reply)}, "replied"
	case errors.Is(err, delivery.ErrDeviceNotFound):
		return httpapi.ErrorAnswer(http.StatusNotFound, httpapi.CodeDeviceNotFound, httpapi.MsgDeviceNotFound+cmd.DeviceID), "not_found"
	case errors.Is(err, delivery.ErrDeviceOffline):
		return httpapi.ErrorAnswer(http.StatusForbidden, httpapi.CodeDeviceOffline, httpapi.MsgDeviceOffline), "offline"
	case c.api.ShuttingDown():
		return httpapi.ErrorAnswer(http.StatusServiceUnavailable, httpapi.CodeShuttingDown, httpapi.MsgShuttingDown), "shutdown"
	case x.R.Context().Err() != nil:
		// The client went away: nobody reads the answer, and the journal records none.
		return httpapi.Answer{}, "client_gone"
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		b, _ := json.Marshal(struct {
			CommandID string `json:"command_id"`
			httpapi.ErrorBody
		}{cmd.CommandID, httpapi.ErrorBody{ErrorCode: codeTimeout, ErrorMsg: msgTimeout}})
		return httpapi.Answer{Status: http.StatusOK, Body: b}, "timeout"
	default:
		return httpapi.ErrorAnswer(http.StatusInternalServerError, httpapi.CodeInternal, msgDeliveryFailed+err.Error()),
			"error"
	}
}

// replyBody is the 200 answer to a command the device replied to (CONTRACTS.md C1): a
// payload that is valid JSON is embedded verbatim as "response" (any JSON value, null
// included); an empty payload (no bytes, or whitespace only) leaves "response" out; a
// payload that is not JSON is embedded as a JSON string holding its text, with bytes that
// are not UTF-8 as U+FFFD. JSON nested beyond the 10,000 levels encoding/json accepts is
// JSON all the same, and is embedded verbatim too.
func replyBody(commandID string, reply json.RawMessage) []byte {
	id, _ := json.Marshal(commandID)
	out := make([]byte, 0, len(id)+len(reply)+32)
	out = append(out, `{"command_id":`...)
	out = append(out, id...)
	resp := bytes.TrimSpace(reply)
	if len(resp) == 0 {
		return append(out, '}')
	}
	if !jsonscan.Valid(resp) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(strings.ToValidUTF8(string(reply), "\uFFFD")) // A valid string always encodes.
		resp = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	}
	out = append(out, `,"response":`...)
	out = append(out, resp...)
	return append(out, '}')
}
