package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// buildMock builds the binary once per test run.
var buildMock = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "iotda-mock-test")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "iotda-mock")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := buildMock(); err == nil {
		_ = os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// mockProcess is a running iotda-mock binary.
type mockProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	ready  map[string]string // the ready line's key=value fields
}

// syncBuffer is a bytes.Buffer safe for the exec package's copying goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startMock runs the binary with args and waits for its ready line.
func startMock(t *testing.T, args ...string) *mockProcess {
	t.Helper()
	return startMockEnv(t, nil, args...)
}

// startMockEnv is startMock with extra environment variables ("NAME=value").
func startMockEnv(t *testing.T, env []string, args ...string) *mockProcess {
	t.Helper()
	bin, err := buildMock()
	if err != nil {
		t.Fatal(err)
	}
	p := &mockProcess{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			line = ""
		}
		lines <- line
		_, _ = io.Copy(io.Discard, stdout) // keep the pipe drained until the process exits
	}()
	select {
	case line := <-lines:
		p.ready = parseReadyLine(t, line, p.stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("no ready line within 60 s; stderr:\n%s", p.stderr.String())
	}
	return p
}

func parseReadyLine(t *testing.T, line, stderr string) map[string]string {
	t.Helper()
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "iotda-mock: ")
	if !ok {
		t.Fatalf("ready line = %q; stderr:\n%s", line, stderr)
	}
	fields := map[string]string{}
	for _, kv := range strings.Fields(rest) {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	for _, k := range []string{"api", "mqtt", "project", "region", "devices"} {
		if fields[k] == "" {
			t.Fatalf("ready line %q lacks %s=", line, k)
		}
	}
	return fields
}

// stop sends SIGTERM and returns the exit code.
func (p *mockProcess) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(30 * time.Second):
		t.Fatalf("the mock did not stop within 30 s after SIGTERM; stderr:\n%s", p.stderr.String())
		return -1
	}
}

func postCommand(t *testing.T, client *http.Client, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestBinary_ServesAndStopsOnSIGTERM(t *testing.T) {
	cfg := writeConfig(t, `{"project_id":"bin-project","auth_token":"bin-token","platform_timeout":"5s",
		"devices":[{"id":"echo-1","secret":"echo-secret","simulated":{"kind":"echo"}}]}`)
	p := startMock(t, "-config", cfg, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0")
	if p.ready["project"] != "bin-project" || p.ready["devices"] != "1" || !strings.HasPrefix(p.ready["api"], "http://127.0.0.1:") ||
		!strings.HasPrefix(p.ready["mqtt"], "127.0.0.1:") || strings.HasSuffix(p.ready["mqtt"], ":1883") {
		t.Errorf("ready fields = %v", p.ready)
	}

	url := p.ready["api"] + "/v5/iot/bin-project/devices/echo-1/commands"
	status, body := postCommand(t, http.DefaultClient, url, "bin-token", `{"command_name":"PING","paras":{"n":12345678901234567890}}`)
	if status != http.StatusOK {
		t.Fatalf("command: %d %s", status, body)
	}
	var answer struct {
		CommandID string `json:"command_id"`
		Response  struct {
			Paras json.RawMessage `json:"paras"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &answer); err != nil || string(answer.Response.Paras) != `{"n":12345678901234567890}` {
		t.Errorf("answer = %s (%v)", body, err)
	}
	if status, body := postCommand(t, http.DefaultClient, url, "wrong", `{"paras":{}}`); status != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %s", status, body)
	}

	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d, want 0; stderr:\n%s", code, p.stderr.String())
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "command delivered") || !strings.Contains(logs, answer.CommandID) {
		t.Errorf("stderr lacks the delivery log line:\n%s", logs)
	}
	if strings.Contains(logs, "bin-token") || strings.Contains(logs, "echo-secret") {
		t.Errorf("stderr contains a secret:\n%s", logs)
	}
}

func TestBinary_TLSWritesTheCA(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	p := startMock(t, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-tls", "-ca-out", caFile, "-token", "tok")
	if !strings.HasPrefix(p.ready["api"], "https://") {
		t.Fatalf("api = %q, want https", p.ready["api"])
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s is not a PEM certificate", caFile)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	status, body := postCommand(t, client, p.ready["api"]+"/v5/iot/mock-project/devices/nobody/commands", "tok", `{"paras":{}}`)
	if status != http.StatusNotFound || !strings.Contains(string(body), "IOTDA.014000") {
		t.Errorf("command to an unknown device: %d %s", status, body)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func TestRun_ExitCodes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // nothing below may get as far as serving
	var stderr bytes.Buffer
	if code := run(ctx, []string{"-nope"}, io.Discard, &stderr); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code := run(ctx, []string{"-config", filepath.Join(t.TempDir(), "missing.json")}, io.Discard, &stderr); code != 2 {
		t.Errorf("missing config: exit %d", code)
	}
	if code := run(ctx, []string{"-help"}, io.Discard, &stderr); code != 0 {
		t.Errorf("-help: exit %d", code)
	}
	if !strings.Contains(stderr.String(), "-timeout") {
		t.Errorf("usage lacks the flags:\n%s", stderr.String())
	}
	if code := run(ctx, []string{"-http", "256.0.0.1:0", "-mqtt", "127.0.0.1:0"}, io.Discard, io.Discard); code != 1 {
		t.Errorf("unusable address: exit %d", code)
	}
}

func TestRun_StopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0"}, pw, io.Discard)
		_ = pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	ready := parseReadyLine(t, line, "")
	if ready["project"] != "mock-project" || ready["region"] != "cn-north-4" || ready["devices"] != "0" {
		t.Errorf("ready = %v", ready)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
}

func TestRun_RefusesToListenBeyondLoopbackWithoutAdminToken(t *testing.T) {
	t.Setenv("IOTDA_MOCK_ADMIN_TOKEN", "")
	for _, args := range [][]string{
		{"-http", "0.0.0.0:0", "-mqtt", "127.0.0.1:0"},
		{"-http", "127.0.0.1:0", "-mqtt", ":0"},
		{"-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-mqtt-tls", "0.0.0.0:0"},
	} {
		var stderr bytes.Buffer
		if code := run(t.Context(), args, io.Discard, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		if !strings.Contains(stderr.String(), "IOTDA_MOCK_ADMIN_TOKEN") || !strings.Contains(stderr.String(), "admin_token") {
			t.Errorf("%v: stderr does not say how to set the admin token:\n%s", args, stderr.String())
		}
	}
}

func TestBinary_AdminTokenFromTheEnvironment(t *testing.T) {
	const adminToken = "adm-from-env"
	cfg := writeConfig(t, `{"admin_token":"adm-from-file"}`)
	p := startMockEnv(t, []string{"IOTDA_MOCK_ADMIN_TOKEN=" + adminToken}, "-config", cfg, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0")
	get := func(authorization string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, p.ready["api"]+"/_mock/devices", nil)
		if err != nil {
			t.Fatal(err)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("admin API without a token: %d", got)
	}
	if got := get("Bearer adm-from-file"); got != http.StatusUnauthorized {
		t.Errorf("admin API with the file's token, which the environment overrides: %d", got)
	}
	if got := get("Bearer " + adminToken); got != http.StatusOK {
		t.Errorf("admin API with the token: %d", got)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
	logs := p.stderr.String()
	if !strings.Contains(logs, "requires the admin token") || strings.Contains(logs, adminToken) {
		t.Errorf("stderr should say the admin token is required, without it:\n%s", logs)
	}
}

// TestBinary_MQTTS: a device written for IoTDA's MQTTS port connects to the mock with only
// its address and CA file changed, and answers a command.
func TestBinary_MQTTS(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cfg := writeConfig(t, `{"auth_token":"tok","devices":[{"id":"meter-1","secret":"meter-secret"}]}`)
	p := startMock(t, "-config", cfg, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0", "-mqtt-tls", "127.0.0.1:0", "-ca-out", caFile)
	if !strings.HasPrefix(p.ready["mqtts"], "127.0.0.1:") || p.ready["mqtts"] == p.ready["mqtt"] ||
		!strings.HasPrefix(p.ready["api"], "http://") {
		t.Fatalf("ready fields = %v", p.ready)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s is not a PEM certificate", caFile)
	}
	cid, user, pass := mockserver.DeviceCredentials("meter-1", "meter-secret", time.Now())
	c := paho.NewClient(paho.NewClientOptions().AddBroker("ssl://" + p.ready["mqtts"]).
		SetTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}).
		SetClientID(cid).SetUsername(user).SetPassword(pass).SetProtocolVersion(4).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTTS connect: %v", tok.Error())
	}
	defer c.Disconnect(0)
	sub := c.Subscribe("$oc/devices/meter-1/sys/commands/#", 1, func(c paho.Client, m paho.Message) {
		c.Publish(strings.Replace(m.Topic(), "/commands/", "/commands/response/", 1), 1, false,
			`{"result_code":0,"paras":{"via":"mqtts"}}`)
	})
	if !sub.WaitTimeout(30*time.Second) || sub.Error() != nil {
		t.Fatalf("subscribe: %v", sub.Error())
	}
	status, body := postCommand(t, http.DefaultClient, p.ready["api"]+"/v5/iot/mock-project/devices/meter-1/commands", "tok", `{"paras":{}}`)
	if status != http.StatusOK || !strings.Contains(string(body), `"via":"mqtts"`) {
		t.Fatalf("command over MQTTS: %d %s", status, body)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func TestBinary_Fleets(t *testing.T) {
	cfg := writeConfig(t, `{"auth_token":"tok","devices":[{"id":"solo"}],
		"fleets":[{"prefix":"sensor-","count":2000,"behavior":{"kind":"echo"}},
		          {"prefix":"mute-","count":3,"secret":"m","behavior":{"kind":"silent"}}]}`)
	p := startMock(t, "-config", cfg, "-http", "127.0.0.1:0", "-mqtt", "127.0.0.1:0")
	if p.ready["devices"] != "2004" {
		t.Errorf("ready line counts %s devices, want 2004", p.ready["devices"])
	}
	url := p.ready["api"] + "/v5/iot/mock-project/devices/sensor-2000/commands"
	if status, body := postCommand(t, http.DefaultClient, url, "tok", `{"command_name":"PING","paras":{"n":1}}`); status != http.StatusOK ||
		!strings.Contains(string(body), `"paras":{"n":1}`) {
		t.Errorf("command to sensor-2000: %d %s", status, body)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, p.stderr.String())
	}
}
