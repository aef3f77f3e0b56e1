package mockserver

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/admin"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
)

// DefaultPlatformTimeout is how long the platform waits for a device's reply.
const DefaultPlatformTimeout = commands.DefaultPlatformTimeout

// DefaultRedeliveryInterval is the platform's wait for a PUBACK before it publishes a
// command again (facts §2).
const DefaultRedeliveryInterval = broker.DefaultRedeliveryInterval

// Options configures a mock platform. The zero value of every field has a usable default.
type Options struct {
	// ProjectID is the only project the platform API accepts. Default "mock-project".
	ProjectID string
	// Region is the region V11-HMAC-SHA256 signatures must be scoped to. Default "cn-north-4".
	Region string
	// AuthToken is the X-Auth-Token the API accepts. Empty disables token authentication.
	AuthToken string
	// Credentials maps access keys to secret keys accepted in AK/SK signatures.
	// With neither AuthToken nor Credentials set, requests are not authenticated, which
	// the mock allows only when every listener binds a loopback address: New refuses a
	// mock that listens beyond loopback without API credentials, as it refuses one without
	// an AdminToken.
	Credentials map[string]string
	// InstanceID, when set, must be sent in the Instance-Id header.
	InstanceID string
	// PlatformTimeout is how long a command waits for the device's reply. Default 20 s.
	PlatformTimeout time.Duration
	// RedeliveryInterval is how long the broker waits for a device's PUBACK before it
	// publishes a command again with the DUP flag, at most 3 times. Default 2 s, the
	// platform's.
	RedeliveryInterval time.Duration
	// HTTPAddr is the listen address of the platform API (commands, device messages, batch
	// tasks) and the admin API. Default "127.0.0.1:0".
	HTTPAddr string
	// MQTTAddr is the MQTT broker's listen address. Default "127.0.0.1:0".
	MQTTAddr string
	// MQTTTLSAddr, when set, is the listen address of a second MQTT listener that speaks
	// MQTT over TLS (MQTTS), with the certificate the HTTPS API would use: one from the CA
	// the mock generates (see Server.CACertPEM), or TLSConfig's. IoTDA serves MQTTS on port
	// 8883 and plain MQTT on 1883 (facts §5); Huawei's device SDKs use one or the other.
	MQTTTLSAddr string
	// TLS serves the HTTP API over HTTPS with a certificate from a CA the mock generates
	// (see Server.CACertPEM), valid for 127.0.0.1, ::1, localhost, TLSHosts and the hosts the
	// TLS listeners bind: for one bound to every interface (0.0.0.0, ::), the machine's name
	// and addresses (httpapi.ListenHosts), by which URL and MQTTTLSAddr then name it.
	TLS bool
	// TLSHosts are extra DNS names (or IP addresses) for the generated server certificate:
	// any other name clients reach the mock by, such as a DNS alias.
	TLSHosts []string
	// TLSConfig, when set, overrides the generated certificate (HTTPS and MQTTS).
	TLSConfig *tls.Config
	// AdminToken, when set, is required as "Authorization: Bearer <token>" on every admin
	// API request (/_mock/). It must be set when any listener binds an address other than
	// loopback: New refuses to build such a mock without it.
	AdminToken string
	// Latency is a simulated network delay, so that what the platform's distance costs
	// (IoTDA is 30-300 ms away) shows against a mock on the same machine: every platform API
	// answer (errors, fault answers and resets included; not the admin API or /healthz) is
	// written no sooner than Latency after its request arrived. Time the platform spends on
	// the request (a device's reply) counts toward it. Requests wait independently: N
	// requests in parallel take about one Latency, not N. Default 0: no delay.
	Latency time.Duration
	// Limits bounds what peers can make the mock read, hold or wait for.
	Limits Limits
	// Logger receives a line per delivery. Default: discard.
	Logger *slog.Logger
	// Now is the clock for signature dates and device timestamps. Default time.Now.
	Now func() time.Time
	// Devices are registered at start.
	Devices []Device
	// Groups are device groups registered at start, for batch tasks' targets_filter.
	Groups []Group
	// BatchConcurrency is how many batch task subtasks are delivered at once, across all
	// tasks. Default 200.
	BatchConcurrency int
	// BatchTimeScale multiplies the batch tasks' task_policy.retry_interval (minutes), so
	// that tests can retry in milliseconds: 0.001 makes a minute 60 ms. Default 1.
	BatchTimeScale float64
	// Fleets are registered and brought online at start, after Devices.
	Fleets []Fleet
	// MessageTimeScale multiplies a device message's ttl (minutes) when the mock expires it
	// on its own, so that scripts can see TIMEOUT in seconds: 0.001 makes a minute 60 ms.
	// Default 1. (Tests with a clock of their own call Server.ExpireMessages instead.)
	MessageTimeScale float64
}

func (o Options) withDefaults() Options {
	if o.ProjectID == "" {
		o.ProjectID = "mock-project"
	}
	if o.Region == "" {
		o.Region = "cn-north-4"
	}
	if o.PlatformTimeout <= 0 {
		o.PlatformTimeout = DefaultPlatformTimeout
	}
	if o.RedeliveryInterval <= 0 {
		o.RedeliveryInterval = DefaultRedeliveryInterval
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.MQTTAddr == "" {
		o.MQTTAddr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Limits = o.Limits.withDefaults()
	return o
}

// checkAPIExposure refuses a mock whose platform API others could use without credentials:
// one that listens beyond loopback with neither AuthToken nor Credentials. Any listener
// counts, the MQTT ones included, as for the admin token: a mock that listens beyond
// loopback is a shared platform, and its command and batch APIs move devices. There is no
// opt-out: every IoTDA client sends credentials anyway, so setting a token costs one line.
func checkAPIExposure(opts *Options) error {
	if opts.AuthToken != "" || len(opts.Credentials) > 0 {
		return nil
	}
	if l, exposed := admin.Exposed(listeners(opts)...); exposed {
		return fmt.Errorf("mockserver: %s listens on %s, which is not a loopback address, so the platform API "+
			"(commands, batch tasks) needs credentials, as IoTDA does: set a token or AK/SK pairs (Options.AuthToken "+
			"or Options.Credentials; for iotda-mock, the IOTDA_MOCK_AUTH_TOKEN environment variable, \"auth_token\" "+
			"or \"credentials\" in the configuration file, or -token), or listen on 127.0.0.1", l.Name, l.Addr)
	}
	return nil
}

// listeners names the mock's listen addresses for the admin API's exposure checks.
func listeners(opts *Options) []admin.Listener {
	return []admin.Listener{
		{Name: "the HTTP API", Addr: opts.HTTPAddr},
		{Name: "the MQTT broker", Addr: opts.MQTTAddr},
		{Name: "the MQTTS listener", Addr: opts.MQTTTLSAddr},
	}
}
