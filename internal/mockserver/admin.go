package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// adminPrefix is where the admin API lives, on the command API's listener.
//
// The admin API is for local use: it needs no authentication, is never journaled, and
// lets whoever reaches the listener register devices and inject faults. Bind the mock to
// a loopback address (the default) unless that is what you want.
//
//	GET    /_mock/devices        the registry: [{"id","online","simulated"}] (secrets omitted)
//	POST   /_mock/devices        register a Device: {"id","secret","simulated":{...}}; 201
//	DELETE /_mock/devices/{id}   unregister a device; 204, or 404 if it is not registered
//	GET    /_mock/journal        the journal, oldest first; ?kind= and ?device_id= filter it
//	DELETE /_mock/journal        empty the journal; 204
//	GET    /_mock/faults         the pending faults
//	POST   /_mock/faults         inject a Fault (durations as Go duration strings); 201
//	DELETE /_mock/faults         clear every fault; 204
//	GET    /_mock/ca.pem         the CA of the generated HTTPS certificate; 404 without one
//	GET    /_mock/groups         the device groups: [{"id","name","device_ids"}]
//	POST   /_mock/groups         register a Group: {"id","name","device_ids"}; 201
//	DELETE /_mock/groups/{id}    unregister a group; 204, or 404 if it is not registered
//
// Errors use the command API's body shape with MOCK.* codes.
const adminPrefix = "/_mock/"

// maxAdminBodyBytes bounds an admin request body.
const maxAdminBodyBytes = 1 << 20

// adminDevice is a registry entry as the admin API shows it: without the secret.
type adminDevice struct {
	ID        string    `json:"id"`
	Online    bool      `json:"online"`
	Simulated *Behavior `json:"simulated,omitempty"`
}

func (h *httpSide) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := strings.TrimPrefix(r.URL.Path, adminPrefix)
	switch {
	case route == "devices":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:  h.adminListDevices,
			http.MethodPost: h.adminAddDevice,
		})
	case strings.HasPrefix(route, "devices/"):
		adminMethods(w, r, map[string]http.HandlerFunc{http.MethodDelete: h.adminRemoveDevice})
	case route == "journal":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:    h.adminJournal,
			http.MethodDelete: func(w http.ResponseWriter, _ *http.Request) { h.journal.clear(); adminNoContent(w) },
		})
	case route == "faults":
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:    func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, h.faults.pending()) },
			http.MethodPost:   h.adminAddFault,
			http.MethodDelete: func(w http.ResponseWriter, _ *http.Request) { h.faults.clear(); adminNoContent(w) },
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
	writeJSON(w, status, errorBody(code, msg))
}

func adminNoContent(w http.ResponseWriter) {
	w.Header().Del("Content-Type")
	w.WriteHeader(http.StatusNoContent)
}

func (h *httpSide) adminListDevices(w http.ResponseWriter, _ *http.Request) {
	devs := h.server.Devices()
	out := make([]adminDevice, 0, len(devs))
	for _, d := range devs {
		out = append(out, adminDevice{ID: d.ID, Online: h.server.Online(d.ID), Simulated: d.Simulated})
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *httpSide) adminAddDevice(w http.ResponseWriter, r *http.Request) {
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
	writeJSON(w, http.StatusCreated, adminDevice{ID: d.ID, Online: h.server.Online(d.ID), Simulated: d.Simulated})
}

func (h *httpSide) adminRemoveDevice(w http.ResponseWriter, r *http.Request) {
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), adminPrefix+"devices/"))
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

func (h *httpSide) adminJournal(w http.ResponseWriter, r *http.Request) {
	kind, device := EntryKind(r.URL.Query().Get("kind")), r.URL.Query().Get("device_id")
	out := []Entry{}
	for _, e := range h.journal.entries() {
		if (kind == "" || e.Kind == kind) && (device == "" || e.DeviceID == device) {
			out = append(out, e)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *httpSide) adminAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if !decodeAdminBody(w, r, &f) {
		return
	}
	if f.Status != 0 && (f.Status < 100 || f.Status > 599) {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "status must be an HTTP status code (100-599).")
		return
	}
	h.faults.add(f)
	writeJSON(w, http.StatusCreated, f)
}

func (h *httpSide) adminCA(w http.ResponseWriter, _ *http.Request) {
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

// UnmarshalJSON reads Delay as a Go duration string such as "500ms" (or a number of
// nanoseconds), so that configuration files and the admin API can write durations
// readably.
func (b *Behavior) UnmarshalJSON(data []byte) error {
	type plain Behavior
	aux := struct {
		*plain
		Delay jsonDuration `json:"delay,omitempty"`
	}{plain: (*plain)(b)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&aux); err != nil {
		return err
	}
	b.Delay = time.Duration(aux.Delay)
	return nil
}

// MarshalJSON writes Delay as a Go duration string.
func (b Behavior) MarshalJSON() ([]byte, error) {
	type plain Behavior
	aux := struct {
		plain
		Delay string `json:"delay,omitempty"`
	}{plain: plain(b)}
	if b.Delay != 0 {
		aux.Delay = b.Delay.String()
	}
	return json.Marshal(aux)
}
