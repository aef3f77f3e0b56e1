package commands

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// Responses serves POST /v5/iot/{project_id}/devices/{device_id}/commands: an
// httpapi.Service.
type Responses struct {
	api     *httpapi.API
	backend *Backend
	logger  *slog.Logger
}

var _ httpapi.Service = (*Responses)(nil)

// NewResponses returns the command API's responses layer over backend. logger receives a
// line per command (never its paras or reply, which may be sensitive).
func NewResponses(api *httpapi.API, backend *Backend, logger *slog.Logger) *Responses {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Responses{api: api, backend: backend, logger: logger}
}

// Route reports whether a path is the command route.
func (c *Responses) Route(escaped string) bool {
	_, _, ok := parsePath(escaped)
	return ok
}

// ServeHTTP answers a command request: the method, faults, the platform API's prelude, the
// device id, the body, then the delivery.
func (c *Responses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := c.api.Begin(w, r)
	defer x.Finish()
	project, deviceID, _ := parsePath(r.URL.EscapedPath())
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

// parsePath splits /v5/iot/{project_id}/devices/{device_id}/commands. It works on the
// escaped path so that an escaped "/" inside the device id is rejected as an invalid id
// rather than routed elsewhere.
func parsePath(escaped string) (project, deviceID string, ok bool) {
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
func (c *Responses) command(x *httpapi.Exchange, project, deviceID string) httpapi.Answer {
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
	cmd, bad := parseBody(x.R.Header.Get("Content-Type"), body)
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

// parseBody decodes and validates the content type and body. It returns the command, or
// the error answer.
func parseBody(contentType string, body []byte) (Command, *httpapi.Answer) {
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
		return bad(httpapi.CodeInvalidInput, httpapi.MsgInvalidInput+" service_id and command_name must be strings.")
	}
	cmd := Command{Paras: cb.Paras}
	if cb.ServiceID != nil {
		cmd.ServiceID = *cb.ServiceID
	}
	if cb.CommandName != nil {
		cmd.CommandName = *cb.CommandName
	}
	if err := cmd.Validate(); err != nil {
		return bad(httpapi.CodeInvalidInput, httpapi.MsgInvalidInput+" "+err.Error()+".")
	}
	return cmd, nil
}

// deliver hands the command to the backend and turns the outcome into the platform's
// answer.
func (c *Responses) deliver(x *httpapi.Exchange, cmd Command) httpapi.Answer {
	start := time.Now()
	reply, err := c.backend.Deliver(x.Context(), cmd)
	a, outcome := c.outcome(x, cmd, reply, err)
	msg := "command delivered"
	if errors.Is(err, delivery.ErrDeviceNotFound) || errors.Is(err, delivery.ErrDeviceOffline) {
		msg = "command not delivered"
	}
	// Paras and replies are the user's data and may be sensitive: they go to the journal only.
	c.logger.Info(msg,
		"device_id", cmd.DeviceID, "command_id", cmd.CommandID, "service_id", cmd.ServiceID,
		"command_name", cmd.CommandName, "outcome", outcome, "status", a.Status,
		"duration", time.Since(start).Round(time.Millisecond))
	return a
}

// outcome maps the backend's result to the platform's answer and a word for the log.
func (c *Responses) outcome(x *httpapi.Exchange, cmd Command, reply json.RawMessage, err error) (httpapi.Answer, string) {
	code, msg := "", ""
	if err != nil {
		code, msg = Failure(cmd.DeviceID, err)
	}
	switch {
	case err == nil:
		return httpapi.Answer{Status: http.StatusOK, Body: ReplyBody(cmd.CommandID, reply)}, "replied"
	case errors.Is(err, delivery.ErrDeviceNotFound):
		return httpapi.ErrorAnswer(http.StatusNotFound, code, msg), "not_found"
	case errors.Is(err, delivery.ErrDeviceOffline):
		return httpapi.ErrorAnswer(http.StatusForbidden, code, msg), "offline"
	case c.api.ShuttingDown():
		return httpapi.ErrorAnswer(http.StatusServiceUnavailable, httpapi.CodeShuttingDown, httpapi.MsgShuttingDown), "shutdown"
	case x.R.Context().Err() != nil:
		// The client went away: nobody reads the answer, and the journal records none.
		return httpapi.Answer{}, "client_gone"
	case errors.Is(err, context.DeadlineExceeded):
		// No reply within the platform timeout: 200 with the command id and the error.
		b, _ := json.Marshal(struct {
			CommandID string `json:"command_id"`
			httpapi.ErrorBody
		}{cmd.CommandID, httpapi.ErrorBody{ErrorCode: CodeTimeout, ErrorMsg: MsgTimeout}})
		return httpapi.Answer{Status: http.StatusOK, Body: b}, "timeout"
	default:
		return httpapi.ErrorAnswer(http.StatusInternalServerError, httpapi.CodeInternal, MsgDeliveryFailed+err.Error()),
			"error"
	}
}
