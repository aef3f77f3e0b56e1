package delivery

import (
	"context"
	"slices"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// Up records c as the device's live session (broker.Sessions). An older session of the
// same device under another client id is dropped: one device, one connection, as on the
// platform. (mochi itself drops an older session with the same client id.)
func (p *Path) Up(deviceID string, c *broker.Conn) {
	p.mu.Lock()
	old := p.sessions[deviceID]
	p.sessions[deviceID] = &session{clientID: c.ClientID(), conn: c}
	p.journal.Add(journal.Entry{Kind: journal.EntryConnect, DeviceID: deviceID, ClientID: c.ClientID(),
		Body: sessionBody(c.ClientID(), false)})
	p.notifyLocked()
	p.mu.Unlock()
	if old != nil && old.conn != nil && old.conn != c {
		old.conn.Disconnect(reasonTakenOver)
	}
}

// Ready tells the watchers that the device is online, once its session may be written to
// (broker.Sessions).
func (p *Path) Ready(deviceID string, c *broker.Conn) {
	p.tellIfCurrent(deviceID, c, Change{DeviceID: deviceID, Online: true, ClientID: c.ClientID()})
}

// Subscribe tells the watchers that the device's current session subscribed
// (broker.Sessions).
func (p *Path) Subscribe(deviceID string, c *broker.Conn) {
	p.tellIfCurrent(deviceID, c, Change{DeviceID: deviceID, Online: true, Subscribed: true, ClientID: c.ClientID()})
}

// tellIfCurrent tells the watchers ch when c is still the device's session (a replaced one
// has nothing to say).
func (p *Path) tellIfCurrent(deviceID string, c *broker.Conn, ch Change) {
	p.mu.Lock()
	s := p.sessions[deviceID]
	current := s != nil && s.conn == c
	watchers := p.watchers
	p.mu.Unlock()
	if current {
		tell(watchers, ch)
	}
}

// Subscribed reports whether the device's current session can receive on topic without a
// subscription of its own being missing: an MQTT session that subscribed to a filter
// matching topic, or an in-process session (which takes everything). It is false for a
// device offline.
func (p *Path) Subscribed(deviceID, topic string) bool {
	p.mu.Lock()
	s := p.sessions[deviceID]
	p.mu.Unlock()
	if s == nil || !s.alive() {
		return false
	}
	return s.conn == nil || s.conn.Subscribed(topic)
}

// Down journals the end of a session and, if c is still the device's current session,
// takes the device offline (broker.Sessions). A session that was taken over ends without
// changing the device's state; its entry says "taken_over".
func (p *Path) Down(deviceID string, c *broker.Conn) {
	p.mu.Lock()
	s := p.sessions[deviceID]
	current := s != nil && s.conn == c
	if current {
		delete(p.sessions, deviceID)
	}
	p.journal.Add(journal.Entry{Kind: journal.EntryDisconnect, DeviceID: deviceID, ClientID: c.ClientID(),
		Body: sessionBody(c.ClientID(), !current)})
	p.notifyLocked()
	watchers := p.watchers
	p.mu.Unlock()
	if current {
		tell(watchers, Change{DeviceID: deviceID, Online: false, ClientID: c.ClientID()})
	}
}

// AttachLocal brings devices just registered online through one in-process session named
// clientID (for the journal). Nothing is journaled: an in-process session has no connect.
func (p *Path) AttachLocal(clientID string, l Local, deviceIDs []string) {
	s := &session{clientID: clientID, local: l}
	p.mu.Lock()
	for _, id := range deviceIDs {
		p.sessions[id] = s
	}
	p.notifyLocked()
	watchers := p.watchers
	p.mu.Unlock()
	for _, id := range deviceIDs {
		tell(watchers, Change{DeviceID: id, Online: true, ClientID: clientID})
	}
}

// ResumeLocal brings a device back online through l, as AttachLocal did, unless it is no
// longer registered or another session (a real client that took it over) has it; it
// reports whether it did. A fleet device waking from its sleep comes back this way.
func (p *Path) ResumeLocal(clientID string, l Local, deviceID string) bool {
	p.mu.Lock()
	if !p.reg.Registered(deviceID) || p.sessions[deviceID] != nil {
		p.mu.Unlock()
		return false
	}
	p.sessions[deviceID] = &session{clientID: clientID, local: l}
	p.notifyLocked()
	watchers := p.watchers
	p.mu.Unlock()
	tell(watchers, Change{DeviceID: deviceID, Online: true, ClientID: clientID})
	return true
}

// DetachLocal takes a device offline if its session is still l's (a fleet device after
// its last answer, or going to sleep).
func (p *Path) DetachLocal(deviceID string, l Local) {
	p.mu.Lock()
	s := p.sessions[deviceID]
	current := s != nil && s.local == l
	if current {
		delete(p.sessions, deviceID)
		p.notifyLocked()
	}
	watchers := p.watchers
	p.mu.Unlock()
	if current {
		tell(watchers, Change{DeviceID: deviceID, Online: false, ClientID: s.clientID})
	}
}

// Drop ends the sessions of devices taken out of the registry: an MQTT session is
// disconnected (Down then journals its end), an in-process one removed. Publications still
// waiting for their replies end with their contexts.
func (p *Path) Drop(deviceIDs ...string) {
	p.mu.Lock()
	var conns []*broker.Conn
	var gone []Change
	for _, id := range deviceIDs {
		s := p.sessions[id]
		switch {
		case s == nil:
		case s.conn != nil:
			conns = append(conns, s.conn)
		default:
			delete(p.sessions, id)
			gone = append(gone, Change{DeviceID: id, ClientID: s.clientID})
		}
	}
	p.notifyLocked()
	watchers := p.watchers
	p.mu.Unlock()
	for _, c := range conns {
		c.Disconnect(reasonRemoved)
	}
	for _, ch := range gone {
		tell(watchers, ch)
	}
}

// Online reports whether the device is registered and has a live session.
func (p *Path) Online(deviceID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.onlineLocked(deviceID)
}

// onlineLocked reports whether a registered device has a live session. p.mu must be held.
func (p *Path) onlineLocked(deviceID string) bool {
	if !p.reg.Registered(deviceID) {
		return false
	}
	s, ok := p.sessions[deviceID]
	return ok && s.alive()
}

// WaitOnline blocks until the device has a live session, or ctx ends. It returns
// ErrDeviceNotFound if the device is not (or no longer) registered: whoever unregisters a
// device calls Drop, which wakes the wait.
func (p *Path) WaitOnline(ctx context.Context, deviceID string) error {
	return p.waitSession(ctx, deviceID, true)
}

// WaitOffline blocks until the device has no live session, or ctx ends. It returns
// ErrDeviceNotFound once the device is not registered.
func (p *Path) WaitOffline(ctx context.Context, deviceID string) error {
	return p.waitSession(ctx, deviceID, false)
}

// waitSession blocks until the device is online (or offline, with online false), the device
// is not registered (ErrDeviceNotFound), ctx ends or the path closes (ErrClosed).
func (p *Path) waitSession(ctx context.Context, deviceID string, online bool) error {
	for {
		p.mu.Lock()
		registered := p.reg.Registered(deviceID)
		now := p.onlineLocked(deviceID)
		changed := p.changed
		p.mu.Unlock()
		switch {
		case !registered:
			return ErrDeviceNotFound
		case now == online:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.closed:
			return ErrClosed
		}
	}
}

// Changed returns a channel closed at the next change of any session (and at Drop), for
// waiting on a condition about sessions without polling.
func (p *Path) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Watch makes the path tell fn of every device that comes online (once its session may be
// written to, so fn may publish to it), subscribes, or goes offline. fn runs on the goroutine of the
// change, often the broker's for the device's connection, and must not block: a service
// that publishes on a change does so on a goroutine of its own.
func (p *Path) Watch(fn func(Change)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watchers = append(slices.Clip(p.watchers), fn)
}

// tell calls every watcher with ch.
func tell(watchers []func(Change), ch Change) {
	for _, fn := range watchers {
		fn(ch)
	}
}

// Conn returns the device's current MQTT session, if it has one (for tests that look at
// the broker's state for it).
func (p *Path) Conn(deviceID string) (*broker.Conn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.sessions[deviceID]
	if s == nil || s.conn == nil {
		return nil, false
	}
	return s.conn, true
}

// notifyLocked wakes every WaitOnline caller. p.mu must be held.
func (p *Path) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}
