package mockserver

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestAdmin_Fleets(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: "admin-needs-no-token", Devices: []Device{{ID: "dev-7"}}})

	resp, body := adminCall(t, s, http.MethodPost, "/_mock/fleets",
		`{"prefix":"lamp-","count":50,"secret":"fleet-s3cret","behavior":{"kind":"echo","delay":"1ms"}}`)
	wantStatus(t, resp, body, http.StatusCreated)
	if want := `{"prefix":"lamp-","count":50,"behavior":{"kind":"echo","delay":"1ms"}}`; string(body) != want {
		t.Errorf("created = %s, want %s", body, want)
	}
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/fleets", `{"prefix":"quiet-","count":2,"behavior":{"kind":"silent"}}`)
	wantStatus(t, resp, body, http.StatusCreated)

	resp, body = adminCall(t, s, http.MethodGet, "/_mock/fleets", "")
	wantStatus(t, resp, body, http.StatusOK)
	want := `[{"prefix":"lamp-","count":50,"behavior":{"kind":"echo","delay":"1ms"}},{"prefix":"quiet-","count":2,"behavior":{"kind":"silent"}}]`
	if string(body) != want {
		t.Errorf("fleets = %s\nwant     %s", body, want)
	}
	if strings.Contains(string(body), "s3cret") {
		t.Error("the fleet list shows the secret")
	}
	// Fleet devices are in the registry and answer the command API.
	_, body = adminCall(t, s, http.MethodGet, "/_mock/devices", "")
	if !strings.Contains(string(body), `{"id":"lamp-50","online":true,"simulated":{"kind":"echo","delay":"1ms"}}`) {
		t.Errorf("the device list lacks lamp-50: %.300s", body)
	}
	if resp, body := do(t, nil, tokenRequest(t, s, "lamp-37")); resp.StatusCode != http.StatusOK ||
		!strings.Contains(string(body), `"response":{"result_code":0`) {
		t.Errorf("command to lamp-37: %d %s", resp.StatusCode, body)
	}
	if got := s.Devices(); got[len(got)-1].ID != "quiet-2" || findDevice(got, "lamp-1").Secret != "fleet-s3cret" {
		t.Errorf("registry does not hold the fleets' devices with their secret")
	}

	for _, tt := range []struct {
		body   string
		status int
		code   string
	}{
		{`{"prefix":"lamp-","count":1}`, http.StatusConflict, "MOCK.000409"},
		{`{"prefix":"dev-","count":10}`, http.StatusConflict, "MOCK.000409"}, // dev-7 is registered
		{`{"prefix":"x-","count":0}`, http.StatusBadRequest, "MOCK.000400"},
		{`{"prefix":"x/","count":1}`, http.StatusBadRequest, "MOCK.000400"},
		{`{"prefix":"x-","count":1,"behaviour":{}}`, http.StatusBadRequest, "MOCK.000400"},
		{`{"prefix":"x-","count":1,"behavior":{"kind":"echo","dealy":"1s"}}`, http.StatusBadRequest, "MOCK.000400"},
		{`{"prefix":"x-","count":"1"}`, http.StatusBadRequest, "MOCK.000400"},
	} {
		resp, body := adminCall(t, s, http.MethodPost, "/_mock/fleets", tt.body)
		wantError(t, resp, body, tt.status, tt.code)
	}

	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/fleets/lamp-", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	if resp, body := do(t, nil, tokenRequest(t, s, "lamp-37")); resp.StatusCode != http.StatusNotFound {
		t.Errorf("command to a removed fleet's device: %d %s", resp.StatusCode, body)
	}
	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/fleets/lamp-", "")
	wantError(t, resp, body, http.StatusNotFound, "MOCK.000404")
	resp, body = adminCall(t, s, http.MethodPut, "/_mock/fleets", "")
	wantError(t, resp, body, http.StatusMethodNotAllowed, "MOCK.000405")
	if n := len(s.Devices()); n != 3 {
		t.Errorf("registry has %d devices, want dev-7 and quiet-1..2", n)
	}
}

// findDevice returns the registry entry with this id, or the zero Device.
func findDevice(devs []Device, id string) Device {
	for _, d := range devs {
		if d.ID == id {
			return d
		}
	}
	return Device{}
}

// TestLimits_DevicesAndFleets: the admin API and the Go API refuse a device or fleet past the
// mock's limits with a 403 (ErrLimit) that names the limit and the settings that raise it,
// and register nothing of it.
func TestLimits_DevicesAndFleets(t *testing.T) {
	s := NewForTest(t, Options{Limits: Limits{MaxDevices: 100, MaxFleets: 2}, Devices: []Device{{ID: "dev-1"}}})
	resp, body := adminCall(t, s, http.MethodPost, "/_mock/fleets", `{"prefix":"a-","count":90,"behavior":{"kind":"echo"}}`)
	wantStatus(t, resp, body, http.StatusCreated)
	for _, tt := range []struct{ path, body, want string }{
		{"/_mock/fleets", `{"prefix":"b-","count":10,"behavior":{"kind":"echo"}}`, "over its limit of 100 devices"},
		{"/_mock/fleets", `{"prefix":"b-","count":100000,"behavior":{"kind":"echo"}}`, "over its limit of 100 devices"},
	} {
		resp, body := adminCall(t, s, http.MethodPost, tt.path, tt.body)
		e := wantError(t, resp, body, http.StatusForbidden, "MOCK.000403")
		if !strings.Contains(e.ErrorMsg, tt.want) || !strings.Contains(e.ErrorMsg, `"max_devices"`) ||
			!strings.Contains(e.ErrorMsg, "Limits.MaxDevices") || strings.Contains(e.ErrorMsg, "max_fleets") {
			t.Errorf("POST %s %s: %q, want the limit and its settings named", tt.path, tt.body, e.ErrorMsg)
		}
	}
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/fleets", `{"prefix":"b-","count":9,"behavior":{"kind":"echo"}}`)
	wantStatus(t, resp, body, http.StatusCreated)
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/devices", `{"id":"dev-2"}`)
	wantError(t, resp, body, http.StatusForbidden, "MOCK.000403")
	if err := s.AddDevice(Device{ID: "dev-2", Simulated: &Behavior{Kind: BehaviorEcho}}); !errors.Is(err, ErrLimit) {
		t.Errorf("AddDevice past the limit = %v, want ErrLimit", err)
	}
	if n := len(s.Devices()); n != 100 {
		t.Errorf("the mock holds %d devices, want 100", n)
	}
	if err := s.RemoveFleet("b-"); err != nil {
		t.Fatal(err)
	}
	resp, body = adminCall(t, s, http.MethodPost, "/_mock/fleets", `{"prefix":"c-","count":1,"behavior":{"kind":"echo"}}`)
	wantStatus(t, resp, body, http.StatusCreated)
	err := s.AddFleet(Fleet{Prefix: "d-", Count: 1, Behavior: Behavior{Kind: BehaviorEcho}})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "over its limit of 2 fleets") ||
		!strings.Contains(err.Error(), `Limits.MaxFleets (for iotda-mock, "max_fleets"`) {
		t.Errorf("a third fleet = %v, want ErrLimit naming the fleet limit and max_fleets", err)
	}
	// Options.Fleets past the limits: the mock does not start.
	s2, err := New(Options{Limits: Limits{MaxDevices: 3}, Fleets: []Fleet{{Prefix: "z-", Count: 4, Behavior: Behavior{Kind: BehaviorEcho}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Start(); !errors.Is(err, ErrLimit) {
		t.Errorf("a mock whose fleets pass its limit started: %v", err)
	}
	_ = s2.Close()
}

// TestLimits_Defaults: 100,000 devices and 100 fleets.
func TestLimits_Defaults(t *testing.T) {
	if l := (Limits{}).withDefaults(); l.MaxDevices != 100_000 || l.MaxFleets != 100 {
		t.Errorf("defaults: %d devices, %d fleets", l.MaxDevices, l.MaxFleets)
	}
}
