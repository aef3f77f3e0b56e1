package simdevice

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// Fleet answers, in process, what is published to the devices of one fleet: the
// delivery path's in-process session of every device of the fleet (delivery.Local). It
// answers a command as the fleet's behaviour says by publishing the reply into the broker
// on the device's response topic, as the device would, and takes a device offline after
// its last answer. A message published to a fleet device goes to the fleet's message
// listener; anything else is taken and dropped.
//
// A fleet device sleeps as a Sim does (Sleep, Wake): its in-process session leaves the
// delivery path and comes back. With Behavior.Sleep and Behavior.Awake the whole fleet
// sleeps and wakes together; a device put to sleep on its own stays asleep through the
// fleet's wakes until its own sleep ends.
type Fleet struct {
	prefix    string
	count     int
	clientID  string // the in-process session's name
	behavior  registry.Behavior
	broker    *broker.Broker
	path      *delivery.Path
	onMessage func(deviceID string, ev Event)

	// answered counts each device's answers (index i-1 for device i) when the behaviour
	// disconnects devices after some answers; nil otherwise.
	answered []atomic.Int32

	mu      sync.Mutex
	stopped bool
	// timers holds the delayed replies not yet sent, so that Stop can cancel them.
	timers map[*time.Timer]struct{}
	wg     sync.WaitGroup // replies being sent
	// asleep holds the devices put to sleep on their own, each with the timer that ends
	// its sleep (nil for a sleep until Wake).
	asleep map[string]*time.Timer
	// gen counts each device's sleeps and wakes, so that an old timer does nothing.
	gen map[string]uint64
	// cycleAsleep says the behaviour's cycle has the fleet asleep; cycle is its next turn.
	cycleAsleep bool
	cycle       *time.Timer
}

var _ delivery.Local = (*Fleet)(nil)

// NewFleet returns the simulator of a fleet (valid, as the registry checked it) whose
// devices answer through b and go online and offline through p, as the in-process session
// clientID. onMessage, when set, is told of every message a device of the fleet receives,
// on the publisher's goroutine: it must not block. Start the behaviour's sleep cycle, if
// any, with StartCycle once the devices are online.
func NewFleet(spec registry.Fleet, b *broker.Broker, p *delivery.Path, clientID string,
	onMessage func(deviceID string, ev Event),
) *Fleet {
	f := &Fleet{prefix: spec.Prefix, count: spec.Count, clientID: clientID, behavior: spec.Behavior, broker: b, path: p,
		onMessage: onMessage, timers: make(map[*time.Timer]struct{}), asleep: make(map[string]*time.Timer),
		gen: make(map[string]uint64)}
	if spec.Behavior.DisconnectAfter > 0 {
		f.answered = make([]atomic.Int32, spec.Count)
	}
	return f
}

// Receive takes a publication for one of the fleet's devices and answers a command as the
// behaviour says, at once or after its delay, or hands a message to the listener.
func (f *Fleet) Receive(deviceID, topic string, payload []byte) error {
	commandID, ok := broker.ParseCommandTopic(deviceID, topic)
	b := f.behavior
	if !ok {
		if f.onMessage != nil {
			f.onMessage(deviceID, Event{Kind: EventMessage, Message: ParseMessage(topic, payload)})
		}
		return nil
	}
	if b.Kind == registry.BehaviorSilent {
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
func (f *Fleet) answer(deviceID, commandID string, command []byte) {
	reply, err := simReply(f.behavior, command)
	if err != nil {
		return // nothing a device could answer; the platform times out
	}
	last := false
	if f.answered != nil {
		i, _ := strconv.Atoi(deviceID[len(f.prefix):])
		n := f.answered[i-1].Add(1)
		if n > int32(f.behavior.DisconnectAfter) {
			return // already offline; a command delivered before it went offline goes unanswered
		}
		last = n == int32(f.behavior.DisconnectAfter)
	}
	f.broker.PublishUpstream(broker.ResponseTopic(deviceID, commandID), reply)
	if last {
		f.path.DetachLocal(deviceID, f)
	}
}

// Stop cancels the delayed replies not yet sent, the sleeps and wakes to come, and waits
// for the replies being sent.
func (f *Fleet) Stop() {
	f.mu.Lock()
	f.stopped = true
	for t := range f.timers {
		if t.Stop() {
			f.wg.Done()
		}
		delete(f.timers, t)
	}
	for _, t := range f.asleep {
		stopTimer(t)
	}
	stopTimer(f.cycle)
	f.mu.Unlock()
	f.wg.Wait()
}

// Sleep takes one device of the fleet offline, until d from now, or until Wake when d is
// not positive.
func (f *Fleet) Sleep(deviceID string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.gen[deviceID]++
	stopTimer(f.asleep[deviceID])
	var t *time.Timer
	if d > 0 {
		gen := f.gen[deviceID]
		t = time.AfterFunc(d, func() { f.timedWake(deviceID, gen) })
	}
	f.asleep[deviceID] = t
	// Under f.mu, so that a wake cannot come between; the path's watchers must not call
	// back into the fleet.
	f.path.DetachLocal(deviceID, f)
}

// Wake brings one device of the fleet back online, whether it slept on its own or with the
// fleet. It reports false when the device is no longer the fleet's to bring back (removed,
// or taken over by a real client).
func (f *Fleet) Wake(deviceID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return false
	}
	f.gen[deviceID]++
	stopTimer(f.asleep[deviceID])
	delete(f.asleep, deviceID)
	return f.resumeLocked(deviceID)
}

// timedWake ends a device's own sleep, unless a sleep or wake came since; a fleet asleep in
// its cycle keeps the device asleep until the fleet wakes.
func (f *Fleet) timedWake(deviceID string, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped || f.gen[deviceID] != gen {
		return
	}
	delete(f.asleep, deviceID)
	if !f.cycleAsleep {
		f.resumeLocked(deviceID)
	}
}

// resumeLocked brings a device back online, or reports that it is not the fleet's to
// bring back. A device that is online already counts as brought back. f.mu must be held.
func (f *Fleet) resumeLocked(deviceID string) bool {
	if f.path.Online(deviceID) {
		return true
	}
	return f.path.ResumeLocal(f.clientID, f, deviceID)
}

// StartCycle starts the behaviour's sleep cycle, if it has one: the fleet stays awake for
// Behavior.Awake, sleeps for Behavior.Sleep, and so on.
func (f *Fleet) StartCycle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armCycleLocked(f.behavior.Awake)
}

func (f *Fleet) armCycleLocked(d time.Duration) {
	if f.behavior.Sleep <= 0 || f.stopped {
		return
	}
	f.cycle = time.AfterFunc(d, f.turnCycle)
}

// turnCycle puts the fleet to sleep, or wakes it, and arms the next turn. Devices asleep
// on their own stay asleep.
func (f *Fleet) turnCycle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped {
		return
	}
	f.cycleAsleep = !f.cycleAsleep
	for i := 1; i <= f.count; i++ {
		id := f.prefix + strconv.Itoa(i)
		switch _, own := f.asleep[id]; {
		case own:
		case f.cycleAsleep:
			f.path.DetachLocal(id, f)
		default:
			f.resumeLocked(id)
		}
	}
	if f.cycleAsleep {
		f.armCycleLocked(f.behavior.Sleep)
	} else {
		f.armCycleLocked(f.behavior.Awake)
	}
}
