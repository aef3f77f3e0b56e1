package mockserver

import (
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
)

// Limits bounds what a peer, authenticated or not, can make the mock read, hold or wait
// for. The zero (or a negative) value of a field selects its default. The standalone
// binary uses the defaults, but for MaxDevices and MaxFleets ("max_devices" and
// "max_fleets" in its configuration file).
//
// What happens at each limit:
//
//   - a request body over MaxBodyBytes answers 400 IOTDA.000006, a body not received within
//     HTTPReadTimeout answers 400 IOTDA.000008, and neither is delivered; a request whose
//     headers exceed MaxHeaderBytes gets Go's own 431 answer (plain text: the server answers
//     before any handler runs); a request line and headers not received within
//     HTTPReadHeaderTimeout, and a keep-alive connection idle for HTTPIdleTimeout, are closed
//     without an answer;
//   - an answer not written within HTTPWriteTimeout of its first byte (a client that reads
//     slowly or not at all) is cut off and its connection closed; an answer to a GET larger
//     than 4 KiB that would take the answers being written at once past MaxAnswerBytes is
//     refused with 429 APIGW.0308 and Retry-After: 1, as IoTDA's API gateway refuses a
//     request over its throttling threshold (nothing was changed; clients retry it), and
//     answers to other methods, which acted on their request, are never refused;
//   - an MQTT connection that has not completed its CONNECT (and, on the TLS listener, its
//     handshake) within MQTTConnectTimeout is closed; a packet larger than
//     MQTTMaxPacketBytes closes the connection that sent it (MQTT 5 clients are told the
//     limit in the CONNACK); commands beyond MQTTMaxInflight unacknowledged ones, or beyond
//     MQTTMaxPendingWrites queued for a device's connection, are not sent to it (the command
//     then times out as on the platform);
//   - the journal keeps each body whole up to 4 KiB and an excerpt beyond, and drops its
//     oldest entries once it holds more than JournalMaxBytes;
//   - a device or fleet that would take the registry past MaxDevices devices (fleet devices
//     included) or MaxFleets fleets is refused (AddDevice and AddFleet fail with
//     ErrLimit; the admin API answers 403 MOCK.000403 naming the limit).
type Limits struct {
	// MaxBodyBytes bounds an HTTP request body. Default 1 MiB.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds an HTTP request's line and headers. Default 64 KiB.
	MaxHeaderBytes int
	// HTTPReadHeaderTimeout bounds the wait for a request's line and headers. Default 10 s.
	HTTPReadHeaderTimeout time.Duration
	// HTTPReadTimeout bounds the wait for a whole request, body included. Waiting for the
	// device's reply does not count. Default 30 s.
	HTTPReadTimeout time.Duration
	// HTTPIdleTimeout is how long a keep-alive connection may wait for its next request.
	// Default 30 s.
	HTTPIdleTimeout time.Duration
	// HTTPWriteTimeout bounds the writing of an answer, from its first byte. Waiting for
	// the device's reply does not count. Default 30 s: a 4.5 MB list page at 150 KB/s.
	HTTPWriteTimeout time.Duration
	// MaxAnswerBytes bounds the bytes of answers to GET requests being written at once (an
	// answer is held in memory until its client has read it): 300 clients reading a 4.5 MB
	// ListBatchTasks page at 1 KB/s took the mock to 1.44 GB without it, 162 MB with it. One
	// answer alone is always written, and answers of up to 4 KiB do not count. Default 64 MiB.
	MaxAnswerBytes int64

	// MQTTConnectTimeout bounds the wait for a new connection's CONNECT packet. Default 10 s.
	MQTTConnectTimeout time.Duration
	// MQTTMaxPacketBytes bounds an MQTT packet a client sends. Default 1 MiB: IoTDA rejects
	// a published message larger than 1 MB ("MQTT(S) Access" constraints,
	// https://support.huaweicloud.com/intl/en-us/usermanual-iothub/iot_01_0128.html).
	MQTTMaxPacketBytes int
	// MQTTMaxInflight bounds the QoS 1 messages a connection may have unacknowledged, in
	// each direction. Default 128.
	MQTTMaxInflight int
	// MQTTMaxPendingWrites bounds the packets queued for writing to one connection.
	// Default 128.
	MQTTMaxPendingWrites int

	// JournalMaxBytes bounds the journal's memory (bodies, headers and a fixed overhead per
	// entry). Default 32 MiB.
	JournalMaxBytes int64

	// MaxDevices bounds the devices the mock holds, fleet devices included. Default 100,000:
	// a platform task targets at most 30,000, and a fleet device costs a few hundred bytes
	// at rest and a few kilobytes once commanded (10 fleets of 100,000 took 268 MB).
	MaxDevices int
	// MaxFleets bounds the fleets the mock holds. Default 100.
	MaxFleets int
}

// Default limits; see Limits.
const (
	defaultMaxBodyBytes          = 1 << 20
	defaultMaxHeaderBytes        = 64 << 10
	defaultHTTPReadHeaderTimeout = 10 * time.Second
	defaultHTTPReadTimeout       = 30 * time.Second
	defaultHTTPIdleTimeout       = 30 * time.Second
	defaultHTTPWriteTimeout      = 30 * time.Second
	defaultMaxAnswerBytes        = 64 << 20
	defaultMQTTConnectTimeout    = 10 * time.Second
	defaultMQTTMaxPacketBytes    = 1 << 20
	defaultMQTTMaxInflight       = 128
	defaultMQTTMaxPendingWrites  = 128
	defaultJournalMaxBytes       = journal.DefaultMaxBytes
	defaultMaxDevices            = 100_000
	defaultMaxFleets             = 100
)

// maxMQTTInflight is the most MQTT can count: packet ids and Receive Maximum are 16-bit.
const maxMQTTInflight = 1<<16 - 1

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = defaultMaxBodyBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = defaultMaxHeaderBytes
	}
	if l.HTTPReadHeaderTimeout <= 0 {
		l.HTTPReadHeaderTimeout = defaultHTTPReadHeaderTimeout
	}
	if l.HTTPReadTimeout <= 0 {
		l.HTTPReadTimeout = defaultHTTPReadTimeout
	}
	if l.HTTPIdleTimeout <= 0 {
		l.HTTPIdleTimeout = defaultHTTPIdleTimeout
	}
	if l.HTTPWriteTimeout <= 0 {
		l.HTTPWriteTimeout = defaultHTTPWriteTimeout
	}
	if l.MaxAnswerBytes <= 0 {
		l.MaxAnswerBytes = defaultMaxAnswerBytes
	}
	if l.MQTTConnectTimeout <= 0 {
		l.MQTTConnectTimeout = defaultMQTTConnectTimeout
	}
	if l.MQTTMaxPacketBytes <= 0 {
		l.MQTTMaxPacketBytes = defaultMQTTMaxPacketBytes
	}
	if l.MQTTMaxInflight <= 0 {
		l.MQTTMaxInflight = defaultMQTTMaxInflight
	}
	l.MQTTMaxInflight = min(l.MQTTMaxInflight, maxMQTTInflight)
	if l.MQTTMaxPendingWrites <= 0 {
		l.MQTTMaxPendingWrites = defaultMQTTMaxPendingWrites
	}
	if l.JournalMaxBytes <= 0 {
		l.JournalMaxBytes = defaultJournalMaxBytes
	}
	if l.MaxDevices <= 0 {
		l.MaxDevices = defaultMaxDevices
	}
	if l.MaxFleets <= 0 {
		l.MaxFleets = defaultMaxFleets
	}
	return l
}
