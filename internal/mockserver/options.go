package mockserver

import (
	"crypto/tls"
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
	// ProjectID is the only project the command API accepts. Default "mock-project".
	ProjectID string
	// Region is the region V11-HMAC-SHA256 signatures must be scoped to. Default "cn-north-4".
	Region string
	// AuthToken is the X-Auth-Token the API accepts. Empty disables token authentication.
	AuthToken string
	// Credentials maps access keys to secret keys accepted in AK/SK signatures.
	// With neither AuthToken nor Credentials set, requests are not authenticated.
	Credentials map[string]string
	// InstanceID, when set, must be sent in the Instance-Id header.
	InstanceID string
	// PlatformTimeout is how long a command waits for the device's reply. Default 20 s.
	PlatformTimeout time.Duration
	// RedeliveryInterval is how long the broker waits for a device's PUBACK before it
	// publishes a command again with the DUP flag, at most 3 times. Default 2 s, the
	// platform's.
	RedeliveryInterval time.Duration
	// HTTPAddr is the command API's listen address. Default "127.0.0.1:0".
	HTTPAddr string
	// MQTTAddr is the MQTT broker's listen address. Default "127.0.0.1:0".
	MQTTAddr string
	// MQTTTLSAddr, when set, is the listen address of a second MQTT listener that speaks
	// MQTT over TLS (MQTTS), with the certificate the HTTPS API would use: one from the CA
	// the mock generates (see Server.CACertPEM), or TLSConfig's. IoTDA serves MQTTS on port
	// 8883 and plain MQTT on 1883 (facts §5); Huawei's device SDKs use one or the other.
	MQTTTLSAddr string
	// TLS serves the HTTP API over HTTPS with a certificate from a CA the mock generates
	// (see Server.CACertPEM), valid for 127.0.0.1, localhost and TLSHosts.
	TLS bool
	// TLSHosts are extra DNS names (or IP addresses) for the generated server certificate.
	TLSHosts []string
	// TLSConfig, when set, overrides the generated certificate (HTTPS and MQTTS).
	TLSConfig *tls.Config
	// AdminToken, when set, is required as "Authorization: Bearer <token>" on every admin
	// API request (/_mock/). It must be set when any listener binds an address other than
	// loopback: New refuses to build such a mock without it.
	AdminToken string
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

// listeners names the mock's listen addresses for the admin API's exposure checks.
func listeners(opts *Options) []admin.Listener {
	return []admin.Listener{
		{Name: "the HTTP API", Addr: opts.HTTPAddr},
		{Name: "the MQTT broker", Addr: opts.MQTTAddr},
		{Name: "the MQTTS listener", Addr: opts.MQTTTLSAddr},
	}
}
