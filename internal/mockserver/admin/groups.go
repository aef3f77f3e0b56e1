package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// serveAdminGroups serves /_mock/groups and /_mock/groups/{id} (see httpapi.AdminPrefix).
func (h *Handler) serveAdminGroups(w http.ResponseWriter, r *http.Request, route string) {
	if route == "groups" {
		adminMethods(w, r, map[string]http.HandlerFunc{
			http.MethodGet:  func(w http.ResponseWriter, _ *http.Request) { httpapi.WriteJSON(w, http.StatusOK, h.platform.Groups()) },
			http.MethodPost: h.adminAddGroup,
		})
		return
	}
	adminMethods(w, r, map[string]http.HandlerFunc{http.MethodDelete: h.adminRemoveGroup})
}

func (h *Handler) adminAddGroup(w http.ResponseWriter, r *http.Request) {
	var g registry.Group
	if !decodeAdminBody(w, r, &g) {
		return
	}
	switch err := h.platform.AddGroup(g); {
	case errors.Is(err, registry.ErrExists):
		adminError(w, http.StatusConflict, "MOCK.000409", "Group "+g.ID+" is already registered.")
		return
	case err != nil:
		adminError(w, http.StatusBadRequest, "MOCK.000400", err.Error())
		return
	}
	if g.DeviceIDs == nil {
		g.DeviceIDs = []string{}
	}
	httpapi.WriteJSON(w, http.StatusCreated, g)
}

func (h *Handler) adminRemoveGroup(w http.ResponseWriter, r *http.Request) {
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), httpapi.AdminPrefix+"groups/"))
	if err != nil || id == "" {
		adminError(w, http.StatusBadRequest, "MOCK.000400", "The group id in the path is not valid.")
		return
	}
	if !h.platform.RemoveGroup(id) {
		adminError(w, http.StatusNotFound, "MOCK.000404", "Group "+id+" is not registered.")
		return
	}
	adminNoContent(w)
}
