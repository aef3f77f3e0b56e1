package mockserver

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// fleetClientPrefix starts the journal's client id of a fleet device's session.
const fleetClientPrefix = "fleet:"

// fleet is a running fleet: the in-process simulator behind its devices' sessions.
type fleet struct {
	spec     Fleet
	behavior *Behavior // its own copy of the fleet's behaviour
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
func (s *Server) Fleets() []Fleet { return s.registry.Fleets() }

func (d *deviceSide) addFleet(spec Fleet) error {
	if err := spec.Validate(); err != nil {
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
	if err := d.reg.AddFleet(spec); err != nil {
		return err
	}
	for i := 1; i <= spec.Count; i++ {
		d.sessions[spec.DeviceID(i)] = sess
	}
	d.fleets[spec.Prefix] = f
	d.notifyLocked()
	return nil
}

func (d *deviceSide) removeFleet(prefix string) error {
	d.mu.Lock()
	ids, err := d.reg.RemoveFleet(prefix)
	if err != nil {
		d.mu.Unlock()
		return err
	}
	f := d.fleets[prefix]
	delete(d.fleets, prefix)
	var takenOver []*session // real clients logged in as fleet devices
	for _, id := range ids {
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
	if f != nil {
		f.stop()
	}
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
