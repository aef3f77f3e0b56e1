package faults

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFault_JSON(t *testing.T) {
	var f Fault
	if err := json.Unmarshal([]byte(`{"device_id":"d","times":-1,"status":503,"delay":"1.5s","reset_after_delivery":true}`), &f); err != nil {
		t.Fatal(err)
	}
	want := Fault{DeviceID: "d", Times: -1, Status: 503, Delay: 1500 * time.Millisecond, ResetAfterDelivery: true}
	if f != want {
		t.Errorf("decoded %+v, want %+v", f, want)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delay":"1.5s"`) {
		t.Errorf("encoded %s, want the delay as a duration string", b)
	}
	var back Fault
	if err := json.Unmarshal(b, &back); err != nil || back != f {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"delay":2000000}`), &f); err != nil || f.Delay != 2*time.Millisecond {
		t.Errorf("numeric delay = %v, %v", f.Delay, err)
	}
	for _, bad := range []string{`{"delay":"soon"}`, `{"delay":true}`, `{"stauts":500}`} {
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}

func TestFault_Label(t *testing.T) {
	for f, want := range map[*Fault]string{
		{Status: 500, Delay: time.Second}: "status=500,delay=1s",
		{ResetBeforeBody: true}:           "reset_before_body",
		{Body: "x", Truncate: true}:       "body,truncate",
		{Name: "mine", Status: 500}:       "mine",
		{}:                                "noop",
	} {
		if got := f.Label(); got != want {
			t.Errorf("Label(%+v) = %q, want %q", *f, got, want)
		}
	}
}

// TestSet_TakeOrderScopeAndTimes: faults are taken in the order they were added, a device's
// fault only by its own requests, each as many times as it says (0 once, -1 for ever).
func TestSet_TakeOrderScopeAndTimes(t *testing.T) {
	s := NewSet()
	s.Add(Fault{Name: "d1 twice", DeviceID: "d1", Times: 2})
	s.Add(Fault{Name: "any once"})
	s.Add(Fault{Name: "any forever", Times: -1})
	var got []string
	for _, device := range []string{"d2", "d1", "d1", "d1", "", "d2"} {
		f, ok := s.Take(device)
		if !ok {
			t.Fatalf("no fault for %q", device)
		}
		got = append(got, device+":"+f.Name)
	}
	want := []string{"d2:any once", "d1:d1 twice", "d1:d1 twice", "d1:any forever", ":any forever", "d2:any forever"}
	if !slices.Equal(got, want) {
		t.Errorf("taken %q, want %q", got, want)
	}
	if p := s.Pending(); len(p) != 1 || p[0].Name != "any forever" || p[0].Times != -1 {
		t.Errorf("pending %+v, want only the endless fault", p)
	}
	s.Clear()
	if _, ok := s.Take("d1"); ok || s.Pending() == nil || len(s.Pending()) != 0 {
		t.Errorf("a cleared set still has faults: %+v", s.Pending())
	}
}

func TestFault_ValidateAndAnswer(t *testing.T) {
	for _, bad := range []Fault{{Status: 99}, {Status: 600}, {Times: -2}, {Delay: -time.Second}} {
		if err := bad.Validate(); err == nil || strings.HasSuffix(err.Error(), ".") {
			t.Errorf("Validate(%+v) = %v, want an error without a final period", bad, err)
		}
	}
	if err := (Fault{Status: 503, Times: -1, Delay: time.Second}).Validate(); err != nil {
		t.Errorf("a valid fault: %v", err)
	}
	for _, tt := range []struct {
		f    Fault
		body string
	}{
		{Fault{Status: 429}, `{"error_code":"MOCK.FAULT","error_msg":"Too Many Requests"}`},
		{Fault{Status: 500, ErrorCode: "IOTDA.000500", ErrorMsg: "boom"}, `{"error_code":"IOTDA.000500","error_msg":"boom"}`},
		{Fault{Status: 502, Body: "<html>"}, `<html>`},
	} {
		if status, body := tt.f.Answer(); status != tt.f.Status || string(body) != tt.body {
			t.Errorf("Answer(%+v) = %d %s, want %d %s", tt.f, status, body, tt.f.Status, tt.body)
		}
	}
}
