package mockserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	mqtt "github.com/mochi-mqtt/server/v2"
)

// limitMQTTServer starts a mock on the fixed clock with the given limits and devices.
func limitMQTTServer(t *testing.T, lim Limits, devices ...Device) *Server {
	t.Helper()
	return NewForTest(t, Options{Now: mqClock, Limits: lim, RedeliveryInterval: time.Hour, Devices: devices})
}

func TestBroker_ConnectDeadline(t *testing.T) {
	s := limitMQTTServer(t, Limits{MQTTConnectTimeout: 200 * time.Millisecond}, Device{ID: "dev", Secret: "k"})
	t.Run("silent", func(t *testing.T) {
		_, r := mqDial(t, s.MQTTAddr())
		wantClosed(t, r, "a connection that never sent a CONNECT")
	})
	t.Run("half a CONNECT", func(t *testing.T) {
		conn, r := mqDial(t, s.MQTTAddr())
		cid, user, pass := DeviceCredentials("dev", "k", mqClock())
		pk := mqConnectPacket(cid, user, pass, nil)
		mqWrite(t, conn, pk[:len(pk)/2])
		wantClosed(t, r, "a CONNECT that stopped halfway")
	})
	t.Run("a connected device stays", func(t *testing.T) {
		dev := mqDevice(t, s, "dev", "k")
		// Well past the CONNECT deadline, the session still carries a command both ways.
		<-time.After(3 * 200 * time.Millisecond)
		done := startDeliver(t, s, "dev", "after-deadline")
		m := mqNextCommand(t, dev)
		mqToken(t, dev.client.Publish(strings.Replace(m.Topic(), "/commands/", "/commands/response/", 1), 1, false, `{}`))
		if err := <-done; err != nil {
			t.Fatalf("command after the CONNECT deadline: %v", err)
		}
	})
}

// TestBroker_PacketSizeLimit: IoTDA rejects a published message over 1 MB; the broker refuses
// larger packets from their fixed header, before reading (or allocating) their body.
func TestBroker_PacketSizeLimit(t *testing.T) {
	// A CONNECT deadline far beyond limitWait, so that only the size limit can close the
	// connections below in time.
	s := limitMQTTServer(t, Limits{MQTTConnectTimeout: time.Hour}, Device{ID: "dev", Secret: "k"})
	const announced = 200 << 20 // 200 MiB, as in the issue
	t.Run("unauthenticated CONNECT", func(t *testing.T) {
		conn, r := mqDial(t, s.MQTTAddr())
		mqWrite(t, conn, append([]byte{0x10}, mqVarint(announced)...))
		wantClosed(t, r, "a CONNECT announcing 200 MiB")
	})
	t.Run("device PUBLISH header", func(t *testing.T) {
		conn, r := mqRawSession(t, s.MQTTAddr(), "dev", "k", nil)
		mqWrite(t, conn, append([]byte{0x32}, mqVarint(announced)...))
		wantClosed(t, r, "a PUBLISH announcing 200 MiB")
	})
	t.Run("device reply over 1 MiB", func(t *testing.T) {
		dev := mqDevice(t, s, "dev", "k")
		lost := make(chan struct{})
		ctx, cancel := context.WithTimeout(mqCtx(t), time.Second)
		defer cancel()
		go func() {
			_, _ = s.deliver(ctx, Command{DeviceID: "dev", CommandID: "big", Paras: []byte(`{}`)})
			close(lost)
		}()
		mqNextCommand(t, dev)
		big := `{"pad":"` + strings.Repeat("x", 1<<20) + `"}`
		dev.client.Publish("$oc/devices/dev/sys/commands/response/request_id=big", 1, false, big)
		<-lost
		for _, e := range mqJournal(s, EntryReply, "dev") {
			if e.CommandID == "big" {
				t.Errorf("a reply over 1 MiB completed the command (%d bytes)", e.BodySize)
			}
		}
		mqWaitFor(t, s, "the oversized sender's disconnect", func() bool { return !s.Online("dev") })
	})
	t.Run("device reply within 1 MiB", func(t *testing.T) {
		dev := mqDevice(t, s, "dev", "k")
		done := startDeliver(t, s, "dev", "fits")
		mqNextCommand(t, dev)
		reply := `{"pad":"` + strings.Repeat("x", 1<<20-1024) + `"}`
		mqToken(t, dev.client.Publish("$oc/devices/dev/sys/commands/response/request_id=fits", 1, false, reply))
		if err := <-done; err != nil {
			t.Fatalf("a reply within 1 MiB: %v", err)
		}
	})
}

// TestBroker_NoRetainedMessages: IoTDA keeps no retained messages, so what a device publishes
// with the retain flag on its own topics never reaches a later session as a phantom command.
func TestBroker_NoRetainedMessages(t *testing.T) {
	s := mqServer(t, Device{ID: "dev", Secret: "k"})
	phantom := "$oc/devices/dev/sys/commands/request_id=phantom"

	// Retained publishes at QoS 0 and 1, then a will with retain, left by dropping the
	// connection without a DISCONNECT.
	first := mqConnect(t, s.MQTTAddr(), "dev_0_0_2025041401", "dev", broker.DevicePassword("k", "2025041401"))
	mqToken(t, first.Publish(phantom, 0, true, `{"paras":{"phantom":0}}`))
	mqToken(t, first.Publish(phantom, 1, true, `{"paras":{"phantom":1}}`))
	mqToken(t, first.Publish("$oc/devices/dev/sys/messages/up", 1, true, `{"up":1}`))
	first.Disconnect(0)
	mqWaitFor(t, s, "the first session's end", func() bool { return !s.Online("dev") })

	conn, _ := mqRawSession(t, s.MQTTAddr(), "dev", "k",
		&mqWill{topic: phantom, payload: `{"paras":{"phantom":"will"}}`, retain: true})
	_ = conn.Close()
	mqWaitFor(t, s, "the will session's end", func() bool { return !s.Online("dev") })

	retained := s.broker.MQTT().Topics.Messages("$oc/devices/dev/#")
	for _, pk := range retained {
		t.Errorf("the broker retained %s %s", pk.TopicName, pk.Payload)
	}
	// A new session subscribes: the broker would send retained messages right away, before
	// the command published after the SUBACK.
	dev := mqDevice(t, s, "dev", "k")
	done := startDeliver(t, s, "dev", "real")
	if m := mqNextCommand(t, dev); !strings.HasSuffix(m.Topic(), "request_id=real") {
		t.Fatalf("the new session first received %s %s, want the real command", m.Topic(), m.Payload())
	}
	mqToken(t, dev.client.Publish("$oc/devices/dev/sys/commands/response/request_id=real", 1, false, `{}`))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestBroker_InflightBound: a device that acknowledges nothing holds at most
// Limits.MQTTMaxInflight commands; the broker sends it no more until it acknowledges some.
// (mochi checks the bound before it counts a message in, so commands published at the same
// instant can overshoot it by their number; the first ones here go one at a time.)
func TestBroker_InflightBound(t *testing.T) {
	const limit, extra = 4, 3
	s := limitMQTTServer(t, Limits{MQTTMaxInflight: limit}, Device{ID: "deaf", Secret: "k"})
	got := mqUnackedDevice(t, s, "deaf", "k")
	ctx, cancel := context.WithTimeout(mqCtx(t), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	deliver := func(id string) {
		wg.Go(func() { _, _ = s.deliver(ctx, Command{DeviceID: "deaf", CommandID: id, Paras: []byte(`{}`)}) })
	}
	for i := range limit {
		deliver(fmt.Sprintf("c%d", i))
		nextMessage(t, got)
	}
	for i := range extra {
		deliver(fmt.Sprintf("extra%d", i))
	}
	wg.Wait() // every command ended (timed out): nothing else is on its way
	select {
	case m := <-got:
		t.Errorf("the device received %s beyond %d unacknowledged commands", m.Topic(), limit)
	default:
	}
	if n := brokerClient(t, s, "deaf").State.Inflight.Len(); n != limit {
		t.Errorf("the broker holds %d inflight messages for the device, want %d", n, limit)
	}
}

// TestBroker_ReceiveBound: a device that sends QoS 2 messages and never completes them is
// disconnected after Limits.MQTTMaxInflight of them instead of filling the broker.
func TestBroker_ReceiveBound(t *testing.T) {
	const limit = 4
	s := limitMQTTServer(t, Limits{MQTTMaxInflight: limit}, Device{ID: "dev", Secret: "k"})
	conn, r := mqRawSession(t, s.MQTTAddr(), "dev", "k", nil)
	for i := range limit + 1 {
		mqWrite(t, conn, mqPublishPacket("$oc/devices/dev/sys/messages/up", []byte(`{}`), 2, false, uint16(i+1)))
	}
	for range limit {
		if first, _ := mqReadPacket(t, r); first != 0x50 {
			t.Fatalf("packet %#x, want PUBREC", first)
		}
	}
	// mochi sends a DISCONNECT (an MQTT 5 packet) even to a 3.1.1 client, then closes.
	if first, _ := mqReadPacket(t, r); first != 0xe0 {
		t.Fatalf("packet %#x after %d unfinished QoS 2 messages, want DISCONNECT", first, limit)
	}
	wantClosed(t, r, "a device over its receive maximum")
}

// TestBroker_PendingWritesBound: a device that stops reading gets at most
// Limits.MQTTMaxPendingWrites packets queued by the broker's routing; the broker drops the
// rest instead of holding them. (Commands do not queue: deliver writes them to the session
// itself, and the in-flight bound caps those. What the broker routes is a device's traffic
// on its own topics, here a device that subscribes to its command topic and floods it.)
func TestBroker_PendingWritesBound(t *testing.T) {
	s := limitMQTTServer(t, Limits{MQTTMaxPendingWrites: 2}, Device{ID: "stuck", Secret: "stuck-secret"})
	conn, r := mqRawSession(t, s.MQTTAddr(), "stuck", "stuck-secret", nil)
	mqWrite(t, conn, mqSubscribePacket(1, "$oc/devices/stuck/sys/commands/#", 0))
	if first, _ := mqReadPacket(t, r); first != 0x90 {
		t.Fatalf("packet %#x, want SUBACK", first)
	}
	// From here on the device reads nothing: the socket buffers fill, then the queue.
	payload := []byte(`{"pad":"` + strings.Repeat("x", 256<<10) + `"}`)
	// 50 MiB: the writes below return only once the broker has read all but what the socket
	// buffers hold (a few MiB each way on loopback), far more than the socket buffers back
	// to the device and two queued packets can take.
	const sent = 200
	for range sent {
		mqWrite(t, conn, mqPublishPacket("$oc/devices/stuck/sys/commands/request_id=loop", payload, 0, false, 0))
	}
	dropped := atomic.LoadInt64(&s.broker.MQTT().Info.MessagesDropped)
	if dropped == 0 {
		t.Errorf("no message was dropped: %d publishes of 256 KiB were routed to a device that reads nothing", sent)
	}
}

// brokerClient is the broker's client for a device's current session.
func brokerClient(t *testing.T, s *Server, deviceID string) *mqtt.Client {
	t.Helper()
	conn, ok := s.path.Conn(deviceID)
	if !ok {
		t.Fatalf("%s has no MQTT session", deviceID)
	}
	return conn.MQTT()
}

// TestBroker_MQTTS: a device that speaks MQTT over TLS, trusting the mock's CA as it would
// trust the platform's, authenticates and answers a command end to end.
func TestBroker_MQTTS(t *testing.T) {
	s := NewForTest(t, Options{Now: mqClock, AuthToken: testToken, MQTTTLSAddr: "127.0.0.1:0",
		Devices: []Device{{ID: "secure", Secret: "k"}}})
	if s.MQTTTLSAddr() == "" || s.MQTTTLSAddr() == s.MQTTAddr() || s.CACertPEM() == "" {
		t.Fatalf("MQTTS %q, MQTT %q, CA %d bytes", s.MQTTTLSAddr(), s.MQTTAddr(), len(s.CACertPEM()))
	}
	if strings.HasPrefix(s.URL(), "https:") {
		t.Errorf("the HTTP API went HTTPS (%s) though only MQTTS was asked for", s.URL())
	}
	cid, user, pass := DeviceCredentials("secure", "k", mqClock())
	tlsOptions := func(cfg *tls.Config) *paho.ClientOptions {
		return paho.NewClientOptions().AddBroker("tls://" + s.MQTTTLSAddr()).SetTLSConfig(cfg).
			SetClientID(cid).SetUsername(user).SetPassword(pass).
			SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(mqWait)
	}

	// The device answers every command on its response topic.
	c := paho.NewClient(tlsOptions(&tls.Config{RootCAs: caPool(t, s.CACertPEM()), MinVersion: tls.VersionTLS12}))
	mqToken(t, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	mqToken(t, c.Subscribe("$oc/devices/secure/sys/commands/#", 1, func(c paho.Client, m paho.Message) {
		c.Publish(strings.Replace(m.Topic(), "/commands/", "/commands/response/", 1), 1, false,
			`{"result_code":0,"response_name":"TLS","paras":{"over":"tls"}}`)
	}))
	req := newCommandRequest(t, commandURL(s, "secure"), `{"command_name":"PING","paras":{}}`)
	req.Header.Set("X-Auth-Token", testToken)
	resp, body := do(t, nil, req)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"paras":{"over":"tls"}`) {
		t.Fatalf("command over MQTTS: %d %s", resp.StatusCode, body)
	}

	t.Run("untrusted CA", func(t *testing.T) {
		c := paho.NewClient(tlsOptions(&tls.Config{MinVersion: tls.VersionTLS12}))
		if tok := c.Connect(); tok.WaitTimeout(mqWait) && tok.Error() == nil {
			c.Disconnect(0)
			t.Fatal("a client that does not trust the mock's CA connected")
		}
	})
	t.Run("plain MQTT on the TLS port", func(t *testing.T) {
		c := paho.NewClient(mqOptions(s.MQTTTLSAddr(), cid, user, pass))
		if tok := c.Connect(); tok.WaitTimeout(mqWait) && tok.Error() == nil {
			c.Disconnect(0)
			t.Fatal("a plain MQTT client connected to the TLS listener")
		}
	})
}

// caPool is a pool holding only caPEM.
func caPool(t *testing.T, caPEM string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		t.Fatalf("not a PEM certificate: %q", caPEM)
	}
	return pool
}

func TestBroker_MQTTSHandshakeDeadline(t *testing.T) {
	s := NewForTest(t, Options{MQTTTLSAddr: "127.0.0.1:0", Limits: Limits{MQTTConnectTimeout: 200 * time.Millisecond}})
	_, r := mqDial(t, s.MQTTTLSAddr())
	wantClosed(t, r, "a TLS connection that never started its handshake")
}
