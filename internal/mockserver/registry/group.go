package registry

import (
	"fmt"
	"maps"
	"slices"

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

// Validate checks the group's id and members.
func (g Group) Validate() error {
	if !batchtask.GroupIDPattern.MatchString(g.ID) {
		return fmt.Errorf("mockserver: invalid group id %q: want at most 36 hexadecimal characters and hyphens", g.ID)
	}
	seen := make(map[string]struct{}, len(g.DeviceIDs))
	for _, id := range g.DeviceIDs {
		if !ValidDeviceID(id) {
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
// is refused as such (ErrExists) before its contents are checked.
func (r *Registry) AddGroup(g Group) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, exists := r.groups[g.ID]; exists {
		return fmt.Errorf("mockserver: group %s %w", g.ID, ErrExists)
	}
	if err := g.Validate(); err != nil {
		return err
	}
	g.DeviceIDs = slices.Clone(g.DeviceIDs)
	r.groups[g.ID] = g
	return nil
}

// RemoveGroup unregisters a device group. It reports whether the group existed. Tasks
// already created keep the members they resolved.
func (r *Registry) RemoveGroup(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.groups[id]
	delete(r.groups, id)
	return ok
}

// Groups returns a copy of the device groups, sorted by id.
func (r *Registry) Groups() []Group {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Group, 0, len(r.groups))
	for _, id := range slices.Sorted(maps.Keys(r.groups)) {
		g := r.groups[id]
		g.DeviceIDs = slices.Clone(g.DeviceIDs)
		out = append(out, g)
	}
	return out
}

// Members returns a group's device ids; ok is false when there is no such group.
func (r *Registry) Members(id string) (ids []string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, ok := r.groups[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(g.DeviceIDs), true
}
