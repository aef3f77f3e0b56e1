package mockserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// errInflightFull is returned when a device has as many unacknowledged commands as the
// broker allows in flight for one client; the command is not sent.
var errInflightFull = errors.New("mockserver: the device has too many unacknowledged commands in flight")

// session is a device's live connection, the one its commands go to: an MQTT client of the
// broker, or the in-process light session of a fleet device (see fleet.go).
type session struct {
	// clientID names the session in the journal: the MQTT client id, or "fleet:" and the
	// fleet's prefix for a fleet device.
	clientID string
	cl       *mqtt.Client // nil for a fleet device
	fleet    *fleet       // nil for an MQTT session
	// ready is closed once the broker has sent the CONNACK (OnSessionEstablished): the
	// device counts as online from OnSessionEstablish, before the CONNACK, so that a client
	// whose connect returned is online, but nothing may be written to it before the CONNACK.
	ready       chan struct{}
	established bool // ready is closed; guarded by deviceSide.mu
	// writeMu serializes the commands written to an MQTT session, each under its own
	// write deadline (see send).
	writeMu sync.Mutex
}

// closedReady is the ready channel of sessions that are ready from the start.
var closedReady = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func newMQTTSession(cl *mqtt.Client) *session {
	return &session{clientID: cl.ID, cl: cl, ready: make(chan struct{})}
}

// alive reports whether the session can still take commands.
func (s *session) alive() bool {
	return s.cl == nil || !s.cl.Closed()
}

// waitReady waits until the session may be written to, ctx ends or the mock closes.
func (s *session) waitReady(ctx context.Context, closed <-chan struct{}) error {
	select {
	case <-s.ready:
		return nil
	default:
	}
	select {
	case <-s.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closed:
		return errDeviceSideClosed
	}
}

// sessionEstablished marks cl's session ready once mochi has sent its CONNACK.
func (d *deviceSide) sessionEstablished(deviceID string, cl *mqtt.Client) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sessions[deviceID]; s != nil && s.cl == cl && !s.established {
		s.established = true
		close(s.ready)
	}
}

// send hands a command's payload to the session: an MQTT PUBLISH at QoS 1, or the fleet's
// simulator.
func (d *deviceSide) send(ctx context.Context, b *mqtt.Server, s *session, cmd Command, topic string, payload []byte) error {
	if s.fleet != nil {
		return s.fleet.receive(cmd.DeviceID, cmd.CommandID, payload)
	}
	deadline, ok := ctx.Deadline()
	if !ok || s.cl.Net.Conn == nil {
		return d.publishCommand(b, s.cl, cmd, topic, payload)
	}
	// The write is synchronous, so a device that stops reading would hold the command
	// until mochi's keepalive deadline (1.5 times the keepalive) ends the connection,
	// long after the platform has answered that the command timed out. The write gets
	// the command's own deadline instead, one write at a time so that deadlines do not
	// mix, and the keepalive deadline is restored after it.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_ = s.cl.Net.Conn.SetWriteDeadline(deadline)
	err := d.publishCommand(b, s.cl, cmd, topic, payload)
	_ = s.cl.Net.Conn.SetWriteDeadline(keepaliveDeadline(s.cl))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Part of the packet may be on the wire, so the stream is broken: end the session,
		// and answer as the platform does for a device that did not respond.
		s.cl.Stop(err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return context.DeadlineExceeded
	}
	return err
}

// keepaliveDeadline is the deadline mochi gives a connection after each packet it reads
// (mochi v2.7.9 Client.refreshDeadline): 1.5 times the keepalive, none without one.
func keepaliveDeadline(cl *mqtt.Client) time.Time {
	if ka := time.Duration(cl.State.Keepalive) * time.Second; ka > 0 {
		return time.Now().Add(ka + ka/2)
	}
	return time.Time{}
}

// publishCommand writes a command to a device's MQTT session at QoS 1 whether or not the
// device subscribed to its command topic: on IoTDA the platform subscribes devices to their
// system topics, and devices written for it (Huawei's Python device SDK among them) never
// subscribe. It bypasses mochi's topic routing, so a device that did subscribe still gets
// the command once, and does for one client what mochi's publishToClient does for a
// subscriber (mochi v2.7.9): a free packet id, the packet kept in the client's in-flight
// state until the device's PUBACK (which mochi's processPuback then handles as for any
// publish), and the platform's timed redelivery while it stays unacknowledged. The write is
// synchronous, on the caller's goroutine: no queue between the command API and the socket.
func (d *deviceSide) publishCommand(b *mqtt.Server, cl *mqtt.Client, cmd Command, topic string, payload []byte) error {
	deviceID, commandID := cmd.DeviceID, cmd.CommandID
	if cl.Closed() {
		return ErrDeviceOffline
	}
	if cl.State.Inflight.Len() >= int(b.Options.Capabilities.MaximumInflight) {
		return errInflightFull
	}
	id, err := cl.NextPacketID()
	if err != nil {
		return errInflightFull
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		TopicName:   topic,
		Payload:     payload,
		PacketID:    uint16(id),
		Created:     time.Now().Unix(),
	}
	if cl.State.Inflight.Set(pk) {
		atomic.AddInt64(&b.Info.Inflight, 1)
		cl.State.Inflight.DecreaseSendQuota()
	}
	if err := cl.WritePacket(pk); err != nil {
		if cl.State.Inflight.Delete(pk.PacketID) {
			atomic.AddInt64(&b.Info.Inflight, -1)
			cl.State.Inflight.IncreaseSendQuota()
		}
		if cl.Closed() {
			return ErrDeviceOffline
		}
		return fmt.Errorf("mockserver: write command: %w", err)
	}
	d.scheduleRedelivery(cl, pk.PacketID, topic, deviceID, commandID)
	return nil
}
