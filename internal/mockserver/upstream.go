package mockserver

import (
	"bytes"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// replyHook is the platform's intake of device replies: it takes every PUBLISH on a
// $oc/devices/{device_id}/sys/commands/response/request_id={id} topic that the broker
// accepted (authenticated device, topic ACL, every earlier hook) and matches it to the
// command waiting for it. The broker still acknowledges the publish (PUBACK at QoS 1), but
// routes it no further: upstream traffic is for the platform, and looking up subscribers in
// the topic tree for every reply would only find the ones the ACL then refuses.
type replyHook struct {
	mqtt.HookBase
	d *deviceSide
}

// ID names the hook.
func (h *replyHook) ID() string { return "iotda-replies" }

// Provides says the hook sees publishes.
func (h *replyHook) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish takes a reply and tells the broker not to route it (CodeSuccessIgnore: the
// publish is acknowledged, retained nowhere and sent to no subscriber). Every other
// publish passes unchanged.
func (h *replyHook) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	deviceID, commandID, ok := parseResponseTopic(pk.TopicName)
	if !ok {
		return pk, nil
	}
	h.d.onReply(deviceID, commandID, pk.Payload)
	return pk, packets.CodeSuccessIgnore
}

// onReply matches a reply to its waiting command. It runs on the publishing client's
// goroutine, so it never blocks: the waiter channel has room for exactly one reply and is
// removed from the map before it is written. The payload reaches the waiter byte for byte,
// empty or not JSON included: what the answer makes of it is the HTTP side's business.
func (d *deviceSide) onReply(deviceID, commandID string, payload []byte) {
	body := bytes.Clone(payload)
	if body == nil {
		body = []byte{} // an empty reply is still a reply
	}
	key := waiterKey{deviceID: deviceID, commandID: commandID}
	d.mu.Lock()
	ch, found := d.waiters[key]
	if found {
		delete(d.waiters, key)
	}
	d.mu.Unlock()
	kind := EntryLateReply
	if found {
		kind = EntryReply
	}
	// Journal before handing over, so the reply is in the journal when deliver returns.
	d.journal.Add(Entry{Kind: kind, DeviceID: deviceID, CommandID: commandID, Body: body})
	if found {
		ch <- body
	}
}
