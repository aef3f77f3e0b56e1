package mockserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Platform topics (facts §2).
const (
	topicDevicesPrefix = "$oc/devices/"
	// commandTopicMiddle separates the device id from the request id in a command topic.
	commandTopicMiddle = "/sys/commands/request_id="
	// responseTopicMiddle separates the device id from the request id in a reply topic.
	responseTopicMiddle = "/sys/commands/response/request_id="
)

// errNotStarted is returned when the broker is needed before start or after close.
var errNotStarted = errors.New("mockserver: MQTT broker not running")

// MQTT listener ids.
const (
	mqttListenerID  = "iotda-mqtt"
	mqttsListenerID = "iotda-mqtts"
)

// start opens the broker on opts.MQTTAddr and, with tlsConfig, an MQTTS listener on
// opts.MQTTTLSAddr. It returns once the listeners are bound.
func (d *deviceSide) start(tlsConfig *tls.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.closed:
		return errors.New("mockserver: MQTT broker already closed")
	default:
	}
	if d.broker != nil {
		return errors.New("mockserver: MQTT broker already started")
	}
	b := mqtt.New(&mqtt.Options{
		InlineClient: true,
		Capabilities: brokerCapabilities(d.opts.Limits),
		// mochi logs every connection and refusal; opts.Logger is for deliveries only.
		Logger: slog.New(slog.DiscardHandler),
	})
	for _, hook := range []mqtt.Hook{&deviceHook{d: d}, &platformRulesHook{}} {
		if err := b.AddHook(hook, nil); err != nil {
			return fmt.Errorf("mockserver: MQTT hook: %w", err)
		}
	}
	// Last, so that every other hook has passed a reply before the platform takes it.
	if err := b.AddHook(&replyHook{d: d}, nil); err != nil {
		return fmt.Errorf("mockserver: MQTT reply hook: %w", err)
	}
	l := newTCPListener(b, mqttListenerID, d.opts.MQTTAddr, nil, d.opts.Limits.MQTTConnectTimeout)
	// AddListener binds the socket (net.Listen), so the address is known and connections
	// queue in the backlog from here on.
	if err := b.AddListener(l); err != nil {
		return fmt.Errorf("mockserver: MQTT listen on %s: %w", d.opts.MQTTAddr, err)
	}
	if tlsConfig != nil {
		tl := newTCPListener(b, mqttsListenerID, d.opts.MQTTTLSAddr, tlsConfig, d.opts.Limits.MQTTConnectTimeout)
		if err := b.AddListener(tl); err != nil {
			_ = b.Close()
			return fmt.Errorf("mockserver: MQTTS listen on %s: %w", d.opts.MQTTTLSAddr, err)
		}
	}
	if err := b.Serve(); err != nil {
		_ = b.Close()
		return fmt.Errorf("mockserver: MQTT serve: %w", err)
	}
	d.broker, d.listener = b, l
	go d.runRedeliveries() // ends when close closes d.closed
	return nil
}

// addr is the broker's bound host:port, or "" before start.
func (d *deviceSide) addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.listener == nil {
		return ""
	}
	return d.listener.Address()
}

// close stops the simulated devices, fails pending deliveries, then stops the broker.
// It is safe to call more than once and before start.
func (d *deviceSide) close() error {
	d.closeOnce.Do(func() { close(d.closed) })
	d.mu.Lock()
	sims, fleets := d.sims, d.fleets
	d.sims, d.fleets = make(map[string]*simDevice), make(map[string]*fleet)
	b := d.broker
	d.broker = nil // mochi's Close is not idempotent
	d.mu.Unlock()
	stopSims(sims)
	stopFleets(fleets)
	if b == nil {
		return nil
	}
	return b.Close()
}

// tlsAddr is the MQTTS listener's bound host:port, or "" without one.
func (d *deviceSide) tlsAddr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broker == nil {
		return ""
	}
	if l, ok := d.broker.Listeners.Get(mqttsListenerID); ok {
		return l.Address()
	}
	return ""
}

// parseResponseTopic splits $oc/devices/{device_id}/sys/commands/response/request_id={id}.
func parseResponseTopic(topic string) (deviceID, commandID string, ok bool) {
	return parseDeviceTopic(topic, responseTopicMiddle)
}

// parseDeviceTopic splits $oc/devices/{device_id}{middle}{request_id}.
func parseDeviceTopic(topic, middle string) (deviceID, commandID string, ok bool) {
	rest, found := strings.CutPrefix(topic, topicDevicesPrefix)
	if !found {
		return "", "", false
	}
	deviceID, commandID, found = strings.Cut(rest, middle)
	if !found || deviceID == "" || commandID == "" || strings.Contains(deviceID, "/") {
		return "", "", false
	}
	return deviceID, commandID, true
}

// deviceHook applies the platform's device authentication and topic ACL, and tracks sessions.
type deviceHook struct {
	mqtt.HookBase
	d *deviceSide
}

// ID names the hook.
func (h *deviceHook) ID() string { return "iotda-device-auth" }

// Provides lists the hook points the device side implements.
func (h *deviceHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnConnect authenticates the device and refuses it with the platform's CONNACK code.
// It runs before OnConnectAuthenticate because mochi answers a false from that hook with
// 0x05 (not authorized) on MQTT 3.1.1, while the platform answers 0x02 or 0x04.
func (h *deviceHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	_, refusal := h.d.checkConnect(pk)
	if refusal == connectAccepted {
		return nil
	}
	code := refusal.connackCode(cl.Properties.ProtocolVersion)
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: code}
	// The write is synchronous; returning an error makes mochi close the connection.
	_ = cl.WritePacket(ack)
	return packets.Code{Code: code, Reason: "device authentication failed"}
}

// OnConnectAuthenticate repeats the check OnConnect made, so no client is admitted if the
// device was removed in between.
func (h *deviceHook) OnConnectAuthenticate(_ *mqtt.Client, pk packets.Packet) bool {
	_, refusal := h.d.checkConnect(pk)
	return refusal == connectAccepted
}

// OnACLCheck lets a device publish and subscribe only under $oc/devices/{its id}/. Wildcards
// after that prefix stay inside it, so checking the literal prefix is enough. mochi also
// calls it (write false) before routing a message to a subscriber: a device never reads
// upstream topics, so its own replies are not routed back to its commands/# subscription
// (MQTT 3.1.1 has no "no local"), as on the platform, where upstream goes to the platform.
func (h *deviceHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok || !strings.HasPrefix(topic, topicDevicesPrefix+cid.deviceID+"/") {
		return false
	}
	return write || !isUpstreamTopic(topic)
}

// isUpstreamTopic reports whether a topic (or filter) names device-to-platform traffic:
// .../response/..., .../messages/up, .../events/up, .../properties/report.
func isUpstreamTopic(topic string) bool {
	parts := strings.Split(topic, "/")
	if slices.Contains(parts, "response") {
		return true
	}
	last := parts[len(parts)-1]
	return last == "up" || last == "report"
}

// OnSessionEstablish marks the device online. It runs after authentication and before the
// CONNACK, so a client whose connect has returned is already online.
func (h *deviceHook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return
	}
	h.d.sessionUp(cid.deviceID, cl)
}

// OnSessionEstablished runs once the CONNACK is out: from then on commands may be written
// to the session.
func (h *deviceHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return
	}
	h.d.sessionEstablished(cid.deviceID, cl)
}

// OnDisconnect marks the device offline when its current session ends.
func (h *deviceHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return
	}
	h.d.sessionDown(cid.deviceID, cl)
}
