package messages

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

// HTTPService serves the message routes on the mock's platform API: an httpapi.Service. It
// runs the platform API's prelude (fault, credentials, body, project, Instance-Id) through
// an httpapi.Exchange, hands the request to Backend.Respond, and journals it with the device
// and message it names.
type HTTPService struct {
	api     *httpapi.API
	backend *Backend
	logger  *slog.Logger
}

var _ httpapi.Service = (*HTTPService)(nil)

// NewHTTPService returns the message API's service over backend. logger receives a line per
// message created (never its content, which may be sensitive).
func NewHTTPService(api *httpapi.API, backend *Backend, logger *slog.Logger) *HTTPService {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &HTTPService{api: api, backend: backend, logger: logger}
}

// Route reports whether an escaped path is a message route:
// /v5/iot/{project_id}/devices/{device_id}/messages[/{message_id}].
func (h *HTTPService) Route(escaped string) bool {
	_, _, ok := parsePath(escaped)
	return ok
}

// parsePath splits a message route into the project and the segments after it, unescaped.
// It works on the escaped path, so that an escaped "/" inside an id is refused as an invalid
// id rather than routed elsewhere.
func parsePath(escaped string) (project string, rest []string, ok bool) {
	segs := strings.Split(escaped, "/")
	if len(segs) < 7 || segs[0] != "" || segs[1] != "v5" || segs[2] != "iot" || !Route(segs[4:]) {
		return "", nil, false
	}
	unescaped := make([]string, 0, len(segs)-3)
	for _, s := range segs[3:] {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", nil, false
		}
		unescaped = append(unescaped, u)
	}
	return unescaped[0], unescaped[1:], true
}

// ServeHTTP answers a message request: the method, faults, the platform API's prelude, then
// the backend.
func (h *HTTPService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := h.api.Begin(w, r)
	defer x.Finish()
	project, rest, _ := parsePath(r.URL.EscapedPath())
	deviceID := DeviceID(rest)
	x.Entry.DeviceID = deviceID
	if len(rest) == 4 {
		x.Entry.MessageID = rest[3]
	}
	if allow := Allow(rest); !slices.Contains(strings.Split(allow, ", "), r.Method) {
		x.NotAllowed(allow)
		return
	}
	if x.TakeFault(deviceID) {
		return
	}
	x.Respond(h.respond(x, project, rest))
}

func (h *HTTPService) respond(x *httpapi.Exchange, project string, rest []string) httpapi.Answer {
	body, bad := x.Body(0)
	if bad != nil {
		return *bad
	}
	if len(body) > 0 {
		x.Entry.Body = body
	}
	if a := x.CheckTenant(project); a != nil {
		return *a
	}
	resp := h.backend.Respond(x.R.Method, rest, x.R.Header.Get("Content-Type"), body)
	switch resp.Status {
	case http.StatusCreated:
		var created struct {
			MessageID string `json:"message_id"`
			Result    struct {
				Status string `json:"status"`
			} `json:"result"`
		}
		if json.Unmarshal(resp.Body, &created) == nil {
			x.Entry.MessageID = created.MessageID
			// The content is the user's data and may be sensitive: it goes to the journal only.
			h.logger.Info("message created", "device_id", DeviceID(rest), "message_id", created.MessageID,
				"status", created.Result.Status)
		}
	case http.StatusNoContent:
		x.W.Header().Del("Content-Type")
	}
	return httpapi.Answer{Status: resp.Status, Body: resp.Body}
}
