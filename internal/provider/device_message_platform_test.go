package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-uuid"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
)

// messagePlatform is IoTDA's device message API for provider tests: the mock's messages
// service (its real rules: validation, the cache of 20, TTL, delivery order) behind a plain
// HTTP server that checks the token, with devices the test switches on and off. It lets
// the resource and the action be tested through Terraform before the message service is
// wired into the whole mock.
type messagePlatform struct {
	t       *testing.T
	backend *messages.Backend
	server  *httptest.Server
	devices *platformDevices

	mu    sync.Mutex
	ahead time.Duration // how far the platform's clock runs ahead of the real one
	posts int
	gets  int
	// dropNextCreate makes the next create reach the backend and then lose its answer.
	dropNextCreate bool
}

const (
	platformProject = "msg-project"
	platformToken   = "msg-token-SECRET"
)

// newMessagePlatform starts a platform with the given registered devices, all offline.
func newMessagePlatform(t *testing.T, deviceIDs ...string) *messagePlatform {
	t.Helper()
	p := &messagePlatform{t: t, devices: &platformDevices{exists: map[string]bool{}, online: map[string]bool{},
		subs: map[string][]string{}}}
	for _, id := range deviceIDs {
		p.devices.exists[id] = true
	}
	p.backend = messages.New(messages.Config{Devices: p.devices, Now: p.now, NewMessageID: func() string {
		id, _ := uuid.GenerateUUID()
		return id
	}})
	t.Cleanup(p.backend.Close)
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.server.Close)
	return p
}

func (p *messagePlatform) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v5/iot/"+platformProject+"/")
	segments := strings.Split(rest, "/")
	if !ok || !messages.Route(segments) {
		http.Error(w, `{"error_code":"APIG.0101","error_msg":"no such API"}`, http.StatusNotFound)
		return
	}
	if r.Header.Get("X-Auth-Token") != platformToken {
		http.Error(w, `{"error_code":"IOTDA.000002","error_msg":"Authentication failed."}`, http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	drop := false
	switch r.Method {
	case http.MethodPost:
		p.posts++
		drop, p.dropNextCreate = p.dropNextCreate, false
	case http.MethodGet:
		p.gets++
	}
	p.mu.Unlock()
	resp := p.backend.Respond(r.Method, segments, r.Header.Get("Content-Type"), body)
	if drop {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close() // The platform took the message; its answer never arrives.
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "req-msg")
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
}

// now is the platform's clock.
func (p *messagePlatform) now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().Add(p.ahead)
}

// advance moves the platform's clock forward and expires what is due, as time passing on
// IoTDA would.
func (p *messagePlatform) advance(d time.Duration) {
	p.mu.Lock()
	p.ahead += d
	p.mu.Unlock()
	p.backend.ExpireDue()
}

// providerHCL is a provider block for the platform.
func (p *messagePlatform) providerHCL() string {
	return fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = %[2]q
  auth_token  = %[3]q
  max_retries = 1
}
`, p.server.URL, platformProject, platformToken)
}

// counts returns how many creates and reads the platform answered.
func (p *messagePlatform) counts() (posts, gets int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.posts, p.gets
}

// connect brings a device online and delivers what waits for it, as the mock's device side
// does when a device connects.
func (p *messagePlatform) connect(deviceID string) {
	p.devices.setOnline(deviceID, true)
	p.backend.DeviceConnected(deviceID)
}

// connectWhenPending brings a device online as soon as it has a PENDING message: a device
// that wakes while an apply follows its message. It waits on the backend's changes, never
// on a timer.
func (p *messagePlatform) connectWhenPending(ctx context.Context, deviceID string) {
	go func() {
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		pending := func(messages.Message, bool) bool {
			list, _ := p.backend.List(deviceID)
			return slices.ContainsFunc(list, func(m messages.Message) bool { return m.Status == messages.StatusPending })
		}
		if _, _, err := p.backend.Wait(ctx, deviceID, "", pending); err == nil {
			p.connect(deviceID)
		}
	}()
}

// published returns what the device received, in order.
func (p *messagePlatform) published(deviceID string) []messages.Publication {
	return p.devices.deliveries(deviceID)
}

// platformDevices is the device side of messagePlatform.
type platformDevices struct {
	mu        sync.Mutex
	exists    map[string]bool
	online    map[string]bool
	subs      map[string][]string
	published map[string][]messages.Publication
}

func (d *platformDevices) setOnline(id string, online bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.online[id] = online
}

func (d *platformDevices) subscribe(id, topic string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.subs[id] = append(d.subs[id], topic)
}

func (d *platformDevices) Exists(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.exists[id]
}

func (d *platformDevices) Online(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.online[id]
}

func (d *platformDevices) Subscribed(id, topic string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Contains(d.subs[id], topic)
}

func (d *platformDevices) Publish(id string, pub messages.Publication) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.online[id] {
		return fmt.Errorf("device %s is not connected", id)
	}
	if d.published == nil {
		d.published = map[string][]messages.Publication{}
	}
	d.published[id] = append(d.published[id], pub)
	return nil
}

func (d *platformDevices) deliveries(id string) []messages.Publication {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.published[id])
}
