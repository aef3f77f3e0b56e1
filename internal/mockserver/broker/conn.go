package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

var (
	// ErrConnClosed is returned by Conn.Publish once the device's connection has ended.
	ErrConnClosed = errors.New("mockserver: the device's connection has ended")
	// errInflightFull is returned when a device has as many unacknowledged messages as the
	// broker allows in flight for one client; the message is not sent.
	errInflightFull = errors.New("mockserver: the device has too many unacknowledged commands in flight")
)

// Conn is one device session of the broker, as the platform writes to it.
type Conn struct {
	b     *Broker
	cl    *mqtt.Client
	ready chan struct{} // closed once the CONNACK is out
	// writeMu serializes the publications written to the session, each under its own
	// write deadline (see Publish).
	writeMu sync.Mutex
	// idMu guards lastID, the packet id of the platform's last publication (see
	// takePacketID).
	idMu   sync.Mutex
	lastID uint16
}

func newConn(b *Broker, cl *mqtt.Client) *Conn {
	return &Conn{b: b, cl: cl, ready: make(chan struct{})}
}

// ClientID is the session's MQTT client id.
func (c *Conn) ClientID() string { return c.cl.ID }

// Closed reports whether the connection has ended.
func (c *Conn) Closed() bool { return c.cl.Closed() }

// Ready is closed once the broker has sent the CONNACK: the device counts as online from
// Sessions.Up, before the CONNACK, so that a client whose connect returned is online, but
// nothing may be written to it before the CONNACK.
func (c *Conn) Ready() <-chan struct{} { return c.ready }

// Disconnect ends the session for reason (packets.ErrSessionTakenOver when another session
// of the device replaced it, packets.ErrNotAuthorized when the device was removed);
// Sessions.Down follows. After Close it does nothing.
func (c *Conn) Disconnect(reason packets.Code) {
	if c.b.isClosed() {
		return
	}
	_ = c.b.mochi.DisconnectClient(c.cl, reason)
}

// Subscribed reports whether the device subscribed to a filter that matches topic. The
// platform subscribes devices to their system topics implicitly, so Publish needs no
// subscription; a service that publishes on a custom topic checks it here.
func (c *Conn) Subscribed(topic string) bool {
	for filter := range c.cl.State.Subscriptions.GetAll() {
		if MatchFilter(filter, topic) {
			return true
		}
	}
	return false
}

// MQTT is the mochi client underneath, for tests that read its state (in-flight messages).
func (c *Conn) MQTT() *mqtt.Client { return c.cl }

// Publish writes payload to the device on topic at QoS 1, whether or not the device
// subscribed to it, and resends it every Config.RedeliveryInterval with the DUP flag, at
// most 3 times, until the device acknowledges it. ctx's deadline bounds the write: a device
// that stops reading cannot hold the caller beyond it. rec names the publication in the
// journal's redelivery entries (its Kind, ClientID and Body are filled in). It returns
// ErrConnClosed when the connection has ended, ctx.Err() (or context.DeadlineExceeded)
// when the write did not finish in time, and an error when the device has too many
// unacknowledged messages.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte, rec *journal.Entry) error {
	deadline, ok := ctx.Deadline()
	if !ok || c.cl.Net.Conn == nil {
		return c.publish(topic, payload, rec)
	}
	// The write is synchronous, so a device that stops reading would hold the publication
	// until mochi's keepalive deadline (1.5 times the keepalive) ends the connection,
	// long after the platform has answered that the command timed out. The write gets
	// the caller's own deadline instead, one write at a time so that deadlines do not
	// mix, and the keepalive deadline is restored after it.
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.cl.Net.Conn.SetWriteDeadline(deadline)
	err := c.publish(topic, payload, rec)
	_ = c.cl.Net.Conn.SetWriteDeadline(keepaliveDeadline(c.cl))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// Part of the packet may be on the wire, so the stream is broken: end the session,
		// and answer as the platform does for a device that did not respond.
		c.cl.Stop(err)
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

// publish writes a QoS 1 PUBLISH to the client itself, bypassing mochi's topic routing:
// on IoTDA the platform subscribes devices to their system topics, and devices written for
// it (Huawei's Python device SDK among them) never subscribe; a device that did subscribe
// still gets the message once. It does for one client what mochi's publishToClient does for
// a subscriber (mochi v2.7.9): a free packet id, the packet kept in the client's in-flight
// state until the device's PUBACK (which mochi's processPuback then handles as for any
// publish), and the platform's timed redelivery while it stays unacknowledged. The write is
// synchronous, on the caller's goroutine: no queue between the platform API and the socket.
func (c *Conn) publish(topic string, payload []byte, rec *journal.Entry) error {
	cl, m := c.cl, c.b.mochi
	if cl.Closed() {
		return ErrConnClosed
	}
	if cl.State.Inflight.Len() >= int(m.Options.Capabilities.MaximumInflight) {
		return errInflightFull
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		TopicName:   topic,
		Payload:     payload,
		Created:     time.Now().Unix(),
	}
	if !c.takePacketID(&pk) {
		return errInflightFull
	}
	atomic.AddInt64(&m.Info.Inflight, 1)
	cl.State.Inflight.DecreaseSendQuota()
	if err := cl.WritePacket(pk); err != nil {
		if cl.State.Inflight.Delete(pk.PacketID) {
			atomic.AddInt64(&m.Info.Inflight, -1)
			cl.State.Inflight.IncreaseSendQuota()
		}
		if cl.Closed() {
			return ErrConnClosed
		}
		return fmt.Errorf("mockserver: write command: %w", err)
	}
	c.b.scheduleRedelivery(cl, pk, rec)
	return nil
}

// takePacketID gives pk a packet id that no in-flight packet of the session holds, and puts
// pk in flight under it; it reports false when every id is taken.
//
// The ids are taken from the top of the range down (65535, 65534, ...), where a device's own
// ids rarely are: clients count theirs up from 1. MQTT 3.1.1 §2.3.1 has client and server
// assign packet ids independently, but mochi (v2.7.9, processSubscribe and
// processUnsubscribe) keeps both in one in-flight store and refuses a SUBSCRIBE whose id one
// of the server's own in-flight PUBLISHes holds (SUBACK 0x91, packet identifier in use). The
// platform publishes a device's cached messages as soon as it connects, so taking ids from
// the bottom, as mochi's NextPacketID does, made a device's first SUBSCRIBE (id 1) collide
// with the first message. Mochi's own publications (to subscribers of a device's topics)
// still count up from the bottom.
func (c *Conn) takePacketID(pk *packets.Packet) bool {
	c.idMu.Lock()
	defer c.idMu.Unlock()
	id := c.lastID
	for range math.MaxUint16 {
		if id <= 1 {
			id = math.MaxUint16
		} else {
			id--
		}
		if _, used := c.cl.State.Inflight.Get(id); used {
			continue
		}
		// idMu orders the session's own publications. Between the Get and the Set only mochi
		// could take the id, counting up from the bottom: it would need some 32,000 packets
		// in flight to meet these.
		pk.PacketID = id
		c.cl.State.Inflight.Set(*pk)
		c.lastID = id
		return true
	}
	return false
}
