package mockserver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
)

// mqWait bounds every wait in the device-side tests so that a failure cannot hang.
const mqWait = 10 * time.Second

// mqClock is a fixed platform clock: 2025-04-14 01:30 UTC, the hour of the doc's vector.
func mqClock() time.Time { return time.Date(2025, 4, 14, 1, 30, 0, 0, time.UTC) }

// mqServer starts a mock on the fixed clock with the given devices.
func mqServer(t *testing.T, devices ...Device) *Server {
	t.Helper()
	return NewForTest(t, Options{Now: mqClock, Devices: devices})
}

// mqCtx is a test context bounded by mqWait.
func mqCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), mqWait)
	t.Cleanup(cancel)
	return ctx
}

// mqRawConnect sends a hand-built CONNECT (protocol level 4 or 5) and returns the CONNACK
// return/reason code. It also checks that a refused connection is closed by the broker.
func mqRawConnect(t *testing.T, addr string, level byte, clientID, username, password string) byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, mqWait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(mqWait)); err != nil {
		t.Fatal(err)
	}
	str := func(b *bytes.Buffer, s string) {
		_ = binary.Write(b, binary.BigEndian, uint16(len(s)))
		b.WriteString(s)
	}
	var body bytes.Buffer
	str(&body, "MQTT")
	body.WriteByte(level)
	flags := byte(0x02) // clean session
	if username != "" {
		flags |= 0x80
	}
	if password != "" {
		flags |= 0x40
	}
	body.WriteByte(flags)
	body.Write([]byte{0x00, 0x3c}) // keepalive 60 s
	if level == 5 {
		body.WriteByte(0x00) // no properties
	}
	str(&body, clientID)
	if username != "" {
		str(&body, username)
	}
	if password != "" {
		str(&body, password)
	}
	if body.Len() > 127 {
		t.Fatalf("test CONNECT too long for a one-byte remaining length")
	}
	pkt := append([]byte{0x10, byte(body.Len())}, body.Bytes()...)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatalf("write CONNECT: %v", err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		t.Fatalf("read CONNACK: %v", err)
	}
	if ack[0] != 0x20 {
		t.Fatalf("first packet is 0x%02x, want CONNACK 0x20", ack[0])
	}
	code := ack[3]
	if code != 0 {
		// A refused client must be dropped: the next read ends the connection.
		rest, err := io.ReadAll(conn)
		if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("refused connection not closed: %v", err)
		}
		if level < 5 && len(rest) > 0 {
			t.Fatalf("unexpected bytes after a refused CONNACK: %x", rest)
		}
	}
	return code
}

// mqRecorder is a hand-written device: a paho client that knows only the documented
// topics. It records every message and hands command request ids to the test.
type mqRecorder struct {
	client   paho.Client
	commands chan paho.Message // commands received, in order

	mu     sync.Mutex
	topics []string
}

func (r *mqRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.topics)
}

// mqDevice connects a raw client as a registered device (signType 1 for the mock's clock)
// and subscribes it to $oc/devices/{id}/sys/commands/# as the documentation says.
func mqDevice(t *testing.T, s *Server, id, secret string) *mqRecorder {
	t.Helper()
	r := &mqRecorder{commands: make(chan paho.Message, 64)}
	cid, user, pass := DeviceCredentials(id, secret, mqClock())
	r.client = mqConnect(t, s.MQTTAddr(), cid, user, pass)
	filter := "$oc/devices/" + id + "/sys/commands/#"
	tok := r.client.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		r.mu.Lock()
		r.topics = append(r.topics, m.Topic())
		r.mu.Unlock()
		r.commands <- m
	})
	mqToken(t, tok)
	if got := mqGranted(t, tok, filter); got != 1 {
		t.Fatalf("SUBACK for own commands = 0x%02x, want 0x01", got)
	}
	return r
}

// mqOptions are a device's paho options: MQTT 3.1.1, no reconnect, a bounded connect.
func mqOptions(addr, clientID, username, password string) *paho.ClientOptions {
	return paho.NewClientOptions().AddBroker("tcp://" + addr).
		SetClientID(clientID).SetUsername(username).SetPassword(password).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(mqWait)
}

// mqConnect connects a paho client (mqOptions) and disconnects it at cleanup.
func mqConnect(t *testing.T, addr, clientID, username, password string) paho.Client {
	t.Helper()
	c := paho.NewClient(mqOptions(addr, clientID, username, password))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// mqToken waits a bounded time for a paho token and fails the test on error.
func mqToken(t *testing.T, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(mqWait) {
		t.Fatalf("paho token timed out")
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("paho: %v", err)
	}
}

// mqGranted returns the SUBACK code paho recorded for a filter.
func mqGranted(t *testing.T, tok paho.Token, filter string) byte {
	t.Helper()
	st, ok := tok.(*paho.SubscribeToken)
	if !ok {
		t.Fatalf("token type %T, want *paho.SubscribeToken", tok)
	}
	code, ok := st.Result()[filter]
	if !ok {
		t.Fatalf("no SUBACK code for %q in %v", filter, st.Result())
	}
	return code
}

// mqNextCommand returns the next command the recorder received.
func mqNextCommand(t *testing.T, r *mqRecorder) paho.Message {
	t.Helper()
	select {
	case m := <-r.commands:
		return m
	case <-time.After(mqWait):
		t.Fatalf("no command reached the device")
		return nil
	}
}

// mqWaitFor waits until cond holds, re-checking whenever a session or the registry changes.
func mqWaitFor(t *testing.T, s *Server, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(mqWait)
	for {
		changed := s.path.Changed()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// mqJournal returns the journal entries of one kind for a device.
func mqJournal(s *Server, kind EntryKind, deviceID string) []Entry {
	var out []Entry
	for _, e := range s.Journal() {
		if e.Kind == kind && e.DeviceID == deviceID {
			out = append(out, e)
		}
	}
	return out
}

func TestBroker_AuthAccepts(t *testing.T) {
	s := mqServer(t, Device{ID: "dev_1", Secret: "12345678"})
	// signType 0: the timestamp is not checked (the device SDK even sends local time), so a
	// device whose clock is hours or years off connects.
	for _, ts := range []string{"2018072417", "2025041323", "2025041409"} {
		if code := mqRawConnect(t, s.MQTTAddr(), 4, "dev_1_0_0_"+ts, "dev_1",
			broker.DevicePassword("12345678", ts)); code != 0 {
			t.Errorf("signType 0 with the timestamp %s: CONNACK 0x%02x, want 0x00", ts, code)
		}
	}
	// signType 1 with the platform's current hour, using the doc's test vector.
	if code := mqRawConnect(t, s.MQTTAddr(), 4, "dev_1_0_1_2025041401", "dev_1",
		"c75150e6cb841417396819e4d2ee4358a416344a03a083e3a8567074ddec820a"); code != 0 {
		t.Errorf("signType 1 with the current hour: CONNACK 0x%02x, want 0x00", code)
	}
	// signType 1 one hour either side is still fresh.
	for _, ts := range []string{"2025041400", "2025041402"} {
		if code := mqRawConnect(t, s.MQTTAddr(), 4, "dev_1_0_1_"+ts, "dev_1",
			broker.DevicePassword("12345678", ts)); code != 0 {
			t.Errorf("signType 1 at %s: CONNACK 0x%02x, want 0x00", ts, code)
		}
	}
	if got := len(mqJournal(s, EntryConnect, "dev_1")); got != 6 {
		t.Errorf("journal has %d connects, want 6", got)
	}
}

func TestBroker_AuthRefusals(t *testing.T) {
	s := mqServer(t, Device{ID: "dev1", Secret: "12345678"}, Device{ID: "other", Secret: "s2"})
	good := broker.DevicePassword("12345678", "2025041401")
	tests := []struct {
		name                     string
		level                    byte
		clientID, user, password string
		want                     byte
	}{
		{"bad password", 4, "dev1_0_1_2025041401", "dev1", broker.DevicePassword("wrong", "2025041401"), 0x04},
		{"uppercase hex password", 4, "dev1_0_1_2025041401", "dev1", strings.ToUpper(good), 0x04},
		{"no password", 4, "dev1_0_1_2025041401", "dev1", "", 0x04},
		{"unknown device", 4, "ghost_0_1_2025041401", "ghost", broker.DevicePassword("12345678", "2025041401"), 0x04},
		{"username mismatch", 4, "dev1_0_1_2025041401", "other", good, 0x04},
		{"no username", 4, "dev1_0_1_2025041401", "", good, 0x04},
		{"stale signType 1 timestamp", 4, "dev1_0_1_2025041322", "dev1", broker.DevicePassword("12345678", "2025041322"), 0x04},
		// A device whose clock is two hours behind: refused with signType 1, as IoTDA checks
		// the timestamp against its own time (TestBroker_AuthAccepts: signType 0 is not).
		{"signType 1, clock 2 hours behind", 4, "dev1_0_1_2025041323", "dev1", broker.DevicePassword("12345678", "2025041323"), 0x04},
		{"future signType 1 timestamp", 4, "dev1_0_1_2025041404", "dev1", broker.DevicePassword("12345678", "2025041404"), 0x04},
		{"impossible signType 1 date", 4, "dev1_0_1_2025139901", "dev1", broker.DevicePassword("12345678", "2025139901"), 0x04},
		{"client id without suffix", 4, "dev1", "dev1", good, 0x02},
		{"identity type not 0", 4, "dev1_1_1_2025041401", "dev1", good, 0x02},
		{"sign type 2", 4, "dev1_0_2_2025041401", "dev1", good, 0x02},
		{"short timestamp", 4, "dev1_0_1_202504140", "dev1", good, 0x02},
		{"bad device id characters", 4, "dev.1_0_1_2025041401", "dev.1", good, 0x02},
		{"empty client id", 4, "", "dev1", good, 0x02},
		{"v5 bad password", 5, "dev1_0_1_2025041401", "dev1", "00", 0x86},
		{"v5 malformed client id", 5, "dev1", "dev1", good, 0x85},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mqRawConnect(t, s.MQTTAddr(), tt.level, tt.clientID, tt.user, tt.password); got != tt.want {
				t.Errorf("CONNACK code 0x%02x, want 0x%02x", got, tt.want)
			}
		})
	}
	if s.Online("dev1") || s.Online("other") {
		t.Errorf("a refused client left a device online")
	}
	if n := len(mqJournal(s, EntryConnect, "dev1")); n != 0 {
		t.Errorf("journal has %d connects for refused clients", n)
	}
}

func TestBroker_PahoSeesRefusalCode(t *testing.T) {
	s := mqServer(t, Device{ID: "dev1", Secret: "12345678"})
	c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + s.MQTTAddr()).
		SetClientID("dev1_0_0_2025041401").SetUsername("dev1").SetPassword("nope").
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(mqWait))
	tok := c.Connect()
	if !tok.WaitTimeout(mqWait) {
		t.Fatal("connect timed out")
	}
	ct, ok := tok.(*paho.ConnectToken)
	if !ok {
		t.Fatalf("token type %T", tok)
	}
	if ct.ReturnCode() != 0x04 || tok.Error() == nil {
		t.Errorf("paho return code 0x%02x (err %v), want 0x04 and an error", ct.ReturnCode(), tok.Error())
	}
}

func TestBroker_SubscribeACL(t *testing.T) {
	s := mqServer(t, Device{ID: "a"}, Device{ID: "b"})
	cid, user, pass := DeviceCredentials("a", "secret-a", mqClock())
	c := mqConnect(t, s.MQTTAddr(), cid, user, pass)
	tests := map[string]byte{
		"$oc/devices/a/sys/commands/#":          0x01,
		"$oc/devices/a/#":                       0x01,
		"$oc/devices/a/sys/+/request_id=1":      0x01,
		"$oc/devices/b/sys/commands/#":          0x80,
		"$oc/devices/+/sys/commands/#":          0x80,
		"$oc/devices/#":                         0x80,
		"$oc/devices/a":                         0x80,
		"$oc/devices/ab/sys/commands/#":         0x80,
		"$share/g/$oc/devices/a/sys/commands/#": 0x80,
		"$SYS/#":                                0x80,
		"$other/devices/a/x":                    0x80,
		"$oc/devices/a/sys/commands/response/#": 0x80, // upstream: for the platform only
		// Topics outside $ are not permission-checked on the platform (messages facts §3): a
		// message's topic_full_name lives there. What devices publish on them is the
		// platform's, never routed to another device (TestBroker_TopicsOutsideOcStayPrivate).
		"/device/message/down": 0x01,
		"factory/+/cfg":        0x01,
		"#":                    0x01,
	}
	for filter, want := range tests {
		tok := c.Subscribe(filter, 1, func(paho.Client, paho.Message) {})
		mqToken(t, tok)
		key := filter
		if rest, ok := strings.CutPrefix(filter, "$share/g/"); ok {
			key = rest // paho keys shared subscriptions by the topic part
		}
		if got := mqGranted(t, tok, key); got != want {
			t.Errorf("SUBACK for %q = 0x%02x, want 0x%02x", filter, got, want)
		}
	}
}

func TestBroker_PublishACL(t *testing.T) {
	s := mqServer(t, Device{ID: "attacker"}, Device{ID: "victim"})
	victim := mqDevice(t, s, "victim", "secret-victim")
	cid, user, pass := DeviceCredentials("attacker", "secret-attacker", mqClock())
	attacker := mqConnect(t, s.MQTTAddr(), cid, user, pass)

	// A command for the victim is pending.
	type result struct {
		reply []byte
		err   error
	}
	done := make(chan result, 1)
	ctx := mqCtx(t)
	go func() {
		r, err := s.deliver(ctx, Command{DeviceID: "victim", CommandID: "v1", Paras: []byte(`{}`)})
		done <- result{r, err}
	}()
	mqNextCommand(t, victim)

	// The attacker forges the victim's reply and a command to the victim (QoS 0: mochi
	// drops unauthorised QoS 0 publishes silently and disconnects on QoS 1).
	mqToken(t, attacker.Publish("$oc/devices/victim/sys/commands/response/request_id=v1", 0, false, `{"forged":true}`))
	mqToken(t, attacker.Publish("$oc/devices/victim/sys/commands/request_id=forged", 0, false, `{"paras":{}}`))
	// The broker handles one client's packets in order, so once this reply, which nobody
	// waits for, is journaled the forgeries above have been processed. (Its PUBACK is no
	// such sign: mochi acknowledges a QoS 1 publish before routing it.)
	mqToken(t, attacker.Publish("$oc/devices/attacker/sys/commands/response/request_id=flush", 1, false, `{}`))
	if _, err := s.WaitJournal(ctx, func(e Entry) bool {
		return e.Kind == EntryLateReply && e.DeviceID == "attacker" && e.CommandID == "flush"
	}); err != nil {
		t.Fatalf("the attacker's own unmatched reply was never journaled: %v", err)
	}

	select {
	case r := <-done:
		t.Fatalf("the victim's command completed with a forged reply: %s %v", r.reply, r.err)
	default:
	}
	// The genuine reply still completes it.
	mqToken(t, victim.client.Publish("$oc/devices/victim/sys/commands/response/request_id=v1", 1, false, `{"genuine":true}`))
	select {
	case r := <-done:
		if r.err != nil || string(r.reply) != `{"genuine":true}` {
			t.Fatalf("deliver = %s, %v; want the genuine reply", r.reply, r.err)
		}
	case <-time.After(mqWait):
		t.Fatal("deliver did not complete")
	}
	// A later command is queued behind the forged one, had it been routed.
	go func() {
		r, err := s.deliver(ctx, Command{DeviceID: "victim", CommandID: "v2", Paras: []byte(`{}`)})
		done <- result{r, err}
	}()
	if m := mqNextCommand(t, victim); !strings.HasSuffix(m.Topic(), "request_id=v2") {
		t.Errorf("victim received %s, want only the platform's commands", m.Topic())
	}
	mqToken(t, victim.client.Publish("$oc/devices/victim/sys/commands/response/request_id=v2", 1, false, `{}`))
	if r := <-done; r.err != nil {
		t.Fatalf("deliver v2: %v", r.err)
	}
	if late := mqJournal(s, EntryLateReply, "attacker"); len(late) != 1 || late[0].CommandID != "flush" {
		t.Errorf("late replies for attacker = %+v, want the unmatched flush reply", late)
	}
	if forged := mqJournal(s, EntryLateReply, "victim"); len(forged) != 0 {
		t.Errorf("a forged reply reached the platform: %+v", forged)
	}
}

func TestBroker_SessionTakeover(t *testing.T) {
	s := mqServer(t, Device{ID: "dev1", Secret: "k"})
	lost := make(chan struct{})
	first := paho.NewClient(mqOptions(s.MQTTAddr(), "dev1_0_0_2020010100", "dev1", broker.DevicePassword("k", "2020010100")).
		SetConnectionLostHandler(func(paho.Client, error) { close(lost) }))
	mqToken(t, first.Connect())
	t.Cleanup(func() { first.Disconnect(0) })
	if !s.Online("dev1") {
		t.Fatal("device not online after its connect returned")
	}

	// A second connection as the same device, under another client id, takes over.
	second := mqDevice(t, s, "dev1", "k")
	select {
	case <-lost:
	case <-time.After(mqWait):
		t.Fatal("the first session was not dropped")
	}
	mqWaitFor(t, s, "the first session's disconnect", func() bool {
		return len(mqJournal(s, EntryDisconnect, "dev1")) == 1
	})
	if d := mqJournal(s, EntryDisconnect, "dev1")[0]; !strings.Contains(string(d.Body), `"taken_over":true`) {
		t.Errorf("disconnect entry %s, want taken_over", d.Body)
	}
	if !s.Online("dev1") {
		t.Fatal("device offline after the old session ended, though the new one is live")
	}
	// The new session is the one commands reach.
	ctx := mqCtx(t)
	errc := make(chan error, 1)
	go func() {
		_, err := s.deliver(ctx, Command{DeviceID: "dev1", CommandID: "c1", Paras: []byte(`{}`)})
		errc <- err
	}()
	mqNextCommand(t, second)
	mqToken(t, second.client.Publish("$oc/devices/dev1/sys/commands/response/request_id=c1", 1, false, `{}`))
	if err := <-errc; err != nil {
		t.Fatalf("deliver after takeover: %v", err)
	}

	// The same client id again: mochi's own takeover path.
	cid, user, pass := DeviceCredentials("dev1", "k", mqClock())
	third := mqConnect(t, s.MQTTAddr(), cid, user, pass)
	mqWaitFor(t, s, "the second session's disconnect", func() bool {
		return len(mqJournal(s, EntryDisconnect, "dev1")) == 2
	})
	if !s.Online("dev1") {
		t.Fatal("device offline after a same-client-id takeover")
	}
	third.Disconnect(0)
	mqWaitFor(t, s, "the device going offline", func() bool { return !s.Online("dev1") })
}

// TestBroker_CloseDisconnectsDevices closes the broker while some devices are leaving on
// their own: tcpListener.Close, which replaces mochi's (see its comment), must still end
// every remaining session, and return.
func TestBroker_CloseDisconnectsDevices(t *testing.T) {
	const stay, leave = 3, 3
	var registry []Device
	for i := range stay + leave {
		registry = append(registry, Device{ID: fmt.Sprintf("dev%d", i), Secret: "s"})
	}
	s := mqServer(t, registry...)
	lost := make(chan string, stay+leave)
	var clients []paho.Client
	for _, d := range registry {
		cid, user, pass := DeviceCredentials(d.ID, d.Secret, mqClock())
		c := paho.NewClient(mqOptions(s.MQTTAddr(), cid, user, pass).
			SetConnectionLostHandler(func(paho.Client, error) { lost <- d.ID }))
		mqToken(t, c.Connect())
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for _, c := range clients[stay:] {
		wg.Go(func() { c.Disconnect(0) })
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(mqWait):
		t.Fatal("Close did not return while devices were disconnecting")
	}
	wg.Wait()
	// The leaving devices may or may not see the broker's close first; the staying ones must.
	got := map[string]bool{}
	for _, d := range registry[:stay] {
		for !got[d.ID] {
			select {
			case id := <-lost:
				got[id] = true
			case <-time.After(mqWait):
				t.Fatalf("Close did not end %s's session; the sessions it ended: %v", d.ID, got)
			}
		}
	}
	if s.Online("dev0") {
		t.Error("dev0 is still online after Close")
	}
}
