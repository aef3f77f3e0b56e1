package httpapi

import (
	"net"
	"os"
	"slices"
	"testing"
)

// TestListenHosts: a listener on loopback needs no other name, one on a named host or an
// address beyond loopback is reached by it, and one on every interface by the machine's name
// and its addresses, never a loopback or link-local one.
func TestListenHosts(t *testing.T) {
	for addr, want := range map[string][]string{
		"127.0.0.1:0":       nil,
		"[::1]:8080":        nil,
		"localhost:1883":    nil,
		"10.1.2.3:8080":     {"10.1.2.3"},
		"mock.example:8883": {"mock.example"},
		"not an address":    nil,
	} {
		if got := ListenHosts(addr); !slices.Equal(got, want) {
			t.Errorf("ListenHosts(%q) = %q, want %q", addr, got, want)
		}
	}
	name, _ := os.Hostname()
	for _, addr := range []string{"0.0.0.0:8080", "[::]:8080", ":8080"} {
		hosts := ListenHosts(addr)
		if name != "" && name != "localhost" && !slices.Contains(hosts, name) {
			t.Errorf("ListenHosts(%q) = %q, lacks the machine's name %q", addr, hosts, name)
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil && (ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified()) {
				t.Errorf("ListenHosts(%q) = %q, holds %s", addr, hosts, h)
			}
		}
		ifAddrs, err := net.InterfaceAddrs()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range ifAddrs {
			if ipNet, ok := a.(*net.IPNet); ok && !ipNet.IP.IsLoopback() && !ipNet.IP.IsLinkLocalUnicast() &&
				!slices.Contains(hosts, ipNet.IP.String()) {
				t.Errorf("ListenHosts(%q) = %q, lacks the interface address %s", addr, hosts, ipNet.IP)
			}
		}
	}
}

// TestReachableAddr: an unspecified host is replaced by the first of ListenHosts (or
// 127.0.0.1), keeping the port; any other address is kept as it is.
func TestReachableAddr(t *testing.T) {
	want := "127.0.0.1"
	if hosts := ListenHosts("0.0.0.0:0"); len(hosts) > 0 {
		want = hosts[0]
	}
	for addr, wantAddr := range map[string]string{
		"0.0.0.0:8080":    net.JoinHostPort(want, "8080"),
		"[::]:1883":       net.JoinHostPort(want, "1883"),
		":8883":           net.JoinHostPort(want, "8883"),
		"127.0.0.1:41234": "127.0.0.1:41234",
		"[::1]:1":         "[::1]:1",
		"10.1.2.3:80":     "10.1.2.3:80",
		"":                "",
	} {
		if got := ReachableAddr(addr); got != wantAddr {
			t.Errorf("ReachableAddr(%q) = %q, want %q", addr, got, wantAddr)
		}
	}
}
