package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// noEnv is an empty environment.
func noEnv(string) string { return "" }

func TestOptions_FlagsOverrideTheFile(t *testing.T) {
	path := writeConfig(t, `{"project_id":"file-project","auth_token":"file-token","platform_timeout":"3s","redelivery_interval":"500ms",
		"http_addr":"127.0.0.1:9000","mqtt_addr":"127.0.0.1:9001","region":"ap-southeast-1",
		"credentials":{"AK":"SK"},"instance_id":"inst","tls":true,"tls_hosts":["h"],
		"devices":[{"id":"d","simulated":{"kind":"echo","delay":"50ms"}}]}`)
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}

	f, err := parseFlags([]string{"-config", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.ProjectID != "file-project" || o.AuthToken != "file-token" || o.PlatformTimeout != 3*time.Second ||
		o.HTTPAddr != "127.0.0.1:9000" || o.MQTTAddr != "127.0.0.1:9001" || o.Region != "ap-southeast-1" ||
		o.Credentials["AK"] != "SK" || o.InstanceID != "inst" || !o.TLS || len(o.TLSHosts) != 1 ||
		o.RedeliveryInterval != 500*time.Millisecond {
		t.Errorf("file options = %+v", o)
	}
	if len(o.Devices) != 1 || o.Devices[0].Simulated == nil || o.Devices[0].Simulated.Kind != mockserver.BehaviorEcho ||
		o.Devices[0].Simulated.Delay != 50*time.Millisecond {
		t.Errorf("devices = %+v", o.Devices)
	}

	f, err = parseFlags([]string{"-config", path, "-project", "flag-project", "-token", "flag-token",
		"-timeout", "1s", "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-tls=false"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err = options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.ProjectID != "flag-project" || o.AuthToken != "flag-token" || o.PlatformTimeout != time.Second ||
		o.HTTPAddr != "127.0.0.1:0" || o.MQTTAddr != "127.0.0.1:0" || o.TLS {
		t.Errorf("flag options = %+v", o)
	}
}

func TestOptions_Defaults(t *testing.T) {
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(fileConfig{}, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.HTTPAddr != defaultHTTPAddr || o.MQTTAddr != defaultMQTTAddr || o.PlatformTimeout != mockserver.DefaultPlatformTimeout ||
		o.TLS || o.ProjectID != "" {
		t.Errorf("default options = %+v", o)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, content := range map[string]string{
		"unknown field":     `{"project":"p"}`,
		"not json":          `project_id = "p"`,
		"trailing data":     `{} {}`,
		"bad device delay":  `{"devices":[{"id":"d","simulated":{"delay":"soon"}}]}`,
		"misspelt behavior": `{"devices":[{"id":"d","simulated":{"knd":"echo"}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadConfig(writeConfig(t, content)); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := loadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("missing file: no error")
	}

	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := options(fileConfig{PlatformTimeout: "twenty"}, f, noEnv); err == nil {
		t.Error("bad platform_timeout: no error")
	}
	for _, bad := range []string{"soon", "0s", "-2s"} {
		if _, err := options(fileConfig{RedeliveryInterval: bad}, f, noEnv); err == nil || !strings.Contains(err.Error(), "redelivery_interval") {
			t.Errorf("redelivery_interval %q: %v, want an error naming it", bad, err)
		}
	}
	f.caOut = "ca.pem"
	if _, err := options(fileConfig{}, f, noEnv); err == nil || !strings.Contains(err.Error(), "-tls") ||
		!strings.Contains(err.Error(), "-mqtt-tls") {
		t.Errorf("-ca-out without TLS: %v", err)
	}
	if _, err := options(fileConfig{MQTTTLSAddr: "127.0.0.1:8883"}, f, noEnv); err != nil {
		t.Errorf("-ca-out with only MQTTS: %v", err)
	}
	f, err = parseFlags([]string{"-timeout", "-1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := options(fileConfig{}, f, noEnv); err == nil {
		t.Error("negative timeout: no error")
	}
	if _, err := parseFlags([]string{"extra"}, io.Discard); err == nil {
		t.Error("positional argument: no error")
	}
	if _, err := parseFlags([]string{"-help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-help: %v", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := loadConfig("example-config.json")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	// The example must run as is: start it on free ports.
	o.HTTPAddr, o.MQTTAddr = "127.0.0.1:0", "127.0.0.1:0"
	s := mockserver.NewForTest(t, o)
	want := len(cfg.Devices)
	for _, f := range cfg.Fleets {
		want += f.Count
	}
	if n := len(s.Devices()); n != want || len(cfg.Devices) == 0 || len(cfg.Fleets) == 0 {
		t.Errorf("%d devices registered, want %d, and the example to show devices and a fleet", n, want)
	}
}

func TestLoadConfig_Fleets(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `{"fleets":[{"prefix":"s-","count":3,"secret":"x","behavior":{"kind":"reply","delay":"5ms","result_code":2}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := mockserver.Fleet{Prefix: "s-", Count: 3, Secret: "x", Behavior: mockserver.Behavior{Kind: mockserver.BehaviorReply, Delay: 5 * time.Millisecond, ResultCode: 2}}
	if len(o.Fleets) != 1 || o.Fleets[0].Prefix != want.Prefix || o.Fleets[0].Count != want.Count || o.Fleets[0].Secret != want.Secret ||
		o.Fleets[0].Behavior.Kind != want.Behavior.Kind || o.Fleets[0].Behavior.Delay != want.Behavior.Delay || o.Fleets[0].Behavior.ResultCode != 2 {
		t.Errorf("fleets = %+v, want [%+v]", o.Fleets, want)
	}
	if _, err := loadConfig(writeConfig(t, `{"fleets":[{"prefix":"s-","count":3,"behaviour":{}}]}`)); err == nil {
		t.Error("a misspelt fleet field was accepted")
	}
}

func TestOptions_MQTTSAndAdminToken(t *testing.T) {
	path := writeConfig(t, `{"mqtt_tls_addr":"127.0.0.1:18883","admin_token":"file-admin"}`)
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFlags([]string{"-config", path}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.MQTTTLSAddr != "127.0.0.1:18883" || o.AdminToken != "file-admin" {
		t.Errorf("file: MQTTS %q, admin token %q", o.MQTTTLSAddr, o.AdminToken)
	}

	// The environment overrides the file's admin token; a flag overrides the MQTTS address.
	env := map[string]string{"IOTDA_MOCK_ADMIN_TOKEN": "env-admin"}
	f, err = parseFlags([]string{"-config", path, "-mqtt-tls", "127.0.0.1:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err = options(cfg, f, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if o.MQTTTLSAddr != "127.0.0.1:0" || o.AdminToken != "env-admin" {
		t.Errorf("flag and environment: MQTTS %q, admin token %q", o.MQTTTLSAddr, o.AdminToken)
	}

	// MQTTS is off by default, and the admin token is never a flag.
	f, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := options(fileConfig{}, f, noEnv); err != nil || o.MQTTTLSAddr != "" || o.AdminToken != "" {
		t.Errorf("defaults: MQTTS %q, admin token %q, %v", o.MQTTTLSAddr, o.AdminToken, err)
	}
	for _, flagName := range []string{"-admin-token", "-admin_token", "-admintoken"} {
		if _, err := parseFlags([]string{flagName, "x"}, io.Discard); err == nil {
			t.Errorf("%s is accepted as a flag", flagName)
		}
	}
}

func TestLoadConfig_GroupsAndBatchSettings(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, `{"groups":[{"id":"aa-1","name":"g","device_ids":["d1","d2"]}],`+
		`"batch_concurrency":7,"batch_time_scale":0.001,"message_time_scale":0.01}`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Groups) != 1 || o.Groups[0].ID != "aa-1" || len(o.Groups[0].DeviceIDs) != 2 ||
		o.BatchConcurrency != 7 || o.BatchTimeScale != 0.001 || o.MessageTimeScale != 0.01 {
		t.Errorf("options %+v %+v", o.Groups, o)
	}
	if _, err := loadConfig(writeConfig(t, `{"groups":[{"id":"aa-1","devices":["d1"]}]}`)); err == nil {
		t.Error("a misspelt group field was accepted")
	}
	for _, bad := range []string{`{"batch_concurrency":-1}`, `{"batch_time_scale":-2}`, `{"message_time_scale":-1}`} {
		cfg, err := loadConfig(writeConfig(t, bad))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := options(cfg, f, noEnv); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
