package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// benchToken is the X-Auth-Token every mock under test accepts.
const benchToken = "bench-token"

// mock is a mock platform to measure: built from a tree, or run in this process.
type mock struct {
	name  string
	start func(ctx context.Context, c config) (target, func() error, error)
}

// prepareMocks builds what -base and -inprocess ask for.
func prepareMocks(ctx context.Context, c config, dir string) ([]mock, error) {
	if c.inprocess {
		return []mock{{name: "working tree (in process)", start: startInProcess}}, nil
	}
	var mocks []mock
	for _, b := range c.bins {
		path, err := filepath.Abs(b.path)
		if err != nil {
			return nil, err
		}
		mocks = append(mocks, mock{name: b.name, start: processStarter(path, dir)})
	}
	if c.base != "" {
		bin, err := buildAt(ctx, c, c.base, filepath.Join(dir, "base"))
		if err != nil {
			return nil, err
		}
		mocks = append(mocks, mock{name: "base " + c.base, start: processStarter(bin, dir)})
	}
	bin, err := buildAt(ctx, c, "", filepath.Join(dir, "current"))
	if err != nil {
		return nil, err
	}
	return append(mocks, mock{name: "working tree", start: processStarter(bin, dir)}), nil
}

// buildAt builds the standalone mock into out: from the work tree when ref is "", else
// from the tree of ref, exported with git archive.
func buildAt(ctx context.Context, c config, ref, out string) (string, error) {
	src := c.repo
	if ref != "" {
		src = out + "-src"
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
		archive := exec.CommandContext(ctx, "git", "-C", c.repo, "archive", "--format=tar", ref)
		var tarball bytes.Buffer
		archive.Stdout = &tarball
		archive.Stderr = c.stderr
		if err := archive.Run(); err != nil {
			return "", fmt.Errorf("git archive %s: %w", ref, err)
		}
		untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
		untar.Stdin = &tarball
		untar.Stderr = c.stderr
		if err := untar.Run(); err != nil {
			return "", fmt.Errorf("unpack %s: %w", ref, err)
		}
	}
	bin := filepath.Join(out, "iotda-mock")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./internal/cmd/iotda-mock")
	build.Dir = src
	if output, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the mock at %q: %w\n%s", orWorkTree(ref), err, output)
	}
	return bin, nil
}

func orWorkTree(ref string) string {
	if ref == "" {
		return "the working tree"
	}
	return ref
}

// benchConfig is the mock's configuration file: token authentication, c.devices echo
// devices (simulated MQTT clients, or one fleet).
func benchConfig(c config) ([]byte, []string) {
	ids := deviceIDs(c.devices)
	cfg := map[string]any{
		"auth_token": benchToken, "http_addr": "127.0.0.1:0", "mqtt_addr": "127.0.0.1:0", "platform_timeout": "20s",
	}
	if c.fleet {
		cfg["fleets"] = []mockserver.Fleet{{Prefix: "bench-", Count: c.devices, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	} else {
		devices := make([]mockserver.Device, 0, len(ids))
		for _, id := range ids {
			devices = append(devices, mockserver.Device{ID: id, Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}})
		}
		cfg["devices"] = devices
	}
	b, _ := json.Marshal(cfg) // plain maps, slices and strings always encode
	return b, ids
}

// deviceIDs are bench-1 .. bench-n, as a fleet with prefix "bench-" names them.
func deviceIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "bench-" + strconv.Itoa(i+1)
	}
	return ids
}

// processStarter runs a built mock with the bench configuration and waits for its ready
// line. Its logs go to a file beside the build, read back when it fails.
func processStarter(bin, dir string) func(context.Context, config) (target, func() error, error) {
	return func(ctx context.Context, c config) (target, func() error, error) {
		data, ids := benchConfig(c)
		cfgPath := filepath.Join(dir, "config.json")
		if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
			return target{}, nil, err
		}
		logPath := filepath.Join(dir, filepath.Base(filepath.Dir(bin))+"-mock.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			return target{}, nil, err
		}
		cmd := exec.Command(bin, "-config", cfgPath) //nolint:gosec // our own build
		cmd.Stderr = logFile
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			_ = logFile.Close()
			return target{}, nil, err
		}
		if err := cmd.Start(); err != nil {
			_ = logFile.Close()
			return target{}, nil, err
		}
		stop := func() error {
			defer func() { _ = logFile.Close() }()
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					return fmt.Errorf("the mock exited with %w; its log: %s", err, logPath)
				}
				return nil
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				return fmt.Errorf("the mock did not stop within 30 s of SIGTERM (%w); its log: %s", <-done, logPath)
			}
		}
		line := make(chan string, 1)
		go func() {
			l, _ := bufio.NewReader(stdout).ReadString('\n')
			line <- l
			_, _ = io.Copy(io.Discard, stdout)
		}()
		var ready string
		select {
		case ready = <-line:
		case <-time.After(2 * time.Minute):
		case <-ctx.Done():
		}
		api, project := readyField(ready, "api"), readyField(ready, "project")
		if api == "" || project == "" {
			_ = stop()
			log, _ := os.ReadFile(logPath)
			return target{}, nil, fmt.Errorf("no ready line from %s (%q); its log:\n%s", bin, ready, log)
		}
		pid := cmd.Process.Pid
		return target{api: api, project: project, token: benchToken, devices: ids,
			cpu: func() time.Duration { return pidCPU(pid) }}, stop, nil
	}
}

// readyField returns key's value in the mock's ready line, or "".
func readyField(line, key string) string {
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// startInProcess runs the working tree's mock in this process with the same
// configuration as the standalone one, logging nothing.
func startInProcess(_ context.Context, c config) (target, func() error, error) {
	_, ids := benchConfig(c)
	opts := mockserver.Options{AuthToken: benchToken, PlatformTimeout: 20 * time.Second}
	if c.fleet {
		opts.Fleets = []mockserver.Fleet{{Prefix: "bench-", Count: c.devices, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
	} else {
		for _, id := range ids {
			opts.Devices = append(opts.Devices, mockserver.Device{ID: id, Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}})
		}
	}
	s, err := mockserver.New(opts)
	if err != nil {
		return target{}, nil, err
	}
	if err := s.Start(); err != nil {
		return target{}, nil, err
	}
	if s.URL() == "" {
		_ = s.Close()
		return target{}, nil, errors.New("the in-process mock has no URL")
	}
	return target{api: s.URL(), project: s.ProjectID(), token: benchToken, devices: ids}, s.Close, nil
}
