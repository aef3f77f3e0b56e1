package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// TestOptions_LatencyAndDeviceLimits: -latency wins over the file's "latency", which wins
// over no delay; max_devices and max_fleets reach the mock's Limits; bad values are refused
// naming the setting.
func TestOptions_LatencyAndDeviceLimits(t *testing.T) {
	cfg := fileConfig{Latency: "250ms", MaxDevices: 500, MaxFleets: 3}
	f, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(cfg, f, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if o.Latency != 250*time.Millisecond || o.Limits.MaxDevices != 500 || o.Limits.MaxFleets != 3 {
		t.Errorf("from the file: latency %v, limits %+v", o.Latency, o.Limits)
	}
	if f, err = parseFlags([]string{"-latency", "100ms"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if o, err = options(cfg, f, noEnv); err != nil || o.Latency != 100*time.Millisecond {
		t.Errorf("-latency 100ms over the file: %v, %v", o.Latency, err)
	}
	if o, err = options(fileConfig{}, f, noEnv); err != nil || o.Latency != 100*time.Millisecond {
		t.Errorf("-latency 100ms alone: %v, %v", o.Latency, err)
	}
	noFlags, _ := parseFlags(nil, io.Discard)
	for _, tt := range []struct {
		cfg  fileConfig
		want string
	}{
		{fileConfig{Latency: "soon"}, "latency"},
		{fileConfig{Latency: "-1s"}, "latency"},
		{fileConfig{MaxDevices: -1}, "max_devices"},
		{fileConfig{MaxFleets: -1}, "max_fleets"},
	} {
		if _, err := options(tt.cfg, noFlags, noEnv); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error naming %s", tt.cfg, err, tt.want)
		}
	}
	if _, err := loadConfig(writeConfig(t, `{"latency":"100ms","max_devices":10,"max_fleets":1}`)); err != nil {
		t.Errorf("the file's fields: %v", err)
	}
}

// TestOptions_AuthTokenFromTheEnvironment: IOTDA_MOCK_AUTH_TOKEN overrides the file's
// auth_token and -token overrides both; with it, a mock beyond loopback is accepted.
func TestOptions_AuthTokenFromTheEnvironment(t *testing.T) {
	env := func(name string) string {
		return map[string]string{envAuthToken: "env-token", envAdminToken: "adm"}[name]
	}
	f, err := parseFlags([]string{"-http", "0.0.0.0:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := options(fileConfig{AuthToken: "file-token"}, f, env)
	if err != nil || o.AuthToken != "env-token" {
		t.Fatalf("auth token = %q, %v; want the environment's", o.AuthToken, err)
	}
	if _, err := mockserver.New(o); err != nil {
		t.Errorf("a mock beyond loopback with the environment's token and admin token: %v", err)
	}
	if f, err = parseFlags([]string{"-token", "flag-token"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if o, err = options(fileConfig{AuthToken: "file-token"}, f, env); err != nil || o.AuthToken != "flag-token" {
		t.Errorf("auth token = %q, %v; want the flag's", o.AuthToken, err)
	}
}

// TestRun_RefusesAnOpenAPIBeyondLoopback: with an admin token but no API credentials (no
// config file, or one without auth_token or credentials), a mock listening beyond loopback
// on its HTTP or MQTT side exits 1 and says how to set them.
func TestRun_RefusesAnOpenAPIBeyondLoopback(t *testing.T) {
	t.Setenv(envAdminToken, "adm")
	t.Setenv(envAuthToken, "")
	noCredentials := writeConfig(t, `{"project_id":"p"}`)
	for _, args := range [][]string{
		{"-http", "0.0.0.0:0", "-mqtt", "127.0.0.1:0"},
		{"-http", "127.0.0.1:0", "-mqtt", "0.0.0.0:0"},
		{"-config", noCredentials, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-mqtt-tls", ":0"},
	} {
		var stderr bytes.Buffer
		if code := run(t.Context(), args, io.Discard, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		for _, want := range []string{envAuthToken, `\"auth_token\"`, `\"credentials\"`, "-token"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%v: stderr does not name %s:\n%s", args, want, stderr.String())
			}
		}
	}
}

// TestBinary_Latency: the binary's -latency delays the platform API, not the admin API.
func TestBinary_Latency(t *testing.T) {
	const latency = 300 * time.Millisecond
	cfg := writeConfig(t, `{"auth_token":"tok","fleets":[{"prefix":"s-","count":1,"behavior":{"kind":"echo"}}]}`)
	p := startMock(t, "-config", cfg, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-latency", latency.String())
	start := time.Now()
	if status, body := postCommand(t, http.DefaultClient, p.ready["api"]+"/v5/iot/mock-project/devices/s-1/commands", "tok",
		`{"paras":{}}`); status != http.StatusOK {
		t.Fatalf("command: %d %s", status, body)
	}
	if took := time.Since(start); took < latency {
		t.Errorf("a command answered in %v, under -latency %v", took, latency)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}
