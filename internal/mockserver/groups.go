package mockserver

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/batchtask"
)

// Group is a device group in the registry: batch tasks can target it by id
// (targets_filter.group_ids).
type Group struct {
	// ID is at most 36 hexadecimal characters and hyphens, like the platform's group ids
	// (a UUID fits).
	ID string `json:"id"`
	// Name is informative only.
	Name string `json:"name,omitempty"`
	// DeviceIDs are the members. They need not be registered: a batch task resolves the
	// group when it is created, and a member that is not registered then fails as an
	// unknown device, as one deleted after joining a group would on the platform.
	DeviceIDs []string `json:"device_ids"`
}

// errGroupConflict means a group's id is already registered.
var errGroupConflict = errors.New("already exists")

// groups holds the device groups.
type groups struct {
	mu   sync.Mutex
	byID map[string]Group
}

func newGroups() *groups { return &groups{byID: make(map[string]Group)} }

func validateGroup(g Group) error {
	if !batchtask.GroupIDPattern.MatchString(g.ID) {
		return fmt.Errorf("mockserver: invalid group id %q: want at most 36 hexadecimal characters and hyphens", g.ID)
	}
	seen := make(map[string]struct{}, len(g.DeviceIDs))
	for _, id := range g.DeviceIDs {
		if !deviceIDPattern.MatchString(id) {
			return fmt.Errorf("mockserver: group %s: invalid device id %q", g.ID, id)
		}
		if _, dup := seen[id]; dup {
			return fmt.Errorf("mockserver: group %s lists device %s twice", g.ID, id)
		}
		seen[id] = struct{}{}
	}
	return nil
}

// AddGroup registers a device group. The id must not be in use: a group whose id is taken
// is refused as such (errGroupConflict) before its contents are checked.
func (s *Server) AddGroup(g Group) error {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	if _, exists := s.groups.byID[g.ID]; exists {
		return fmt.Errorf("mockserver: group %s %w", g.ID, errGroupConflict)
	}
	if err := validateGroup(g); err != nil {
		return err
	}
	g.DeviceIDs = slices.Clone(g.DeviceIDs)
	s.groups.byID[g.ID] = g
	return nil
}

// RemoveGroup unregisters a device group. It reports whether the group existed. Tasks
// already created keep the members they resolved.
func (s *Server) RemoveGroup(id string) bool {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	_, ok := s.groups.byID[id]
	delete(s.groups.byID, id)
	return ok
}

// Groups returns a copy of the device groups, sorted by id.
func (s *Server) Groups() []Group {
	s.groups.mu.Lock()
	defer s.groups.mu.Unlock()
	out := make([]Group, 0, len(s.groups.byID))
	for _, id := range slices.Sorted(maps.Keys(s.groups.byID)) {
		g := s.groups.byID[id]
		g.DeviceIDs = slices.Clone(g.DeviceIDs)
		out = append(out, g)
	}
	return out
}

// members returns a group's device ids.
func (g *groups) members(id string) ([]string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp, ok := g.byID[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(grp.DeviceIDs), true
}
