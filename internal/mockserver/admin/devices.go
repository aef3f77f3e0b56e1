package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// serveAdminDevice serves /_mock/devices/{id} and its sub-resources: messages (what the
// mock holds for the device), sleep and wake (a simulated device going offline for a while,
// and back).
func (h *Handler) serveAdminDevice(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), httpapi.AdminPrefix+"devices/"), "/")
	id, err := url.PathUnescape(segs[0])
	if err != nil || id == "" || len(segs) > 2 {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "The device id in the path is not valid.")
		return
	}
	if len(segs) == 1 {
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodDelete: func(w http.ResponseWriter, _ *http.Request) { h.adminRemoveDevice(w, id) },
		})
		return
	}
	switch segs[1] {
	case "messages":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet: func(w http.ResponseWriter, _ *http.Request) { h.adminDeviceMessages(w, id) },
		})
	case "sleep":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: func(w http.ResponseWriter, r *http.Request) { h.adminSleep(w, r, id) },
		})
	case "wake":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodPost: func(w http.ResponseWriter, _ *http.Request) {
				h.adminDeviceDone(w, id, h.platform.WakeDevice(id))
			},
		})
	default:
		adminError(w, http.StatusNotFound, "MOCK.000404", "No such admin resource: "+r.URL.Path+".")
	}
}

func (h *Handler) adminRemoveDevice(w http.ResponseWriter, id string) {
	found := false
	for _, d := range h.platform.Devices() {
		found = found || d.ID == id
	}
	if !found {
		adminError(w, http.StatusNotFound, "MOCK.000404", "Device "+id+" is not registered.")
		return
	}
	h.platform.RemoveDevice(id)
	adminNoContent(w)
}

// adminMessage is a device message as the admin API shows it: what the platform's API shows,
// and what it keeps to itself (ttl, the topic it goes to, when it expires).
type adminMessage struct {
	MessageID     string               `json:"message_id"`
	Name          string               `json:"name,omitempty"`
	Message       json.RawMessage      `json:"message"`
	Encoding      string               `json:"encoding,omitempty"`
	PayloadFormat string               `json:"payload_format,omitempty"`
	Topic         string               `json:"topic"`
	TTL           int                  `json:"ttl"`
	Properties    *messages.Properties `json:"properties,omitempty"`
	Status        string               `json:"status"`
	ErrorCode     string               `json:"error_code,omitempty"`
	ErrorMsg      string               `json:"error_msg,omitempty"`
	CreatedAt     time.Time            `json:"created_at"`
	FinishedAt    *time.Time           `json:"finished_at,omitempty"`
	ExpiresAt     *time.Time           `json:"expires_at,omitempty"`
}

func (h *Handler) adminDeviceMessages(w http.ResponseWriter, id string) {
	list, err := h.platform.DeviceMessages(id)
	if err != nil {
		adminError(w, http.StatusNotFound, "MOCK.000404", "Device "+id+" is not registered.")
		return
	}
	out := make([]adminMessage, 0, len(list))
	for _, m := range list {
		am := adminMessage{MessageID: m.MessageID, Name: m.Name, Message: m.Content, Encoding: m.Encoding,
			PayloadFormat: m.PayloadFormat, Topic: m.DeliveryTopic, TTL: m.TTL, Properties: m.Properties, Status: m.Status,
			ErrorCode: m.ErrorCode, ErrorMsg: m.ErrorMsg, CreatedAt: m.CreatedAt}
		if !m.FinishedAt.IsZero() {
			am.FinishedAt = &m.FinishedAt
		}
		if !m.ExpiresAt.IsZero() {
			am.ExpiresAt = &m.ExpiresAt
		}
		out = append(out, am)
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

// adminSleep puts a simulated device to sleep: {"for":"30s"} wakes it after 30 s; no body
// (or no "for") keeps it asleep until POST .../wake.
func (h *Handler) adminSleep(w http.ResponseWriter, r *http.Request, id string) {
	var req struct {
		For string `json:"for"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if err = dec.Decode(&req); err == nil && dec.More() {
			err = errors.New("unexpected data after the JSON value")
		}
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "Invalid JSON body: "+err.Error()+`; want {"for":"30s"} or none.`)
		return
	}
	var d time.Duration
	if req.For != "" {
		if d, err = time.ParseDuration(req.For); err != nil || d <= 0 {
			adminError(w, http.StatusBadRequest, "MOCK.000400", fmt.Sprintf(`"for" must be a positive Go duration `+
				`such as "30s", at most %s, the longest a Go duration holds (leave it out to sleep until woken); `+
				`got %q.`, time.Duration(math.MaxInt64), req.For))
			return
		}
	}
	h.adminDeviceDone(w, id, h.platform.SleepDevice(id, d))
}

// adminDeviceDone answers a sleep or wake: 204, or why it could not be done.
func (h *Handler) adminDeviceDone(w http.ResponseWriter, id string, err error) {
	switch {
	case err == nil:
		adminNoContent(w)
	case errors.Is(err, delivery.ErrDeviceNotFound):
		adminError(w, http.StatusNotFound, "MOCK.000404", "Device "+id+" is not registered.")
	case errors.Is(err, registry.ErrNotSimulated):
		adminError(w, http.StatusConflict, "MOCK.000409",
			"Device "+id+" is not simulated: a real client runs it, and only it can sleep or wake.")
	default:
		adminError(w, http.StatusInternalServerError, "MOCK.000500", err.Error())
	}
}
