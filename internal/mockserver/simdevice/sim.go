// Package simdevice runs the IoTDA mock's simulated devices, which follow a
// registry.Behavior (answer with a given reply, echo, delay, never answer, a non-zero
// result_code, disconnect after some answers):
//
//   - Sim is a built-in device that is an MQTT client like any other (conn.go has its small
//     MQTT 3.1.1 client): it logs in with the platform's credentials through the broker's
//     listener and answers what the platform publishes to it;
//   - Fleet answers for many devices in process: it is the delivery path's session of each
//     device of a fleet, and publishes its replies into the broker as the devices would;
//   - Run runs one device as a program (internal/cmd/iotda-device), against the mock or
//     against IoTDA itself.
//
// The replies are built in reply.go, byte for byte from the command where they echo it.
package simdevice

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// simConnectTimeout bounds a simulated device's connect and subscribe.
const simConnectTimeout = 10 * time.Second

// simKeepAlive is the keep-alive a simulated device announces at CONNECT.
const simKeepAlive = time.Minute

// Sim is a built-in device: an MQTT client (deviceConn) that authenticates like any
// device and answers the commands the platform sends it as its Behavior says. A command it
// answers at once gets its PUBACK and the reply in one write, on the connection's reading
// goroutine; a delayed answer waits on a goroutine of its own.
type Sim struct {
	id       string
	behavior registry.Behavior
	conn     *deviceConn
	onEvent  func(Event)   // nil for the mock's own simulated devices
	replyQoS byte          // 0 for the mock's own simulated devices, 1 for Run
	stopCh   chan struct{} // closed by Stop; ends delays
	stopOnce sync.Once
	wg       sync.WaitGroup // the reading goroutine and the answering ones

	mu       sync.Mutex
	stopped  bool
	answered int
}

// Start connects dev to the broker at addr with signType 1 credentials for the
// hour of now. It returns once the broker accepted the CONNECT. Like a device built on
// Huawei's Python SDK it subscribes to nothing: the platform delivers its commands anyway.
func Start(addr string, dev registry.Device, now time.Time) (*Sim, error) {
	clientID, username, password := broker.DeviceCredentials(dev.ID, dev.Secret, now)
	conn, err := dialDevice(context.Background(), deviceDial{addr: addr, clientID: clientID, username: username,
		password: password, keepAlive: simKeepAlive, timeout: simConnectTimeout})
	if err != nil {
		return nil, fmt.Errorf("mockserver: simulated device %q: connect: %w", dev.ID, err)
	}
	return runSimDevice(conn, dev.ID, *dev.Simulated, 0, nil), nil
}

// runSimDevice answers the commands arriving on conn as b says, replying at QoS replyQoS,
// until Stop or the connection's end.
func runSimDevice(conn *deviceConn, id string, b registry.Behavior, replyQoS byte, onEvent func(Event)) *Sim {
	s := &Sim{id: id, behavior: b, conn: conn, replyQoS: replyQoS, onEvent: onEvent, stopCh: make(chan struct{})}
	s.wg.Go(func() { _ = conn.serve(s.onPublish) })
	return s
}

// Stop ends the device: no new answers, pending delays abandoned, a DISCONNECT sent, the
// connection closed, and every goroutine of the device finished.
func (s *Sim) Stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.stopCh)
		s.conn.disconnect()
		s.wg.Wait()
	})
}

// StopAll stops devices in parallel, so closing a mock with many devices stays quick.
func StopAll(sims []*Sim) {
	var wg sync.WaitGroup
	for _, s := range sims {
		wg.Go(s.Stop)
	}
	wg.Wait()
}

// onPublish handles one PUBLISH on the reading goroutine: a command is acknowledged and
// answered, anything else only acknowledged.
func (s *Sim) onPublish(pk packets.Packet) {
	var ackID uint16 // the PUBACK to send, at QoS 1
	if pk.FixedHeader.Qos > 0 {
		ackID = pk.PacketID
	}
	requestID, ok := broker.ParseCommandTopic(s.id, pk.TopicName)
	b := s.behavior
	switch {
	case !ok || b.Kind == registry.BehaviorSilent:
		_, _ = s.conn.send(ackID, "", nil, 0, false)
		if ok && s.onEvent != nil {
			s.onEvent(Event{Kind: EventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup})
		}
	case b.Delay > 0:
		_, _ = s.conn.send(ackID, "", nil, 0, false)
		s.answerLater(requestID, pk, b.Delay)
	default:
		s.answer(requestID, pk, ackID)
	}
}

// answerLater answers a command after delay, on a goroutine of its own. (A method of its
// own, so that only delayed commands pay for the packet the goroutine keeps.)
func (s *Sim) answerLater(requestID string, pk packets.Packet, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	// Added under s.mu, which stop takes before waiting, so Add never races with Wait.
	s.wg.Go(func() {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
			s.answer(requestID, pk, 0)
		case <-s.stopCh:
		}
	})
}

// answer publishes the reply to a command, in one write with the PUBACK for ackID (none
// when 0). The mock's own devices reply at QoS 0, except for a last answer before they
// disconnect: on their loopback link to the broker nothing can lose a publish that QoS 1
// would recover (a broken connection loses both alike), and each reply then spares the
// broker a PUBACK write and the device its read. The device program replies at QoS 1, as
// Huawei's SDKs do, since it may be anywhere on a network.
func (s *Sim) answer(requestID string, pk packets.Packet, ackID uint16) {
	reply, err := simReply(s.behavior, pk.Payload)
	ok, last := false, false
	if err == nil {
		ok, last = s.claimAnswer()
	}
	if !ok {
		// Nothing a device could answer, or it already gave its last answer: the platform
		// times out.
		_, _ = s.conn.send(ackID, "", nil, 0, false)
		if s.onEvent != nil {
			s.onEvent(Event{Kind: EventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup})
		}
		return
	}
	qos := s.replyQoS
	if last {
		qos = 1 // its PUBACK says the broker has the reply before the device disconnects
	}
	acked, err := s.conn.send(ackID, broker.ResponseTopic(s.id, requestID), reply, qos, last)
	if err != nil {
		return
	}
	if s.onEvent != nil {
		s.onEvent(Event{Kind: EventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup,
			Replied: true, Reply: reply})
	}
	if !last {
		return
	}
	// Disconnect once the PUBACK has arrived, so that the broker has the reply first. The
	// PUBACK comes through the reading goroutine, which may be this one: wait on another.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.wg.Go(func() {
		select {
		case <-acked:
			s.conn.disconnect()
		case <-s.conn.closed:
		case <-s.stopCh:
		}
	})
}

// claimAnswer counts an answer against DisconnectAfter. ok is false when the device has
// stopped or already gave its last answer; last is true for the answer that ends it.
func (s *Sim) claimAnswer() (ok, last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.behavior.DisconnectAfter
	if s.stopped || (limit > 0 && s.answered >= limit) {
		return false, false
	}
	s.answered++
	return true, limit > 0 && s.answered == limit
}
