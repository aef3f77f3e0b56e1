// Package delivery is the IoTDA mock's one device-side delivery path: every platform service
// (the synchronous command API, batch tasks and device messages) reaches devices
// through a Path, never a copy of it. The Path knows which devices are online and through
// which session (an MQTT connection of the broker, or a fleet device's in-process session),
// publishes a payload to a device's topic, with or without awaiting the device's reply on a
// reply topic, matches replies to what awaits them, journals deliveries, replies and
// sessions, and tells the services that watch it when a device comes online, subscribes or
// goes offline.
//
// What a payload means is the service's business (package commands builds a command's
// payload and topics); how bytes reach a socket is the broker's (package broker). A service
// uses Publish, Online, WaitOnline and Watch:
//
//	reply, err := path.Publish(ctx, delivery.Publication{
//		DeviceID:   id,
//		Topic:      broker.CommandTopic(id, commandID),
//		Payload:    payload,
//		ReplyTopic: broker.ResponseTopic(id, commandID), // "" publishes without waiting
//		Journal:    journal.Entry{CommandID: commandID},
//	})
//
// Errors: ErrDeviceNotFound (not registered), ErrDeviceOffline (no live session),
// ErrNotSubscribed (a publication that requires a subscription the device lacks), ErrClosed
// (the mock shut down while waiting), ctx.Err() (the wait or the write timed out).
package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// Errors of Publish and WaitOnline.
var (
	// ErrDeviceNotFound means the device is not in the registry.
	ErrDeviceNotFound = errors.New("device not found")
	// ErrDeviceOffline means the device has no live session.
	ErrDeviceOffline = errors.New("device offline")
	// ErrNotSubscribed means a publication that requires the device's subscription to its
	// topic (Publication.RequireSubscription) found none.
	ErrNotSubscribed = errors.New("device has not subscribed to the topic")
	// ErrClosed means the mock shut down while the caller waited.
	ErrClosed = errors.New("mockserver: closed while waiting for the device's reply")
)

// Registry is what the path needs of the device registry.
type Registry interface {
	// Registered reports whether a device is registered.
	Registered(deviceID string) bool
}

// Local is a device simulated in process (a fleet's devices): its session takes
// publications by a call instead of an MQTT connection, and it answers through the broker
// (broker.Broker.PublishUpstream) as any device would.
type Local interface {
	// Receive takes a payload published to deviceID on topic. It runs on the publisher's
	// goroutine and must not block; an error fails the publication.
	Receive(deviceID, topic string, payload []byte) error
}

// Publication is a payload on its way to one device.
type Publication struct {
	DeviceID string
	// Topic is where the payload is published, at QoS 1, whether or not the device
	// subscribed to it (the platform subscribes devices to their system topics).
	Topic   string
	Payload []byte
	// ReplyTopic, when set, is the topic of the device's answer (a reply topic the broker
	// takes in: .../sys/commands/response/request_id={id}); Publish then waits for it until
	// ctx ends. Empty publishes without waiting.
	ReplyTopic string
	// RequireSubscription makes Publish fail with ErrNotSubscribed, without publishing, when
	// the device's MQTT session has no subscription matching Topic (custom topics need one
	// on the platform). An in-process session counts as subscribed to everything.
	RequireSubscription bool
	// Journal names the publication in the journal: the service sets the fields that
	// identify it (CommandID); the path sets Kind, DeviceID, ClientID and Body of its
	// delivery and redelivery entries.
	Journal journal.Entry
}

// Change is a device coming online, going offline, or subscribing.
type Change struct {
	DeviceID string
	Online   bool
	// Subscribed is set when an online device's MQTT session subscribed to a filter (Online
	// is then true and stays so): a publication that requires a subscription may find one
	// now.
	Subscribed bool
	// ClientID names the session that began, ended or subscribed: the MQTT client id, or the
	// in-process session's name.
	ClientID string
}

// Path is the delivery path of one mock. It implements broker.Sessions.
type Path struct {
	reg     Registry
	journal *journal.Journal

	closed    chan struct{} // closed by Close; wakes every waiter
	closeOnce sync.Once

	mu sync.Mutex // taken before the registry's lock, never after
	// sessions holds each online device's current session. A client replaced by a
	// takeover stays out of it, so its late disconnect cannot mark the device offline.
	sessions map[string]*session
	// changed is closed and replaced whenever a session changes, waking WaitOnline callers
	// without polling.
	changed chan struct{}
	// waiters holds the reply channel of each publication awaiting a reply, by reply topic.
	// The topic names the device, so a reply on one device's topic can never complete
	// another device's publication.
	waiters  map[string]chan []byte
	watchers []func(Change)
}

var _ broker.Sessions = (*Path)(nil)

// session is a device's live connection, the one its publications go to: an MQTT session
// of the broker, or an in-process one.
type session struct {
	// clientID names the session in the journal.
	clientID string
	conn     *broker.Conn // nil for an in-process session
	local    Local        // nil for an MQTT session
}

// New returns a path over the registry that journals in j.
func New(reg Registry, j *journal.Journal) *Path {
	return &Path{reg: reg, journal: j, closed: make(chan struct{}), sessions: make(map[string]*session),
		changed: make(chan struct{}), waiters: make(map[string]chan []byte)}
}

// Close fails every publication still waiting (ErrClosed) and every later one
// (ErrDeviceOffline). It is safe to call more than once.
func (p *Path) Close() { p.closeOnce.Do(func() { close(p.closed) }) }

func (p *Path) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// alive reports whether the session can still take publications.
func (s *session) alive() bool { return s.conn == nil || !s.conn.Closed() }

// waitReady waits until the session may be written to, ctx ends or the path closes.
func (s *session) waitReady(ctx context.Context, closed <-chan struct{}) error {
	if s.conn == nil {
		return nil
	}
	select {
	case <-s.conn.Ready():
		return nil
	default:
	}
	select {
	case <-s.conn.Ready():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return ErrClosed
	}
}

// Publish delivers pub to its device's live session and, with a ReplyTopic, waits for the
// reply until ctx ends or the path closes. It returns the reply byte for byte (empty, not
// nil, for an empty one). See the package comment for its errors.
func (p *Path) Publish(ctx context.Context, pub Publication) ([]byte, error) {
	var ch chan []byte
	if pub.ReplyTopic != "" {
		ch = make(chan []byte, 1)
	}
	var err error
	p.mu.Lock()
	sess := p.sessions[pub.DeviceID]
	switch {
	case !p.reg.Registered(pub.DeviceID):
		err = ErrDeviceNotFound
	case p.isClosed() || sess == nil || !sess.alive():
		err = ErrDeviceOffline
	case ch == nil: // nothing to await
	case p.waiters[pub.ReplyTopic] != nil:
		err = fmt.Errorf("mockserver: a publication awaiting a reply on %s is already pending", pub.ReplyTopic)
	default:
		// Registered before sending, so even an instant reply finds its waiter.
		p.waiters[pub.ReplyTopic] = ch
	}
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := sess.waitReady(ctx, p.closed); err != nil {
		p.dropWaiter(pub.ReplyTopic, ch)
		return nil, err
	}
	if pub.RequireSubscription && sess.conn != nil && !sess.conn.Subscribed(pub.Topic) {
		p.dropWaiter(pub.ReplyTopic, ch)
		return nil, ErrNotSubscribed
	}
	entry := pub.Journal
	entry.Kind, entry.DeviceID, entry.ClientID, entry.Body = journal.EntryDelivery, pub.DeviceID, sess.clientID, pub.Payload
	p.journal.Add(entry)
	if err := p.send(ctx, sess, &pub); err != nil {
		p.dropWaiter(pub.ReplyTopic, ch)
		return nil, err
	}
	if ch == nil {
		return nil, nil
	}
	return p.await(ctx, pub.ReplyTopic, ch)
}

// send hands the payload to the session: an MQTT PUBLISH at QoS 1, or the in-process
// device.
func (p *Path) send(ctx context.Context, s *session, pub *Publication) error {
	if s.local != nil {
		return s.local.Receive(pub.DeviceID, pub.Topic, pub.Payload)
	}
	// The record that names redeliveries in the journal; only an MQTT session has them.
	rec := pub.Journal
	rec.DeviceID = pub.DeviceID
	err := s.conn.Publish(ctx, pub.Topic, pub.Payload, &rec)
	if errors.Is(err, broker.ErrConnClosed) {
		return ErrDeviceOffline
	}
	return err
}

// await waits for the reply on ch. When ctx ends first the waiter is removed, unless the
// reply won the race, in which case it is returned: it has been journaled as a reply.
func (p *Path) await(ctx context.Context, topic string, ch chan []byte) ([]byte, error) {
	var stop error
	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		stop = ctx.Err()
	case <-p.closed:
		stop = ErrClosed
	}
	if p.dropWaiter(topic, ch) {
		return nil, stop
	}
	return <-ch, nil
}

// dropWaiter removes the publication waiting on ch and reports whether it was still
// pending. Comparing the channel keeps a later publication awaiting the same topic
// untouched. A nil ch (nothing awaited) is never pending.
func (p *Path) dropWaiter(topic string, ch chan []byte) bool {
	if ch == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.waiters[topic] != ch {
		return false
	}
	delete(p.waiters, topic)
	return true
}

// Reply matches a device's reply to the publication awaiting it (broker.Sessions). It runs
// on the publishing client's goroutine, so it never blocks: the waiter channel has room for
// exactly one reply and is removed from the map before it is written. The payload reaches
// the waiter byte for byte, empty or not JSON included: what the answer makes of it is the
// service's business. A reply nobody awaits is journaled as late.
func (p *Path) Reply(deviceID, requestID, topic string, payload []byte) {
	body := bytes.Clone(payload)
	if body == nil {
		body = []byte{} // an empty reply is still a reply
	}
	p.mu.Lock()
	ch, found := p.waiters[topic]
	if found {
		delete(p.waiters, topic)
	}
	p.mu.Unlock()
	kind := journal.EntryLateReply
	if found {
		kind = journal.EntryReply
	}
	// Journal before handing over, so the reply is in the journal when Publish returns.
	p.journal.Add(journal.Entry{Kind: kind, DeviceID: deviceID, CommandID: requestID, Body: body})
	if found {
		ch <- body
	}
}

// Pending is how many publications await a reply.
func (p *Path) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waiters)
}

// sessionBody is the journal body of a connect or disconnect: the MQTT client id, so that
// overlapping sessions of one device can be told apart.
func sessionBody(clientID string, takenOver bool) json.RawMessage {
	b, err := json.Marshal(struct {
		ClientID  string `json:"client_id"`
		TakenOver bool   `json:"taken_over,omitempty"`
	}{clientID, takenOver})
	if err != nil {
		return nil
	}
	return b
}

// Disconnect reasons.
var (
	reasonTakenOver = packets.ErrSessionTakenOver
	reasonRemoved   = packets.ErrNotAuthorized
)
