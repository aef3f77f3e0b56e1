// Command iotda-mock runs the IoTDA mock platform on its own: the synchronous command API
// (POST /v5/iot/{project_id}/devices/{device_id}/commands), the device message API
// (/v5/iot/{project_id}/devices/{device_id}/messages: cached while a device sleeps, sent
// when it connects), the batch task API (/v5/iot/{project_id}/batchtasks: createCommands
// tasks, run through the same devices), an MQTT broker that devices connect to with IoTDA
// credentials (plain and, with -mqtt-tls, over TLS), simulated devices, and the admin API
// under /_mock/.
//
// Usage:
//
//	iotda-mock [-config file.json] [-http 127.0.0.1:8080] [-mqtt 127.0.0.1:1883]
//	           [-mqtt-tls 127.0.0.1:8883] [-project id] [-token token] [-timeout 20s]
//	           [-latency 100ms] [-tls] [-ca-out ca.pem]
//
// Once the API and the broker listen and every device is registered, it prints one line to
// standard output, for scripts to parse (devices= counts the registered devices, fleets'
// included; mqtts= appears only with an MQTTS listener):
//
//	iotda-mock: api=http://127.0.0.1:8080 mqtt=127.0.0.1:1883 mqtts=127.0.0.1:8883 project=mock-project region=cn-north-4 devices=1
//
// A listener bound to every interface (-http 0.0.0.0:8080) is named there by the machine's
// name when it resolves, else by one of its addresses, never by 0.0.0.0 or [::], which no
// client can use; a log line lists the names and addresses it can be reached by.
//
// Logs (one line per delivered command) go to standard error. SIGINT or SIGTERM stops it
// gracefully with exit status 0.
//
// # Configuration file
//
// Every field is optional; flags given on the command line override the file, and the
// flags' defaults apply when neither sets a value. See example-config.json.
//
//	{
//	  "project_id": "mock-project",          // the only project the API accepts
//	  "region": "cn-north-4",                // the region V11-HMAC-SHA256 scopes must name
//	  "auth_token": "mock-token",            // the accepted X-Auth-Token ("" disables tokens)
//	  "credentials": {"AK": "SK"},           // accepted AK/SK pairs for signed requests
//	  "instance_id": "",                     // when set, the required Instance-Id header
//	  "platform_timeout": "20s",             // how long a command waits for the device
//	  "redelivery_interval": "2s",           // wait for a PUBACK before resending (3 times)
//	  "http_addr": "127.0.0.1:8080",         // command API (and admin API) address
//	  "mqtt_addr": "127.0.0.1:1883",         // MQTT broker address
//	  "mqtt_tls_addr": "127.0.0.1:8883",     // MQTT over TLS, off when empty
//	  "tls": false,                          // HTTPS with a generated CA
//	  "tls_hosts": ["mock.example"],         // extra names for the HTTPS/MQTTS certificate
//	  "admin_token": "...",                  // required on /_mock/ (see below)
//	  "devices": [
//	    {"id": "lamp-1", "secret": "lamp-1-secret",
//	     "simulated": {"kind": "echo", "delay": "200ms"}},
//	    {"id": "meter-1",                    // sleeps 50 s, then online for 10 s, ...
//	     "simulated": {"sleep": "50s", "awake": "10s",
//	                   "subscribe": ["/device/message/down"]}}
//	  ],
//	  "fleets": [                            // sensor-1 .. sensor-10000, one behaviour
//	    {"prefix": "sensor-", "count": 10000, "secret": "fleet-secret",
//	     "behavior": {"kind": "echo"}}
//	  ],
//	  "groups": [                            // device groups for batch tasks' targets_filter
//	    {"id": "0a1b2c3d-0000-4000-8000-000000000001", "name": "first-floor",
//	     "device_ids": ["sensor-1", "sensor-2"]}
//	  ],
//	  "batch_concurrency": 200,              // batch subtasks delivered at once
//	  "batch_time_scale": 1,                 // multiplies task_policy.retry_interval
//	  "latency": "100ms",                    // simulated network delay per API answer
//	  "max_devices": 100000,                 // devices the mock holds, fleets' included
//	  "max_fleets": 100,                     // fleets the mock holds
//	  "message_time_scale": 1                // multiplies device messages' ttl
//	}
//
// With neither auth_token nor credentials, requests are not authenticated, which the mock
// allows only on loopback: when any listener binds another address it requires API
// credentials as it requires the admin token, and refuses to start without them. The
// IOTDA_MOCK_AUTH_TOKEN environment variable sets the token (overriding auth_token; -token
// overrides both, but a command line is visible to other local users).
//
// -latency (or "latency") delays every answer of the platform API, errors and faults
// included, to no sooner than that long after its request arrived, as from an IoTDA
// 30-300 ms away; requests wait independently, and the admin API does not wait.
//
// A device or fleet that would take the mock past max_devices (default 100,000, fleet
// devices included) or max_fleets (default 100) is refused: at start, the mock exits; at
// run time, the admin API answers 403 MOCK.000403. A device
// without "simulated" is offline until a real client connects as it; "simulated" takes
// kind ("reply", "echo" or "silent"), response (the reply for "reply"), result_code,
// delay (a Go duration), disconnect_after, subscribe (topic filters the device subscribes
// to: the custom topics of device messages) and sleep with awake (Go durations: the device
// stays online for awake, then offline for sleep, and so on, so that messages wait for it).
// A fleet's "behavior" takes the same, and its devices sleep and wake together; they are
// online from the start and cost a few hundred bytes each (secret default "secret-" + the
// device id).
//
// With -tls or -mqtt-tls the mock generates a CA and a certificate for 127.0.0.1, ::1,
// localhost, the host it listens on (for 0.0.0.0, the machine's name and addresses) and
// tls_hosts, which must name any other name clients use (a DNS alias); -ca-out writes the CA
// for clients to trust, so a device written
// for IoTDA's MQTTS port 8883 connects with only its address and CA file changed. The CA is
// valid for ten years and the server certificate for one, both from a day before the mock
// started (a client whose clock is behind still accepts them); the server certificate is
// renewed from the same CA a month before it ends, without a restart. A new start makes a
// new CA.
//
// # Admin API
//
// The admin API (GET/POST /_mock/devices, DELETE /_mock/devices/{id}, GET
// /_mock/devices/{id}/messages, POST /_mock/devices/{id}/sleep and .../wake, GET/POST
// /_mock/fleets, DELETE /_mock/fleets/{prefix}, GET/POST /_mock/groups, DELETE
// /_mock/groups/{id}, GET/DELETE /_mock/journal, GET/POST/DELETE /_mock/faults, GET
// /_mock/ca.pem) lets whoever can use it register devices, put them to sleep and inject
// faults. When any listener binds an address other than loopback, the
// mock requires an admin token and refuses to start without one; with a token (from the
// IOTDA_MOCK_ADMIN_TOKEN environment variable, else "admin_token" in the configuration
// file; never a flag, which other local users could read), every admin request must send
// "Authorization: Bearer <token>". The mock logs at start when it requires the token.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

func main() {
	tuneGC(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run starts the mock, prints the ready line, and serves until ctx ends. It returns the
// exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-mock:", err)
		return 2
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-mock:", err)
		return 2
	}
	opts, err := options(cfg, f, os.Getenv)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-mock:", err)
		return 2
	}
	logs := newLogWriter(stderr)
	defer func() { _ = logs.Close() }()
	logger := slog.New(slog.NewTextHandler(logs, nil))
	opts.Logger = logger

	s, err := mockserver.New(opts)
	if err != nil {
		logger.Error("cannot create the mock", "error", err)
		return 1
	}
	if err := s.Start(); err != nil {
		logger.Error("cannot start the mock", "error", err)
		return 1
	}
	if f.caOut != "" {
		if err := os.WriteFile(f.caOut, []byte(s.CACertPEM()), 0o600); err != nil {
			logger.Error("cannot write the CA certificate", "error", err)
			_ = s.Close()
			return 1
		}
	}
	mqtts := ""
	if addr := s.MQTTTLSAddr(); addr != "" {
		mqtts = " mqtts=" + addr
	}
	_, _ = fmt.Fprintf(stdout, "iotda-mock: api=%s mqtt=%s%s project=%s region=%s devices=%d\n",
		s.URL(), s.MQTTAddr(), mqtts, s.ProjectID(), s.Region(), len(s.Devices()))

	<-ctx.Done()
	logger.Info("shutting down")
	if err := s.Close(); err != nil {
		logger.Error("shutdown", "error", err)
		return 1
	}
	return 0
}
