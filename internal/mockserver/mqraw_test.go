package mockserver

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// Hand-built MQTT 3.1.1 packets, for peers no client library would impersonate: silent,
// oversized, or never reading.

// mqVarint is MQTT's variable byte integer.
func mqVarint(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// mqPacket is a packet with the given first byte and body.
func mqPacket(first byte, body []byte) []byte {
	return append(append([]byte{first}, mqVarint(len(body))...), body...)
}

func mqPutString(b *bytes.Buffer, s string) {
	_ = binary.Write(b, binary.BigEndian, uint16(len(s)))
	b.WriteString(s)
}

// mqWill is a CONNECT's will message.
type mqWill struct {
	topic, payload string
	retain         bool
}

// mqConnectPacket is a clean-session CONNECT with keepalive 60 s.
func mqConnectPacket(clientID, username, password string, will *mqWill) []byte {
	var b bytes.Buffer
	mqPutString(&b, "MQTT")
	b.WriteByte(4)
	flags := byte(0x02 | 0x80 | 0x40) // clean session, username, password
	if will != nil {
		flags |= 0x04 | 0x08 // will at QoS 1
		if will.retain {
			flags |= 0x20
		}
	}
	b.WriteByte(flags)
	b.Write([]byte{0, 60})
	mqPutString(&b, clientID)
	if will != nil {
		mqPutString(&b, will.topic)
		mqPutString(&b, will.payload)
	}
	mqPutString(&b, username)
	mqPutString(&b, password)
	return mqPacket(0x10, b.Bytes())
}

// mqPublishPacket is a PUBLISH; id is used at QoS 1 and 2.
func mqPublishPacket(topic string, payload []byte, qos byte, retain bool, id uint16) []byte {
	var b bytes.Buffer
	mqPutString(&b, topic)
	if qos > 0 {
		_ = binary.Write(&b, binary.BigEndian, id)
	}
	b.Write(payload)
	first := byte(0x30) | qos<<1
	if retain {
		first |= 0x01
	}
	return mqPacket(first, b.Bytes())
}

// mqSubscribePacket subscribes to one filter.
func mqSubscribePacket(id uint16, filter string, qos byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, id)
	mqPutString(&b, filter)
	b.WriteByte(qos)
	return mqPacket(0x82, b.Bytes())
}

// mqDial opens a TCP connection with a deadline of limitWait on every read and write.
func mqDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, limitWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(limitWait)); err != nil {
		t.Fatal(err)
	}
	return conn, bufio.NewReader(conn)
}

// mqWrite writes raw bytes, failing the test on error.
func mqWrite(t *testing.T, conn net.Conn, b []byte) {
	t.Helper()
	if _, err := conn.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// mqReadPacket reads one packet: its first byte and body.
func mqReadPacket(t *testing.T, r *bufio.Reader) (byte, []byte) {
	t.Helper()
	first, err := r.ReadByte()
	if err != nil {
		t.Fatalf("read packet: %v", err)
	}
	n, mul := 0, 1
	for {
		d, err := r.ReadByte()
		if err != nil {
			t.Fatalf("read length: %v", err)
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return first, body
}

// mqRawSession connects over TCP as a registered device (signType 1 on the mock's clock),
// with an optional will, and returns the connection once the CONNACK accepted it.
func mqRawSession(t *testing.T, addr, deviceID, secret string, will *mqWill) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, r := mqDial(t, addr)
	cid, user, pass := DeviceCredentials(deviceID, secret, mqClock())
	mqWrite(t, conn, mqConnectPacket(cid, user, pass, will))
	first, body := mqReadPacket(t, r)
	if first != 0x20 || len(body) != 2 || body[1] != 0 {
		t.Fatalf("CONNACK %#x %x, want an accepted connection", first, body)
	}
	return conn, r
}
