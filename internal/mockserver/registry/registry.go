// Package registry is the IoTDA mock's device registry: the devices (id, secret, and the
// behaviour of a simulated one), the device groups batch tasks target, and the fleets
// (many simulated devices declared by an id prefix and a count). It holds data and the
// rules about it (valid ids, no id registered twice, a fleet registered whole or not at
// all); it starts nothing. What runs a simulated device is package simdevice, what tells
// whether a device is online is package delivery, and the broker asks the registry for a
// device's secret when the device logs in.
package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// ErrExists means an id (a device's, a group's or a fleet's prefix) is already registered.
var ErrExists = errors.New("already exists")

// ErrLimit means a registration would take the registry past one of its Limits. The error
// returned is a *LimitError.
var ErrLimit = errors.New("over the registry's limits")

// LimitError is a registration refused at one of the registry's Limits.
type LimitError struct {
	// Limit names the Limits field: "MaxDevices" or "MaxFleets".
	Limit string
	msg   string
}

func (e *LimitError) Error() string { return e.msg }

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Limits bounds what a registry holds, so that whoever may register devices (the admin API)
// cannot make the mock hold more than it was sized for. A zero field is no bound.
type Limits struct {
	// MaxDevices bounds the registered devices, fleet devices included.
	MaxDevices int
	// MaxFleets bounds the registered fleets.
	MaxFleets int
}

// ErrNotSimulated means a device is registered without a behaviour: a real client, not the
// mock, runs it, so the mock cannot put it to sleep or wake it.
var ErrNotSimulated = errors.New("not a simulated device")

// Registry holds the registered devices, groups and fleets. It is safe for concurrent use.
type Registry struct {
	limits  Limits
	mu      sync.Mutex
	devices map[string]entry
	fleets  map[string]*fleet // by prefix
	groups  map[string]Group
	seq     uint64 // the last registration number given
}

// entry is a registered device, the fleet it belongs to (if any), and its registration
// number.
type entry struct {
	Device
	fleet *fleet
	seq   uint64
}

// New returns an empty registry bounded by l.
func New(l Limits) *Registry {
	return &Registry{limits: l, devices: make(map[string]entry), fleets: make(map[string]*fleet),
		groups: make(map[string]Group)}
}

// checkRoomLocked fails with ErrLimit when n more devices would pass Limits.MaxDevices.
// what names them in the message. r.mu must be held.
func (r *Registry) checkRoomLocked(n int, what string) error {
	if lim := r.limits.MaxDevices; lim > 0 && len(r.devices)+n > lim {
		return &LimitError{Limit: "MaxDevices", msg: fmt.Sprintf(
			"mockserver: %s would bring the mock to %d devices, over its limit of %d devices", what, len(r.devices)+n, lim)}
	}
	return nil
}

// Add registers d, with the default secret "secret-" + id when it has none. It fails when
// the id is not valid, the behaviour of a simulated device cannot be followed, the id is
// registered (ErrExists), or the registry holds Limits.MaxDevices devices (ErrLimit). It returns the device as registered and its registration number,
// which Holds checks.
func (r *Registry) Add(d Device) (Device, uint64, error) {
	if !ValidDeviceID(d.ID) {
		return Device{}, 0, fmt.Errorf("mockserver: invalid device id %q: want ^[A-Za-z0-9_-]{1,128}$", d.ID)
	}
	if d.Secret == "" {
		d.Secret = defaultSecret(d.ID)
	}
	if d.Simulated != nil {
		if err := d.Simulated.Validate(); err != nil {
			return Device{}, 0, fmt.Errorf("mockserver: device %q: %w", d.ID, err)
		}
		b := d.Simulated.clone() // the registry keeps its own copy
		d.Simulated = &b
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, exists := r.devices[d.ID]; exists {
		return Device{}, 0, fmt.Errorf("mockserver: device %q %w", d.ID, ErrExists)
	}
	if err := r.checkRoomLocked(1, fmt.Sprintf("device %q", d.ID)); err != nil {
		return Device{}, 0, err
	}
	r.seq++
	r.devices[d.ID] = entry{Device: d, seq: r.seq}
	return d.clone(), r.seq, nil
}

// Holds reports whether id is still registered under registration number seq: neither
// removed nor removed and registered again since Add returned seq.
func (r *Registry) Holds(id string, seq uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.devices[id]
	return ok && e.seq == seq
}

// Remove unregisters a device, fleet device or not. It reports whether the device was
// registered.
func (r *Registry) Remove(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.devices[id]
	delete(r.devices, id)
	return ok
}

// Registered reports whether a device is registered.
func (r *Registry) Registered(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.devices[id]
	return ok
}

// Secret returns a registered device's secret; ok is false for a device not registered.
func (r *Registry) Secret(id string) (secret string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.devices[id]
	return e.Secret, ok
}

// Devices returns a copy of the registry, sorted by id, secrets included.
func (r *Registry) Devices() []Device {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Device, 0, len(r.devices))
	for _, id := range slices.Sorted(maps.Keys(r.devices)) {
		out = append(out, r.devices[id].clone())
	}
	return out
}

// clone copies d with a behaviour of its own, so that callers cannot change the registry's.
func (d Device) clone() Device {
	if d.Simulated != nil {
		b := d.Simulated.clone()
		d.Simulated = &b
	}
	return d
}

// clone copies b with slices of its own.
func (b Behavior) clone() Behavior {
	b.Response = slices.Clone(b.Response)
	b.Subscribe = slices.Clone(b.Subscribe)
	return b
}
