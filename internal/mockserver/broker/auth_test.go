package broker

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

func TestDevicePassword_DocVector(t *testing.T) {
	const want = "c75150e6cb841417396819e4d2ee4358a416344a03a083e3a8567074ddec820a"
	if got := DevicePassword("12345678", "2025041401"); got != want {
		t.Errorf("devicePassword = %s, want %s", got, want)
	}
}

func TestDeviceCredentials(t *testing.T) {
	// 09:59 in UTC+8 is 01:59 UTC: the timestamp is the UTC hour.
	now := time.Date(2025, 4, 14, 9, 59, 0, 0, time.FixedZone("CST", 8*3600))
	cid, user, pass := DeviceCredentials("my_dev-1", "12345678", now)
	if cid != "my_dev-1_0_1_2025041401" || user != "my_dev-1" ||
		pass != "c75150e6cb841417396819e4d2ee4358a416344a03a083e3a8567074ddec820a" {
		t.Errorf("DeviceCredentials = %q, %q, %q", cid, user, pass)
	}
}

func TestParseDeviceClientID(t *testing.T) {
	tests := []struct {
		in     string
		dev    string
		sign   string
		parsed bool
	}{
		{"D39564861q3gDa_0_0_2018072417", "D39564861q3gDa", "0", true},
		{"a_b_0_1_2025041401", "a_b", "1", true},     // underscores in the device id
		{"x_0_0_0_1_2025041401", "x_0_0", "1", true}, // greedy device part, fixed suffix
		{"dev_0_1_2025041401x", "", "", false},
		{"dev_0_3_2025041401", "", "", false},
		{"dev_2_1_2025041401", "", "", false},
		{"_0_1_2025041401", "", "", false},
		{"dev 1_0_1_2025041401", "", "", false},
		{"dev_0_1_20250414", "", "", false},
	}
	for _, tt := range tests {
		got, ok := parseDeviceClientID(tt.in)
		if ok != tt.parsed || got.deviceID != tt.dev || got.signType != tt.sign {
			t.Errorf("parseDeviceClientID(%q) = %+v, %v", tt.in, got, ok)
		}
	}
}

func TestTimestampFresh(t *testing.T) {
	now := time.Date(2025, 4, 14, 1, 59, 59, 0, time.UTC)
	tests := map[string]bool{
		"2025041401": true,
		"2025041400": true,
		"2025041402": true,
		"2025041323": false,
		"2025041403": false,
		"2025041301": false,
		"2025041499": false, // not a time
		"2025023001": false, // 30 February
	}
	for ts, want := range tests {
		if got := timestampFresh(ts, now); got != want {
			t.Errorf("timestampFresh(%s) = %v, want %v", ts, got, want)
		}
	}
}

func TestCheckDeviceConnect(t *testing.T) {
	lookup := func(id string) (string, bool) { return "s3cret", id == "dev" }
	connect := func(cid, user, pass string) packets.Packet {
		var pk packets.Packet
		pk.Connect.ClientIdentifier = cid
		pk.Connect.Username, pk.Connect.UsernameFlag = []byte(user), user != ""
		pk.Connect.Password, pk.Connect.PasswordFlag = []byte(pass), pass != ""
		return pk
	}
	now := time.Date(2025, 4, 14, 1, 0, 0, 0, time.UTC)
	ok := DevicePassword("s3cret", "2025041401")
	tests := []struct {
		name string
		pk   packets.Packet
		want connectRefusal
	}{
		{"accepted", connect("dev_0_1_2025041401", "dev", ok), connectAccepted},
		{"malformed id", connect("dev", "dev", ok), refusedIdentifier},
		{"unknown", connect("nodev_0_1_2025041401", "nodev", ok), refusedCredentials},
		{"username", connect("dev_0_1_2025041401", "Dev", ok), refusedCredentials},
		{"password", connect("dev_0_1_2025041401", "dev", ok[:63]), refusedCredentials},
		{"stale", connect("dev_0_1_2020041401", "dev", DevicePassword("s3cret", "2020041401")), refusedCredentials},
		{"stale but signType 0", connect("dev_0_0_2020041401", "dev", DevicePassword("s3cret", "2020041401")), connectAccepted},
	}
	for _, tt := range tests {
		id, got := checkDeviceConnect(tt.pk, now, lookup)
		if got != tt.want || (got == connectAccepted) != (id == "dev") {
			t.Errorf("%s: checkDeviceConnect = %q, %v; want %v", tt.name, id, got, tt.want)
		}
	}
}
