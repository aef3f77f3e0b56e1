// Package mockserver is an IoTDA mock platform, shared by Go tests and the standalone
// iotda-mock binary: the synchronous command API, the device message API and the batch
// task API over HTTP(S), an embedded MQTT broker with the platform's device authentication,
// simulated devices (which can sleep), a journal of everything that happened, fault
// injection and an admin API. This package is the public Go API (New, Options, Server and
// its methods, NewForTest, RunDevice) and the wiring; each part lives in a package beneath
// it:
//
//	httpapi    the platform API's listener and what every service's responses share:
//	           routing, the prelude in the platform's order (fault, credentials, body,
//	           project, Instance-Id), authentication, error bodies, the journal entry, the
//	           simulated latency of every answer, TLS with its generated, renewed certificate
//	commands   the synchronous command API: a Backend (the command's rules, its payload,
//	           the wait for the reply) and its Responses (HTTP in, the platform's body out)
//	messages   device messages: a Backend (the cache of 20 per device, ttl, delivery in
//	           order when the device is online or comes online, statuses) and its
//	           responses, put on the API by its HTTPService
//	batchtask  batch tasks: a Backend (tasks, subtasks, the executor) and its responses
//	delivery   the one device-side delivery path: sessions, Publish with or without a
//	           reply, replies matched to what awaits them, Online and WaitOnline, Watch
//	broker     the MQTT broker (mochi-mqtt): device authentication, topic ACLs, limits,
//	           QoS 1 publishing with the platform's redelivery, the intake of replies
//	registry   the devices, groups and fleets, and their rules
//	simdevice  the simulated devices: MQTT clients (Sim), in-process fleets (Fleet), Run
//	journal    the bounded record of requests, deliveries, replies and sessions
//	faults     what a fault is, which request takes it (by the operation it makes, such as
//	           CreateBatchTask, and the device it names), and how the request is held and
//	           the answer misbehaves
//	admin      the admin API under /_mock/
//
// A command goes HTTP -> responses -> backend -> delivery -> broker -> device, and back:
// httpapi.Server routes POST /v5/iot/{project_id}/devices/{device_id}/commands to
// commands.Responses, whose httpapi.Exchange takes a fault, checks the credentials, reads the
// body and checks the project and Instance-Id; commands.Backend validates the command,
// builds its payload and publishes it through delivery.Path to the device's session, a
// broker.Conn (a PUBLISH at QoS 1 on $oc/devices/{device_id}/sys/commands/request_id={id})
// or a fleet's simdevice.Fleet; the device's reply on .../commands/response/request_id={id}
// reaches delivery.Path.Reply through the broker's reply intake and ends the wait; the
// Responses turn it into the platform's body and the Exchange journals the request.
//
// The batch executor delivers each createCommands subtask through the same commands.Backend,
// and creates each createMessages subtask's message through the same messages.Backend
// (batch.go).
// A device message goes HTTP -> messages.HTTPService -> messages.Backend, which caches it and
// publishes it through the same delivery.Path without awaiting a reply (messages.go:
// Publication.ReplyTopic empty, Publication.RequireSubscription for a custom topic); the
// Backend asks Path.Online and Path.Subscribed, and hears from Path.Watch when a device comes
// online or subscribes, to send what it kept for it. A simulated device sleeps by ending its
// session (simdevice.Sim.Sleep, Fleet.Sleep) and wakes by logging in again.
//
// Limits (limits.go) bound what any peer can make the mock read, hold or wait for.
package mockserver

import (
	"errors"
	"slices"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/admin"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/batchtask"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/simdevice"
)

// Server is a running mock platform.
type Server struct {
	opts     Options
	journal  *journal.Journal
	faults   *faults.Set
	api      *httpapi.API    // what every service's responses share
	http     *httpapi.Server // the listener and its routes
	registry *registry.Registry
	path     *delivery.Path
	commands *commands.Backend
	messages *messages.Backend
	// batch runs batch tasks (batch.go); set by Start.
	batch       *batchtask.Backend
	tls         httpapi.TLS // the certificate of HTTPS and MQTTS
	deviceState             // devices.go: the broker and the simulated devices
}

// New builds a mock platform from opts without starting it. It fails when a listener would
// bind beyond loopback without Options.AdminToken (see package admin), or without API
// credentials (Options.AuthToken or Options.Credentials).
func New(opts Options) (*Server, error) {
	opts = opts.withDefaults()
	if err := admin.CheckExposure(opts.AdminToken, listeners(&opts)...); err != nil {
		return nil, err
	}
	if err := checkAPIExposure(&opts); err != nil {
		return nil, err
	}
	st, err := httpapi.NewTLS(httpapi.TLSOptions{HTTPS: opts.TLS, MQTTS: opts.MQTTTLSAddr != "", Hosts: tlsHosts(&opts),
		Config: opts.TLSConfig})
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, journal: journal.New(opts.Now, opts.Limits.JournalMaxBytes), faults: faults.NewSet(), tls: st,
		registry: registry.New(registry.Limits{MaxDevices: opts.Limits.MaxDevices, MaxFleets: opts.Limits.MaxFleets})}
	s.path = delivery.New(s.registry, s.journal)
	s.commands = commands.New(commands.Config{Path: s.path, PlatformTimeout: opts.PlatformTimeout})
	s.messages = s.newMessages() // messages.go
	s.sims, s.fleets = make(map[string]*simdevice.Sim), make(map[string]*simdevice.Fleet)
	lim := opts.Limits
	s.api = httpapi.NewAPI(httpapi.Config{ProjectID: opts.ProjectID, Region: opts.Region, AuthToken: opts.AuthToken,
		Credentials: opts.Credentials, InstanceID: opts.InstanceID, MaxBodyBytes: lim.MaxBodyBytes,
		ReadTimeout: lim.HTTPReadTimeout, Now: opts.Now, Latency: opts.Latency}, s.journal, s.faults)
	adminAPI := admin.New(admin.Config{Token: opts.AdminToken, Platform: s, Journal: s.journal, Faults: s.faults, CAPEM: st.CAPEM})
	s.http = httpapi.NewServer(s.api, httpapi.ServerConfig{Addr: opts.HTTPAddr, TLS: st.HTTP,
		ReadHeaderTimeout: lim.HTTPReadHeaderTimeout, ReadTimeout: lim.HTTPReadTimeout, IdleTimeout: lim.HTTPIdleTimeout,
		MaxHeaderBytes: lim.MaxHeaderBytes, WriteTimeout: lim.HTTPWriteTimeout, MaxAnswerBytes: lim.MaxAnswerBytes,
		Logger: opts.Logger}, adminAPI,
		// The command API first: it is the hot path, and no other service's path is a command path.
		commands.NewResponses(s.api, s.commands, opts.Logger),
		messages.NewHTTPService(s.api, s.messages, opts.Logger),
		&batchAPI{api: s.api, s: s, maxBody: max(lim.MaxBodyBytes, maxBatchBodyBytes)})
	return s, nil
}

// tlsHosts are the names and addresses the generated certificate covers besides loopback:
// Options.TLSHosts, and the hosts clients can reach the TLS listeners by (for a listener bound
// to every interface, the machine's name and addresses).
func tlsHosts(opts *Options) []string {
	hosts := slices.Clone(opts.TLSHosts)
	if opts.TLS {
		hosts = append(hosts, httpapi.ListenHosts(opts.HTTPAddr)...)
	}
	if opts.MQTTTLSAddr != "" {
		hosts = append(hosts, httpapi.ListenHosts(opts.MQTTTLSAddr)...)
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
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
	s.noteEveryInterface()
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

// noteEveryInterface logs, when a listener binds every interface (0.0.0.0, ::), by which names
// clients elsewhere reach it: URL and MQTTAddr name it by the first, and the generated
// certificate covers them all.
func (s *Server) noteEveryInterface() {
	var every []string
	for _, l := range listeners(&s.opts) {
		if httpapi.ReachableAddr(l.Addr) != l.Addr {
			every = append(every, l.Name+" ("+l.Addr+")")
		}
	}
	if len(every) == 0 {
		return
	}
	s.opts.Logger.Info("listening on every interface: named by the machine's name or address, not 0.0.0.0; "+
		"clients on this machine can also use 127.0.0.1; a generated certificate covers these names, and tls_hosts "+
		"(Options.TLSHosts) adds others", "listeners", strings.Join(every, ", "),
		"reachable_as", strings.Join(httpapi.ListenHosts(":0"), ", "))
}

// Close stops the HTTP API, the simulated devices and the broker.
func (s *Server) Close() error {
	err := s.http.Close()
	if s.batch != nil {
		s.batch.Close()
	}
	s.messages.Close()
	return errors.Join(err, s.closeDevices())
}

// URL is the platform API's base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return s.http.URL() }

// ProjectID is the project the API accepts.
func (s *Server) ProjectID() string { return s.opts.ProjectID }

// Region is the region V11-HMAC-SHA256 signatures must be scoped to.
func (s *Server) Region() string { return s.opts.Region }

// CACertPEM is the PEM of the CA that signed the mock's HTTPS and MQTTS certificate, for
// clients to trust. It is empty without Options.TLS and Options.MQTTTLSAddr, or when
// Options.TLSConfig supplies the certificate.
func (s *Server) CACertPEM() string { return s.tls.CAPEM }
