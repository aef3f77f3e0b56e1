package mockserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/iotdalabs/terraform-provider-iotda/internal/jsonscan"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// Error codes of the command API. The IOTDA.* codes and messages are the platform's own
// (see iotda-platform-facts.md §1); where the platform's answer is not documented the mock
// makes a documented choice:
//
//   - an unknown path answers 404 and a known path with another method 405 (with Allow:
//     POST), both with APIG.0101, the code API Gateway uses for an API that does not exist;
//   - a project id in the path other than Options.ProjectID answers 403 IOTDA.000004;
//   - a missing or different Instance-Id header, when Options.InstanceID is set, answers
//     403 IOTDA.000021;
//   - failures of the mock itself answer 500 MOCK.000500, and requests cut short by the
//     mock shutting down 503 MOCK.000503.
const (
	codeNoAPI          = "APIG.0101"
	codeUnauthorized   = "IOTDA.000002"
	codeProject        = "IOTDA.000004"
	codeInvalidInput   = "IOTDA.000006"
	codeBadRequest     = "IOTDA.000008"
	codeInstance       = "IOTDA.000021"
	codeDeviceNotFound = "IOTDA.014000"
	codeDeviceOffline  = "IOTDA.014016"
	codeTimeout        = "IOTDA.014111"
	codeInternal       = "MOCK.000500"
	codeShuttingDown   = "MOCK.000503"

	msgNoAPI         = "The API does not exist or has not been published in the environment."
	msgInvalidInput  = "Invalid input data."
	msgBadRequest    = "Invalid input. Bad request, for more detail, refer to the error message."
	msgDeviceOffline = "Operation not allowed. The device is not online."
	msgTimeout       = "Command request timed out. Check whether the device returns a response " +
		"within the specified time after receiving the request."
	// msgDeviceNotFound is followed by the device id.
	msgDeviceNotFound = "The device does not exist. device_id: "
	msgShuttingDown   = "The mock is shutting down."
	// msgDeliveryFailed is followed by the error.
	msgDeliveryFailed = "The mock failed to deliver: "
)

// httpSide serves the command API, the admin API and /healthz on one listener.
type httpSide struct {
	opts    *Options
	journal *journal.Journal
	faults  *faults.Set
	// server gives the admin API the Server's device methods; New sets it.
	server *Server

	tlsConfig *tls.Config // nil for plain HTTP
	caPEM     string      // the generated CA, when the mock made one (for HTTPS or MQTTS)

	baseCtx context.Context
	cancel  context.CancelFunc

	mu        sync.Mutex
	srv       *http.Server
	ln        net.Listener
	served    chan struct{} // closed when Serve returns
	closeOnce sync.Once
	closeErr  error
}

func newHTTPSide(opts *Options, j *journal.Journal, f *faults.Set, st serverTLS) *httpSide {
	h := &httpSide{opts: opts, journal: j, faults: f, tlsConfig: st.http, caPEM: st.caPEM}
	h.baseCtx, h.cancel = context.WithCancel(context.Background())
	return h
}

// start listens on Options.HTTPAddr and serves in the background; it returns once the
// listener is open, so the URL is usable as soon as it returns.
func (h *httpSide) start() error {
	ln, err := net.Listen("tcp", h.opts.HTTPAddr)
	if err != nil {
		return fmt.Errorf("mockserver: listen on %s: %w", h.opts.HTTPAddr, err)
	}
	if h.tlsConfig != nil {
		ln = tls.NewListener(ln, h.tlsConfig)
	}
	lim := h.opts.Limits
	srv := &http.Server{
		Handler: h,
		// ReadTimeout bounds the request line, the headers and the body; net/http lifts it
		// once the body has been read to its end, so waiting for the device does not
		// count. There is no WriteTimeout: it would bound the platform timeout too.
		ReadHeaderTimeout: lim.HTTPReadHeaderTimeout,
		ReadTimeout:       lim.HTTPReadTimeout,
		IdleTimeout:       lim.HTTPIdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return h.baseCtx },
		ErrorLog:          slog.NewLogLogger(h.opts.Logger.Handler(), slog.LevelDebug),
	}
	h.mu.Lock()
	h.srv, h.ln, h.served = srv, ln, make(chan struct{})
	h.mu.Unlock()
	go func() {
		defer close(h.served)
		// Serve always returns an error; http.ErrServerClosed is the normal end.
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.opts.Logger.Error("mockserver: HTTP server stopped", "error", err)
		}
	}()
	return nil
}

// close cancels the requests in flight (so that none waits out the platform timeout),
// then shuts the server down.
func (h *httpSide) close() error {
	h.closeOnce.Do(func() {
		h.cancel()
		h.mu.Lock()
		srv, served := h.srv, h.served
		h.mu.Unlock()
		if srv == nil {
			return
		}
		// Requests in flight were cancelled above, so they answer at once. Shutdown would still
		// wait up to 5 s for a connection a client opened but never used (it counts as active),
		// so give it a moment and then close whatever is left: that is not an error.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			h.closeErr = fmt.Errorf("mockserver: shut down HTTP API: %w", err)
		}
		if err := srv.Close(); err != nil {
			h.closeErr = errors.Join(h.closeErr, fmt.Errorf("mockserver: close HTTP API: %w", err))
		}
		<-served
	})
	return h.closeErr
}

// url is the API's base URL, or "" before start.
func (h *httpSide) url() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return ""
	}
	scheme := "http"
	if h.tlsConfig != nil {
		scheme = "https"
	}
	return scheme + "://" + h.ln.Addr().String()
}

// ServeHTTP stamps every response with an X-Request-Id and a JSON content type, then routes.
func (h *httpSide) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := randomHex(16)
	w.Header().Set("X-Request-Id", reqID)
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/healthz":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorBody(codeNoAPI, msgNoAPI))
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	case strings.HasPrefix(r.URL.Path, adminPrefix):
		h.serveAdmin(w, r)
	case isBatchPath(r.URL.EscapedPath()):
		h.serveBatchAPI(w, r, reqID) // batch.go
	default:
		h.serveCommandAPI(w, r, reqID)
	}
}

// apiError is the platform's error body.
type apiError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
}

func errorBody(code, msg string) apiError { return apiError{ErrorCode: code, ErrorMsg: msg} }

// writeJSON writes v as the JSON body of a status answer. Encoding our own types cannot
// fail; if the client is gone the write error has nobody to go to.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error_code":"`+codeInternal+`","error_msg":"encoding failed"}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// randomHex returns n random bytes in hex. crypto/rand.Read never fails on supported
// platforms.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, the format of IoTDA command ids.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// exchange is one command API request on its way to an answer. Its entry is journaled
// when the request is done.
type exchange struct {
	h     *httpSide
	w     http.ResponseWriter
	r     *http.Request
	entry Entry
	fault *Fault
}

// answer is what the command API decided to respond, before faults have their say.
type answer struct {
	status int
	body   []byte
}

func errorAnswer(status int, code, msg string) answer {
	b, _ := json.Marshal(errorBody(code, msg)) // two strings always encode
	return answer{status: status, body: b}
}

func (h *httpSide) serveCommandAPI(w http.ResponseWriter, r *http.Request, reqID string) {
	x := &exchange{h: h, w: w, r: r, entry: Entry{
		Kind:      EntryRequest,
		RequestID: reqID,
		Method:    r.Method,
		Path:      r.URL.Path,
		Header:    journal.MaskHeader(r.Header),
	}}
	defer func() { h.journal.Add(x.entry) }()

	project, deviceID, ok := parseCommandPath(r.URL.EscapedPath())
	if !ok {
		x.respond(errorAnswer(http.StatusNotFound, codeNoAPI, msgNoAPI))
		return
	}
	x.entry.DeviceID = deviceID
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		x.respond(errorAnswer(http.StatusMethodNotAllowed, codeNoAPI, msgNoAPI))
		return
	}
	if x.takeFault(deviceID) {
		return
	}
	x.respond(h.command(x, project, deviceID))
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
func (h *httpSide) command(x *exchange, project, deviceID string) answer {
	body, bad := h.authenticatedBody(x, h.opts.Limits.MaxBodyBytes)
	if bad != nil {
		return *bad
	}
	x.entry.Body = body
	if a := h.checkTenant(x.r, project); a != nil {
		return *a
	}
	if !registry.ValidDeviceID(deviceID) {
		return errorAnswer(http.StatusBadRequest, codeInvalidInput,
			msgInvalidInput+" device_id must be 1 to 128 letters, digits, underscores or hyphens.")
	}
	cmd, bad := parseCommand(x.r.Header.Get("Content-Type"), body)
	if bad != nil {
		return *bad
	}
	cmd.DeviceID = deviceID
	cmd.CommandID = newUUID()
	x.entry.CommandID = cmd.CommandID
	return h.deliver(x, cmd)
}

// authenticatedBody checks the credentials, reads the body (at most limit bytes) and checks
// the signature over it. A request whose credentials fail has its body drained, not read.
// It returns the body, or the error answer.
func (h *httpSide) authenticatedBody(x *exchange, limit int64) ([]byte, *answer) {
	verifyBody, err := checkCredentials(h.opts, x.r)
	if err != nil {
		h.discardBody(x)
		a := errorAnswer(http.StatusUnauthorized, codeUnauthorized, err.Error())
		return nil, &a
	}
	body, bad := h.readBody(x, limit)
	if bad != nil {
		return nil, bad
	}
	if verifyBody != nil {
		if err := verifyBody(body); err != nil {
			a := errorAnswer(http.StatusUnauthorized, codeUnauthorized, err.Error())
			return nil, &a
		}
	}
	return body, nil
}

// checkTenant runs the checks that follow authentication, in the platform's order: project,
// then Instance-Id. It returns the error answer, or nil.
func (h *httpSide) checkTenant(r *http.Request, project string) *answer {
	var a answer
	switch {
	case project != h.opts.ProjectID:
		a = errorAnswer(http.StatusForbidden, codeProject, "The project id "+quote(project)+
			" in the request path is not this endpoint's project "+quote(h.opts.ProjectID)+".")
	case h.opts.InstanceID != "" && r.Header.Get("Instance-Id") != h.opts.InstanceID:
		a = errorAnswer(http.StatusForbidden, codeInstance, "The Instance-Id header "+quote(r.Header.Get("Instance-Id"))+
			" does not name this endpoint's instance "+quote(h.opts.InstanceID)+".")
	default:
		return nil
	}
	return &a
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
func parseCommand(contentType string, body []byte) (Command, *answer) {
	bad := func(code, msg string) (Command, *answer) {
		a := errorAnswer(http.StatusBadRequest, code, msg)
		return Command{}, &a
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return bad(codeBadRequest, msgBadRequest+" The Content-Type must be application/json.")
	}
	if !json.Valid(body) {
		return bad(codeBadRequest, msgBadRequest+" The request body is not valid JSON.")
	}
	if !isJSONObject(body) {
		return bad(codeInvalidInput, msgInvalidInput+" The request body must be a JSON object.")
	}
	var cb commandBody
	if err := json.Unmarshal(body, &cb); err != nil {
		return bad(codeInvalidInput,
			msgInvalidInput+" service_id and command_name must be strings.")
	}
	if !isJSONObject(cb.Paras) {
		return bad(codeInvalidInput, msgInvalidInput+" paras is required and must be a JSON object.")
	}
	cmd := Command{Paras: cb.Paras}
	if cb.ServiceID != nil {
		cmd.ServiceID = *cb.ServiceID
	}
	if cb.CommandName != nil {
		cmd.CommandName = *cb.CommandName
	}
	if utf8.RuneCountInString(cmd.ServiceID) > 64 {
		return bad(codeInvalidInput, msgInvalidInput+" service_id is longer than 64 characters.")
	}
	if utf8.RuneCountInString(cmd.CommandName) > 128 {
		return bad(codeInvalidInput,
			msgInvalidInput+" command_name is longer than 128 characters.")
	}
	return cmd, nil
}

// isJSONObject reports whether b, valid JSON, is an object.
func isJSONObject(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// deliver hands the command to the device side, waiting at most the platform timeout,
// and turns the outcome into the platform's answer.
func (h *httpSide) deliver(x *exchange, cmd Command) answer {
	ctx, cancel := context.WithTimeout(x.r.Context(), h.opts.PlatformTimeout)
	defer cancel()
	start := time.Now()
	reply, err := h.server.deliver(ctx, cmd)
	a, outcome := h.outcome(ctx, x, cmd, reply, err)
	msg := "command delivered"
	if errors.Is(err, ErrDeviceNotFound) || errors.Is(err, ErrDeviceOffline) {
		msg = "command not delivered"
	}
	// Paras and replies are the user's data and may be sensitive: they go to the journal only.
	h.opts.Logger.Info(msg,
		"device_id", cmd.DeviceID, "command_id", cmd.CommandID, "service_id", cmd.ServiceID,
		"command_name", cmd.CommandName, "outcome", outcome, "status", a.status,
		"duration", time.Since(start).Round(time.Millisecond))
	return a
}

// outcome maps the device side's result to the platform's answer and a word for the log.
func (h *httpSide) outcome(ctx context.Context, x *exchange, cmd Command, reply json.RawMessage, err error) (answer, string) {
	switch {
	case err == nil:
		return answer{status: http.StatusOK, body: replyBody(cmd.CommandID, reply)}, "replied"
	case errors.Is(err, ErrDeviceNotFound):
		return errorAnswer(http.StatusNotFound, codeDeviceNotFound, msgDeviceNotFound+cmd.DeviceID), "not_found"
	case errors.Is(err, ErrDeviceOffline):
		return errorAnswer(http.StatusForbidden, codeDeviceOffline, msgDeviceOffline), "offline"
	case h.baseCtx.Err() != nil:
		return errorAnswer(http.StatusServiceUnavailable, codeShuttingDown, msgShuttingDown), "shutdown"
	case x.r.Context().Err() != nil:
		// The client went away: nobody reads the answer, and the journal records none.
		return answer{}, "client_gone"
	case ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded):
		b, _ := json.Marshal(struct {
			CommandID string `json:"command_id"`
			apiError
		}{cmd.CommandID, errorBody(codeTimeout, msgTimeout)})
		return answer{status: http.StatusOK, body: b}, "timeout"
	default:
		return errorAnswer(http.StatusInternalServerError, codeInternal, msgDeliveryFailed+err.Error()),
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
