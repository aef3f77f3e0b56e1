package mockserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/simdevice"
)

// This file joins the device registry, the broker, the delivery path and the simulated
// devices behind the Server's device methods.

// errNotStarted is returned when the broker is needed before Start or after Close.
var errNotStarted = errors.New("mockserver: MQTT broker not running")

// fleetClientPrefix starts the journal's client id of a fleet device's session.
const fleetClientPrefix = "fleet:"

// startDevices opens the broker (with tlsConfig, its MQTTS listener too).
func (s *Server) startDevices() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopped:
		return errors.New("mockserver: MQTT broker already closed")
	case s.broker != nil:
		return errors.New("mockserver: MQTT broker already started")
	}
	lim := s.opts.Limits
	b, err := broker.Start(broker.Config{
		Addr:    s.opts.MQTTAddr,
		TLSAddr: s.opts.MQTTTLSAddr,
		TLS:     s.tls.MQTT,
		Limits: broker.Limits{ConnectTimeout: lim.MQTTConnectTimeout, MaxPacketBytes: lim.MQTTMaxPacketBytes,
			MaxInflight: lim.MQTTMaxInflight, MaxPendingWrites: lim.MQTTMaxPendingWrites},
		RedeliveryInterval: s.opts.RedeliveryInterval,
		Now:                s.opts.Now,
		Secret:             s.registry.Secret,
		Sessions:           s.path,
		Journal:            s.journal,
	})
	if err != nil {
		return err
	}
	s.broker = b
	return nil
}

// closeDevices fails the deliveries still waiting, stops the simulated devices, then the
// broker. It is safe to call more than once and before Start.
func (s *Server) closeDevices() error {
	s.path.Close()
	s.mu.Lock()
	s.stopped = true
	sims, fleets := s.sims, s.fleets
	s.sims, s.fleets = make(map[string]*simdevice.Sim), make(map[string]*simdevice.Fleet)
	b := s.broker
	s.mu.Unlock()
	simdevice.StopAll(slices.Collect(maps.Values(sims)))
	for _, f := range fleets {
		f.Stop()
	}
	if b == nil {
		return nil
	}
	return b.Close()
}

// runningBroker returns the broker, or errNotStarted before Start and after Close.
func (s *Server) runningBroker() (*broker.Broker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broker == nil || s.stopped {
		return nil, errNotStarted
	}
	return s.broker, nil
}

// MQTTAddr is the broker's host:port, or "" before Start. A listener bound to every
// interface is named by the machine's name or address (httpapi.ReachableAddr).
func (s *Server) MQTTAddr() string {
	s.mu.Lock()
	b := s.broker
	s.mu.Unlock()
	if b == nil {
		return ""
	}
	return httpapi.ReachableAddr(b.Addr())
}

// MQTTTLSAddr is the host:port of the broker's MQTTS listener, or "" without
// Options.MQTTTLSAddr; named as MQTTAddr is.
func (s *Server) MQTTTLSAddr() string {
	s.mu.Lock()
	b := s.broker
	s.mu.Unlock()
	if b == nil {
		return ""
	}
	return httpapi.ReachableAddr(b.TLSAddr())
}

// AddDevice registers d. With d.Simulated set it also starts a simulated device and
// returns once that device is connected (online). It fails with ErrLimit when the mock
// already holds Limits.MaxDevices devices.
func (s *Server) AddDevice(d Device) error {
	dev, seq, err := s.registry.Add(d)
	if err != nil || dev.Simulated == nil {
		return withLimitKnob(err)
	}
	b, err := s.runningBroker()
	if err != nil {
		s.unregister(dev.ID)
		return err
	}
	sim, err := simdevice.Start(b.Addr(), dev, s.opts.Now, func(ev simdevice.Event) { s.simMessage(dev.ID, "", ev) })
	if err != nil {
		s.unregister(dev.ID)
		return err
	}
	s.mu.Lock()
	if !s.registry.Holds(dev.ID, seq) {
		// Removed (or replaced) while connecting.
		s.mu.Unlock()
		sim.Stop()
		return fmt.Errorf("mockserver: device %q was removed while starting", dev.ID)
	}
	s.sims[dev.ID] = sim
	s.mu.Unlock()
	return nil
}

// withLimitKnob adds to a registration refused at a limit the settings that raise it.
func withLimitKnob(err error) error {
	var le *registry.LimitError
	if !errors.As(err, &le) {
		return err
	}
	file := map[string]string{"MaxDevices": "max_devices", "MaxFleets": "max_fleets"}[le.Limit]
	return fmt.Errorf("%w; raise it with Limits.%s (for iotda-mock, %q in the configuration file)", err, le.Limit, file)
}

// unregister takes id out of the registry and ends its session.
func (s *Server) unregister(id string) {
	s.registry.Remove(id)
	s.path.Drop(id)
	s.messages.DeviceDeleted(id)
}

// RemoveDevice stops the device's simulator, drops its session and unregisters it.
// Commands still waiting for it end with their context; its messages are forgotten.
func (s *Server) RemoveDevice(id string) {
	s.registry.Remove(id)
	s.mu.Lock()
	sim := s.sims[id]
	delete(s.sims, id)
	s.mu.Unlock()
	if sim != nil {
		sim.Stop()
	}
	s.path.Drop(id)
	s.messages.DeviceDeleted(id)
}

// Online reports whether the device is registered and has a live MQTT session (or, for a
// fleet device, its in-process one).
func (s *Server) Online(id string) bool { return s.path.Online(id) }

// Devices returns a copy of the registry, sorted by id, secrets included.
func (s *Server) Devices() []Device { return s.registry.Devices() }

// WaitOnline blocks until the device has a live session, or ctx ends. It returns
// ErrDeviceNotFound if the device is not (or no longer) registered.
func (s *Server) WaitOnline(ctx context.Context, id string) error { return s.path.WaitOnline(ctx, id) }

// AddFleet registers every device of f and brings it online. It returns once every device
// is online, or an error (and no device registered) when the fleet is invalid, its prefix
// is taken, one of its ids is already registered, or it would take the mock past
// Limits.MaxDevices or Limits.MaxFleets (ErrLimit).
func (s *Server) AddFleet(f Fleet) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("mockserver: %w", err)
	}
	s.fleetMu.Lock()
	defer s.fleetMu.Unlock()
	b, err := s.runningBroker()
	if err != nil {
		return err
	}
	ids, err := s.registry.AddFleet(f)
	if err != nil {
		return withLimitKnob(err)
	}
	clientID := fleetClientPrefix + f.Prefix
	sim := simdevice.NewFleet(f, b, s.path, clientID, func(id string, ev simdevice.Event) { s.simMessage(id, clientID, ev) })
	s.path.AttachLocal(clientID, sim, ids)
	sim.StartCycle()
	s.mu.Lock()
	if s.stopped { // closed meanwhile: nothing else will stop it
		s.mu.Unlock()
		sim.Stop()
		return errNotStarted
	}
	s.fleets[f.Prefix] = sim
	s.mu.Unlock()
	return nil
}

// RemoveFleet unregisters every device of the fleet with this prefix that is still its
// own, as RemoveDevice does for one device, and stops the fleet's pending delayed replies.
// It returns ErrFleetNotFound when no fleet has the prefix.
func (s *Server) RemoveFleet(prefix string) error {
	s.fleetMu.Lock()
	defer s.fleetMu.Unlock()
	ids, err := s.registry.RemoveFleet(prefix)
	if err != nil {
		return err
	}
	s.mu.Lock()
	sim := s.fleets[prefix]
	delete(s.fleets, prefix)
	s.mu.Unlock()
	s.path.Drop(ids...)
	if sim != nil {
		sim.Stop()
	}
	for _, id := range ids {
		s.messages.DeviceDeleted(id)
	}
	return nil
}

// Fleets returns the running fleets sorted by prefix, secrets included.
func (s *Server) Fleets() []Fleet { return s.registry.Fleets() }

// deviceState is the Server's part of the device side: the broker and the simulated
// devices it runs, guarded by mu.
type deviceState struct {
	mu      sync.Mutex
	broker  *broker.Broker // set by Start
	stopped bool           // Close has begun
	sims    map[string]*simdevice.Sim
	fleets  map[string]*simdevice.Fleet // by prefix
	// fleetMu serialises AddFleet and RemoveFleet, so that a fleet is registered and
	// online, or removed and offline, before another fleet call looks at it.
	fleetMu sync.Mutex
}

// AddGroup registers a device group. The id must not be in use: a group whose id is taken
// is refused as such (registry.ErrExists) before its contents are checked.
func (s *Server) AddGroup(g Group) error { return s.registry.AddGroup(g) }

// RemoveGroup unregisters a device group. It reports whether the group existed. Tasks
// already created keep the members they resolved.
func (s *Server) RemoveGroup(id string) bool { return s.registry.RemoveGroup(id) }

// Groups returns a copy of the device groups, sorted by id.
func (s *Server) Groups() []Group { return s.registry.Groups() }
