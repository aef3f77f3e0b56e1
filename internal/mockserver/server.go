// Package mockserver is an IoTDA mock platform: the synchronous command API over HTTP, the
// batch task API, a device registry, an embedded MQTT broker with the platform's device authentication, a
// journal of everything that happened, and fault injection. Tests and the standalone
// iotda-mock binary share this one implementation.
//
// The package has two halves that meet only through the Server:
//
//   - the HTTP side (http.go, requestbody.go, auth.go, journal.go, faults.go, admin.go,
//     fleet_admin.go, tls.go) accepts command requests, authenticates them, journals them
//     and asks the device side to deliver;
//   - the device side (broker.go, brokerlimits.go, devices.go, session.go, redelivery.go,
//     upstream.go, fleet.go) owns the registry, the MQTT broker, the live sessions (MQTT
//     clients, or fleet devices' in-process sessions), the delivery of commands and the
//     matching of replies to them.
//
// The simulated devices (simdevice.go) are MQTT clients like any device, on a small client
// of their own (deviceconn.go); RunDevice (devicerun.go) runs one as a program.
//
// Limits (limits.go) bound what any peer can make either half read, hold or wait for.
//
// Batch tasks (/v5/iot/{project_id}/batchtasks) run in the batchtask sub-package, which
// owns the tasks and their rules; batch.go joins it to both halves: the HTTP side checks
// and journals batch requests as it does commands, and the executor delivers each subtask
// through the device side's deliver. Device groups, which tasks can target, are in
// groups.go.
package mockserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/admin"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/batchtask"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/simdevice"
)

// DefaultPlatformTimeout is how long the platform waits for a device's reply.
const DefaultPlatformTimeout = commands.DefaultPlatformTimeout

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
}

// Device is an entry in the platform's device registry; see package registry.
type Device = registry.Device

// BehaviorKind selects how a simulated device answers.
type BehaviorKind = registry.BehaviorKind

// Simulated device behaviours; see package registry.
const (
	BehaviorReply  = registry.BehaviorReply
	BehaviorEcho   = registry.BehaviorEcho
	BehaviorSilent = registry.BehaviorSilent
)

// Behavior is what a simulated device does with a command; see package registry.
type Behavior = registry.Behavior

// Group is a device group in the registry; see package registry.
type Group = registry.Group

// Fleet is many simulated devices sharing one behaviour; see package registry.
type Fleet = registry.Fleet

// MaxFleetCount is the largest Fleet.Count.
const MaxFleetCount = registry.MaxFleetCount

// ErrFleetNotFound means no fleet has the given prefix.
var ErrFleetNotFound = registry.ErrFleetNotFound

// Errors of the device side; see package delivery.
var (
	// ErrDeviceNotFound means the device is not in the registry.
	ErrDeviceNotFound = delivery.ErrDeviceNotFound
	// ErrDeviceOffline means the device has no live MQTT session.
	ErrDeviceOffline = delivery.ErrDeviceOffline
)

// DefaultRedeliveryInterval is the platform's wait for a PUBACK before it publishes a
// command again (facts §2).
const DefaultRedeliveryInterval = broker.DefaultRedeliveryInterval

// DeviceCredentials returns the MQTT client id, username and password a device with this
// id and secret presents to the platform at CONNECT, using signType 1 (timestamp checked)
// and the UTC hour of now. It is what the simulated devices use, and lets tests connect
// their own MQTT clients as a registered device.
func DeviceCredentials(deviceID, secret string, now time.Time) (clientID, username, password string) {
	return broker.DeviceCredentials(deviceID, secret, now)
}

// DeviceOptions configures RunDevice; see package simdevice.
type DeviceOptions = simdevice.Options

// DeviceEventKind says what a DeviceEvent reports.
type DeviceEventKind = simdevice.EventKind

// Device events; see package simdevice.
const (
	DeviceEventConnected    = simdevice.EventConnected
	DeviceEventCommand      = simdevice.EventCommand
	DeviceEventDisconnected = simdevice.EventDisconnected
)

// DeviceEvent is something a device run by RunDevice did.
type DeviceEvent = simdevice.Event

// RunDevice runs a device until ctx ends, answering commands as o.Behavior says; see
// simdevice.Run.
func RunDevice(ctx context.Context, o DeviceOptions) error { return simdevice.Run(ctx, o) }

// Command is a command on its way to a device; see package commands.
type Command = commands.Command

// EntryKind says what a journal entry records.
type EntryKind = journal.EntryKind

// Journal entry kinds; see package journal.
const (
	EntryRequest    = journal.EntryRequest
	EntryDelivery   = journal.EntryDelivery
	EntryRedelivery = journal.EntryRedelivery
	EntryReply      = journal.EntryReply
	EntryLateReply  = journal.EntryLateReply
	EntryConnect    = journal.EntryConnect
	EntryDisconnect = journal.EntryDisconnect
)

// Entry is one thing the mock saw or did; see package journal.
type Entry = journal.Entry

// Server is a running mock platform.
type Server struct {
	opts     Options
	journal  *journal.Journal   // package journal (both halves)
	faults   *faults.Set        // faults.go (HTTP side)
	api      *httpapi.API       // package httpapi: what every service's responses share
	http     *httpapi.Server    // package httpapi: the listener and the routes
	registry *registry.Registry // package registry: devices, groups, fleets
	path     *delivery.Path     // package delivery: sessions, publications, replies
	commands *commands.Backend  // package commands: the synchronous command API
	// batch runs batch tasks (batch.go); set by Start.
	batch       *batchtask.Backend
	tls         httpapi.TLS // the certificate of HTTPS and MQTTS
	deviceState             // devices.go: the broker and the simulated devices
}

// New builds a mock platform from opts without starting it. It fails when a listener would
// bind beyond loopback without Options.AdminToken (see admin.go).
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := admin.CheckExposure(opts.AdminToken, listeners(&opts)...); err != nil {
		return nil, err
	}
	st, err := httpapi.NewTLS(httpapi.TLSOptions{HTTPS: opts.TLS, MQTTS: opts.MQTTTLSAddr != "", Hosts: opts.TLSHosts,
		Config: opts.TLSConfig})
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, journal: journal.New(opts.Now, opts.Limits.JournalMaxBytes), faults: faults.NewSet(), tls: st,
		registry: registry.New()}
	s.path = delivery.New(s.registry, s.journal)
	s.commands = commands.New(commands.Config{Path: s.path, PlatformTimeout: opts.PlatformTimeout})
	s.sims, s.fleets = make(map[string]*simdevice.Sim), make(map[string]*simdevice.Fleet)
	lim := opts.Limits
	s.api = httpapi.NewAPI(httpapi.Config{ProjectID: opts.ProjectID, Region: opts.Region, AuthToken: opts.AuthToken,
		Credentials: opts.Credentials, InstanceID: opts.InstanceID, MaxBodyBytes: lim.MaxBodyBytes,
		ReadTimeout: lim.HTTPReadTimeout, Now: opts.Now}, s.journal, s.faults)
	adminAPI := admin.New(admin.Config{Token: opts.AdminToken, Platform: s, Journal: s.journal, Faults: s.faults, CAPEM: st.CAPEM})
	s.http = httpapi.NewServer(s.api, httpapi.ServerConfig{Addr: opts.HTTPAddr, TLS: st.HTTP,
		ReadHeaderTimeout: lim.HTTPReadHeaderTimeout, ReadTimeout: lim.HTTPReadTimeout, IdleTimeout: lim.HTTPIdleTimeout,
		MaxHeaderBytes: lim.MaxHeaderBytes, Logger: opts.Logger}, adminAPI,
		&batchAPI{api: s.api, s: s, maxBody: max(lim.MaxBodyBytes, maxBatchBodyBytes)},
		commands.NewResponses(s.api, s.commands, opts.Logger))
	return s, nil
}

// Start opens the MQTT broker and the HTTP API, then registers Options.Devices and
// Options.Fleets, waiting until every simulated device is online. It returns once everything is ready.
func (s *Server) Start() error {
	if err := s.startDevices(); err != nil {
		return err
	}
	for _, g := range s.opts.Groups {
		if err := s.AddGroup(g); err != nil {
			_ = s.closeDevices()
			return err
		}
	}
	s.batch = s.newBatchBackend()
	if err := s.http.Start(); err != nil {
		s.batch.Close()
		_ = s.closeDevices()
		return err
	}
	if s.opts.AdminToken != "" {
		reason := "an admin token is set"
		if l, exposed := admin.Exposed(listeners(&s.opts)...); exposed {
			reason = l.Name + " listens on " + l.Addr + ", beyond loopback"
		}
		s.opts.Logger.Info("the admin API (/_mock/) requires the admin token as Authorization: Bearer <token>",
			"reason", reason)
	}
	for _, d := range s.opts.Devices {
		if err := s.AddDevice(d); err != nil {
			_ = s.Close()
			return err
		}
	}
	for _, f := range s.opts.Fleets {
		if err := s.AddFleet(f); err != nil {
			_ = s.Close()
			return err
		}
	}
	return nil
}

// Close stops the HTTP API, the simulated devices and the broker.
func (s *Server) Close() error {
	err := s.http.Close()
	if s.batch != nil {
		s.batch.Close()
	}
	return errors.Join(err, s.closeDevices())
}

// URL is the command API's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.http.URL() }

// ProjectID is the project the API accepts.
func (s *Server) ProjectID() string { return s.opts.ProjectID }

// Region is the region V11-HMAC-SHA256 signatures must be scoped to.
func (s *Server) Region() string { return s.opts.Region }

// Journal returns a copy of every entry so far, oldest first.
func (s *Server) Journal() []Entry { return s.journal.Entries() }

// Deliveries returns the EntryDelivery entries for deviceID ("" for every device).
func (s *Server) Deliveries(deviceID string) []Entry {
	var out []Entry
	for _, e := range s.journal.Entries() {
		if e.Kind == EntryDelivery && (deviceID == "" || e.DeviceID == deviceID) {
			out = append(out, e)
		}
	}
	return out
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

// CACertPEM is the PEM of the CA that signed the mock's HTTPS and MQTTS certificate, for
// clients to trust. It is empty without Options.TLS and Options.MQTTTLSAddr, or when
// Options.TLSConfig supplies the certificate.
func (s *Server) CACertPEM() string { return s.tls.CAPEM }

// listeners names the mock's listen addresses for the admin API's exposure checks.
func listeners(opts *Options) []admin.Listener {
	return []admin.Listener{
		{Name: "the HTTP API", Addr: opts.HTTPAddr},
		{Name: "the MQTT broker", Addr: opts.MQTTAddr},
		{Name: "the MQTTS listener", Addr: opts.MQTTTLSAddr},
	}
}
