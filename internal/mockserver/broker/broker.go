// Package broker is the IoTDA mock's MQTT broker: an embedded mochi-mqtt server with the
// platform's device authentication (client id {device_id}_0_{0|1}_{YYYYMMDDHH}, password
// HMAC-SHA256 keyed by the timestamp), per-device topic ACLs, no retained messages, the
// mock's limits on packets, in-flight messages and connections, and the platform's QoS 1
// rules for what it sends a device (written whether or not the device subscribed, resent
// every 2 s, 3 times, until acknowledged).
//
// The broker knows devices only through Config.Secret (the registry's secrets) and tells
// Config.Sessions (the delivery path) when a device's session begins, becomes writable and
// ends, and when a device publishes a reply. What it sends a device goes through that
// device's Conn. Everything that depends on mochi's internals is in this package.
package broker

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// Sessions is told of device sessions and replies: the delivery path. Its methods run on
// the broker's goroutine for the device's connection and must not block.
type Sessions interface {
	// Up: a device's session was established, after authentication and before the CONNACK.
	// Nothing may be written to c before Ready.
	Up(deviceID string, c *Conn)
	// Ready: the CONNACK is out and c may be written to.
	Ready(deviceID string, c *Conn)
	// Subscribe: c's device subscribed to at least one filter (granted), which matches from
	// now on (Conn.Subscribed).
	Subscribe(deviceID string, c *Conn)
	// Down: c's connection ended. c may be one that a newer session of the same client id
	// replaced, which Up never reported to be current.
	Down(deviceID string, c *Conn)
	// Reply: the device published payload on its reply topic
	// $oc/devices/{device_id}/sys/commands/response/request_id={requestID}. The payload
	// belongs to the broker: keep a copy.
	Reply(deviceID, requestID, topic string, payload []byte)
}

// Limits bounds what a device can make the broker read, hold or wait for. Zero fields are
// mochi's defaults, which are not bounds to rely on: the mockserver package always sets
// them (see mockserver.Limits).
type Limits struct {
	// ConnectTimeout bounds the wait for a new connection's CONNECT (and TLS handshake).
	ConnectTimeout time.Duration
	// MaxPacketBytes bounds a packet a client sends (MQTT 5 clients are told in the CONNACK).
	MaxPacketBytes int
	// MaxInflight bounds the QoS 1 messages a connection may have unacknowledged, in each
	// direction (at most 65,535).
	MaxInflight int
	// MaxPendingWrites bounds the packets queued for writing to one connection.
	MaxPendingWrites int
}

// Config configures a broker. Secret and Sessions are required.
type Config struct {
	// Addr is the MQTT listen address, e.g. "127.0.0.1:0".
	Addr string
	// TLSAddr and TLS, when TLS is set, open a second listener that speaks MQTT over TLS.
	TLSAddr string
	TLS     *tls.Config
	Limits  Limits
	// RedeliveryInterval is how long the broker waits for a device's PUBACK before it
	// publishes again with the DUP flag (DefaultRedeliveryInterval when not positive).
	RedeliveryInterval time.Duration
	// Now is the clock device timestamps are checked against. Default time.Now.
	Now func() time.Time
	// Secret returns a registered device's secret; ok is false for an unknown device.
	Secret func(deviceID string) (secret string, ok bool)
	// Sessions is told of sessions and replies.
	Sessions Sessions
	// Journal, when set, records redeliveries.
	Journal *journal.Journal
}

// MQTT listener ids.
const (
	mqttListenerID  = "iotda-mqtt"
	mqttsListenerID = "iotda-mqtts"
)

// Broker is a running broker.
type Broker struct {
	cfg          Config
	mochi        *mqtt.Server
	listener     *tcpListener
	redeliveries *redeliveries

	closed    chan struct{} // closed by Close; ends the redelivery goroutine
	closeOnce sync.Once
	closeErr  error

	mu sync.Mutex
	// conns holds the Conn of every session established and not yet ended, by client id,
	// as mochi's own client list does. A session whose CONNACK could not be written is never
	// reported as ended (mochi calls no hook): its entry stays until the client id logs in
	// again, as the client stays in mochi's list.
	conns map[string]*Conn
}

// Start opens the broker on cfg.Addr and, with cfg.TLS, an MQTTS listener on cfg.TLSAddr. It
// returns once the listeners are bound.
func Start(cfg Config) (*Broker, error) {
	if cfg.RedeliveryInterval <= 0 {
		cfg.RedeliveryInterval = DefaultRedeliveryInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	b := &Broker{cfg: cfg, redeliveries: newRedeliveries(), closed: make(chan struct{}), conns: make(map[string]*Conn)}
	m := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: capabilities(cfg.Limits),
		// mochi logs every connection and refusal; the mock's logger is for deliveries only.
		Logger: slog.New(slog.DiscardHandler),
	})
	for _, hook := range []mqtt.Hook{&deviceHook{b: b}, &platformRulesHook{}} {
		if err := m.AddHook(hook, nil); err != nil {
			return nil, fmt.Errorf("mockserver: MQTT hook: %w", err)
		}
	}
	// Last, so that every other hook has passed a reply before the platform takes it.
	if err := m.AddHook(&replyHook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("mockserver: MQTT reply hook: %w", err)
	}
	l := newTCPListener(m, mqttListenerID, cfg.Addr, nil, cfg.Limits.ConnectTimeout)
	// AddListener binds the socket (net.Listen), so the address is known and connections
	// queue in the backlog from here on.
	if err := m.AddListener(l); err != nil {
		return nil, fmt.Errorf("mockserver: MQTT listen on %s: %w", cfg.Addr, err)
	}
	if cfg.TLS != nil {
		tl := newTCPListener(m, mqttsListenerID, cfg.TLSAddr, cfg.TLS, cfg.Limits.ConnectTimeout)
		if err := m.AddListener(tl); err != nil {
			_ = m.Close()
			return nil, fmt.Errorf("mockserver: MQTTS listen on %s: %w", cfg.TLSAddr, err)
		}
	}
	if err := m.Serve(); err != nil {
		_ = m.Close()
		return nil, fmt.Errorf("mockserver: MQTT serve: %w", err)
	}
	b.mochi, b.listener = m, l
	go b.runRedeliveries() // ends when Close closes b.closed
	return b, nil
}

// Addr is the broker's bound host:port.
func (b *Broker) Addr() string { return b.listener.Address() }

// TLSAddr is the MQTTS listener's bound host:port, or "" without one.
func (b *Broker) TLSAddr() string {
	if l, ok := b.mochi.Listeners.Get(mqttsListenerID); ok {
		return l.Address()
	}
	return ""
}

// Close disconnects every device and stops the listeners. It is safe to call more than once.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		close(b.closed)
		b.closeErr = b.mochi.Close() // mochi's Close is not idempotent
	})
	return b.closeErr
}

// isClosed reports whether Close has begun.
func (b *Broker) isClosed() bool {
	select {
	case <-b.closed:
		return true
	default:
		return false
	}
}

// PublishUpstream publishes payload on topic as a device would, through the broker's own
// client: the platform's intake (Sessions.Reply) takes it like any device's publish. The
// fleets' in-process devices answer this way. After Close it does nothing.
func (b *Broker) PublishUpstream(topic string, payload []byte) {
	if b.isClosed() {
		return
	}
	_ = b.mochi.Publish(topic, payload, false, 1)
}

// MQTT is the mochi server underneath, for tests and diagnostics that read its state
// (retained messages, counters). Publishing through it bypasses the platform's rules.
func (b *Broker) MQTT() *mqtt.Server { return b.mochi }
