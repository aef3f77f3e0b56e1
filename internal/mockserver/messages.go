package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/simdevice"
)

// This file joins the device message service (package messages) to the rest of the mock:
// its HTTP service is one of the platform API's services (New), its backend publishes
// through the delivery path without awaiting a reply (messageDevices), hears from the path
// when a device comes online or subscribes, to send what it kept for it, and forgets the
// messages of a device taken out of the registry. Its events and the messages simulated
// devices receive go to the journal.

// Message is a device message as the mock holds it; see package messages.
type Message = messages.Message

// Journal entry kinds of device messages. Their MessageID names the message and
// MessageStatus is its status: message (created; Topic is where it goes), message_delivered
// (published to the device: a delivery entry with the payload comes just before),
// message_failed (ErrorCode says why), message_timeout (its ttl ran out while the device was
// away), message_removed (it left the cache; Body says why: replaced by a newer one beyond
// 20, deleted, or device_deleted). EntryDeviceMessage is a message a simulated device
// received.
const (
	EntryMessage          EntryKind = messages.EventCreated
	EntryMessageDelivered EntryKind = messages.EventDelivered
	EntryMessageFailed    EntryKind = messages.EventFailed
	EntryMessageTimeout   EntryKind = messages.EventTimeout
	EntryMessageRemoved   EntryKind = messages.EventRemoved
	EntryDeviceMessage              = journal.EntryDeviceMessage
)

// newMessages builds the message backend over the delivery path, and has the path tell it
// of devices that come online or subscribe.
func (s *Server) newMessages() *messages.Backend {
	b := messages.New(messages.Config{
		Devices:      messageDevices{s},
		Now:          s.opts.Now,
		TimeScale:    s.opts.MessageTimeScale,
		NewMessageID: httpapi.NewUUID,
		OnEvent:      s.messageEvent,
	})
	s.path.Watch(func(c delivery.Change) {
		// The watcher runs on the broker's goroutine and must not block: the device's cached
		// messages go out on a goroutine of their own. Most devices that connect have none.
		if c.Online && b.HasPending(c.DeviceID) {
			go b.DeviceConnected(c.DeviceID)
		}
	})
	return b
}

// messageEvent journals an event of the message backend.
func (s *Server) messageEvent(ev messages.Event) {
	e := Entry{Kind: EntryKind(ev.Kind), DeviceID: ev.DeviceID, MessageID: ev.MessageID, MessageStatus: ev.Status,
		ErrorCode: ev.ErrorCode, Topic: ev.Topic}
	if ev.Reason != "" {
		e.Body, _ = json.Marshal(struct {
			Reason string `json:"reason"`
		}{ev.Reason}) // a string always encodes
	}
	s.journal.Add(e)
}

// simMessage journals a message a simulated device received.
func (s *Server) simMessage(deviceID, clientID string, ev simdevice.Event) {
	m := ev.Message
	body := m.Payload
	if m.Standard {
		body = []byte(m.Content)
	}
	s.journal.Add(Entry{Kind: EntryDeviceMessage, DeviceID: deviceID, ClientID: clientID, MessageID: m.ID, Topic: m.Topic,
		Body: body})
}

// messageDevices is the message backend's seam to the devices (messages.Devices): the
// registry and the one delivery path.
type messageDevices struct{ s *Server }

func (d messageDevices) Exists(deviceID string) bool { return d.s.registry.Registered(deviceID) }

func (d messageDevices) Online(deviceID string) bool { return d.s.path.Online(deviceID) }

func (d messageDevices) Subscribed(deviceID, topic string) bool {
	return d.s.path.Subscribed(deviceID, topic)
}

// Publish writes a message to the device's session at QoS 1, without awaiting anything but
// the write, which the platform timeout bounds (a device that stops reading loses its
// session, as for a command). A custom topic needs the device's subscription. The message's
// MQTT 5 properties are not sent: the broker writes every publication without properties,
// and what IoTDA sends an MQTT 3.1.1 device of them is UNCONFIRMED (messages facts §3).
func (d messageDevices) Publish(deviceID string, p messages.Publication) error {
	ctx, cancel := context.WithTimeout(context.Background(), d.s.opts.PlatformTimeout)
	defer cancel()
	_, err := d.s.path.Publish(ctx, delivery.Publication{DeviceID: deviceID, Topic: p.Topic, Payload: p.Payload,
		RequireSubscription: p.Custom, Journal: journal.Entry{MessageID: p.MessageID, Topic: p.Topic}})
	return err
}

// DeviceMessages returns the messages the mock holds for a device, oldest first: at most
// 20, final ones included, as ListDeviceMessages shows them. It returns ErrDeviceNotFound
// for a device that is not registered.
func (s *Server) DeviceMessages(deviceID string) ([]Message, error) {
	list, err := s.messages.List(deviceID)
	if err != nil {
		return nil, fmt.Errorf("mockserver: %w: %q", ErrDeviceNotFound, deviceID)
	}
	return list, nil
}

// ExpireMessages moves every pending message whose ttl has run out by Options.Now to
// TIMEOUT. The mock does so on its own when the ttl ends in real time (times
// Options.MessageTimeScale); tests that move a clock of their own call it after moving it.
func (s *Server) ExpireMessages() { s.messages.ExpireDue() }

// MessageDeliveries returns the delivery entries of device messages for deviceID ("" for
// every device): what the mock published, redeliveries aside.
func (s *Server) MessageDeliveries(deviceID string) []Entry {
	var out []Entry
	for _, e := range s.journal.Entries() {
		if e.Kind == EntryDelivery && e.MessageID != "" && (deviceID == "" || e.DeviceID == deviceID) {
			out = append(out, e)
		}
	}
	return out
}

// ReceivedMessages returns the EntryDeviceMessage entries for deviceID ("" for every
// device): the messages simulated devices received, as they read them.
func (s *Server) ReceivedMessages(deviceID string) []Entry {
	var out []Entry
	for _, e := range s.journal.Entries() {
		if e.Kind == EntryDeviceMessage && (deviceID == "" || e.DeviceID == deviceID) {
			out = append(out, e)
		}
	}
	return out
}

// ErrNotSimulated means a device has no simulated device to put to sleep or wake: it is
// registered without a behaviour, for a real client.
var ErrNotSimulated = registry.ErrNotSimulated

// sleepWait bounds the wait for a device put to sleep to be offline, and for one woken to be
// online.
const sleepWait = 10 * time.Second

// SleepDevice takes a simulated device (or a fleet device) offline, as a battery-powered
// device goes to sleep, for d, or until WakeDevice when d is not positive; messages sent
// meanwhile wait in the mock's cache, and commands answer 403 IOTDA.014016. It returns once
// the device is offline. A device asleep already sleeps for d from now. Errors:
// ErrDeviceNotFound, ErrNotSimulated.
func (s *Server) SleepDevice(deviceID string, d time.Duration) error {
	sim, fleet, err := s.simulator(deviceID)
	if err != nil {
		return err
	}
	if sim != nil {
		sim.Sleep(d)
	} else {
		fleet.Sleep(deviceID, d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sleepWait)
	defer cancel()
	if err := s.path.WaitOffline(ctx, deviceID); err != nil && !errors.Is(err, delivery.ErrDeviceNotFound) {
		return fmt.Errorf("mockserver: device %q did not go offline: %w", deviceID, err)
	}
	return nil
}

// WakeDevice brings a sleeping simulated device (or fleet device) back online and returns
// once it is; the messages it missed follow at once. It also brings back a device offline
// after its last answer (Behavior.DisconnectAfter). Errors: ErrDeviceNotFound,
// ErrNotSimulated, or why the device could not log in again.
func (s *Server) WakeDevice(deviceID string) error {
	sim, fleet, err := s.simulator(deviceID)
	if err != nil {
		return err
	}
	if sim != nil {
		if err := sim.Wake(); err != nil {
			return err
		}
	} else if !fleet.Wake(deviceID) {
		return fmt.Errorf("mockserver: fleet device %q could not come back online (a real client holds its session)", deviceID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sleepWait)
	defer cancel()
	return s.path.WaitOnline(ctx, deviceID)
}

// simulator returns what simulates a device: its Sim, or the fleet it belongs to.
func (s *Server) simulator(deviceID string) (*simdevice.Sim, *simdevice.Fleet, error) {
	if !s.registry.Registered(deviceID) {
		return nil, nil, fmt.Errorf("mockserver: %w: %q", ErrDeviceNotFound, deviceID)
	}
	prefix, inFleet := s.registry.FleetOf(deviceID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sim := s.sims[deviceID]; sim != nil {
		return sim, nil, nil
	}
	if f := s.fleets[prefix]; inFleet && f != nil {
		return nil, f, nil
	}
	return nil, nil, fmt.Errorf("mockserver: device %q: %w", deviceID, ErrNotSimulated)
}
