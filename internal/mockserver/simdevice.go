package mockserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// simConnectTimeout bounds a simulated device's connect and subscribe.
const simConnectTimeout = 10 * time.Second

// simDisconnectQuiesce is how long (ms) a simulated device waits for its DISCONNECT to go out.
const simDisconnectQuiesce = 250

// defaultSimResponse is the reply of a BehaviorReply device without Behavior.Response.
var defaultSimResponse = json.RawMessage(`{"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}}`)

// simDevice is a built-in device: a real MQTT client that authenticates like any device,
// subscribes to its command topic and answers as its Behavior says.
type simDevice struct {
	id       string
	behavior Behavior
	client   paho.Client
	stopCh   chan struct{} // closed by stop; ends delays and publish waits
	stopOnce sync.Once
	wg       sync.WaitGroup // answering goroutines

	mu       sync.Mutex
	stopped  bool
	answered int
}

// validateBehavior rejects a behaviour a simulated device cannot follow.
func validateBehavior(b Behavior) error {
	switch b.Kind {
	case "", BehaviorReply, BehaviorEcho, BehaviorSilent:
	default:
		return fmt.Errorf("unknown simulated behaviour %q (want reply, echo or silent)", b.Kind)
	}
	if len(b.Response) > 0 && !json.Valid(b.Response) {
		return errors.New("simulated response is not valid JSON")
	}
	if b.Delay < 0 || b.DisconnectAfter < 0 {
		return errors.New("simulated delay and disconnect_after must not be negative")
	}
	return nil
}

// startSimDevice connects dev to the broker at addr with signType 1 credentials for the
// hour of now and subscribes it to its commands. It returns once the SUBACK granted QoS 1.
func startSimDevice(addr string, dev Device, now time.Time) (*simDevice, error) {
	s := &simDevice{id: dev.ID, behavior: *dev.Simulated, stopCh: make(chan struct{})}
	clientID, username, password := DeviceCredentials(dev.ID, dev.Secret, now)
	o := paho.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(clientID).
		SetUsername(username).
		SetPassword(password).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(simConnectTimeout).
		SetKeepAlive(time.Minute)
	s.client = paho.NewClient(o)
	if err := waitToken(s.client.Connect()); err != nil {
		return nil, fmt.Errorf("mockserver: simulated device %q: connect: %w", dev.ID, err)
	}
	filter := topicDevicesPrefix + dev.ID + "/sys/commands/#"
	st := s.client.Subscribe(filter, 1, s.onMessage)
	err := waitToken(st)
	if err == nil {
		if sub, ok := st.(*paho.SubscribeToken); ok && sub.Result()[filter] > 2 {
			err = fmt.Errorf("subscription refused (0x%02x)", sub.Result()[filter])
		}
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("mockserver: simulated device %q: subscribe: %w", dev.ID, err)
	}
	return s, nil
}

// waitToken waits a bounded time for a paho token.
func waitToken(t paho.Token) error {
	if !t.WaitTimeout(simConnectTimeout) {
		return errors.New("timed out")
	}
	return t.Error()
}

// stop ends the device: no new answers, pending delays and publishes abandoned, the
// connection closed, and every answering goroutine finished.
func (s *simDevice) stop() {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.stopCh)
		s.client.Disconnect(simDisconnectQuiesce)
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

// onMessage runs on paho's router; it hands the command to its own goroutine so a delay
// never blocks the next command or paho's acknowledgements.
func (s *simDevice) onMessage(_ paho.Client, m paho.Message) {
	requestID, ok := parseCommandTopic(s.id, m.Topic())
	if !ok {
		return
	}
	payload := bytes.Clone(m.Payload())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	// Added under s.mu, which stop takes before waiting, so Add never races with Wait.
	s.wg.Go(func() { s.answer(requestID, payload) })
}

// parseCommandTopic returns the request id of $oc/devices/{id}/sys/commands/request_id={rid}.
func parseCommandTopic(deviceID, topic string) (string, bool) {
	rid, ok := strings.CutPrefix(topic, topicDevicesPrefix+deviceID+"/sys/commands/request_id=")
	return rid, ok && rid != "" && !strings.Contains(rid, "/")
}

// answer follows the behaviour for one command.
func (s *simDevice) answer(requestID string, command []byte) {
	b := s.behavior
	if b.Kind == BehaviorSilent {
		return
	}
	if b.Delay > 0 {
		t := time.NewTimer(b.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.stopCh:
			return
		}
	}
	reply, err := simReply(b, command)
	if err != nil {
		return // nothing a device could answer; the platform times out
	}
	ok, last := s.claimAnswer()
	if !ok {
		return
	}
	topic := topicDevicesPrefix + s.id + "/sys/commands/response/request_id=" + requestID
	t := s.client.Publish(topic, 1, false, reply)
	select {
	case <-t.Done():
	case <-s.stopCh:
		return
	}
	if last {
		// The PUBACK has arrived, so the broker has the reply before the DISCONNECT.
		s.client.Disconnect(simDisconnectQuiesce)
	}
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
	var cmd map[string]json.RawMessage
	if err := json.Unmarshal(command, &cmd); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteString(`{"result_code":` + strconv.Itoa(code))
	if name, ok := cmd["command_name"]; ok {
		buf.WriteString(`,"response_name":`)
		buf.Write(name)
	}
	paras, ok := cmd["paras"]
	if !ok {
		paras = json.RawMessage(`{}`)
	}
	buf.WriteString(`,"paras":`)
	buf.Write(paras)
	buf.WriteByte('}')
	return buf.Bytes(), nil
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
