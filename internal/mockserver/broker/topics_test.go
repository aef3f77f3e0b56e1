package broker

import "testing"

func TestParseResponseTopic(t *testing.T) {
	tests := []struct {
		topic, dev, cmd string
		ok              bool
	}{
		{"$oc/devices/d1/sys/commands/response/request_id=abc", "d1", "abc", true},
		{"$oc/devices/d_1-x/sys/commands/response/request_id=1=2", "d_1-x", "1=2", true},
		{"$oc/devices/d1/sys/commands/response/request_id=", "", "", false},
		{"$oc/devices//sys/commands/response/request_id=a", "", "", false},
		{"$oc/devices/d1/sys/commands/request_id=a", "", "", false},
		{"$oc/devices/a/b/sys/commands/response/request_id=a", "", "", false},
		{"other/d1/sys/commands/response/request_id=a", "", "", false},
	}
	for _, tt := range tests {
		dev, cmd, ok := ParseResponseTopic(tt.topic)
		if dev != tt.dev || cmd != tt.cmd || ok != tt.ok {
			t.Errorf("ParseResponseTopic(%q) = %q, %q, %v", tt.topic, dev, cmd, ok)
		}
	}
}

func TestParseCommandTopic(t *testing.T) {
	for _, tt := range []struct {
		device, topic, rid string
		ok                 bool
	}{
		{"d1", CommandTopic("d1", "c-1"), "c-1", true},
		{"d1", "$oc/devices/d1/sys/commands/request_id=", "", false},
		{"d1", "$oc/devices/d1/sys/commands/request_id=a/b", "", false},
		{"d1", CommandTopic("d10", "c"), "", false},
		{"d10", CommandTopic("d1", "c"), "", false},
		{"d1", ResponseTopic("d1", "c"), "", false},
		{"d1", "$oc/devices/d1/sys/messages/down", "", false},
	} {
		if rid, ok := ParseCommandTopic(tt.device, tt.topic); rid != tt.rid || ok != tt.ok {
			t.Errorf("ParseCommandTopic(%q, %q) = %q, %v; want %q, %v", tt.device, tt.topic, rid, ok, tt.rid, tt.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseCommandTopic("d1", "$oc/devices/d1/sys/commands/request_id=c") }); n != 0 {
		t.Errorf("ParseCommandTopic allocates %.0f times", n)
	}
}

func TestMatchFilter(t *testing.T) {
	for _, tt := range []struct {
		filter, topic string
		want          bool
	}{
		{"/device/message/down", "/device/message/down", true},
		{"/device/message/down", "/device/message/up", false},
		{"/device/+/down", "/device/message/down", true},
		{"+/+/+/+", "/device/message/down", true},
		{"#", "/device/message/down", true},
		{"/device/#", "/device/message/down", true},
		{"/device/#", "/device", true},
		{"/device/message/down/#", "/device/message/down", true},
		{"/device/+", "/device/message/down", false},
		{"a/b/c", "a/b", false},
		{"a/b", "a/b/c", false},
		{"a/+", "a/", true},
		{"#", "$oc/devices/d1/user/cfg", false},
		{"+/devices/d1/user/cfg", "$oc/devices/d1/user/cfg", false},
		{"$oc/devices/d1/#", "$oc/devices/d1/user/cfg", true},
		{"$oc/devices/d1/user/+", "$oc/devices/d1/user/cfg", true},
		{"$oc/devices/d1/user/cfg", "$oc/devices/d1/user/cfg", true},
		{"$oc/devices/d2/user/cfg", "$oc/devices/d1/user/cfg", false},
	} {
		if got := MatchFilter(tt.filter, tt.topic); got != tt.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", tt.filter, tt.topic, got, tt.want)
		}
	}
}
