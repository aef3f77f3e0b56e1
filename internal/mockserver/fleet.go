package mockserver

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// MaxFleetCount is the largest Fleet.Count. A fleet device costs a registry entry and a
// session, a few hundred bytes: 10,000 of them add about 5 MB to the mock.
const MaxFleetCount = 100_000

// fleetClientPrefix starts the journal's client id of a fleet device's session.
const fleetClientPrefix = "fleet:"

var (
	// ErrFleetNotFound means no fleet has the given prefix.
	ErrFleetNotFound = errors.New("fleet not found")
	// errFleetConflict means a fleet's prefix or one of its ids is already taken.
	errFleetConflict = errors.New("already exists")
)

// Fleet is many simulated devices sharing one behaviour: Count devices with the ids Prefix
// followed by 1, 2, ... Count (Prefix "sensor-" and Count 3 make sensor-1, sensor-2 and
// sensor-3).
//
// Fleet devices are registered devices like any other: they count in the registry (and
// Server.Devices), commands reach them through the same delivery path, and the journal
// records their deliveries and replies. What makes them cheap is their session: instead of
// an MQTT client over TCP, each is online through an in-process session of the device
// side, which answers as Behavior says and publishes the reply into the broker on the
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

// validate checks that every id the fleet makes is a valid device id and that its devices
// can follow the behaviour.
func (f Fleet) validate() error {
	if f.Count < 1 || f.Count > MaxFleetCount {
		return fmt.Errorf("fleet %q: count %d is out of range: want 1 to %d", f.Prefix, f.Count, MaxFleetCount)
	}
	if f.Prefix == "" || !deviceIDPattern.MatchString(f.Prefix) || !deviceIDPattern.MatchString(f.DeviceID(f.Count)) {
		return fmt.Errorf("fleet prefix %q: want letters, digits, underscores or hyphens, short enough that %q stays within 128 characters",
			f.Prefix, f.Prefix+strconv.Itoa(f.Count))
	}
	if err := validateBehavior(f.Behavior); err != nil {
		return fmt.Errorf("fleet %q: %w", f.Prefix, err)
	}
	return nil
}

// fleet is a running fleet: the in-process simulator behind its devices' sessions.
type fleet struct {
	spec     Fleet
	behavior *Behavior // shared by the fleet's registry entries
	session  string    // the journal's client id of its devices' sessions
	d        *deviceSide

	// answered counts each device's answers (index i-1 for device i) when the behaviour
	// disconnects devices after some answers; nil otherwise.
	answered []atomic.Int32

	mu      sync.Mutex
	stopped bool
	// timers holds the delayed replies not yet sent, so that stop can cancel them.
	timers map[*time.Timer]struct{}
	wg     sync.WaitGroup // replies being sent
}

// AddFleet registers every device of f and brings it online. It returns once every device
// is online, or an error (and no device registered) when the fleet is invalid, its prefix
// is taken, or one of its ids is already registered.
func (s *Server) AddFleet(f Fleet) error { return s.devices.addFleet(f) }

// RemoveFleet unregisters every device of the fleet with this prefix that is still its
// own, as RemoveDevice does for one device, and stops the fleet's pending delayed replies.
// It returns ErrFleetNotFound when no fleet has the prefix.
func (s *Server) RemoveFleet(prefix string) error { return s.devices.removeFleet(prefix) }

// Fleets returns the running fleets sorted by prefix, secrets included.
func (s *Server) Fleets() []Fleet {
	d := s.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Fleet, 0, len(d.fleets))
	for _, p := range slices.Sorted(maps.Keys(d.fleets)) {
		out = append(out, d.fleets[p].spec)
	}
	return out
}

func (d *deviceSide) addFleet(spec Fleet) error {
	if err := spec.validate(); err != nil {
		return fmt.Errorf("mockserver: %w", err)
	}
	f := &fleet{spec: spec, session: fleetClientPrefix + spec.Prefix, d: d, timers: make(map[*time.Timer]struct{})}
	b := spec.Behavior // the fleet keeps its own copy
	f.behavior = &b
	if b.DisconnectAfter > 0 {
		f.answered = make([]atomic.Int32, spec.Count)
	}
	sess := &session{clientID: f.session, fleet: f, ready: closedReady, established: true}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broker == nil {
		return errNotStarted
	}
	if _, taken := d.fleets[spec.Prefix]; taken {
		return fmt.Errorf("mockserver: a fleet with prefix %q %w", spec.Prefix, errFleetConflict)
	}
	for i := 1; i <= spec.Count; i++ {
		if _, exists := d.registry[spec.DeviceID(i)]; exists {
			id := spec.DeviceID(i)
			return fmt.Errorf("mockserver: fleet %q: device %q %w", spec.Prefix, id, errFleetConflict)
		}
	}
	for i := 1; i <= spec.Count; i++ {
		id := spec.DeviceID(i)
		secret := spec.Secret
		if secret == "" {
			secret = "secret-" + id
		}
		d.registry[id] = registered{Device: Device{ID: id, Secret: secret, Simulated: f.behavior}, fleet: f}
		d.sessions[id] = sess
	}
	d.fleets[spec.Prefix] = f
	d.notifyLocked()
	return nil
}

func (d *deviceSide) removeFleet(prefix string) error {
	d.mu.Lock()
	f, ok := d.fleets[prefix]
	if !ok {
		d.mu.Unlock()
		return fmt.Errorf("mockserver: %w: %q", ErrFleetNotFound, prefix)
	}
	delete(d.fleets, prefix)
	var takenOver []*session // real clients logged in as fleet devices
	for i := 1; i <= f.spec.Count; i++ {
		id := f.spec.DeviceID(i)
		if d.registry[id].fleet != f {
			continue // removed on its own, perhaps registered again
		}
		delete(d.registry, id)
		if s := d.sessions[id]; s != nil {
			delete(d.sessions, id)
			if s.cl != nil {
				takenOver = append(takenOver, s)
			}
		}
	}
	b := d.broker
	d.notifyLocked()
	d.mu.Unlock()
	f.stop()
	d.disconnect(b, takenOver)
	return nil
}

// receive takes a command for one of the fleet's devices and answers it as the behaviour
// says, at once or after its delay.
func (f *fleet) receive(deviceID, commandID string, payload []byte) error {
	b := f.behavior
	if b.Kind == BehaviorSilent {
		return nil
	}
	if b.Delay <= 0 {
		f.answer(deviceID, commandID, payload)
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return nil
	}
	var t *time.Timer
	f.wg.Add(1)
	t = time.AfterFunc(b.Delay, func() {
		defer f.wg.Done()
		f.mu.Lock()
		_, pending := f.timers[t]
		delete(f.timers, t)
		f.mu.Unlock()
		if pending {
			f.answer(deviceID, commandID, payload)
		}
	})
	f.timers[t] = struct{}{}
	return nil
}

// answer publishes the reply to one command on the device's response topic, through the
// broker, and takes the device offline after its last answer.
func (f *fleet) answer(deviceID, commandID string, command []byte) {
	reply, err := simReply(*f.behavior, command)
	if err != nil {
		return // nothing a device could answer; the platform times out
	}
	last := false
	if f.answered != nil {
		i, _ := strconv.Atoi(deviceID[len(f.spec.Prefix):])
		n := f.answered[i-1].Add(1)
		if n > int32(f.behavior.DisconnectAfter) {
			return // already offline; a command delivered before it went offline goes unanswered
		}
		last = n == int32(f.behavior.DisconnectAfter)
	}
	f.d.publishReply(deviceID, commandID, reply)
	if last {
		f.d.fleetDeviceDown(deviceID, f)
	}
}

// stop cancels the delayed replies not yet sent and waits for those being sent.
func (f *fleet) stop() {
	f.mu.Lock()
	f.stopped = true
	for t := range f.timers {
		if t.Stop() {
			f.wg.Done()
		}
		delete(f.timers, t)
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// fleetDeviceDown takes a fleet device offline, if its session is still the fleet's.
func (d *deviceSide) fleetDeviceDown(deviceID string, f *fleet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sessions[deviceID]; s != nil && s.fleet == f {
		delete(d.sessions, deviceID)
		d.notifyLocked()
	}
}

// publishReply publishes a simulated device's reply into the broker on the device's
// response topic, as the device would; the platform's intake (replyHook) matches it.
func (d *deviceSide) publishReply(deviceID, commandID string, reply []byte) {
	d.mu.Lock()
	b := d.broker
	d.mu.Unlock()
	if b == nil {
		return
	}
	_ = b.Publish(topicDevicesPrefix+deviceID+responseTopicMiddle+commandID, reply, false, 1)
}

// stopFleets stops every fleet's pending replies (at close).
func stopFleets(fleets map[string]*fleet) {
	for _, f := range fleets {
		f.stop()
	}
}
