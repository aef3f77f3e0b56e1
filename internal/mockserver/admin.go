package mockserver

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// The admin API lives under httpapi.AdminPrefix, on the platform API's listener.
//
// The admin API is never journaled and lets whoever may use it register devices and inject
// faults. Without Options.AdminToken it needs no authentication, which New allows only when
// every listener binds a loopback address; with it, every admin request must carry
// "Authorization: Bearer <token>" (401 MOCK.000401 otherwise).
//
//	GET    /_mock/devices        the registry: [{"id","online","simulated"}] (secrets omitted)
//	POST   /_mock/devices        register a Device: {"id","secret","simulated":{...}}; 201
//	DELETE /_mock/devices/{id}   unregister a device; 204, or 404 if it is not registered
//	GET    /_mock/fleets         the fleets: [{"prefix","count","behavior"}] (secrets omitted)
//	POST   /_mock/fleets         add a Fleet: {"prefix","count","secret","behavior":{...}}; 201,
//	                             409 if its prefix or one of its ids is taken
//	DELETE /_mock/fleets/{prefix} remove a fleet's devices; 204, or 404 if no fleet has it
//	GET    /_mock/journal        the journal, oldest first; ?kind= and ?device_id= filter it;
//	                             the X-Mock-Journal-Dropped header counts the older entries
//	                             dropped to keep it within its bounds
//	DELETE /_mock/journal        empty the journal; 204
//	GET    /_mock/faults         the pending faults
//	POST   /_mock/faults         inject a Fault (durations as Go duration strings); 201
//	DELETE /_mock/faults         clear every fault; 204
//	GET    /_mock/ca.pem         the CA of the generated HTTPS/MQTTS certificate; 404 without one
//	GET    /_mock/groups         the device groups: [{"id","name","device_ids"}]
//	POST   /_mock/groups         register a Group: {"id","name","device_ids"}; 201
//	DELETE /_mock/groups/{id}    unregister a group; 204, or 404 if it is not registered
//
// Errors use the command API's body shape with MOCK.* codes.
//
// adminAPI serves it.
type adminAPI struct {
	token   string
	server  *Server
	journal *journal.Journal
	faults  *faults.Set
	caPEM   string
}

// headerJournalDropped is the admin journal answer's count of dropped entries.
const headerJournalDropped = "X-Mock-Journal-Dropped"

// maxAdminBodyBytes bounds an admin request body.
const maxAdminBodyBytes = 1 << 20

// adminDevice is a registry entry as the admin API shows it: without the secret.
type adminDevice struct {
	ID        string    `json:"id"`
	Online    bool      `json:"online"`
	Simulated *Behavior `json:"simulated,omitempty"`
}

func (h *adminAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
		adminMethods(w, r, map[string]http.HandlerFunc{http.MethodDelete: h.adminRemoveDevice})
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
		h.serveAdminGroups(w, r, route) // admin_groups.go
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

func (h *adminAPI) adminListDevices(w http.ResponseWriter, _ *http.Request) {
	devs := h.server.Devices()
	out := make([]adminDevice, 0, len(devs))
	for _, d := range devs {
		out = append(out, adminDevice{ID: d.ID, Online: h.server.Online(d.ID), Simulated: d.Simulated})
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *adminAPI) adminAddDevice(w http.ResponseWriter, r *http.Request) {
	var d Device
	if !decodeAdminBody(w, r, &d) {
		return
	}
	for _, existing := range h.server.Devices() {
		if existing.ID == d.ID {
			adminError(w, http.StatusConflict, "MOCK.000409", "Device "+d.ID+" is already registered.")
			return
		}
	}
	if err := h.server.AddDevice(d); err != nil {
		adminError(w, http.StatusBadRequest, "MOCK.000400", err.Error())
		return
	}
	httpapi.WriteJSON(w, http.StatusCreated, adminDevice{ID: d.ID, Online: h.server.Online(d.ID), Simulated: d.Simulated})
}

func (h *adminAPI) adminRemoveDevice(w http.ResponseWriter, r *http.Request) {
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), httpapi.AdminPrefix+"devices/"))
	if err != nil || id == "" {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "The device id in the path is not valid.")
		return
	}
	found := false
	for _, d := range h.server.Devices() {
		found = found || d.ID == id
	}
	if !found {
		adminError(w, http.StatusNotFound, "MOCK.000404", "Device "+id+" is not registered.")
		return
	}
	h.server.RemoveDevice(id)
	adminNoContent(w)
}

// adminJournal streams the journal entry by entry, so that answering costs little more
// memory than the journal itself.
func (h *adminAPI) adminJournal(w http.ResponseWriter, r *http.Request) {
	kind, device := EntryKind(r.URL.Query().Get("kind")), r.URL.Query().Get("device_id")
	entries, dropped := h.journal.Snapshot()
	w.Header().Set(headerJournalDropped, strconv.Itoa(dropped))
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriter(w)
	sep := byte('[')
	for _, e := range entries {
		if (kind != "" && e.Kind != kind) || (device != "" && e.DeviceID != device) {
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
func (h *adminAPI) adminClearJournal(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		adminError(w, http.StatusBadRequest, "MOCK.000400",
			"DELETE /_mock/journal clears the whole journal and takes no query; remove it (filters apply to GET only).")
		return
	}
	h.journal.Clear()
	adminNoContent(w)
}

func (h *adminAPI) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
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

func (h *adminAPI) adminCA(w http.ResponseWriter, _ *http.Request) {
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

// exposedListener names the first listener that binds an address other than loopback, or
// returns "" when every listener is loopback only.
func exposedListener(opts *Options) (name, addr string) {
	for _, l := range []struct{ name, addr string }{
		{"the HTTP API", opts.HTTPAddr},
		{"the MQTT broker", opts.MQTTAddr},
		{"the MQTTS listener", opts.MQTTTLSAddr},
	} {
		if l.addr != "" && !isLoopbackAddr(l.addr) {
			return l.name, l.addr
		}
	}
	return "", ""
}

// checkAdminExposure refuses a mock whose admin API others could reach without a token:
// one with a listener beyond loopback and no Options.AdminToken.
func checkAdminExposure(opts *Options) error {
	if opts.AdminToken != "" {
		return nil
	}
	if name, addr := exposedListener(opts); name != "" {
		return fmt.Errorf("mockserver: %s listens on %s, which is not a loopback address, so the admin API "+
			"(/_mock/) needs an admin token: set one (Options.AdminToken; for iotda-mock, \"admin_token\" in the "+
			"configuration file or the IOTDA_MOCK_ADMIN_TOKEN environment variable), or listen on 127.0.0.1", name, addr)
	}
	return nil
}

// isLoopbackAddr reports whether a listen address (host:port) binds loopback interfaces
// only. An empty host or an unspecified address (0.0.0.0, ::) binds every interface; a host
// name counts as loopback only when it is "localhost" or resolves to loopback addresses only.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}
