package mockserver

import (
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The platform publishes a command again when the device has not acknowledged it (facts §2,
// "Redelivery at QoS 1": one resend every 2 s, 3 resends in total). mochi resends unacknowledged
// messages only when a persistent session reconnects, so the mock does the timed resends.
const (
	// DefaultRedeliveryInterval is the platform's wait for a PUBACK before it resends.
	DefaultRedeliveryInterval = 2 * time.Second
	// maxRedeliveries is how often the platform resends an unacknowledged command.
	maxRedeliveries = 3
)

// scheduleRedelivery resends pk, a command just published at QoS 1 to cl, every
// RedeliveryInterval until the device acknowledges it, at most maxRedeliveries times.
func (d *deviceSide) scheduleRedelivery(cl *mqtt.Client, pk packets.Packet) {
	deviceID, commandID, ok := parseDeviceTopic(pk.TopicName, commandTopicMiddle)
	if !ok {
		return
	}
	var resend func(n int)
	resend = func(n int) {
		time.AfterFunc(d.opts.RedeliveryInterval, func() {
			select {
			case <-d.closed:
				return
			default:
			}
			// The inflight entry is deleted by the PUBACK. A packet id is reused only after
			// that, and never for the same topic, which names the command.
			current, inflight := cl.State.Inflight.Get(pk.PacketID)
			if !inflight || current.TopicName != pk.TopicName || cl.Closed() {
				return
			}
			current.FixedHeader.Dup = true
			if err := cl.WritePacket(current); err != nil {
				return
			}
			d.journal.add(Entry{Kind: EntryRedelivery, DeviceID: deviceID, CommandID: commandID, ClientID: cl.ID, Body: current.Payload})
			if n < maxRedeliveries {
				resend(n + 1)
			}
		})
	}
	resend(1)
}
