package iotda_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// These tests run the client against the mock platform for the "safe retries" issue: the
// command API is not idempotent, so every fault must deliver a command at most once, and a
// retry may only happen where the platform provably did not take the command. Each test
// checks the mock's journal (requests and deliveries), not only the client's error.

const (
	mockToken   = "mock-token-SECRET-3c1d"
	mockAK      = "MOCKAK0001"
	mockSK      = "mock-sk-SECRET-a9f2"
	echoID      = "echo-1"
	mockRetries = 2
)

// echoDevice is a simulated device that answers every command with its own paras.
func echoDevice(id string) mockserver.Device {
	return mockserver.Device{ID: id, Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}}
}

// newMock starts a mock with token authentication and one echo device, then applies mutate.
func newMock(t testing.TB, mutate func(*mockserver.Options)) *mockserver.Server {
	t.Helper()
	opts := mockserver.Options{AuthToken: mockToken, Devices: []mockserver.Device{echoDevice(echoID)}}
	if mutate != nil {
		mutate(&opts)
	}
	return mockserver.NewForTest(t, opts)
}

// newClient builds a token client for s, then applies mutate.
func newClient(t testing.TB, s *mockserver.Server, mutate func(*iotda.Config)) *iotda.Client {
	t.Helper()
	cfg := iotda.Config{Endpoint: s.URL(), Region: s.Region(), ProjectID: s.ProjectID(), AuthToken: mockToken,
		MaxRetries: mockRetries, UserAgent: "iotda-mock-integration/1.0"}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := iotda.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// echoCommand is a command whose paras keep exact bytes only a byte-for-byte path preserves.
func echoCommand(deviceID string) iotda.Command {
	return iotda.Command{DeviceID: deviceID, ServiceID: "Echo", CommandName: "ECHO",
		Paras: json.RawMessage(`{"big":12345678901234567890,"f":1.50,"s":"<ü>"}`)}
}

// tally counts the journal's requests and deliveries for deviceID.
func tally(s *mockserver.Server, deviceID string) (requests, deliveries []mockserver.Entry) {
	for _, e := range s.Journal() {
		switch {
		case e.DeviceID != deviceID:
		case e.Kind == mockserver.EntryRequest:
			requests = append(requests, e)
		case e.Kind == mockserver.EntryDelivery:
			deliveries = append(deliveries, e)
		}
	}
	return requests, deliveries
}

// assertJournal checks the number of requests and deliveries for deviceID and returns them.
func assertJournal(t *testing.T, s *mockserver.Server, deviceID string, wantRequests, wantDeliveries int) (
	requests, deliveries []mockserver.Entry,
) {
	t.Helper()
	requests, deliveries = tally(s, deviceID)
	if len(requests) != wantRequests || len(deliveries) != wantDeliveries {
		t.Fatalf("journal for %s: %d requests, %d deliveries; want %d and %d", deviceID,
			len(requests), len(deliveries), wantRequests, wantDeliveries)
	}
	return requests, deliveries
}

// waitFaulted waits until the request that met a fault is journaled: a fault that takes over
// the connection (or outlives the client) journals its request only after the client has its error.
func waitFaulted(t *testing.T, s *mockserver.Server) mockserver.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e, err := s.WaitJournal(ctx, func(e mockserver.Entry) bool {
		return e.Kind == mockserver.EntryRequest && e.Fault != ""
	})
	if err != nil {
		t.Fatalf("the faulted request was never journaled: %v", err)
	}
	return e
}

// echoParas extracts paras from an echo device's reply.
func echoParas(t *testing.T, response json.RawMessage) json.RawMessage {
	t.Helper()
	var r struct {
		ResultCode   int             `json:"result_code"`
		ResponseName string          `json:"response_name"`
		Paras        json.RawMessage `json:"paras"`
	}
	if err := json.Unmarshal(response, &r); err != nil || r.ResultCode != 0 || r.ResponseName != "ECHO" {
		t.Fatalf("echo reply %s: %+v, %v", response, r, err)
	}
	return r.Paras
}

func TestMock_DeliversOnceWithExactBytes(t *testing.T) {
	t.Parallel()
	s := newMock(t, nil)
	cmd := echoCommand(echoID)
	res, err := newClient(t, s, nil).CreateCommand(t.Context(), cmd)
	if err != nil {
		t.Fatalf("CreateCommand: %v", err)
	}
	if got := echoParas(t, res.Response); string(got) != string(cmd.Paras) {
		t.Fatalf("echoed paras %s, want %s", got, cmd.Paras)
	}
	requests, deliveries := assertJournal(t, s, echoID, 1, 1)
	req, del := requests[0], deliveries[0]
	if res.CommandID == "" || res.CommandID != del.CommandID || res.CommandID != req.CommandID ||
		res.RequestID != req.RequestID || res.StatusCode != http.StatusOK || req.Status != http.StatusOK {
		t.Fatalf("result %+v does not match request %+v / delivery %+v", res, req, del)
	}
	if !strings.Contains(string(del.Body), string(cmd.Paras)) {
		t.Fatalf("delivered %s, want paras %s byte for byte", del.Body, cmd.Paras)
	}
	if got := req.Header["X-Auth-Token"]; len(got) != 1 || got[0] != "***" {
		t.Fatalf("X-Auth-Token in journal = %q, want it sent (and masked)", got)
	}
}

// faultCase is one injected fault and what the client and the journal must show.
type faultCase struct {
	name                 string
	fault                mockserver.Fault
	timeout              time.Duration // of the CreateCommand context; 0 for none
	requests, deliveries int
	check                func(t *testing.T, err error, journaled mockserver.Entry)
}

// unknownOutcome expects a *DeliveryUnknownError wrapping cause (when set).
func unknownOutcome(cause error, wantRequestID bool) func(*testing.T, error, mockserver.Entry) {
	return func(t *testing.T, err error, e mockserver.Entry) {
		t.Helper()
		var unknown *iotda.DeliveryUnknownError
		if !errors.As(err, &unknown) {
			t.Fatalf("err = %T %v, want *DeliveryUnknownError", err, err)
		}
		if cause != nil && !errors.Is(err, cause) {
			t.Fatalf("err = %v, want it to wrap %v", err, cause)
		}
		if wantRequestID && unknown.RequestID != e.RequestID {
			t.Fatalf("RequestID = %q, want the journaled %q", unknown.RequestID, e.RequestID)
		}
		if strings.Contains(err.Error(), mockToken) {
			t.Fatalf("error leaks the token: %v", err)
		}
	}
}

// serverError expects an *APIError for status that the mock journaled.
func serverError(status int) func(*testing.T, error, mockserver.Entry) {
	return func(t *testing.T, err error, e mockserver.Entry) {
		t.Helper()
		var apiErr *iotda.APIError
		if !errors.As(err, &apiErr) || !errors.Is(err, iotda.ErrServer) || errors.Is(err, iotda.ErrThrottled) {
			t.Fatalf("err = %T %v, want an *APIError matching ErrServer", err, err)
		}
		if apiErr.StatusCode != status || apiErr.ErrorCode != "MOCK.FAULT" || apiErr.RequestID != e.RequestID {
			t.Fatalf("APIError %+v, want HTTP %d MOCK.FAULT with request id %s", apiErr, status, e.RequestID)
		}
	}
}

func faultCases() []faultCase {
	cases := []faultCase{
		// The client wrote the request before the reset, so it cannot tell whether the platform
		// took it: the outcome is unknown and it must not retry, although nothing was delivered.
		{name: "reset before body", fault: mockserver.Fault{ResetBeforeBody: true},
			requests: 1, deliveries: 0, check: unknownOutcome(syscall.ECONNRESET, false)},
		{name: "reset after delivery", fault: mockserver.Fault{ResetAfterDelivery: true},
			requests: 1, deliveries: 1, check: unknownOutcome(nil, false)},
		{name: "slow answer beyond deadline", fault: mockserver.Fault{Delay: time.Minute}, timeout: 500 * time.Millisecond,
			requests: 1, deliveries: 1, check: unknownOutcome(context.DeadlineExceeded, false)},
		{name: "truncated body", fault: mockserver.Fault{Truncate: true},
			requests: 1, deliveries: 1, check: unknownOutcome(io.ErrUnexpectedEOF, true)},
		{name: "non-JSON 200 body", fault: mockserver.Fault{Body: "not json"},
			requests: 1, deliveries: 1, check: unknownOutcome(nil, true)},
	}
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		cases = append(cases, faultCase{name: fmt.Sprintf("status %d", status), fault: mockserver.Fault{Status: status},
			requests: 1, deliveries: 0, check: serverError(status)})
	}
	return cases
}

func TestMock_FaultsAreNeverRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range faultCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newMock(t, nil)
			s.InjectFault(tc.fault)
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			res, err := newClient(t, s, nil).CreateCommand(ctx, echoCommand(echoID))
			if res != nil {
				t.Fatalf("result %+v, want none", res)
			}
			journaled := waitFaulted(t, s)
			tc.check(t, err, journaled)
			assertJournal(t, s, echoID, tc.requests, tc.deliveries)
		})
	}
}

// TestMock_ResetOnReusedConnectionIsNotReplayed covers keep-alive: Go's transport replays a
// request on a reused connection only when nothing was written, which is not the case here.
func TestMock_ResetOnReusedConnectionIsNotReplayed(t *testing.T) {
	t.Parallel()
	s := newMock(t, nil)
	c := newClient(t, s, nil)
	if _, err := c.CreateCommand(t.Context(), echoCommand(echoID)); err != nil {
		t.Fatalf("first command: %v", err)
	}
	s.InjectFault(mockserver.Fault{ResetBeforeBody: true})
	_, err := c.CreateCommand(t.Context(), echoCommand(echoID))
	var unknown *iotda.DeliveryUnknownError
	if !errors.As(err, &unknown) {
		t.Fatalf("err = %T %v, want *DeliveryUnknownError", err, err)
	}
	waitFaulted(t, s)
	assertJournal(t, s, echoID, 2, 1)
}

func TestMock_ThrottledIsRetriedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault mockserver.Fault
	}{
		{"429", mockserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}},
		{"403 IOTDA.021101", mockserver.Fault{Status: http.StatusForbidden, ErrorCode: "IOTDA.021101",
			ErrorMsg: "The request is throttled.", RetryAfter: "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newMock(t, nil)
			s.InjectFault(tc.fault)
			start := time.Now()
			res, err := newClient(t, s, nil).CreateCommand(t.Context(), echoCommand(echoID))
			if err != nil {
				t.Fatalf("CreateCommand: %v", err)
			}
			if waited := time.Since(start); waited < time.Second {
				t.Fatalf("retried after %v, want Retry-After (1s) honoured", waited)
			}
			requests, deliveries := assertJournal(t, s, echoID, 2, 1)
			if requests[0].Status != tc.fault.Status || requests[0].Fault == "" || requests[1].Status != http.StatusOK {
				t.Fatalf("requests %+v, want the throttled one then a 200", requests)
			}
			if res.CommandID != deliveries[0].CommandID {
				t.Fatalf("command id %q, want the delivered %q", res.CommandID, deliveries[0].CommandID)
			}
		})
	}
}

func TestMock_ConnectionRefusedIsRetriedThenNotSent(t *testing.T) {
	t.Parallel()
	addr := testutil.ClosedAddr(t)
	s := newMock(t, nil) // Only for the configuration; nothing listens at addr.
	c := newClient(t, s, func(c *iotda.Config) { c.Endpoint = "http://" + addr })
	_, err := c.CreateCommand(t.Context(), echoCommand(echoID))
	var ns *iotda.NotSentError
	// MaxRetries bounds the retries, so a provably unsent request is tried MaxRetries+1 times.
	if !errors.As(err, &ns) || ns.Attempts != mockRetries+1 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err = %T %v, want *NotSentError after %d attempts, wrapping ECONNREFUSED", err, err, mockRetries+1)
	}
}

func TestMock_DeviceOutcomes(t *testing.T) {
	t.Parallel()
	s := newMock(t, func(o *mockserver.Options) {
		o.PlatformTimeout = 300 * time.Millisecond
		o.Devices = append(o.Devices, mockserver.Device{ID: "offline-1"},
			mockserver.Device{ID: "silent-1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}})
	})
	c := newClient(t, s, nil)

	t.Run("device timeout", func(t *testing.T) {
		res, err := c.CreateCommand(t.Context(), echoCommand("silent-1"))
		var apiErr *iotda.APIError
		if !errors.Is(err, iotda.ErrDeviceTimeout) || !errors.As(err, &apiErr) {
			t.Fatalf("err = %v, want ErrDeviceTimeout", err)
		}
		_, deliveries := assertJournal(t, s, "silent-1", 1, 1)
		if res == nil || res.CommandID == "" || res.CommandID != deliveries[0].CommandID || apiErr.CommandID != res.CommandID {
			t.Fatalf("result %+v, error %+v: want the delivered command id %s", res, apiErr, deliveries[0].CommandID)
		}
	})
	t.Run("offline device", func(t *testing.T) {
		_, err := c.CreateCommand(t.Context(), echoCommand("offline-1"))
		if !errors.Is(err, iotda.ErrDeviceOffline) || errors.Is(err, iotda.ErrForbidden) {
			t.Fatalf("err = %v, want ErrDeviceOffline", err)
		}
		assertJournal(t, s, "offline-1", 1, 0)
	})
	t.Run("unknown device", func(t *testing.T) {
		_, err := c.CreateCommand(t.Context(), echoCommand("ghost-1"))
		if !errors.Is(err, iotda.ErrNotFound) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		assertJournal(t, s, "ghost-1", 1, 0)
	})
}

// akskCase is one AK/SK client configuration against a mock that accepts mockAK/mockSK only.
type akskCase struct {
	name                    string
	algorithm, region       string // algorithm "" lets the client choose from the endpoint host
	secretKey, securityTok  string
	wantAlgorithm           string // in the journaled Authorization header
	wantUnauthorized        bool
	wantSecurityTokenHeader bool
}

func TestMock_AKSKSigning(t *testing.T) {
	t.Parallel()
	for _, tc := range []akskCase{
		{name: "SDK-HMAC-SHA256", algorithm: signer.AlgorithmSDK, secretKey: mockSK, wantAlgorithm: signer.AlgorithmSDK},
		{name: "V11-HMAC-SHA256", algorithm: signer.AlgorithmV11, secretKey: mockSK, wantAlgorithm: signer.AlgorithmV11},
		// 127.0.0.1 is not a standard Huawei Cloud host, so the client derives V11 by itself.
		{name: "chosen from the host", secretKey: mockSK, wantAlgorithm: signer.AlgorithmV11},
		{name: "security token", algorithm: signer.AlgorithmV11, secretKey: mockSK, securityTok: "sts-SECRET-77e0",
			wantAlgorithm: signer.AlgorithmV11, wantSecurityTokenHeader: true},
		{name: "wrong secret key", algorithm: signer.AlgorithmSDK, secretKey: "wrong-SECRET-0000",
			wantAlgorithm: signer.AlgorithmSDK, wantUnauthorized: true},
		{name: "V11 scoped to another region", algorithm: signer.AlgorithmV11, region: "cn-south-1", secretKey: mockSK,
			wantAlgorithm: signer.AlgorithmV11, wantUnauthorized: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newMock(t, func(o *mockserver.Options) {
				o.AuthToken, o.Credentials = "", map[string]string{mockAK: mockSK}
			})
			c := newClient(t, s, func(c *iotda.Config) {
				c.AuthToken, c.AccessKey, c.SecretKey, c.SecurityToken = "", mockAK, tc.secretKey, tc.securityTok
				c.SigningAlgorithm = tc.algorithm
				if tc.region != "" {
					c.Region = tc.region
				}
			})
			_, err := c.CreateCommand(t.Context(), echoCommand(echoID))
			wantDeliveries := 1
			if tc.wantUnauthorized {
				wantDeliveries = 0
				var apiErr *iotda.APIError
				if !errors.Is(err, iotda.ErrUnauthorized) || !errors.As(err, &apiErr) || apiErr.ErrorCode != "IOTDA.000002" {
					t.Fatalf("err = %v, want 401 IOTDA.000002", err)
				}
				if strings.Contains(err.Error(), tc.secretKey) {
					t.Fatalf("error leaks the secret key: %v", err)
				}
			} else if err != nil {
				t.Fatalf("CreateCommand: %v", err)
			}
			requests, _ := assertJournal(t, s, echoID, 1, wantDeliveries)
			h := requests[0].Header
			if got := h["Authorization"]; len(got) != 1 || got[0] != tc.wantAlgorithm+" ***" {
				t.Fatalf("journaled Authorization %q, want %s", got, tc.wantAlgorithm)
			}
			if got := h["X-Security-Token"]; tc.wantSecurityTokenHeader != (len(got) == 1 && got[0] == "***") {
				t.Fatalf("journaled X-Security-Token %q", got)
			}
			if got := h["X-Project-Id"]; len(got) != 1 || got[0] != s.ProjectID() {
				t.Fatalf("journaled X-Project-Id %q, want %q", got, s.ProjectID())
			}
		})
	}
}

func TestMock_HTTPS(t *testing.T) {
	t.Parallel()
	s := newMock(t, func(o *mockserver.Options) { o.TLS = true })
	if !strings.HasPrefix(s.URL(), "https://") || s.CACertPEM() == "" {
		t.Fatalf("mock URL %s with CA %q, want HTTPS", s.URL(), s.CACertPEM())
	}

	t.Run("untrusted certificate is not sent and not retried", func(t *testing.T) {
		_, err := newClient(t, s, nil).CreateCommand(t.Context(), echoCommand(echoID))
		var ns *iotda.NotSentError
		if !errors.As(err, &ns) || ns.Attempts != 1 || !strings.Contains(err.Error(), "ca_cert_pem") {
			t.Fatalf("err = %T %v, want a certificate *NotSentError after 1 attempt", err, err)
		}
		assertJournal(t, s, echoID, 0, 0)
	})
	t.Run("ca_cert_pem", func(t *testing.T) {
		c := newClient(t, s, func(c *iotda.Config) { c.CACertPEM = s.CACertPEM() })
		if _, err := c.CreateCommand(t.Context(), echoCommand(echoID)); err != nil {
			t.Fatalf("CreateCommand: %v", err)
		}
		assertJournal(t, s, echoID, 1, 1)
	})
	t.Run("insecure", func(t *testing.T) {
		c := newClient(t, s, func(c *iotda.Config) { c.Insecure = true })
		if _, err := c.CreateCommand(t.Context(), echoCommand(echoID)); err != nil {
			t.Fatalf("CreateCommand: %v", err)
		}
		assertJournal(t, s, echoID, 2, 2)
	})
}

func TestMock_InstanceID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, instanceID string
		wantErr          bool
	}{
		{"matching", "inst-a", false},
		{"wrong", "inst-b", true},
		{"missing", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newMock(t, func(o *mockserver.Options) { o.InstanceID = "inst-a" })
			c := newClient(t, s, func(c *iotda.Config) { c.InstanceID = tc.instanceID })
			_, err := c.CreateCommand(t.Context(), echoCommand(echoID))
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("CreateCommand: %v", err)
				}
				requests, _ := assertJournal(t, s, echoID, 1, 1)
				if got := requests[0].Header["Instance-Id"]; len(got) != 1 || got[0] != tc.instanceID {
					t.Fatalf("journaled Instance-Id %q", got)
				}
				return
			}
			var apiErr *iotda.APIError
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden || apiErr.ErrorCode != "IOTDA.000021" ||
				!errors.Is(err, iotda.ErrForbidden) {
				t.Fatalf("err = %v, want 403 IOTDA.000021", err)
			}
			assertJournal(t, s, echoID, 1, 0)
		})
	}
}

func TestMock_ConcurrentCommands(t *testing.T) {
	t.Parallel()
	const devices, commands = 10, 50
	s := newMock(t, func(o *mockserver.Options) {
		o.Devices = nil
		for d := range devices {
			o.Devices = append(o.Devices, echoDevice(fmt.Sprintf("echo-%d", d)))
		}
	})
	c := newClient(t, s, nil)
	var wg sync.WaitGroup
	errs := make(chan error, commands)
	for i := range commands {
		wg.Go(func() {
			cmd := echoCommand(fmt.Sprintf("echo-%d", i%devices))
			cmd.Paras = json.RawMessage(fmt.Sprintf(`{"i":%d,"device":%q}`, i, cmd.DeviceID))
			res, err := c.CreateCommand(t.Context(), cmd)
			if err != nil {
				errs <- fmt.Errorf("command %d: %w", i, err)
				return
			}
			var r struct{ Paras json.RawMessage }
			if err := json.Unmarshal(res.Response, &r); err != nil || string(r.Paras) != string(cmd.Paras) {
				errs <- fmt.Errorf("command %d: reply %s does not echo %s", i, res.Response, cmd.Paras)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for d := range devices {
		assertJournal(t, s, fmt.Sprintf("echo-%d", d), commands/devices, commands/devices)
	}
}
