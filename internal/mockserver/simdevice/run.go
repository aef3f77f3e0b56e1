package simdevice

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
)

// Options configures Run.
type Options struct {
	// Addr is the MQTT broker's host:port: the mock's, or IoTDA's (port 1883, or 8883 with
	// TLSConfig).
	Addr string
	// TLSConfig, when set, connects over TLS with it (MQTTS).
	TLSConfig *tls.Config
	// DeviceID and Secret are the device's credentials.
	DeviceID, Secret string
	// Behavior is how the device answers commands, which custom topics it subscribes to,
	// and how it sleeps, as a simulated device does. Its DisconnectAfter is not used: the
	// device keeps its session, unless it sleeps.
	Behavior registry.Behavior
	// KeepAlive is the MQTT keep-alive. Default 60 s.
	KeepAlive time.Duration
	// ConnectTimeout bounds dialling and the CONNACK. Default 10 s.
	ConnectTimeout time.Duration
	// OnEvent, when set, is told of each session, command and message, on the device's
	// goroutines.
	OnEvent func(Event)
}

// EventKind says what a Event reports.
type EventKind string

// Device events.
const (
	// EventConnected: the broker accepted the CONNECT. It comes before anything the
	// session receives (a platform sends what it kept for the device at once), and before
	// the subscriptions, whose refusal ends the session with EventDisconnected.
	EventConnected EventKind = "connected"
	// EventSubscribed: the broker granted every subscription of the session (Topics): from
	// now on, messages on those topics reach the device.
	EventSubscribed EventKind = "subscribed"
	// EventCommand: a command arrived (and, if Replied, was answered with Reply).
	EventCommand EventKind = "command"
	// EventMessage: a device message (Message) arrived; the device answers none.
	EventMessage EventKind = "message"
	// EventDisconnected: the session ended or could not be set up (Err says why);
	// Run tries again after Retry.
	EventDisconnected EventKind = "disconnected"
	// EventAsleep: the device ended its session to sleep (Behavior.Sleep); it logs in again
	// after Retry.
	EventAsleep EventKind = "asleep"
)

// Event is something a device run by Run did.
type Event struct {
	Kind EventKind
	// ClientID is the MQTT client id of the session.
	ClientID string
	// RequestID, Command and Dup describe a command: its request (command) id, its
	// payload, and whether the broker marked it as a redelivery (Dup: a message's too).
	RequestID string
	Command   []byte
	Dup       bool
	// Message is the message of an EventMessage.
	Message Message
	// Replied says whether the device answered the command, with Reply.
	Replied bool
	Reply   []byte
	// Err and Retry explain a disconnection.
	Err   error
	Retry time.Duration
	// Topics are the filters of an EventSubscribed, in the order subscribed.
	Topics []string
}

// Backoff between connection attempts of Run.
const (
	deviceRetryMin = time.Second
	deviceRetryMax = 30 * time.Second
)

// Run runs a device until ctx ends: it connects to the broker as the device (client
// id {device_id}_0_0_{YYYYMMDDHH}, signType 0, so that the same login stays valid however
// long the session lasts), subscribes to $oc/devices/{device_id}/sys/commands/# and to
// o.Behavior.Subscribe, answers every command as o.Behavior says and takes every message,
// keeping one session for as long as the broker keeps it (or, with o.Behavior.Sleep, for
// o.Behavior.Awake, then sleeping for o.Behavior.Sleep). When the session ends it connects
// again, waiting 1 s, then twice as long each time up to 30 s. It returns nil when ctx ends, and an error when the broker refuses the
// credentials or the options are invalid: trying again would not help.
func Run(ctx context.Context, o Options) error {
	if !registry.ValidDeviceID(o.DeviceID) {
		return fmt.Errorf("invalid device id %q: want 1 to 128 letters, digits, underscores or hyphens", o.DeviceID)
	}
	if err := o.Behavior.Validate(); err != nil {
		return err
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = time.Minute
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	o.Behavior.DisconnectAfter = 0
	emit := func(ev Event) {
		if o.OnEvent != nil {
			o.OnEvent(ev)
		}
	}
	retry := deviceRetryMin
	for {
		clientID, err := runSession(ctx, o, emit)
		if ctx.Err() != nil {
			return nil //nolint:nilerr // ending with ctx is the normal end
		}
		var refused connackError
		if errors.As(err, &refused) {
			return err
		}
		if clientID != "" {
			retry = deviceRetryMin // the session had come up: start the backoff again
		}
		wait := retry
		if errors.Is(err, errAsleep) {
			wait = o.Behavior.Sleep
			emit(Event{Kind: EventAsleep, ClientID: clientID, Retry: wait})
		} else {
			emit(Event{Kind: EventDisconnected, ClientID: clientID, Err: err, Retry: retry})
			retry = min(retry*2, deviceRetryMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// errAsleep ends a session that the device ended itself, to sleep.
var errAsleep = errors.New("asleep")

// runSession runs one session: it returns why it ended, and the client id when the
// session came up.
func runSession(ctx context.Context, o Options, emit func(Event)) (string, error) {
	clientID, username, password := broker.LastingCredentials(o.DeviceID, o.Secret, time.Now())
	conn, err := dialDevice(ctx, deviceDial{addr: o.Addr, tlsConfig: o.TLSConfig, clientID: clientID, username: username,
		password: password, keepAlive: o.KeepAlive, timeout: o.ConnectTimeout})
	if err != nil {
		return "", err
	}
	// Told before the session is read, so that what the platform sends at once comes after.
	emit(Event{Kind: EventConnected, ClientID: clientID})
	sim := runSimDevice(conn, o.DeviceID, o.Behavior, 1, func(ev Event) {
		ev.ClientID = clientID
		emit(ev)
	})
	defer sim.Stop()
	filters := append([]string{broker.CommandsFilter(o.DeviceID)}, o.Behavior.Subscribe...)
	for _, filter := range filters {
		if err := conn.subscribe(filter, o.ConnectTimeout); err != nil {
			return clientID, fmt.Errorf("subscribe to %s: %w", filter, err)
		}
	}
	emit(Event{Kind: EventSubscribed, ClientID: clientID, Topics: filters})
	var awake <-chan time.Time // nil, never ready, for a device that does not sleep
	if o.Behavior.Sleep > 0 {
		t := time.NewTimer(o.Behavior.Awake)
		defer t.Stop()
		awake = t.C
	}
	select {
	case <-ctx.Done():
		return clientID, ctx.Err()
	case <-conn.closed:
		return clientID, conn.err
	case <-awake:
		return clientID, errAsleep // the deferred Stop sends the DISCONNECT
	}
}
