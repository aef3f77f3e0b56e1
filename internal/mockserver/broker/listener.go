package broker

import (
	"crypto/tls"
	"math"
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// capabilities are mochi's defaults with the platform's rules and the mock's limits:
// packets up to Limits.MaxPacketBytes (IoTDA rejects messages over 1 MB), a bounded
// number of unacknowledged QoS 1 messages and of packets queued per connection (mochi's
// defaults, 8,192 of each, let one connection hold gigabytes), and no retained messages
// (IoTDA supports none: "MQTT(S) Access" constraints and the IoTDA limits page,
// https://support.huaweicloud.com/intl/en-us/productdesc-iothub/iot_04_0010.html).
func capabilities(lim Limits) *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	if lim.MaxPacketBytes > 0 {
		c.MaximumPacketSize = uint32(min(lim.MaxPacketBytes, math.MaxInt32))
	}
	if lim.MaxInflight > 0 {
		c.MaximumInflight = uint16(min(lim.MaxInflight, math.MaxUint16))
		c.ReceiveMaximum = c.MaximumInflight
	}
	if lim.MaxPendingWrites > 0 {
		c.MaximumClientWritesPending = int32(min(lim.MaxPendingWrites, math.MaxInt32))
	}
	c.RetainAvailable = 0
	return c
}

// platformRulesHook applies the platform's protocol rules that are not about devices.
type platformRulesHook struct {
	mqtt.HookBase
}

// ID names the hook.
func (h *platformRulesHook) ID() string { return "iotda-platform-rules" }

// Provides lists the hook points the hook implements.
func (h *platformRulesHook) Provides(b byte) bool { return b == mqtt.OnPacketRead }

// OnPacketRead clears the retain flag of every PUBLISH and of a CONNECT's will. IoTDA keeps
// no retained messages, so a device's retained publish on, say, its own command topic must
// not come back to its later sessions as a command nobody sent. The broker stores none
// anyway (RetainAvailable is 0); clearing the flag also keeps it from being passed on, and
// keeps mochi from refusing a CONNECT whose will asks for retain.
func (h *platformRulesHook) OnPacketRead(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		pk.FixedHeader.Retain = false
	case packets.Connect:
		pk.Connect.WillRetain = false
	}
	return pk, nil
}

// tcpListener is mochi's TCP listener with three changes:
//
//   - Serve gives each new connection a deadline for its CONNECT. mochi waits for the first
//     packet without one, so a peer that connects and says nothing (or starts a TLS
//     handshake and stops) would hold its connection for ever. Once mochi accepts the
//     CONNECT it replaces the deadline with the keepalive's.
//   - Close closes every connection the listener still serves, including those that have
//     not finished their CONNECT, and waits for mochi to be done with them. mochi's own Close
//     disconnects only the clients it has admitted and then waits for all connections (its
//     ClientsWg), so a silent peer would hold it up until the CONNECT deadline; and since
//     mochi counts a connection in ClientsWg from inside the connection's goroutine, the
//     race detector flags a Close that overlaps a new connection.
//   - Close cannot deadlock. mochi v2.7.9 closes a listener's clients through
//     Clients.GetByListener, which takes the clients' read lock twice (it calls Len under
//     its own RLock). A client ending in between waits for the write lock in
//     Clients.Delete, and Go's RWMutex then blocks the second RLock: Close hangs for ever
//     (mochi-mqtt/server#488, not fixed in a release yet; it hung our CI once). This Close
//     lists the clients with GetAll, which locks once.
type tcpListener struct {
	*listeners.TCP
	broker         *mqtt.Server
	connectTimeout time.Duration

	mu      sync.Mutex
	conns   map[net.Conn]struct{} // the connections being served
	closing bool
	idle    *sync.Cond // signalled when a connection's service ends
}

// newTCPListener returns a listener on addr, speaking TLS when tlsConfig is set.
func newTCPListener(b *mqtt.Server, id, addr string, tlsConfig *tls.Config, connectTimeout time.Duration) *tcpListener {
	l := &tcpListener{
		TCP:            listeners.NewTCP(listeners.Config{ID: id, Address: addr, TLSConfig: tlsConfig}),
		broker:         b,
		connectTimeout: connectTimeout,
		conns:          make(map[net.Conn]struct{}),
	}
	l.idle = sync.NewCond(&l.mu)
	return l
}

// Serve accepts connections until the listener closes, handing each to mochi with a
// deadline for its CONNECT (on a TLS listener, for the handshake and the CONNECT).
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	l.TCP.Serve(func(id string, c net.Conn) error {
		if !l.track(c) {
			return c.Close()
		}
		defer l.untrack(c)
		// Fails only on a closed connection, which mochi then finds closed.
		_ = c.SetDeadline(time.Now().Add(l.connectTimeout))
		return establish(id, c)
	})
}

// track records a connection about to be served; false means the listener is closing.
func (l *tcpListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

// untrack records the end of a connection's service.
func (l *tcpListener) untrack(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
	l.idle.Broadcast()
}

// Close stops accepting connections, disconnects the listener's clients as mochi's does,
// closes the connections still served, and returns once mochi is done with all of them.
func (l *tcpListener) Close(listeners.CloseFn) {
	l.TCP.Close(func(id string) {
		for _, cl := range l.broker.Clients.GetAll() {
			if cl.Net.Listener == id && !cl.Closed() {
				_ = l.broker.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closing = true
	for c := range l.conns {
		_ = c.Close()
	}
	for len(l.conns) > 0 {
		l.idle.Wait()
	}
}
