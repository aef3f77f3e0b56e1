// Package simdevice runs the IoTDA mock's simulated devices, which follow a
// registry.Behavior (answer with a given reply, echo, delay, never answer, a non-zero
// result_code, disconnect after some answers, subscribe to custom topics, sleep and wake)
// and receive device messages (message.go):
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
	"errors"
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

// errStopped is returned by Wake once the device has stopped.
var errStopped = errors.New("mockserver: the simulated device has stopped")

// Sim is a built-in device: an MQTT client (deviceConn) that authenticates like any
// device and answers the commands the platform sends it as its Behavior says. A command it
// answers at once gets its PUBACK and the reply in one write, on the connection's reading
// goroutine; a delayed answer waits on a goroutine of its own. A message is acknowledged and
// handed to the device's message listener.
//
// A Sim started by Start can sleep: Sleep ends its session with a clean DISCONNECT (the
// device is offline, and messages wait in the platform's cache), and Wake, or the end of a
// timed sleep, logs it in again. With Behavior.Sleep and Behavior.Awake it sleeps and wakes
// on its own, for ever.
type Sim struct {
	id        string
	behavior  registry.Behavior
	onEvent   func(Event) // told of sessions and commands; nil for the mock's own devices
	onMessage func(Event) // told of each message; nil for none
	replyQoS  byte        // 0 for the mock's own simulated devices, 1 for Run
	// dial logs the device in (once more after a sleep); nil for Run's sessions, which
	// reconnect on their own.
	dial     func(ctx context.Context) (*deviceConn, error)
	ctx      context.Context // ends at Stop: abandons delays and a dial under way
	cancel   context.CancelFunc
	stopOnce sync.Once
	wg       sync.WaitGroup // the reading goroutines and the answering ones

	// lifeMu serializes sleeping and waking (a wake dials, within simConnectTimeout); Stop
	// waits for the one under way.
	lifeMu sync.Mutex

	mu       sync.Mutex
	conn     *deviceConn // the current session; nil while the device sleeps
	stopped  bool
	answered int
	// gen counts sleeps and wakes, so that a timer armed before the latest one does
	// nothing when it fires.
	gen   uint64
	wake  *time.Timer // ends the current sleep; nil when the sleep lasts until Wake
	cycle *time.Timer // the behaviour's next sleep
}

// Start connects dev to the broker at addr with signType 1 credentials for the hour of
// now(), subscribes to the behaviour's Subscribe filters, and returns once the broker has
// accepted the device and its subscriptions. Without them, like a device built on Huawei's
// Python SDK, it subscribes to nothing: the platform delivers its commands and system-topic
// messages anyway. onMessage, when set, is told of every message the device receives, on
// its reading goroutine: it must not block.
func Start(addr string, dev registry.Device, now func() time.Time, onMessage func(Event)) (*Sim, error) {
	s := newSim(dev.ID, *dev.Simulated, 0, nil, onMessage)
	s.dial = func(ctx context.Context) (*deviceConn, error) {
		clientID, username, password := broker.DeviceCredentials(dev.ID, dev.Secret, now())
		return dialDevice(ctx, deviceDial{addr: addr, clientID: clientID, username: username,
			password: password, keepAlive: simKeepAlive, timeout: simConnectTimeout})
	}
	conn, err := s.connect()
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("mockserver: simulated device %q: %w", dev.ID, err)
	}
	s.mu.Lock()
	s.conn = conn
	s.armCycleLocked()
	s.mu.Unlock()
	return s, nil
}

func newSim(id string, b registry.Behavior, replyQoS byte, onEvent, onMessage func(Event)) *Sim {
	s := &Sim{id: id, behavior: b, replyQoS: replyQoS, onEvent: onEvent, onMessage: onMessage}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// runSimDevice answers the commands arriving on conn as b says, replying at QoS replyQoS,
// until Stop or the connection's end. onEvent is told of commands and messages.
func runSimDevice(conn *deviceConn, id string, b registry.Behavior, replyQoS byte, onEvent func(Event)) *Sim {
	s := newSim(id, b, replyQoS, onEvent, onEvent)
	s.conn = conn
	s.serve(conn)
	return s
}

// connect logs the device in, serves the session and subscribes to the behaviour's
// filters. Only Start and a wake under lifeMu call it, before Stop could wait.
func (s *Sim) connect() (*deviceConn, error) {
	conn, err := s.dial(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s.serve(conn) // the SUBACKs come through the reading goroutine
	for _, filter := range s.behavior.Subscribe {
		if err := conn.subscribe(filter, simConnectTimeout); err != nil {
			conn.disconnect()
			return nil, fmt.Errorf("subscribe to %q: %w", filter, err)
		}
	}
	return conn, nil
}

// serve reads conn on a goroutine of its own until the connection ends.
func (s *Sim) serve(conn *deviceConn) {
	s.wg.Go(func() { _ = conn.serve(func(pk packets.Packet) { s.onPublish(conn, pk) }) })
}

// Stop ends the device: no new answers, pending delays and timers abandoned, a DISCONNECT
// sent, the connection closed, and every goroutine of the device finished.
func (s *Sim) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.lifeMu.Lock()
		s.mu.Lock()
		s.stopped = true
		s.gen++
		stopTimer(s.wake)
		stopTimer(s.cycle)
		conn := s.conn
		s.mu.Unlock()
		s.lifeMu.Unlock()
		if conn != nil {
			conn.disconnect()
		}
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

// Sleep takes the device offline: its session ends with a DISCONNECT, and it logs in again
// after d, or at Wake when d is not positive. A device asleep already sleeps for d from now.
// The behaviour's own cycle, if any, resumes once the device wakes.
func (s *Sim) Sleep(d time.Duration) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.sleepLocked(d)
}

// sleepLocked is Sleep; s.lifeMu must be held.
func (s *Sim) sleepLocked(d time.Duration) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	conn := s.conn
	s.conn = nil
	s.gen++
	stopTimer(s.wake)
	stopTimer(s.cycle)
	s.wake, s.cycle = nil, nil
	if d > 0 {
		gen := s.gen
		s.wake = time.AfterFunc(d, func() { s.timed(gen, s.wakeLocked) })
	}
	s.mu.Unlock()
	if conn != nil {
		conn.disconnect()
	}
}

// Wake logs the device in again, if it is asleep or its session has ended (after its last
// answer, say), and returns once the broker has accepted it and its subscriptions.
func (s *Sim) Wake() error {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	return s.wakeLocked()
}

// wakeLocked is Wake; s.lifeMu must be held.
func (s *Sim) wakeLocked() error {
	s.mu.Lock()
	switch {
	case s.stopped:
		s.mu.Unlock()
		return errStopped
	case s.conn != nil && !s.conn.isClosed():
		s.mu.Unlock()
		return nil // awake
	case s.dial == nil:
		s.mu.Unlock()
		return errors.New("mockserver: this device cannot log in again on its own")
	}
	s.gen++
	stopTimer(s.wake)
	s.wake = nil
	s.mu.Unlock()
	conn, err := s.connect()
	if err != nil {
		s.retryWake()
		return fmt.Errorf("mockserver: simulated device %q: %w", s.id, err)
	}
	s.mu.Lock()
	s.conn = conn
	s.armCycleLocked()
	s.mu.Unlock()
	return nil
}

// retryWake tries a failed wake of a sleeping cycle again after another sleep, so that a
// broker that was briefly away does not leave the device asleep for ever.
func (s *Sim) retryWake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.behavior.Sleep <= 0 {
		return
	}
	gen := s.gen
	s.wake = time.AfterFunc(s.behavior.Sleep, func() { s.timed(gen, s.wakeLocked) })
}

// armCycleLocked schedules the behaviour's next sleep, Awake from now. s.mu must be held.
func (s *Sim) armCycleLocked() {
	if s.behavior.Sleep <= 0 || s.stopped {
		return
	}
	gen := s.gen
	s.cycle = time.AfterFunc(s.behavior.Awake, func() {
		s.timed(gen, func() error { s.sleepLocked(s.behavior.Sleep); return nil })
	})
}

// timed runs what a timer armed at generation gen does, under s.lifeMu, unless a sleep or
// wake came since.
func (s *Sim) timed(gen uint64, do func() error) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.mu.Lock()
	current := s.gen == gen && !s.stopped
	s.mu.Unlock()
	if current {
		_ = do() // a failed wake is retried by retryWake, or waits for Wake
	}
}

// stopTimer stops t, if there is one.
func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// onPublish handles one PUBLISH on conn's reading goroutine: a command is acknowledged and
// answered, a message acknowledged and handed to the message listener, anything else only
// acknowledged.
func (s *Sim) onPublish(conn *deviceConn, pk packets.Packet) {
	var ackID uint16 // the PUBACK to send, at QoS 1
	if pk.FixedHeader.Qos > 0 {
		ackID = pk.PacketID
	}
	requestID, ok := broker.ParseCommandTopic(s.id, pk.TopicName)
	b := s.behavior
	switch {
	case !ok:
		_, _ = conn.send(ackID, "", nil, 0, false)
		if s.onMessage != nil {
			s.onMessage(Event{Kind: EventMessage, Message: ParseMessage(pk.TopicName, pk.Payload), Dup: pk.FixedHeader.Dup})
		}
	case b.Kind == registry.BehaviorSilent:
		_, _ = conn.send(ackID, "", nil, 0, false)
		if s.onEvent != nil {
			s.onEvent(Event{Kind: EventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup})
		}
	case b.Delay > 0:
		_, _ = conn.send(ackID, "", nil, 0, false)
		s.answerLater(conn, requestID, pk, b.Delay)
	default:
		s.answer(conn, requestID, pk, ackID)
	}
}

// answerLater answers a command after delay, on a goroutine of its own. (A method of its
// own, so that only delayed commands pay for the packet the goroutine keeps.)
func (s *Sim) answerLater(conn *deviceConn, requestID string, pk packets.Packet, delay time.Duration) {
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
			s.answer(conn, requestID, pk, 0)
		case <-s.ctx.Done():
		}
	})
}

// answer publishes the reply to a command, in one write with the PUBACK for ackID (none
// when 0). The mock's own devices reply at QoS 0, except for a last answer before they
// disconnect: on their loopback link to the broker nothing can lose a publish that QoS 1
// would recover (a broken connection loses both alike), and each reply then spares the
// broker a PUBACK write and the device its read. The device program replies at QoS 1, as
// Huawei's SDKs do, since it may be anywhere on a network.
func (s *Sim) answer(conn *deviceConn, requestID string, pk packets.Packet, ackID uint16) {
	reply, err := simReply(s.behavior, pk.Payload)
	ok, last := false, false
	if err == nil {
		ok, last = s.claimAnswer()
	}
	if !ok {
		// Nothing a device could answer, or it already gave its last answer: the platform
		// times out.
		_, _ = conn.send(ackID, "", nil, 0, false)
		if s.onEvent != nil {
			s.onEvent(Event{Kind: EventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup})
		}
		return
	}
	qos := s.replyQoS
	if last {
		qos = 1 // its PUBACK says the broker has the reply before the device disconnects
	}
	acked, err := conn.send(ackID, broker.ResponseTopic(s.id, requestID), reply, qos, last)
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
			conn.disconnect()
		case <-conn.closed:
		case <-s.ctx.Done():
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
