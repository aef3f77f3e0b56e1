// Command iotda-device is a device for the IoTDA mock (or IoTDA itself): it logs in over
// MQTT with a device id and secret, keeps one session, answers every command it is sent,
// printing each command and its reply, and prints every device message it receives. It is
// built from the mock's own simulated device, so it answers the way a simulated device does.
//
// Usage:
//
//	iotda-device -device-id ID [-secret SECRET] [-mqtt 127.0.0.1:1883] [-ca-file ca.pem | -tls]
//	             [-reply JSON | -raw-reply TEXT | -echo | -silent] [-result-code N] [-delay 500ms]
//	             [-subscribe TOPIC ...] [-sleep 30s -awake 5s]
//
// A message in the platform's standard format prints its id, name, topic and content; any
// other (payload_format raw, encoding base64) prints the whole payload, Go-quoted when it is
// not printable text. The device subscribes to each -subscribe topic (repeat the flag), the
// custom topics of messages sent with topic or topic_full_name; the platform sends its
// system topics without a subscription. With -sleep and -awake it sleeps like a
// battery-powered device: online for -awake, then offline for -sleep, and so on, so that
// messages wait in the platform's cache meanwhile.
//
// The secret may come from IOTDA_DEVICE_SECRET instead of -secret, which other local users
// can see. With -ca-file (or -tls, for a certificate the system trusts) it connects over
// TLS, as devices do on IoTDA's port 8883. The device answers with
// {"result_code":0,"response_name":"COMMAND_RESPONSE","paras":{"result":"success"}} unless
// told otherwise: -reply sets the JSON reply, -raw-reply a payload sent byte for byte
// (JSON or not, empty included), -echo answers with the command's own paras, -silent never
// answers; -result-code replaces result_code and -delay waits before answering.
//
// It logs in with signType 0 (client id {device_id}_0_0_{YYYYMMDDHH}), so the login stays
// valid whatever the clock says, and when the session ends it logs in again, after 1 s,
// then up to 30 s between attempts. It prints one line per event to standard output;
// SIGINT or SIGTERM stops it with exit status 0. It exits with status 1 when the broker
// refuses the device's credentials, 2 on bad flags.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, runs the device until ctx ends and returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-device:", err)
		return 2
	}
	var mu sync.Mutex // events come from the device's goroutines
	o.OnEvent = func(ev mockserver.DeviceEvent) {
		mu.Lock()
		defer mu.Unlock()
		printEvent(stdout, o.Addr, o.DeviceID, ev)
	}
	if err := mockserver.RunDevice(ctx, o); err != nil {
		_, _ = fmt.Fprintln(stderr, "iotda-device:", err)
		return 1
	}
	return 0
}

// printEvent writes one line about ev.
func printEvent(w io.Writer, addr, deviceID string, ev mockserver.DeviceEvent) {
	switch ev.Kind {
	case mockserver.DeviceEventConnected:
		_, _ = fmt.Fprintf(w, "iotda-device: connected to %s as %s (client id %s)\n", addr, deviceID, ev.ClientID)
	case mockserver.DeviceEventSubscribed:
		_, _ = fmt.Fprintf(w, "iotda-device: subscribed to %s\n", strings.Join(ev.Topics, ", "))
	case mockserver.DeviceEventCommand:
		dup := ""
		if ev.Dup {
			dup = " (redelivered)"
		}
		_, _ = fmt.Fprintf(w, "iotda-device: command request_id=%s%s %s\n", ev.RequestID, dup, ev.Command)
		if ev.Replied {
			_, _ = fmt.Fprintf(w, "iotda-device: replied request_id=%s %s\n", ev.RequestID, ev.Reply)
		} else {
			_, _ = fmt.Fprintf(w, "iotda-device: not answered request_id=%s\n", ev.RequestID)
		}
	case mockserver.DeviceEventMessage:
		printMessage(w, ev)
	case mockserver.DeviceEventAsleep:
		_, _ = fmt.Fprintf(w, "iotda-device: asleep; waking in %v\n", ev.Retry)
	case mockserver.DeviceEventDisconnected:
		_, _ = fmt.Fprintf(w, "iotda-device: disconnected (%v); connecting again in %v\n", ev.Err, ev.Retry)
	}
}

// printMessage writes one line about a message: what the device's SDK hands its message
// listener (a standard message's content) or its raw listener (the whole payload).
func printMessage(w io.Writer, ev mockserver.DeviceEvent) {
	m := ev.Message
	dup := ""
	if ev.Dup {
		dup = " (redelivered)"
	}
	if !m.Standard {
		_, _ = fmt.Fprintf(w, "iotda-device: message on %s%s (raw, %d bytes): %s\n", m.Topic, dup, len(m.Payload), m.Text())
		return
	}
	name := ""
	if m.Name != "" {
		name = " name=" + m.Name
	}
	_, _ = fmt.Fprintf(w, "iotda-device: message id=%s%s on %s%s: %s\n", m.ID, name, m.Topic, dup, m.Text())
}

// parseArgs turns the command line into the device's options.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (mockserver.DeviceOptions, error) {
	var (
		o                     mockserver.DeviceOptions
		secret, caFile, reply string
		rawReply              optionalString
		useTLS, echo, silent  bool
		resultCode            int
		delay, keepAlive      time.Duration
		sleep, awake          time.Duration
		subscribe             topicList
	)
	fs := flag.NewFlagSet("iotda-device", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "Usage: iotda-device -device-id ID [flags]\n\nConnects to IoTDA's MQTT broker (or the mock's) as a device, keeps one session,\n"+
			"answers every command and prints every message. The secret may come from IOTDA_DEVICE_SECRET.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Addr, "mqtt", "127.0.0.1:1883", "the MQTT broker's `host:port` (IoTDA: port 1883, or 8883 with TLS)")
	fs.StringVar(&o.DeviceID, "device-id", "", "the device id (required)")
	fs.StringVar(&secret, "secret", "", "the device secret (visible to other local users; prefer IOTDA_DEVICE_SECRET)")
	fs.StringVar(&caFile, "ca-file", "", "connect over TLS, trusting the CA certificates (PEM) in this `file`")
	fs.BoolVar(&useTLS, "tls", false, "connect over TLS, trusting the system's CA certificates")
	fs.StringVar(&reply, "reply", "", "answer every command with this `JSON` reply")
	fs.Var(&rawReply, "raw-reply", "answer every command with this `text`, byte for byte (JSON or not; \"\" sends an empty payload)")
	fs.BoolVar(&echo, "echo", false, "answer with the command's own paras: {\"result_code\":0,\"response_name\":<command_name>,\"paras\":<paras>}")
	fs.BoolVar(&silent, "silent", false, "never answer (the platform times out)")
	fs.IntVar(&resultCode, "result-code", 0, "replace result_code in the reply with this value (non-zero: the device reports a failure)")
	fs.DurationVar(&delay, "delay", 0, "wait this long before answering")
	fs.DurationVar(&keepAlive, "keepalive", time.Minute, "the MQTT keep-alive")
	fs.Var(&subscribe, "subscribe", "also subscribe to this `topic` (a message's custom topic; repeat for more)")
	fs.DurationVar(&sleep, "sleep", 0, "sleep like a battery-powered device: offline this long after each -awake period")
	fs.DurationVar(&awake, "awake", 0, "with -sleep, how long the device stays online each time it wakes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if o.DeviceID == "" {
		return o, errors.New("-device-id is required")
	}
	if secret == "" {
		secret = getenv("IOTDA_DEVICE_SECRET")
	}
	if secret == "" {
		return o, errors.New("the device secret is required: set IOTDA_DEVICE_SECRET (or -secret)")
	}
	o.Secret = secret
	modes := 0
	for _, set := range []bool{reply != "", rawReply.set, echo, silent} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		return o, errors.New("give one of -reply, -raw-reply, -echo and -silent")
	}
	switch {
	case reply != "":
		if !json.Valid([]byte(reply)) {
			return o, errors.New("-reply is not valid JSON (use -raw-reply to send a payload as it is)")
		}
		o.Behavior = mockserver.Behavior{Kind: mockserver.BehaviorReply, Response: json.RawMessage(reply)}
	case rawReply.set:
		if resultCode != 0 {
			return o, errors.New("-result-code cannot be set in a -raw-reply")
		}
		o.Behavior = mockserver.Behavior{Kind: mockserver.BehaviorReply, RawResponse: &rawReply.value}
	case echo:
		o.Behavior.Kind = mockserver.BehaviorEcho
	case silent:
		o.Behavior.Kind = mockserver.BehaviorSilent
	}
	if delay < 0 || keepAlive < time.Second {
		return o, errors.New("-delay must not be negative and -keepalive at least 1s")
	}
	o.Behavior.ResultCode, o.Behavior.Delay, o.KeepAlive = resultCode, delay, keepAlive
	o.Behavior.Subscribe, o.Behavior.Sleep, o.Behavior.Awake = subscribe, sleep, awake
	if err := o.Behavior.Validate(); err != nil {
		return o, fmt.Errorf("-sleep, -awake or -subscribe: %w", err)
	}
	if caFile != "" || useTLS {
		cfg, err := tlsConfig(caFile)
		if err != nil {
			return o, err
		}
		o.TLSConfig = cfg
	}
	return o, nil
}

// tlsConfig trusts the certificates in caFile, or the system's when it is "".
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("-ca-file: %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// topicList is a flag given once per topic.
type topicList []string

func (l *topicList) String() string { return strings.Join(*l, ",") }

func (l *topicList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// optionalString is a string flag that knows whether it was given, so that "" can be a
// value.
type optionalString struct {
	value string
	set   bool
}

func (s *optionalString) String() string { return s.value }

func (s *optionalString) Set(v string) error {
	s.value, s.set = v, true
	return nil
}
