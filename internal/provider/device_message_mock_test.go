package provider

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// iotda_device_message runs against the whole mock platform: its message API with the
// prelude every request passes (authentication, project, faults, journal), the delivery
// path and the MQTT broker, and simulated devices that sleep (SleepDevice) and wake
// (WakeDevice), whose reads the journal records (device_message entries).

// messageWait bounds a test's wait for something the mock does on its own.
const messageWait = 30 * time.Second

// newMessageMock starts a mock with simulated devices, every one echoing commands, each
// online unless named in asleep.
func newMessageMock(t *testing.T, opts mockserver.Options, devices []string, asleep ...string) *testTarget {
	t.Helper()
	for _, id := range devices {
		opts.Devices = append(opts.Devices, mockserver.Device{ID: id, Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}})
	}
	target := newMockTarget(t, opts)
	for _, id := range asleep {
		sleepDevice(t, target.Server, id)
	}
	return target
}

// sleepDevice takes a simulated device offline until WakeDevice.
func sleepDevice(t *testing.T, s *mockserver.Server, deviceID string) {
	t.Helper()
	if err := s.SleepDevice(deviceID, 0); err != nil {
		t.Fatal(err)
	}
}

// messageRequests counts the message API requests for deviceID the mock answered (or
// dropped by a fault) with method ("" for any).
func messageRequests(s *mockserver.Server, deviceID, method string) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryRequest && e.DeviceID == deviceID && strings.Contains(e.Path, "/messages") &&
			(method == "" || e.Method == method) {
			n++
		}
	}
	return n
}

// journalCount counts the journal entries of kind for deviceID.
func journalCount(s *mockserver.Server, kind mockserver.EntryKind, deviceID string) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == kind && e.DeviceID == deviceID {
			n++
		}
	}
	return n
}

// waitJournal waits until cond holds, looking again at each new journal entry.
func waitJournal(t *testing.T, s *mockserver.Server, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), messageWait)
	defer cancel()
	if _, err := s.WaitJournal(ctx, func(mockserver.Entry) bool { return cond() }); err != nil && !cond() {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// checkMessages asserts, once the device has read what the mock published to it, how many
// messages the provider asked IoTDA to create for the device (POST requests), how many the
// mock published to it, and that the device read each one.
func checkMessages(s *mockserver.Server, deviceID string, creates, delivered int) func(*terraform.State) error {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), messageWait)
		defer cancel()
		_, _ = s.WaitJournal(ctx, func(mockserver.Entry) bool { return len(s.ReceivedMessages(deviceID)) >= delivered })
		posts, published, read := messageRequests(s, deviceID, http.MethodPost), len(s.MessageDeliveries(deviceID)),
			len(s.ReceivedMessages(deviceID))
		if posts != creates || published != delivered || read != delivered {
			return fmt.Errorf("device %s: %d creates, %d messages published, %d read; want %d, %d and %d", deviceID, posts,
				published, read, creates, delivered, delivered)
		}
		return nil
	}
}

// received returns what a device read: each message's text (a standard message's content,
// or the raw payload) as the journal holds it.
func received(s *mockserver.Server, deviceID string) []string {
	var out []string
	for _, e := range s.ReceivedMessages(deviceID) {
		out = append(out, string(e.Body))
	}
	return out
}

// wakeWhenCreated wakes a sleeping device as soon as the create of a message for it has
// been answered (PENDING): a device that wakes while an apply or an action follows its
// message. Waking it once the message exists but before the answer was written would let
// the answer say DELIVERED.
func wakeWhenCreated(t *testing.T, s *mockserver.Server, deviceID string) {
	t.Helper()
	wakeWhen(t, s, deviceID, messageWait, func(e mockserver.Entry) bool {
		return e.Kind == mockserver.EntryRequest && e.Method == http.MethodPost && e.DeviceID == deviceID &&
			e.Status == http.StatusCreated && strings.HasSuffix(e.Path, "/messages")
	})
}

// wakeWhen wakes a sleeping device, in the background, once the journal has an entry that
// ready accepts (mockserver.Server.WaitJournal; never on a timer). It gives up quietly after
// within, or when the test ends first.
func wakeWhen(t *testing.T, s *mockserver.Server, deviceID string, within time.Duration, ready func(mockserver.Entry) bool) {
	t.Helper()
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), within)
		defer cancel()
		if _, err := s.WaitJournal(ctx, ready); err != nil {
			return // the test ended first
		}
		if err := s.WakeDevice(deviceID); err != nil {
			t.Errorf("wake %s: %v", deviceID, err)
		}
	}()
}

// wakeAndDeliver wakes a sleeping device and waits until the mock has published n messages
// to it in all, so that a refresh that follows sees them DELIVERED.
func wakeAndDeliver(t *testing.T, s *mockserver.Server, deviceID string, n int) {
	t.Helper()
	if err := s.WakeDevice(deviceID); err != nil {
		t.Fatal(err)
	}
	waitJournal(t, s, fmt.Sprintf("%d messages delivered to %s", n, deviceID), func() bool {
		return journalCount(s, mockserver.EntryMessageDelivered, deviceID) >= n
	})
}

// postMessage creates a message as another IoTDA client would, with the test token.
func postMessage(t *testing.T, target *testTarget, deviceID, body string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
		target.Server.URL()+"/v5/iot/"+target.ProjectID+"/devices/"+deviceID+"/messages", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", "test-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create %s for %s: %d", body, deviceID, resp.StatusCode)
	}
}

// messageStatuses returns the statuses of the messages the mock holds for a device, oldest
// first.
func messageStatuses(t *testing.T, s *mockserver.Server, deviceID string) []string {
	t.Helper()
	list, err := s.DeviceMessages(deviceID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range list {
		out = append(out, m.Status)
	}
	return out
}

// testClock is a mock's clock that a test moves forward.
type testClock struct {
	mu    sync.Mutex
	ahead time.Duration
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.ahead)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ahead += d
}
