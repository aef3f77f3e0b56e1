package broker

import (
	"slices"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// deviceHook applies the platform's device authentication and topic ACL, and reports
// sessions to Config.Sessions.
type deviceHook struct {
	mqtt.HookBase
	b *Broker
}

// ID names the hook.
func (h *deviceHook) ID() string { return "iotda-device-auth" }

// Provides lists the hook points the hook implements.
func (h *deviceHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnSubscribed, mqtt.OnDisconnect:
		return true
	}
	return false
}

// OnConnect authenticates the device and refuses it with the platform's CONNACK code.
// It runs before OnConnectAuthenticate because mochi answers a false from that hook with
// 0x05 (not authorized) on MQTT 3.1.1, while the platform answers 0x02 or 0x04.
func (h *deviceHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	_, refusal := checkDeviceConnect(pk, h.b.cfg.Now(), h.b.cfg.Secret)
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
	_, refusal := checkDeviceConnect(pk, h.b.cfg.Now(), h.b.cfg.Secret)
	return refusal == connectAccepted
}

// OnACLCheck lets a device publish and subscribe under $oc/devices/{its id}/ and on any
// topic outside the $ namespace. Wildcards after that prefix stay inside it, so checking the
// literal prefix is enough. mochi also calls it (write false) before routing a message to a
// subscriber: a device never reads upstream topics, so its own replies are not routed back
// to its commands/# subscription (MQTT 3.1.1 has no "no local"), as on the platform, where
// upstream goes to the platform.
//
// Topics that do not start with $oc are not permission-checked on the platform
// (iotda-messages-facts.md §3): a device subscribes to a message's topic_full_name, such as
// /device/message/down, there. Isolation holds all the same: what a device publishes on such
// a topic is the platform's (replyHook routes it to nobody), and the platform
// writes a message to its one device's session, not through subscriptions. Other $ topics
// ($SYS, another prefix) stay closed: the broker's own statistics are not the platform's.
func (h *deviceHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return false
	}
	if !strings.HasPrefix(topic, "$") {
		return true
	}
	if !strings.HasPrefix(topic, TopicDevicesPrefix+cid.deviceID+"/") {
		return false
	}
	return write || !isUpstreamTopic(topic)
}

// OnSessionEstablish marks the device online. It runs after authentication and before the
// CONNACK, so a client whose connect has returned is already online.
func (h *deviceHook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return
	}
	c := newConn(h.b, cl)
	h.b.mu.Lock()
	h.b.conns[cl.ID] = c
	h.b.mu.Unlock()
	h.b.cfg.Sessions.Up(cid.deviceID, c)
}

// OnSessionEstablished runs once the CONNACK is out: from then on the session may be
// written to.
func (h *deviceHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return
	}
	h.b.mu.Lock()
	c := h.b.conns[cl.ID]
	h.b.mu.Unlock()
	if c == nil || c.cl != cl {
		return // replaced by a newer session of the same client id already
	}
	close(c.ready)
	h.b.cfg.Sessions.Ready(cid.deviceID, c)
}

// OnSubscribed reports that a device's session subscribed to at least one filter, once the
// subscriptions are in place (before the SUBACK is written): a service that waits for a
// device's subscription to a custom topic may publish from then on.
func (h *deviceHook) OnSubscribed(cl *mqtt.Client, _ packets.Packet, reasonCodes []byte) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok || !slices.ContainsFunc(reasonCodes, func(c byte) bool { return c <= packets.CodeGrantedQos2.Code }) {
		return
	}
	h.b.mu.Lock()
	c := h.b.conns[cl.ID]
	h.b.mu.Unlock()
	if c == nil || c.cl != cl {
		return
	}
	h.b.cfg.Sessions.Subscribe(cid.deviceID, c)
}

// OnDisconnect reports the end of a session.
func (h *deviceHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	cid, ok := parseDeviceClientID(cl.ID)
	if !ok {
		return
	}
	h.b.mu.Lock()
	c := h.b.conns[cl.ID]
	if c != nil && c.cl == cl {
		delete(h.b.conns, cl.ID)
	} else {
		c = newConn(h.b, cl) // replaced by a newer session of the same client id
	}
	h.b.mu.Unlock()
	h.b.cfg.Sessions.Down(cid.deviceID, c)
}

// replyHook is the platform's intake of device replies: it takes every PUBLISH on a
// $oc/devices/{device_id}/sys/commands/response/request_id={id} topic that the broker
// accepted (authenticated device, topic ACL, every earlier hook) and hands it to
// Sessions.Reply. The broker still acknowledges the publish (PUBACK at QoS 1), but routes
// it no further: upstream traffic is for the platform, and looking up subscribers in the
// topic tree for every reply would only find the ones the ACL then refuses.
type replyHook struct {
	mqtt.HookBase
	b *Broker
}

// ID names the hook.
func (h *replyHook) ID() string { return "iotda-replies" }

// Provides says the hook sees publishes.
func (h *replyHook) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish takes a reply and tells the broker not to route it (CodeSuccessIgnore: the
// publish is acknowledged, retained nowhere and sent to no subscriber). A device's publish
// on a topic outside $oc/ is upstream data for the platform too: acknowledged and routed to
// nobody, so that devices subscribed to such topics never read each other. Every other
// publish passes unchanged.
func (h *replyHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	deviceID, requestID, ok := ParseResponseTopic(pk.TopicName)
	if !ok {
		if !cl.Net.Inline && !strings.HasPrefix(pk.TopicName, "$") {
			return pk, packets.CodeSuccessIgnore
		}
		return pk, nil
	}
	h.b.cfg.Sessions.Reply(deviceID, requestID, pk.TopicName, pk.Payload)
	return pk, packets.CodeSuccessIgnore
}
