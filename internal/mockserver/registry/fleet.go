package registry

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// MaxFleetCount is the largest Fleet.Count. A fleet device costs a registry entry and a
// session, a few hundred bytes: 10,000 of them add about 5 MB to the mock.
const MaxFleetCount = 100_000

// ErrFleetNotFound means no fleet has the given prefix.
var ErrFleetNotFound = errors.New("fleet not found")

// Fleet is many simulated devices sharing one behaviour: Count devices with the ids Prefix
// followed by 1, 2, ... Count (Prefix "sensor-" and Count 3 make sensor-1, sensor-2 and
// sensor-3).
//
// Fleet devices are registered devices like any other: they count in the registry (and
// Server.Devices), commands reach them through the same delivery path, and the journal
// records their deliveries and replies. What makes them cheap is their session: instead of
// an MQTT client over TCP, each is online through an in-process session of the delivery
// path, which answers as Behavior says and publishes the reply into the broker on the
// device's response topic, where the platform's subscription matches it to the command as
// any device's reply. So 10,000 fleet devices cost a few megabytes, not the gigabyte
// 10,000 MQTT clients would. A fleet device's session is named "fleet:{prefix}" in the
// journal; the journal records no connect or disconnect for it, and it has no MQTT
// redelivery (nothing can lose the PUBLISH). A real MQTT client may still log in as a fleet
// device with its secret: it takes the device over, as a second login does on IoTDA, and
// the device is offline when that client leaves.
type Fleet struct {
	// Prefix starts every device id: 1 to 122 letters, digits, underscores or hyphens.
	Prefix string `json:"prefix"`
	// Count is the number of devices, 1 to MaxFleetCount.
	Count int `json:"count"`
	// Secret is every device's MQTT secret. Default "secret-" + the device id.
	Secret string `json:"secret,omitempty"`
	// Behavior is how every device of the fleet answers. DisconnectAfter counts per device.
	Behavior Behavior `json:"behavior"`
}

// DeviceID returns the id of the fleet's i-th device (1-based).
func (f Fleet) DeviceID(i int) string { return f.Prefix + strconv.Itoa(i) }

// Validate checks that every id the fleet makes is a valid device id and that its devices
// can follow the behaviour.
func (f Fleet) Validate() error {
	if f.Count < 1 || f.Count > MaxFleetCount {
		return fmt.Errorf("fleet %q: count %d is out of range: want 1 to %d", f.Prefix, f.Count, MaxFleetCount)
	}
	if f.Prefix == "" || !ValidDeviceID(f.Prefix) || !ValidDeviceID(f.DeviceID(f.Count)) {
		return fmt.Errorf("fleet prefix %q: want letters, digits, underscores or hyphens, short enough that %q stays within 128 characters",
			f.Prefix, f.Prefix+strconv.Itoa(f.Count))
	}
	if err := f.Behavior.Validate(); err != nil {
		return fmt.Errorf("fleet %q: %w", f.Prefix, err)
	}
	return nil
}

// fleet is a registered fleet: its spec, and the behaviour its devices' entries share.
type fleet struct {
	spec     Fleet
	behavior *Behavior
}

// AddFleet registers every device of f, or none: it fails (with ErrExists) when the prefix
// or one of the ids is taken, (with ErrLimit) when its devices or the fleet itself would take
// the registry past its Limits, and when f is not valid. It returns the devices' ids, in
// order.
func (r *Registry) AddFleet(f Fleet) ([]string, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("mockserver: %w", err)
	}
	b := f.Behavior.clone() // the registry keeps its own copy
	fl := &fleet{spec: f, behavior: &b}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.fleets[f.Prefix]; taken {
		return nil, fmt.Errorf("mockserver: a fleet with prefix %q %w", f.Prefix, ErrExists)
	}
	if lim := r.limits.MaxFleets; lim > 0 && len(r.fleets) >= lim {
		return nil, &LimitError{Limit: "MaxFleets", msg: fmt.Sprintf(
			"mockserver: fleet %q would be the mock's fleet number %d, over its limit of %d fleets", f.Prefix, len(r.fleets)+1, lim)}
	}
	what := fmt.Sprintf("fleet %q (%d devices)", f.Prefix, f.Count)
	if f.Count == 1 {
		what = fmt.Sprintf("fleet %q (1 device)", f.Prefix)
	}
	if err := r.checkRoomLocked(f.Count, what); err != nil {
		return nil, err
	}
	ids := make([]string, f.Count)
	for i := range ids {
		ids[i] = f.DeviceID(i + 1)
		if r.isRegisteredLocked(ids[i]) {
			return nil, fmt.Errorf("mockserver: fleet %q: device %q %w", f.Prefix, ids[i], ErrExists)
		}
	}
	for _, id := range ids {
		secret := f.Secret
		if secret == "" {
			secret = defaultSecret(id)
		}
		r.seq++
		r.devices[id] = entry{Device: Device{ID: id, Secret: secret, Simulated: fl.behavior}, fleet: fl, seq: r.seq}
	}
	r.fleets[f.Prefix] = fl
	return ids, nil
}

// RemoveFleet unregisters the fleet with this prefix and every one of its devices that is
// still its own (not removed on its own, perhaps registered again since). It returns the
// ids it unregistered, or ErrFleetNotFound.
func (r *Registry) RemoveFleet(prefix string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fl, ok := r.fleets[prefix]
	if !ok {
		return nil, fmt.Errorf("mockserver: %w: %q", ErrFleetNotFound, prefix)
	}
	delete(r.fleets, prefix)
	ids := make([]string, 0, fl.spec.Count)
	for i := 1; i <= fl.spec.Count; i++ {
		id := fl.spec.DeviceID(i)
		if r.devices[id].fleet != fl {
			continue
		}
		delete(r.devices, id)
		ids = append(ids, id)
	}
	return ids, nil
}

// Fleets returns the registered fleets sorted by prefix, secrets included.
func (r *Registry) Fleets() []Fleet {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Fleet, 0, len(r.fleets))
	for _, p := range slices.Sorted(maps.Keys(r.fleets)) {
		out = append(out, r.fleets[p].spec)
	}
	return out
}

// isRegisteredLocked reports whether id is registered. r.mu must be held.
func (r *Registry) isRegisteredLocked(id string) bool {
	_, ok := r.devices[id]
	return ok
}

// FleetOf returns the prefix of the fleet a registered device belongs to; ok is false for a
// device not registered or not a fleet's.
func (r *Registry) FleetOf(id string) (prefix string, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, found := r.devices[id]
	if !found || e.fleet == nil {
		return "", false
	}
	return e.fleet.spec.Prefix, true
}
