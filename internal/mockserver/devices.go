package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// errDeviceSideClosed is returned by deliver when the mock shuts down while waiting.
var errDeviceSideClosed = errors.New("mockserver: closed while waiting for the device's reply")

// deviceSide owns the registry, the MQTT broker, the live sessions and the commands
// waiting for replies.
type deviceSide struct {
	opts    *Options
	journal *journal.Journal

	closed    chan struct{} // closed by close; wakes pending deliveries
	closeOnce sync.Once

	redeliveries *redeliveries // commands awaiting their PUBACK (redelivery.go)

	reg *registry.Registry // the devices; d.mu is taken before its lock, never after

	mu       sync.Mutex
	broker   *mqtt.Server
	listener *tcpListener
	// sessions holds each online device's current session. A client replaced by a
	// takeover stays out of it, so its late disconnect cannot mark the device offline.
	sessions map[string]*session
	// changed is closed and replaced whenever sessions or the registry change, waking
	// WaitOnline callers without polling.
	changed chan struct{}
	sims    map[string]*simDevice
	fleets  map[string]*fleet // by prefix
	waiters map[waiterKey]chan []byte
}

// waiterKey matches a reply to its command. The device id is part of the key so that a
// reply on one device's topic can never complete another device's command.
type waiterKey struct {
	deviceID  string
	commandID string
}

func newDeviceSide(opts *Options, j *journal.Journal, reg *registry.Registry) *deviceSide {
	return &deviceSide{
		opts:    opts,
		journal: j,
		closed:  make(chan struct{}),
		reg:     reg,

		redeliveries: newRedeliveries(),
		sessions:     make(map[string]*session),
		changed:      make(chan struct{}),
		sims:         make(map[string]*simDevice),
		fleets:       make(map[string]*fleet),
		waiters:      make(map[waiterKey]chan []byte),
	}
}

// notifyLocked wakes every WaitOnline caller. d.mu must be held.
func (d *deviceSide) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// checkConnect authenticates a CONNECT against the registry.
func (d *deviceSide) checkConnect(pk packets.Packet) (string, connectRefusal) {
	return checkDeviceConnect(pk, d.opts.Now(), d.reg.Secret)
}

// sessionUp records cl as the device's live session. An older session of the same device
// under another client id is dropped: one device, one connection, as on the platform.
// mochi itself drops an older session with the same client id.
func (d *deviceSide) sessionUp(deviceID string, cl *mqtt.Client) {
	d.mu.Lock()
	old := d.sessions[deviceID]
	d.sessions[deviceID] = newMQTTSession(cl)
	d.journal.Add(Entry{Kind: EntryConnect, DeviceID: deviceID, ClientID: cl.ID, Body: sessionBody(cl, false)})
	d.notifyLocked()
	b := d.broker
	d.mu.Unlock()
	if old != nil && old.cl != nil && old.cl != cl && b != nil {
		_ = b.DisconnectClient(old.cl, packets.ErrSessionTakenOver)
	}
}

// sessionDown journals the end of a session and, if cl is still the device's current
// session, takes the device offline. A session that was taken over ends without changing
// the device's state; its entry says "taken_over".
func (d *deviceSide) sessionDown(deviceID string, cl *mqtt.Client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.sessions[deviceID]
	current := s != nil && s.cl == cl
	if current {
		delete(d.sessions, deviceID)
	}
	d.journal.Add(Entry{Kind: EntryDisconnect, DeviceID: deviceID, ClientID: cl.ID, Body: sessionBody(cl, !current)})
	d.notifyLocked()
}

// sessionBody is the journal body of a connect or disconnect: the MQTT client id, so that
// overlapping sessions of one device can be told apart.
func sessionBody(cl *mqtt.Client, takenOver bool) json.RawMessage {
	b, err := json.Marshal(struct {
		ClientID  string `json:"client_id"`
		TakenOver bool   `json:"taken_over,omitempty"`
	}{cl.ID, takenOver})
	if err != nil {
		return nil
	}
	return b
}

// onlineLocked reports whether a registered device has a live session. d.mu must be held.
func (d *deviceSide) onlineLocked(id string) bool {
	if !d.reg.Registered(id) {
		return false
	}
	s, ok := d.sessions[id]
	return ok && s.alive()
}

// deliver sends cmd to its device's live session and waits for the matching reply, ctx, or
// close. The device need not have subscribed to its command topic (see publishCommand).
func (d *deviceSide) deliver(ctx context.Context, cmd Command) (json.RawMessage, error) {
	payload, err := commandPayload(cmd)
	if err != nil {
		return nil, err
	}
	key := waiterKey{deviceID: cmd.DeviceID, commandID: cmd.CommandID}
	ch := make(chan []byte, 1)
	d.mu.Lock()
	b := d.broker
	sess := d.sessions[cmd.DeviceID]
	switch {
	case !d.reg.Registered(cmd.DeviceID):
		err = ErrDeviceNotFound
	case b == nil || sess == nil || !sess.alive():
		err = ErrDeviceOffline
	case d.waiters[key] != nil:
		err = fmt.Errorf("mockserver: command %q is already pending for device %q", cmd.CommandID, cmd.DeviceID)
	default:
		// Registered before sending, so even an instant reply finds its waiter.
		d.waiters[key] = ch
	}
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := sess.waitReady(ctx, d.closed); err != nil {
		d.dropWaiter(key, ch)
		return nil, err
	}
	d.journal.Add(Entry{Kind: EntryDelivery, DeviceID: cmd.DeviceID, CommandID: cmd.CommandID, ClientID: sess.clientID, Body: payload})
	if err := d.send(ctx, b, sess, cmd, commandTopic(cmd.DeviceID, cmd.CommandID), payload); err != nil {
		d.dropWaiter(key, ch)
		return nil, err
	}
	return d.await(ctx, key, ch)
}

// commandTopic is $oc/devices/{device_id}/sys/commands/request_id={command_id}.
func commandTopic(deviceID, commandID string) string {
	return topicDevicesPrefix + deviceID + commandTopicMiddle + commandID
}

// await waits for the reply on ch. When ctx ends first the waiter is removed, unless the
// reply won the race, in which case it is returned: it has been journaled as a reply.
func (d *deviceSide) await(ctx context.Context, key waiterKey, ch chan []byte) (json.RawMessage, error) {
	var stop error
	select {
	case reply := <-ch:
		return reply, nil
	case <-ctx.Done():
		stop = ctx.Err()
	case <-d.closed:
		stop = errDeviceSideClosed
	}
	if d.dropWaiter(key, ch) {
		return nil, stop
	}
	return <-ch, nil
}

// dropWaiter removes the pending command waiting on ch and reports whether it was still
// pending. Comparing the channel keeps a later command reusing the id untouched.
func (d *deviceSide) dropWaiter(key waiterKey, ch chan []byte) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.waiters[key] != ch {
		return false
	}
	delete(d.waiters, key)
	return true
}

// commandPayload builds the platform's downstream payload by hand so that paras reach the
// device byte for byte (re-encoding would turn large integers into float64).
func commandPayload(cmd Command) ([]byte, error) {
	if cmd.CommandID == "" || strings.ContainsAny(cmd.CommandID, "/+#\x00") {
		return nil, fmt.Errorf("mockserver: command id %q cannot be used in an MQTT topic", cmd.CommandID)
	}
	paras := []byte(cmd.Paras)
	if len(bytes.TrimSpace(paras)) == 0 {
		paras = []byte("{}")
	}
	if !json.Valid(paras) {
		return nil, errors.New("mockserver: command paras are not valid JSON")
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for _, f := range []struct{ name, value string }{
		{"service_id", cmd.ServiceID},
		{"command_name", cmd.CommandName},
	} {
		if f.value == "" {
			continue
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		buf.WriteString(`"` + f.name + `":`)
		buf.Write(v)
		buf.WriteByte(',')
	}
	buf.WriteString(`"paras":`)
	buf.Write(paras)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// AddDevice registers d. With d.Simulated set it also starts a simulated device and
// returns once that device is connected (online).
func (s *Server) AddDevice(d Device) error {
	return s.devices.add(d)
}

func (d *deviceSide) add(dev Device) error {
	dev, seq, err := d.reg.Add(dev)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.notifyLocked()
	addr := ""
	if d.listener != nil {
		addr = d.listener.Address()
	}
	d.mu.Unlock()
	if dev.Simulated == nil {
		return nil
	}
	if addr == "" {
		d.unregister(dev.ID)
		return errNotStarted
	}
	sim, err := startSimDevice(addr, dev, d.opts.Now())
	if err != nil {
		d.unregister(dev.ID)
		return err
	}
	d.mu.Lock()
	if !d.reg.Holds(dev.ID, seq) {
		// Removed (or replaced) while connecting.
		d.mu.Unlock()
		sim.stop()
		return fmt.Errorf("mockserver: device %q was removed while starting", dev.ID)
	}
	d.sims[dev.ID] = sim
	d.mu.Unlock()
	return nil
}

// unregister removes id from the registry.
func (d *deviceSide) unregister(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reg.Remove(id)
	d.notifyLocked()
}

// RemoveDevice stops the device's simulator, drops its session and unregisters it.
// Commands still waiting for it end with their context.
func (s *Server) RemoveDevice(id string) {
	d := s.devices
	d.mu.Lock()
	d.reg.Remove(id)
	sim := d.sims[id]
	delete(d.sims, id)
	sess := d.sessions[id]
	b := d.broker
	d.notifyLocked()
	d.mu.Unlock()
	if sim != nil {
		sim.stop()
	}
	d.disconnect(b, []*session{sess})
}

// disconnect ends the MQTT sessions among ss; OnDisconnect then removes each session and
// journals its end.
func (d *deviceSide) disconnect(b *mqtt.Server, ss []*session) {
	if b == nil {
		return
	}
	for _, s := range ss {
		if s != nil && s.cl != nil {
			_ = b.DisconnectClient(s.cl, packets.ErrNotAuthorized)
		}
	}
}

// Online reports whether the device is registered and has a live MQTT session.
func (s *Server) Online(id string) bool {
	d := s.devices
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.onlineLocked(id)
}

// Devices returns a copy of the registry, sorted by id, secrets included.
func (s *Server) Devices() []Device { return s.registry.Devices() }

// WaitOnline blocks until the device has a live session, or ctx ends. It returns
// ErrDeviceNotFound if the device is not (or no longer) registered.
func (s *Server) WaitOnline(ctx context.Context, id string) error {
	d := s.devices
	for {
		d.mu.Lock()
		registered := d.reg.Registered(id)
		online := d.onlineLocked(id)
		changed := d.changed
		d.mu.Unlock()
		switch {
		case !registered:
			return ErrDeviceNotFound
		case online:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-d.closed:
			return errDeviceSideClosed
		}
	}
}
