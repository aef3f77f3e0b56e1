package broker

import (
	"sync"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The platform publishes a command again when the device has not acknowledged it (facts §2,
// "Redelivery at QoS 1": one resend every 2 s, 3 resends in total). mochi resends unacknowledged
// messages only when a persistent session reconnects, so the mock does the timed resends.
const (
	// DefaultRedeliveryInterval is the platform's wait for a PUBACK before it resends.
	DefaultRedeliveryInterval = 2 * time.Second
	// MaxRedeliveries is how often the platform resends an unacknowledged command.
	MaxRedeliveries = 3
)

// redelivery is a publication that may need resending.
type redelivery struct {
	due      time.Time
	cl       *mqtt.Client
	packetID uint16
	topic    string
	payload  []byte         // the bytes the in-flight packet holds
	rec      *journal.Entry // names the publication in the journal
	resent   int            // resends so far
}

// is reports whether pk, found in flight under e's packet id, is e's publication.
func (e *redelivery) is(pk packets.Packet) bool {
	if pk.TopicName != e.topic || len(pk.Payload) != len(e.payload) {
		return false
	}
	return len(e.payload) == 0 || &pk.Payload[0] == &e.payload[0]
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

// scheduleRedelivery queues a publication just written at QoS 1 to cl (packet id, topic)
// for a resend every RedeliveryInterval until the device acknowledges it, at most
// MaxRedeliveries times.
func (b *Broker) scheduleRedelivery(cl *mqtt.Client, pk packets.Packet, rec *journal.Entry) {
	b.redeliveries.push(redelivery{due: time.Now().Add(b.cfg.RedeliveryInterval), cl: cl, packetID: pk.PacketID,
		topic: pk.TopicName, payload: pk.Payload, rec: rec})
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

// runRedeliveries resends due publications until the broker closes. A command the device
// has acknowledged costs a look-up; one it has not is resent on a goroutine of its own, so
// that a device that stopped reading cannot hold up the others' resends.
func (b *Broker) runRedeliveries() {
	var batch []redelivery
	for {
		var ok bool
		if batch, ok = b.redeliveries.due(batch, b.closed); !ok {
			return
		}
		for _, e := range batch {
			if _, inflight := e.cl.State.Inflight.Get(e.packetID); inflight {
				go b.redeliver(e)
			}
		}
		clear(batch)
	}
}

// redeliver resends e with the DUP flag if the device has not acknowledged it yet, and
// queues the next resend.
func (b *Broker) redeliver(e redelivery) {
	// The in-flight entry is deleted by the PUBACK. A packet id is reused only after that,
	// perhaps for the same topic (a command's names it, a message's does not): the payload,
	// the same bytes the in-flight packet holds, tells the publication apart.
	current, inflight := e.cl.State.Inflight.Get(e.packetID)
	if !inflight || !e.is(current) || e.cl.Closed() {
		return
	}
	current.FixedHeader.Dup = true
	if err := e.cl.WritePacket(current); err != nil {
		return
	}
	if b.cfg.Journal != nil {
		var entry journal.Entry
		if e.rec != nil {
			entry = *e.rec
		}
		entry.Kind, entry.ClientID, entry.Body = journal.EntryRedelivery, e.cl.ID, current.Payload
		b.cfg.Journal.Add(entry)
	}
	if e.resent++; e.resent < MaxRedeliveries {
		e.due = time.Now().Add(b.cfg.RedeliveryInterval)
		b.redeliveries.push(e)
	}
}
