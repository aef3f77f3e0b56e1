// Package admin is the IoTDA mock's admin API under /_mock/ (moto's /moto-api/): register
// and remove devices, fleets and groups, put simulated devices to sleep and wake them, look
// at the messages held for a device, read and clear the journal, inject and clear faults,
// and fetch the generated CA, for the standalone binary and for tests in other
// languages. It manages the mock through Platform, which the mockserver package's Server
// implements, and is never journaled.
package admin

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// The admin API lives under httpapi.AdminPrefix, on the platform API's listener.
//
// The admin API is never journaled and lets whoever may use it register devices and inject
// faults. Without a token (mockserver.Options.AdminToken) it needs no authentication, which
// the mock allows only when every listener binds a loopback address (see CheckExposure);
// with it, every admin request must carry "Authorization: Bearer <token>" (401 MOCK.000401
// otherwise).
//
//	GET    /_mock/devices        the registry: [{"id","online","simulated"}] (secrets omitted)
//	POST   /_mock/devices        register a Device: {"id","secret","simulated":{...}}; 201,
//	                             403 past the mock's device limit
//	DELETE /_mock/devices/{id}   unregister a device; 204, or 404 if it is not registered
//	GET    /_mock/devices/{id}/messages  the device messages the mock holds for it, oldest
//	                             first, with their status, topic, ttl and expiry
//	POST   /_mock/devices/{id}/sleep     a simulated device goes offline, {"for":"30s"} or
//	                             until woken (no body); 204 once offline, 409 for a device
//	                             a real client runs
//	POST   /_mock/devices/{id}/wake      it comes back online; 204 once online
//	GET    /_mock/fleets         the fleets: [{"prefix","count","behavior"}] (secrets omitted)
//	POST   /_mock/fleets         add a Fleet: {"prefix","count","secret","behavior":{...}}; 201,
//	                             409 if its prefix or one of its ids is taken, 403 if it
//	                             would pass the mock's device or fleet limit
//	DELETE /_mock/fleets/{prefix} remove a fleet's devices; 204, or 404 if no fleet has it
//	GET    /_mock/journal        the journal, oldest first; ?kind=, ?device_id= and
//	                             ?message_id= filter it;
//	                             the X-Mock-Journal-Dropped header counts the older entries
//	                             dropped to keep it within its bounds
//	DELETE /_mock/journal        empty the journal; 204
//	GET    /_mock/faults         the pending faults
//	POST   /_mock/faults         inject a Fault (durations as Go duration strings, patches as
//	                             JSON); 201, 400 naming what is wrong
//	DELETE /_mock/faults         clear every fault; 204
//	GET    /_mock/ca.pem         the CA of the generated HTTPS/MQTTS certificate; 404 without one
//	GET    /_mock/groups         the device groups: [{"id","name","device_ids"}]
//	POST   /_mock/groups         register a Group: {"id","name","device_ids"}; 201
//	DELETE /_mock/groups/{id}    unregister a group; 204, or 404 if it is not registered
//
// Errors use the command API's body shape with MOCK.* codes.

// Platform is what the admin API manages: the mock's registry, through the same methods
// tests call on mockserver.Server.
type Platform interface {
	Devices() []registry.Device
	Online(id string) bool
	AddDevice(d registry.Device) error
	RemoveDevice(id string)
	Fleets() []registry.Fleet
	AddFleet(f registry.Fleet) error
	RemoveFleet(prefix string) error
	Groups() []registry.Group
	AddGroup(g registry.Group) error
	RemoveGroup(id string) bool
	DeviceMessages(id string) ([]messages.Message, error)
	SleepDevice(id string, d time.Duration) error
	WakeDevice(id string) error
}

// Config configures the admin API. Platform, Journal and Faults are required.
type Config struct {
	// Token, when set, is required as "Authorization: Bearer <token>".
	Token    string
	Platform Platform
	Journal  *journal.Journal
	Faults   *faults.Set
	// CAPEM is the generated CA that /_mock/ca.pem serves ("" answers 404).
	CAPEM string
}

// Handler serves the admin API.
type Handler struct {
	token    string
	platform Platform
	journal  *journal.Journal
	faults   *faults.Set
	caPEM    string
}

// New returns the admin API's handler, to serve under httpapi.AdminPrefix.
func New(cfg Config) *Handler {
	return &Handler{token: cfg.Token, platform: cfg.Platform, journal: cfg.Journal, faults: cfg.Faults, caPEM: cfg.CAPEM}
}

// headerJournalDropped is the admin journal answer's count of dropped entries.
const headerJournalDropped = "X-Mock-Journal-Dropped"

// maxAdminBodyBytes bounds an admin request body.
const maxAdminBodyBytes = 1 << 20

// adminDevice is a registry entry as the admin API shows it: without the secret.
type adminDevice struct {
	ID        string             `json:"id"`
	Online    bool               `json:"online"`
	Simulated *registry.Behavior `json:"simulated,omitempty"`
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !adminAuthorized(h.token, r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="iotda-mock admin API"`)
		adminError(w, http.StatusUnauthorized, "MOCK.000401",
			"The admin API needs the mock's admin token: send Authorization: Bearer <token>.")
		return
	}
	route := strings.TrimPrefix(r.URL.Path, httpapi.AdminPrefix)
	switch {
	case route == "devices":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:  h.adminListDevices,
			http.MethodPost: h.adminAddDevice,
		})
	case strings.HasPrefix(route, "devices/"):
		h.serveAdminDevice(w, r) // devices.go
	case route == "fleets":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:  h.adminListFleets,
			http.MethodPost: h.adminAddFleet,
		})
	case strings.HasPrefix(route, "fleets/"):
		adminMethods(w, r, map[string]http.HandlerFunc{http.MethodDelete: h.adminRemoveFleet})
	case route == "journal":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:    h.adminJournal,
			http.MethodDelete: h.adminClearJournal,
		})
	case route == "faults":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:    func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, http.StatusOK, h.faults.Pending()) },
			http.MethodPost:   h.adminAddFault,
			http.MethodDelete: func(w http.ResponseWriter, _ *http.Request) { h.faults.Clear(); adminNoContent(w) },
		})
	case route == "groups" || strings.HasPrefix(route, "groups/"):
		h.serveAdminGroups(w, r, route) // groups.go
	case route == "ca.pem":
		adminMethods(w, r, map[string]http.HandlerFunc{http.MethodGet: h.adminCA})
	default:
		adminError(w, http.StatusNotFound, "MOCK.000404", "No such admin resource: "+r.URL.Path+".")
	}
}

// adminMethods dispatches on the method, answering 405 with an Allow header otherwise.
func adminMethods(w http.ResponseWriter, r *http.Request, byMethod map[string]http.HandlerFunc) {
	if f, ok := byMethod[r.Method]; ok {
		f(w, r)
		return
	}
	allowed := make([]string, 0, len(byMethod))
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		if _, ok := byMethod[m]; ok {
			allowed = append(allowed, m)
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	adminError(w, http.StatusMethodNotAllowed, "MOCK.000405", "Method "+r.Method+" is not allowed here.")
}

func adminError(w http.ResponseWriter, status int, code, msg string) {
	httpapi.WriteError(w, status, code, msg)
}

func adminNoContent(w http.ResponseWriter) {
	w.Header().Del("Content-Type")
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) adminListDevices(w http.ResponseWriter, _ *http.Request) {
	devs := h.platform.Devices()
	out := make([]adminDevice, 0, len(devs))
	for _, d := range devs {
		out = append(out, adminDevice{ID: d.ID, Online: h.platform.Online(d.ID), Simulated: d.Simulated})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) adminAddDevice(w http.ResponseWriter, r *http.Request) {
	var d registry.Device
	if !decodeAdminBody(w, r, &d) {
		return
	}
	for _, existing := range h.platform.Devices() {
		if existing.ID == d.ID {
			adminError(w, http.StatusConflict, "MOCK.000409", "Device "+d.ID+" is already registered.")
			return
		}
	}
	if err := h.platform.AddDevice(d); err != nil {
		if errors.Is(err, registry.ErrLimit) {
			adminLimit(w, err)
			return
		}
		adminError(w, http.StatusBadRequest, "MOCK.000400", err.Error())
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, adminDevice{ID: d.ID, Online: h.platform.Online(d.ID), Simulated: d.Simulated})
}

// adminJournal streams the journal entry by entry, so that answering costs little more
// memory than the journal itself.
func (h *Handler) adminJournal(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind, device, message := journal.EntryKind(q.Get("kind")), q.Get("device_id"), q.Get("message_id")
	entries, dropped := h.journal.Snapshot()
	w.Header().Set(headerJournalDropped, strconv.Itoa(dropped))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	sep := byte('[')
	for _, e := range entries {
		if (kind != "" && e.Kind != kind) || (device != "" && e.DeviceID != device) ||
			(message != "" && e.MessageID != message) {
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			continue // an entry always encodes: its Body is valid JSON by construction
		}
		_ = bw.WriteByte(sep)
		_, _ = bw.Write(b)
		sep = ','
	}
	if sep == '[' {
		_ = bw.WriteByte('[')
	}
	_ = bw.WriteByte(']')
	_ = bw.Flush() // a write error means the client is gone
}

// adminClearJournal empties the whole journal. It takes no filter: a DELETE with ?kind= or
// ?device_id= would otherwise clear every entry, not the ones the filter names.
func (h *Handler) adminClearJournal(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		adminError(w, http.StatusBadRequest, "MOCK.000400",
			"DELETE /_mock/journal clears the whole journal and takes no query; remove it (filters apply to GET only).")
		return
	}
	h.journal.Clear()
	adminNoContent(w)
}

func (h *Handler) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var f faults.Fault
	if !decodeAdminBody(w, r, &f) {
		return
	}
	if err := f.Validate(); err != nil {
		adminError(w, http.StatusBadRequest, "MOCK.000400", err.Error()+".")
		return
	}
	h.faults.Add(f)
	httpapi.WriteJSON(w, http.StatusCreated, f)
}

func (h *Handler) adminCA(w http.ResponseWriter, _ *http.Request) {
	if h.caPEM == "" {
		adminError(w, http.StatusNotFound, "MOCK.000404", "The mock has no generated CA (it serves plain HTTP or a given certificate).")
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, h.caPEM)
}

// decodeAdminBody decodes a JSON body into v, rejecting unknown fields so that typos in
// fault or device definitions do not pass silently. It answers 400 itself on failure.
func decodeAdminBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON value")
	}
	if err != nil {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// adminAuthorized reports whether r may use the admin API: always without a token, else
// only with "Authorization: Bearer <token>".
func adminAuthorized(token string, r *http.Request) bool {
	if token == "" {
		return true
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
