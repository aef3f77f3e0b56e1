package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// adminFleet is a fleet as the admin API shows it: without the secret.
type adminFleet struct {
	Prefix   string            `json:"prefix"`
	Count    int               `json:"count"`
	Behavior registry.Behavior `json:"behavior"`
}

func adminFleetOf(f registry.Fleet) adminFleet {
	return adminFleet{Prefix: f.Prefix, Count: f.Count, Behavior: f.Behavior}
}

func (h *Handler) adminListFleets(w http.ResponseWriter, _ *http.Request) {
	fleets := h.platform.Fleets()
	out := make([]adminFleet, 0, len(fleets))
	for _, f := range fleets {
		out = append(out, adminFleetOf(f))
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) adminAddFleet(w http.ResponseWriter, r *http.Request) {
	var f registry.Fleet
	if !decodeAdminBody(w, r, &f) {
		return
	}
	switch err := h.platform.AddFleet(f); {
	case errors.Is(err, registry.ErrExists):
		adminError(w, http.StatusConflict, "MOCK.000409", err.Error())
	case errors.Is(err, registry.ErrLimit):
		adminLimit(w, err)
	case err != nil:
		adminError(w, http.StatusBadRequest, "MOCK.000400", err.Error())
	default:
		httpapi.WriteJSON(w, http.StatusCreated, adminFleetOf(f))
	}
}

func (h *Handler) adminRemoveFleet(w http.ResponseWriter, r *http.Request) {
	prefix, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), httpapi.AdminPrefix+"fleets/"))
	if err != nil || prefix == "" {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "The fleet prefix in the path is not valid.")
		return
	}
	if err := h.platform.RemoveFleet(prefix); err != nil {
		adminError(w, http.StatusNotFound, "MOCK.000404", "No fleet has the prefix "+prefix+".")
		return
	}
	adminNoContent(w)
}

// adminLimit answers a registration refused at the mock's limits: 403 MOCK.000403, with
// the limit and the settings that raise it.
func adminLimit(w http.ResponseWriter, err error) {
	adminError(w, http.StatusForbidden, "MOCK.000403", err.Error())
}
