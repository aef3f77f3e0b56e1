package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// fileConfig is the JSON configuration file. Every field is optional.
type fileConfig struct {
	ProjectID       string            `json:"project_id"`
	Region          string            `json:"region"`
	AuthToken       string            `json:"auth_token"`
	Credentials     map[string]string `json:"credentials"`
	InstanceID      string            `json:"instance_id"`
	PlatformTimeout string            `json:"platform_timeout"`
	// RedeliveryInterval is the wait for a device's PUBACK before a command is resent.
	RedeliveryInterval string              `json:"redelivery_interval"`
	HTTPAddr           string              `json:"http_addr"`
	MQTTAddr           string              `json:"mqtt_addr"`
	MQTTTLSAddr        string              `json:"mqtt_tls_addr"`
	TLS                bool                `json:"tls"`
	TLSHosts           []string            `json:"tls_hosts"`
	Devices            []mockserver.Device `json:"devices"`
	// Fleets are many simulated devices each: an id prefix, a count and one behaviour.
	Fleets []mockserver.Fleet `json:"fleets"`
	// AdminToken is required on the admin API; see envAdminToken.
	AdminToken string `json:"admin_token"`
	// Groups are device groups that batch tasks can target (targets_filter.group_ids).
	Groups []mockserver.Group `json:"groups"`
	// BatchConcurrency bounds the batch task subtasks delivered at once.
	BatchConcurrency int `json:"batch_concurrency"`
	// BatchTimeScale multiplies batch tasks' retry_interval (minutes); 1 is real time.
	BatchTimeScale float64 `json:"batch_time_scale"`
	// Latency is a simulated network delay on every platform API answer, e.g. "100ms".
	Latency string `json:"latency"`
	// MaxDevices and MaxFleets bound the devices (fleets' included) and fleets the mock
	// holds; 0 keeps the defaults (mockserver.Limits).
	MaxDevices int `json:"max_devices"`
	MaxFleets  int `json:"max_fleets"`
	// MessageTimeScale multiplies device messages' ttl (minutes); 1 is real time.
	MessageTimeScale float64 `json:"message_time_scale"`
}

// envAdminToken names the environment variable that sets the admin token, overriding the
// configuration file. There is deliberately no flag: a command line is visible to every
// local user.
const envAdminToken = "IOTDA_MOCK_ADMIN_TOKEN"

// envAuthToken names the environment variable that sets the platform API's X-Auth-Token,
// overriding the configuration file; -token overrides both. It is how to give a mock that
// listens beyond loopback its required API credentials without a file or a command line
// that other local users can read.
const envAuthToken = "IOTDA_MOCK_AUTH_TOKEN"

// flags are the command line settings. Only the flags given on the command line override
// the configuration file; the defaults apply when neither sets a value.
type flags struct {
	config  string
	http    string
	mqtt    string
	mqtts   string
	project string
	token   string
	timeout time.Duration
	latency time.Duration
	tls     bool
	caOut   string
	set     map[string]bool // names of the flags given on the command line
}

const (
	defaultHTTPAddr = "127.0.0.1:8080"
	defaultMQTTAddr = "127.0.0.1:1883"
)

// parseFlags parses args. It returns flag.ErrHelp for -help.
func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("iotda-mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "Usage: iotda-mock [flags]\n\nRuns the IoTDA mock platform: the command API, "+
			"the MQTT broker and simulated devices.\nFlags override the configuration file.\n\n"+
			"Environment: "+envAdminToken+" sets the admin API's token, "+envAuthToken+" the platform API's\n"+
			"X-Auth-Token. Listening beyond loopback requires both (or AK/SK credentials in the file).\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.config, "config", "", "JSON configuration `file` (see example-config.json)")
	fs.StringVar(&f.http, "http", defaultHTTPAddr, "platform API and admin API listen `address` (port 0 picks a free "+
		"port; 0.0.0.0 listens on every interface, named by the machine's name in the ready line)")
	fs.StringVar(&f.mqtt, "mqtt", defaultMQTTAddr, "MQTT broker listen `address` (port 0 picks a free port)")
	fs.StringVar(&f.mqtts, "mqtt-tls", "", "also serve MQTT over TLS on this `address` (IoTDA's port is 8883), "+
		"with a certificate from the generated CA (see -ca-out)")
	fs.StringVar(&f.project, "project", "", "the project id the API accepts (default \"mock-project\")")
	fs.StringVar(&f.token, "token", "", "the X-Auth-Token the API accepts (visible to other local users; prefer "+
		envAuthToken+" or the config file). Required, or AK/SK credentials, when a listener binds beyond loopback")
	fs.DurationVar(&f.timeout, "timeout", mockserver.DefaultPlatformTimeout, "platform timeout: how long a command waits for the device")
	fs.DurationVar(&f.latency, "latency", 0, "simulated network `delay`: every platform API answer is written no sooner "+
		"than this after its request arrived (e.g. 100ms; IoTDA is 30-300 ms away); the admin API is not delayed")
	fs.BoolVar(&f.tls, "tls", false, "serve the API over HTTPS with a certificate from a CA the mock generates, for "+
		"localhost, 127.0.0.1, ::1, the listen address (for 0.0.0.0: the machine's name and addresses) and the config "+
		"file's tls_hosts, where any other name clients use goes (CA valid 10 years, server certificate 1 year and "+
		"renewed 30 days before it ends, both backdated a day for clock skew)")
	fs.StringVar(&f.caOut, "ca-out", "", "with -tls or -mqtt-tls, write the generated CA certificate (PEM) to this `file`")
	if err := fs.Parse(args); err != nil {
		return flags{}, err
	}
	if fs.NArg() > 0 {
		return flags{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	return f, nil
}

// loadConfig reads the configuration file, rejecting unknown fields so that a misspelt
// setting is not silently ignored.
func loadConfig(path string) (fileConfig, error) {
	var c fileConfig
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if dec.More() {
		return c, fmt.Errorf("config %s: unexpected data after the JSON object", path)
	}
	return c, nil
}

// options merges the file, the flags and the environment: a flag given on the command line
// wins, then the file, then the flag's default. The admin token comes from the environment
// (getenv), else the file.
func options(c fileConfig, f flags, getenv func(string) string) (mockserver.Options, error) {
	o := mockserver.Options{
		ProjectID:   c.ProjectID,
		Region:      c.Region,
		AuthToken:   c.AuthToken,
		Credentials: c.Credentials,
		InstanceID:  c.InstanceID,
		HTTPAddr:    pick(f.set["http"], f.http, c.HTTPAddr),
		MQTTAddr:    pick(f.set["mqtt"], f.mqtt, c.MQTTAddr),
		MQTTTLSAddr: pick(f.set["mqtt-tls"], f.mqtts, c.MQTTTLSAddr),
		TLS:         c.TLS,
		TLSHosts:    c.TLSHosts,
		AdminToken:  c.AdminToken,
		Devices:     c.Devices,
		Fleets:      c.Fleets,
		Groups:      c.Groups,

		BatchConcurrency: c.BatchConcurrency,
		BatchTimeScale:   c.BatchTimeScale,
		Limits:           mockserver.Limits{MaxDevices: c.MaxDevices, MaxFleets: c.MaxFleets},
		MessageTimeScale: c.MessageTimeScale,
	}
	if c.BatchConcurrency < 0 {
		return o, errors.New("config: batch_concurrency must be positive (or 0 for the default)")
	}
	if c.BatchTimeScale < 0 {
		return o, errors.New("config: batch_time_scale must be positive (or 0 for real time)")
	}
	if c.MaxDevices < 0 || c.MaxFleets < 0 {
		return o, errors.New("config: max_devices and max_fleets must be positive (or 0 for the defaults)")
	}
	if c.MessageTimeScale < 0 {
		return o, errors.New("config: message_time_scale must be positive (or 0 for real time)")
	}
	if v := getenv(envAdminToken); v != "" {
		o.AdminToken = v
	}
	if v := getenv(envAuthToken); v != "" {
		o.AuthToken = v
	}
	if f.set["tls"] {
		o.TLS = f.tls
	}
	if f.set["project"] {
		o.ProjectID = f.project
	}
	if f.set["token"] {
		o.AuthToken = f.token
	}
	if err := durations(&o, c, f); err != nil {
		return o, err
	}
	if f.caOut != "" && !o.TLS && o.MQTTTLSAddr == "" {
		return o, errors.New("-ca-out needs -tls or -mqtt-tls (or \"tls\": true or \"mqtt_tls_addr\" in the config)")
	}
	return o, nil
}

// durations sets the platform timeout, the redelivery interval and the latency: a flag
// given on the command line wins, then the file, then the flag's default.
func durations(o *mockserver.Options, c fileConfig, f flags) error {
	fromFile := func(name, value string, flagSet bool, into *time.Duration) error {
		if value == "" || flagSet {
			return nil
		}
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("config: %s: %w", name, err)
		}
		*into = d
		return nil
	}
	o.PlatformTimeout, o.Latency = f.timeout, f.latency
	err := errors.Join(fromFile("platform_timeout", c.PlatformTimeout, f.set["timeout"], &o.PlatformTimeout),
		fromFile("redelivery_interval", c.RedeliveryInterval, false, &o.RedeliveryInterval),
		fromFile("latency", c.Latency, f.set["latency"], &o.Latency))
	switch {
	case err != nil:
		return err
	case o.PlatformTimeout <= 0:
		return errors.New("the platform timeout must be positive")
	case c.RedeliveryInterval != "" && o.RedeliveryInterval <= 0:
		return errors.New("config: redelivery_interval must be positive")
	case o.Latency < 0:
		return errors.New("the latency must not be negative")
	}
	return nil
}

// pick returns the flag's value when it was given, else the file's value when set, else
// the flag's default.
func pick(flagSet bool, flagValue, fileValue string) string {
	if flagSet || fileValue == "" {
		return flagValue
	}
	return fileValue
}
