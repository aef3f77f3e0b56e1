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
// its last answer. Anything else published to a fleet device is taken and dropped.
type Fleet struct {
	prefix   string
	behavior registry.Behavior
	broker   *broker.Broker
	path     *delivery.Path

	// answered counts each device's answers (index i-1 for device i) when the behaviour
	// disconnects devices after some answers; nil otherwise.
	answered []atomic.Int32

	mu      sync.Mutex
	stopped bool
	// timers holds the delayed replies not yet sent, so that Stop can cancel them.
	timers map[*time.Timer]struct{}
	wg     sync.WaitGroup // replies being sent
}

var _ delivery.Local = (*Fleet)(nil)

// NewFleet returns the simulator of a fleet (valid, as the registry checked it) whose
// devices answer through b and go offline through p.
func NewFleet(spec registry.Fleet, b *broker.Broker, p *delivery.Path) *Fleet {
	f := &Fleet{prefix: spec.Prefix, behavior: spec.Behavior, broker: b, path: p, timers: make(map[*time.Timer]struct{})}
	if spec.Behavior.DisconnectAfter > 0 {
		f.answered = make([]atomic.Int32, spec.Count)
	}
	return f
}

// Receive takes a publication for one of the fleet's devices and answers a command as the
// behaviour says, at once or after its delay.
func (f *Fleet) Receive(deviceID, topic string, payload []byte) error {
	commandID, ok := broker.ParseCommandTopic(deviceID, topic)
	b := f.behavior
	if !ok || b.Kind == registry.BehaviorSilent {
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

// Stop cancels the delayed replies not yet sent and waits for those being sent.
func (f *Fleet) Stop() {
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
