package simdevice

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// maxDevicePacket bounds a packet a device reads: IoTDA limits a message to 1 MB, and a
// broker announcing more must not make the device allocate it.
const maxDevicePacket = 2 << 20

// errConnClosed is returned by a device connection's writes once it has ended.
var errConnClosed = errors.New("mockserver: device connection closed")

// deviceConn is one MQTT 3.1.1 session of a device, the client side of what the mock's
// broker serves: it connects with the platform's credentials, subscribes, and reads and
// writes the few packets a device needs, encoded with mochi's packets package. It is the
// transport of the simulated devices and of the iotda-device program. One goroutine reads
// (serve) and calls the handler for each PUBLISH in order; writes are serialised, and a
// PUBACK and the reply it precedes go out in one write.
type deviceConn struct {
	conn      net.Conn
	br        *bufio.Reader
	keepAlive time.Duration

	wmu  sync.Mutex // serialises writes
	wbuf bytes.Buffer

	mu      sync.Mutex
	nextID  uint16                   // last packet id used
	acks    map[uint16]chan struct{} // PUBACKs or SUBACKs awaited by packet id
	suback  map[uint16][]byte        // granted codes of SUBACKs received
	closed  chan struct{}
	closeMu sync.Once
	err     error // why the connection ended; set before closed is closed

	lastRead atomic.Int64 // unix nanoseconds of the last packet read
	pinger   *time.Timer  // sends PINGREQs; guarded by mu
}

// deviceDial says how a device connects.
type deviceDial struct {
	addr      string      // host:port
	tlsConfig *tls.Config // MQTT over TLS when set
	clientID  string
	username  string
	password  string
	keepAlive time.Duration // 0 disables PINGREQ and the broker's keep-alive deadline
	timeout   time.Duration // bounds dialling and the CONNACK
}

// connackError is a CONNACK that refused the device.
type connackError struct{ code byte }

func (e connackError) Error() string {
	switch e.code {
	case packets.Err3ClientIdentifierNotValid.Code:
		return "connection refused: client id not valid (CONNACK 0x02)"
	case packets.ErrMalformedUsernameOrPassword.Code:
		return "connection refused: bad device id or secret (CONNACK 0x04)"
	case packets.Err3NotAuthorized.Code:
		return "connection refused: not authorized (CONNACK 0x05)"
	}
	return fmt.Sprintf("connection refused (CONNACK 0x%02x)", e.code)
}

// dialDevice connects and logs in: it returns once the broker accepted the CONNECT.
func dialDevice(ctx context.Context, d deviceDial) (*deviceConn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var conn net.Conn
	var err error
	if d.tlsConfig != nil {
		dialer := &tls.Dialer{Config: d.tlsConfig}
		conn, err = dialer.DialContext(ctx, "tcp", d.addr)
	} else {
		var dialer net.Dialer
		conn, err = dialer.DialContext(ctx, "tcp", d.addr)
	}
	if err != nil {
		return nil, err
	}
	c := &deviceConn{
		conn: conn, br: bufio.NewReaderSize(conn, 4096), keepAlive: d.keepAlive,
		acks: make(map[uint16]chan struct{}), suback: make(map[uint16][]byte), closed: make(chan struct{}),
	}
	if err := c.login(ctx, d); err != nil {
		_ = conn.Close()
		return nil, err
	}
	c.lastRead.Store(time.Now().UnixNano())
	if c.keepAlive > 0 {
		c.mu.Lock()
		c.pinger = time.AfterFunc(c.keepAlive/2, c.ping)
		c.mu.Unlock()
	}
	return c, nil
}

// login sends the CONNECT and reads the CONNACK, within ctx's deadline.
func (c *deviceConn) login(ctx context.Context, d deviceDial) error {
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.conn.SetDeadline(deadline)
		defer func() { _ = c.conn.SetDeadline(time.Time{}) }()
	}
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4}
	pk.Connect.ProtocolName = []byte("MQTT")
	pk.Connect.Clean = true
	pk.Connect.Keepalive = uint16(d.keepAlive / time.Second)
	pk.Connect.ClientIdentifier = d.clientID
	pk.Connect.UsernameFlag, pk.Connect.Username = true, []byte(d.username)
	pk.Connect.PasswordFlag, pk.Connect.Password = true, []byte(d.password)
	if err := c.write(pk); err != nil {
		return err
	}
	ack, err := c.read()
	if err != nil {
		return fmt.Errorf("read CONNACK: %w", err)
	}
	if ack.FixedHeader.Type != packets.Connack {
		return fmt.Errorf("the broker answered the CONNECT with packet type %d, not a CONNACK", ack.FixedHeader.Type)
	}
	if ack.ReasonCode != 0 {
		return connackError{code: ack.ReasonCode}
	}
	return nil
}

// read reads one packet.
func (c *deviceConn) read() (packets.Packet, error) {
	var pk packets.Packet
	b, err := c.br.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(c.br)
	if err != nil {
		return pk, err
	}
	if n > maxDevicePacket {
		return pk, fmt.Errorf("packet of %d bytes is over the %d bytes a device accepts", n, maxDevicePacket)
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = 4
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return pk, err
	}
	c.lastRead.Store(time.Now().UnixNano())
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(buf)
	case packets.Publish:
		err = pk.PublishDecode(buf)
	case packets.Puback:
		err = pk.PubackDecode(buf)
	case packets.Suback:
		err = pk.SubackDecode(buf)
	case packets.Pingresp, packets.Unsuback:
	default:
		err = fmt.Errorf("unexpected packet type %d from the broker", pk.FixedHeader.Type)
	}
	return pk, err
}

// serve reads packets until the connection ends, handing each PUBLISH to onPublish on the
// reading goroutine. It returns why the connection ended.
func (c *deviceConn) serve(onPublish func(packets.Packet)) error {
	for {
		pk, err := c.read()
		if err != nil {
			c.close(err)
			return c.cause()
		}
		switch pk.FixedHeader.Type {
		case packets.Publish:
			onPublish(pk)
		case packets.Puback, packets.Suback:
			c.mu.Lock()
			if ch, ok := c.acks[pk.PacketID]; ok {
				delete(c.acks, pk.PacketID)
				if pk.FixedHeader.Type == packets.Suback {
					c.suback[pk.PacketID] = pk.ReasonCodes
				}
				close(ch)
			}
			c.mu.Unlock()
		}
	}
}

// isClosed reports whether the connection has ended.
func (c *deviceConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// cause is why the connection ended, once it has.
func (c *deviceConn) cause() error {
	<-c.closed
	return c.err
}

// close ends the connection for err (nil for a deliberate close) and wakes every waiter.
func (c *deviceConn) close(err error) {
	c.closeMu.Do(func() {
		if err == nil || errors.Is(err, net.ErrClosed) {
			err = errConnClosed
		}
		c.err = err
		c.mu.Lock()
		if c.pinger != nil {
			c.pinger.Stop()
		}
		c.mu.Unlock()
		_ = c.conn.Close()
		close(c.closed)
	})
}

// disconnect sends a DISCONNECT, so that the broker ends the session cleanly, and closes.
func (c *deviceConn) disconnect() {
	_ = c.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ProtocolVersion: 4})
	c.close(nil)
}

// ping sends a PINGREQ every half keep-alive and gives up on a broker silent for one and a
// half keep-alives, as the broker does with a silent client.
func (c *deviceConn) ping() {
	if time.Since(time.Unix(0, c.lastRead.Load())) > c.keepAlive*3/2 {
		c.close(errors.New("the broker stopped answering (keep-alive)"))
		return
	}
	if err := c.write(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}, ProtocolVersion: 4}); err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
	default:
		c.pinger.Reset(c.keepAlive / 2)
	}
}

// write encodes pks (CONNECT, SUBSCRIBE, PINGREQ or DISCONNECT; send writes the rest) and
// writes them in one write.
func (c *deviceConn) write(pks ...packets.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.closed:
		return c.err
	default:
	}
	c.wbuf.Reset()
	for i := range pks {
		pk := &pks[i]
		var err error
		switch pk.FixedHeader.Type {
		case packets.Connect:
			err = pk.ConnectEncode(&c.wbuf)
		case packets.Subscribe:
			err = pk.SubscribeEncode(&c.wbuf)
		case packets.Pingreq:
			err = pk.PingreqEncode(&c.wbuf)
		case packets.Disconnect:
			err = pk.DisconnectEncode(&c.wbuf)
		default:
			err = fmt.Errorf("mockserver: a device does not send packet type %d", pk.FixedHeader.Type)
		}
		if err != nil {
			return err
		}
	}
	if _, err := c.conn.Write(c.wbuf.Bytes()); err != nil {
		c.close(err)
		return err
	}
	return nil
}

// packetID returns a packet id for a QoS 1 publish or a subscribe, and the channel closed
// when its acknowledgement arrives.
func (c *deviceConn) packetID() (uint16, chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		c.nextID++
		if c.nextID == 0 {
			continue
		}
		if _, busy := c.acks[c.nextID]; !busy {
			break
		}
	}
	ch := make(chan struct{})
	c.acks[c.nextID] = ch
	return c.nextID, ch
}

// subscribe subscribes to filter at QoS 1 and waits for the SUBACK.
func (c *deviceConn) subscribe(filter string, timeout time.Duration) error {
	id, acked := c.packetID()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, ProtocolVersion: 4, PacketID: id,
		Filters: packets.Subscriptions{{Filter: filter, Qos: 1}}}
	if err := c.write(pk); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-acked:
	case <-c.closed:
		return c.err
	case <-t.C:
		return errors.New("no SUBACK in time")
	}
	c.mu.Lock()
	codes := c.suback[id]
	delete(c.suback, id)
	c.mu.Unlock()
	if len(codes) != 1 || codes[0] > 2 {
		return fmt.Errorf("subscription refused (SUBACK %x)", codes)
	}
	return nil
}

// send writes, in one write, a PUBACK for the PUBLISH with packet id ackID (none when 0)
// and, when topic is not empty, a PUBLISH of payload at QoS qos (0 or 1). With wantAck, a
// QoS 1 publish returns a channel that its PUBACK closes. Both packets are encoded by hand
// into the connection's buffer: they are the device's per-command work.
func (c *deviceConn) send(ackID uint16, topic string, payload []byte, qos byte, wantAck bool) (<-chan struct{}, error) {
	var acked chan struct{}
	var id uint16
	if topic != "" && qos > 0 {
		if wantAck {
			id, acked = c.packetID()
		} else {
			id = c.untrackedID()
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.closed:
		return nil, c.err
	default:
	}
	c.wbuf.Reset()
	if ackID != 0 {
		c.wbuf.Write([]byte{packets.Puback << 4, 2, byte(ackID >> 8), byte(ackID)})
	}
	if topic != "" {
		n := 2 + len(topic) + len(payload)
		if qos > 0 {
			n += 2
		}
		c.wbuf.WriteByte(packets.Publish<<4 | qos<<1)
		for { // the remaining length, 7 bits a byte
			b := byte(n & 0x7f)
			if n >>= 7; n > 0 {
				b |= 0x80
			}
			c.wbuf.WriteByte(b)
			if n == 0 {
				break
			}
		}
		c.wbuf.Write([]byte{byte(len(topic) >> 8), byte(len(topic))})
		c.wbuf.WriteString(topic)
		if qos > 0 {
			c.wbuf.Write([]byte{byte(id >> 8), byte(id)})
		}
		c.wbuf.Write(payload)
	}
	if c.wbuf.Len() == 0 {
		return nil, nil
	}
	if _, err := c.conn.Write(c.wbuf.Bytes()); err != nil {
		c.close(err)
		return nil, err
	}
	return acked, nil
}

// untrackedID returns a packet id for a QoS 1 publish whose PUBACK nobody waits for. Ids
// cycle through 1..65535 and skip those awaited, so one is reused only after 65,535 more
// publishes, long after its PUBACK.
func (c *deviceConn) untrackedID() uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		c.nextID++
		if _, busy := c.acks[c.nextID]; c.nextID != 0 && !busy {
			return c.nextID
		}
	}
}
