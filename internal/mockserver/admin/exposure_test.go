package admin

import "testing"

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:0":          true,
		"127.1.2.3:8080":       true,
		"[::1]:1883":           true,
		"localhost:8080":       true,
		"LocalHost:8080":       true,
		"[::ffff:127.0.0.1]:1": true,
		"0.0.0.0:8080":         false,
		":8080":                false,
		"[::]:8883":            false,
		"192.0.2.1:1883":       false,
		"[2001:db8::1]:1883":   false,
		"no-port":              false,
		"name.invalid:1883":    false, // does not resolve
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
