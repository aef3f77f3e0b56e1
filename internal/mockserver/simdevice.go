package mockserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/mochi-mqtt/server/v2/packets"
)

// simConnectTimeout bounds a simulated device's connect and subscribe.
const simConnectTimeout = 10 * time.Second

// simKeepAlive is the keep-alive a simulated device announces at CONNECT.
const simKeepAlive = time.Minute

// defaultSimResponse is the reply of a BehaviorReply device without Behavior.Response.
var defaultSimResponse = json.RawMessage(`{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`)

// simDevice is a built-in device: an MQTT client (deviceConn) that authenticates like any
// device and answers the commands the platform sends it as its Behavior says. A command it
// answers at once gets its PUBACK and the reply in one write, on the connection's reading
// goroutine; a delayed answer waits on a goroutine of its own.
type simDevice struct {
	id       string
	behavior Behavior
	conn     *deviceConn
	onEvent  func(DeviceEvent) // nil for the mock's own simulated devices
	replyQoS byte              // 0 for the mock's own simulated devices, 1 for RunDevice
	stopCh   chan struct{}     // closed by stop; ends delays
	stopOnce sync.Once
	wg       sync.WaitGroup // the reading goroutine and the answering ones

	mu       sync.Mutex
	stopped  bool
	answered int
}

// startSimDevice connects dev to the broker at addr with signType 1 credentials for the
// hour of now. It returns once the broker accepted the CONNECT. Like a device built on
// Huawei's Python SDK it subscribes to nothing: the platform delivers its commands anyway.
func startSimDevice(addr string, dev Device, now time.Time) (*simDevice, error) {
	clientID, username, password := broker.DeviceCredentials(dev.ID, dev.Secret, now)
	conn, err := dialDevice(context.Background(), deviceDial{addr: addr, clientID: clientID, username: username,
		password: password, keepAlive: simKeepAlive, timeout: simConnectTimeout})
	if err != nil {
		return nil, fmt.Errorf("mockserver: simulated device %q: connect: %w", dev.ID, err)
	}
	return runSimDevice(conn, dev.ID, *dev.Simulated, 0, nil), nil
}

// runSimDevice answers the commands arriving on conn as b says, replying at QoS replyQoS,
// until stop or the connection's end.
func runSimDevice(conn *deviceConn, id string, b Behavior, replyQoS byte, onEvent func(DeviceEvent)) *simDevice {
	s := &simDevice{id: id, behavior: b, conn: conn, replyQoS: replyQoS, onEvent: onEvent, stopCh: make(chan struct{})}
	s.wg.Go(func() { _ = conn.serve(s.onPublish) })
	return s
}

// stop ends the device: no new answers, pending delays abandoned, a DISCONNECT sent, the
// connection closed, and every goroutine of the device finished.
func (s *simDevice) stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.stopCh)
		s.conn.disconnect()
		s.wg.Wait()
	})
}

// stopSims stops devices in parallel, so closing a mock with many devices stays quick.
func stopSims(sims map[string]*simDevice) {
	var wg sync.WaitGroup
	for _, s := range sims {
		wg.Go(s.stop)
	}
	wg.Wait()
}

// onPublish handles one PUBLISH on the reading goroutine: a command is acknowledged and
// answered, anything else only acknowledged.
func (s *simDevice) onPublish(pk packets.Packet) {
	var ackID uint16 // the PUBACK to send, at QoS 1
	if pk.FixedHeader.Qos > 0 {
		ackID = pk.PacketID
	}
	requestID, ok := broker.ParseCommandTopic(s.id, pk.TopicName)
	b := s.behavior
	switch {
	case !ok || b.Kind == BehaviorSilent:
		_, _ = s.conn.send(ackID, "", nil, 0, false)
		if ok && s.onEvent != nil {
			s.onEvent(DeviceEvent{Kind: DeviceEventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup})
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
func (s *simDevice) answerLater(requestID string, pk packets.Packet, delay time.Duration) {
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
func (s *simDevice) answer(requestID string, pk packets.Packet, ackID uint16) {
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
			s.onEvent(DeviceEvent{Kind: DeviceEventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup})
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
		s.onEvent(DeviceEvent{Kind: DeviceEventCommand, RequestID: requestID, Command: pk.Payload, Dup: pk.FixedHeader.Dup,
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
func (s *simDevice) claimAnswer() (ok, last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.behavior.DisconnectAfter
	if s.stopped || (limit > 0 && s.answered >= limit) {
		return false, false
	}
	s.answered++
	return true, limit > 0 && s.answered == limit
}

// simReply builds the reply to a command payload.
func simReply(b Behavior, command []byte) ([]byte, error) {
	if b.Kind == BehaviorEcho {
		return echoReply(b.ResultCode, command)
	}
	if b.RawResponse != nil {
		return []byte(*b.RawResponse), nil
	}
	resp := []byte(defaultSimResponse)
	if len(b.Response) > 0 {
		resp = b.Response
	}
	if b.ResultCode == 0 {
		return resp, nil
	}
	return withResultCode(resp, b.ResultCode)
}

// echoReply answers {"result_code":code,"response_name":<command_name>,"paras":<paras>},
// copying command_name and paras as raw JSON so that they come back byte for byte.
func echoReply(code int, command []byte) ([]byte, error) {
	var cmd struct {
		CommandName json.RawMessage `json:"command_name"`
		Paras       json.RawMessage `json:"paras"`
	}
	if err := json.Unmarshal(command, &cmd); err != nil {
		return nil, err
	}
	paras := cmd.Paras
	if paras == nil {
		paras = json.RawMessage(`{}`)
	}
	buf := make([]byte, 0, len(cmd.CommandName)+len(paras)+48)
	buf = append(buf, `{"result_code":`...)
	buf = strconv.AppendInt(buf, int64(code), 10)
	if cmd.CommandName != nil {
		buf = append(buf, `,"response_name":`...)
		buf = append(buf, cmd.CommandName...)
	}
	buf = append(buf, `,"paras":`...)
	buf = append(buf, paras...)
	return append(buf, '}'), nil
}

// withResultCode sets result_code in a JSON object reply, in place (or first if absent).
// Every other member keeps its position and its value's exact bytes. A reply that is not
// a JSON object is returned unchanged.
func withResultCode(reply []byte, code int) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(reply))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return reply, nil //nolint:nilerr // not an object: published unchanged
	}
	codeJSON := []byte(strconv.Itoa(code))
	var members bytes.Buffer
	replaced := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("malformed JSON object")
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, err
		}
		if key == "result_code" {
			value, replaced = codeJSON, true
		}
		k, err := marshalNoEscape(key)
		if err != nil {
			return nil, err
		}
		if members.Len() > 0 {
			members.WriteByte(',')
		}
		members.Write(k)
		members.WriteByte(':')
		members.Write(value)
	}
	var out bytes.Buffer
	out.WriteByte('{')
	if !replaced {
		out.WriteString(`"result_code":`)
		out.Write(codeJSON)
		if members.Len() > 0 {
			out.WriteByte(',')
		}
	}
	out.Write(members.Bytes())
	out.WriteByte('}')
	return out.Bytes(), nil
}

// marshalNoEscape encodes v as JSON without HTML escaping (so "<" stays "<").
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
