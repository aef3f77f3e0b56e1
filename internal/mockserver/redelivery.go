package mockserver

import (
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// The platform publishes a command again when the device has not acknowledged it (facts §2,
// "Redelivery at QoS 1": one resend every 2 s, 3 resends in total). mochi resends unacknowledged
// messages only when a persistent session reconnects, so the mock does the timed resends.
const (
	// DefaultRedeliveryInterval is the platform's wait for a PUBACK before it resends.
	DefaultRedeliveryInterval = 2 * time.Second
	// maxRedeliveries is how often the platform resends an unacknowledged command.
	maxRedeliveries = 3
)

// redelivery is a command that may need resending.
type redelivery struct {
	due       time.Time
	cl        *mqtt.Client
	packetID  uint16
	topic     string
	deviceID  string
	commandID string
	resent    int // resends so far
}

// redeliveries is the queue of commands awaiting their PUBACK, worked by one goroutine.
// Every entry waits the same interval, so entries come due in the order they were queued
// and a FIFO is enough: no timer per command.
type redeliveries struct {
	mu    sync.Mutex
	queue []redelivery // queue[head:] are pending, oldest first
	head  int
	wake  chan struct{} // signalled when the queue goes from empty to not empty
	// A timer per command would cost an allocation and a closure holding the packet; the
	// queue costs a slot in a slice that is reused once emptied.
}

func newRedeliveries() *redeliveries {
	return &redeliveries{wake: make(chan struct{}, 1)}
}

// scheduleRedelivery queues a command just published at QoS 1 to cl (packet id, topic) for
// a resend every RedeliveryInterval until the device acknowledges it, at most
// maxRedeliveries times.
func (d *deviceSide) scheduleRedelivery(cl *mqtt.Client, packetID uint16, topic, deviceID, commandID string) {
	d.redeliveries.push(redelivery{due: time.Now().Add(d.opts.RedeliveryInterval), cl: cl, packetID: packetID,
		topic: topic, deviceID: deviceID, commandID: commandID})
}

func (r *redeliveries) push(e redelivery) {
	r.mu.Lock()
	wasEmpty := r.head == len(r.queue)
	r.queue = append(r.queue, e)
	r.mu.Unlock()
	if wasEmpty {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// due waits until the oldest entry is due and returns every entry due by then, oldest
// first, in buf's storage; ok is false when closed ends the wait.
func (r *redeliveries) due(buf []redelivery, closed <-chan struct{}) (_ []redelivery, ok bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		now := time.Now()
		n := r.head
		for n < len(r.queue) && !now.Before(r.queue[n].due) {
			n++
		}
		if n > r.head {
			buf = append(buf[:0], r.queue[r.head:n]...)
			clear(r.queue[r.head:n]) // let the clients be collected
			r.head = n
			if r.head == len(r.queue) {
				r.queue, r.head = r.queue[:0], 0
			} else if r.head > 1024 && r.head*2 > len(r.queue) {
				r.queue = append(r.queue[:0:0], r.queue[r.head:]...)
				r.head = 0
			}
			r.mu.Unlock()
			return buf, true
		}
		var wait <-chan time.Time
		if r.head < len(r.queue) {
			timer.Reset(r.queue[r.head].due.Sub(now))
			wait = timer.C
		}
		r.mu.Unlock()
		select {
		case <-wait:
		case <-r.wake:
		case <-closed:
			return nil, false
		}
	}
}

// runRedeliveries resends due commands until the device side closes. A command the device
// has acknowledged costs a look-up; one it has not is resent on a goroutine of its own, so
// that a device that stopped reading cannot hold up the others' resends.
func (d *deviceSide) runRedeliveries() {
	var batch []redelivery
	for {
		var ok bool
		if batch, ok = d.redeliveries.due(batch, d.closed); !ok {
			return
		}
		for _, e := range batch {
			if _, inflight := e.cl.State.Inflight.Get(e.packetID); inflight {
				go d.redeliver(e)
			}
		}
		clear(batch)
	}
}

// redeliver resends e with the DUP flag if the device has not acknowledged it yet, and
// queues the next resend.
func (d *deviceSide) redeliver(e redelivery) {
	// The in-flight entry is deleted by the PUBACK. A packet id is reused only after that,
	// and never for the same topic, which names the command.
	current, inflight := e.cl.State.Inflight.Get(e.packetID)
	if !inflight || current.TopicName != e.topic || e.cl.Closed() {
		return
	}
	current.FixedHeader.Dup = true
	if err := e.cl.WritePacket(current); err != nil {
		return
	}
	d.journal.Add(Entry{Kind: EntryRedelivery, DeviceID: e.deviceID, CommandID: e.commandID, ClientID: e.cl.ID, Body: current.Payload})
	if e.resent++; e.resent < maxRedeliveries {
		e.due = time.Now().Add(d.opts.RedeliveryInterval)
		d.redeliveries.push(e)
	}
}
