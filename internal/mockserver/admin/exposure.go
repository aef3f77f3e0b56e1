package admin

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Listener is one of the mock's listen addresses, named for messages ("the HTTP API").
type Listener struct {
	Name, Addr string
}

// Exposed returns the first listener that binds an address other than loopback; ok is
// false when every listener (an empty Addr is none) is loopback only.
func Exposed(listeners ...Listener) (l Listener, ok bool) {
	for _, l := range listeners {
		if l.Addr != "" && !isLoopbackAddr(l.Addr) {
			return l, true
		}
	}
	return Listener{}, false
}

// CheckExposure refuses a mock whose admin API others could reach without a token: one
// with a listener beyond loopback and no token.
func CheckExposure(token string, listeners ...Listener) error {
	if token != "" {
		return nil
	}
	if l, ok := Exposed(listeners...); ok {
		name, addr := l.Name, l.Addr
		return fmt.Errorf("mockserver: %s listens on %s, which is not a loopback address, so the admin API "+
			"(/_mock/) needs an admin token: set one (Options.AdminToken; for iotda-mock, \"admin_token\" in the "+
			"configuration file or the IOTDA_MOCK_ADMIN_TOKEN environment variable), or listen on 127.0.0.1", name, addr)
	}
	return nil
}

// isLoopbackAddr reports whether a listen address (host:port) binds loopback interfaces
// only. An empty host or an unspecified address (0.0.0.0, ::) binds every interface; a host
// name counts as loopback only when it is "localhost" or resolves to loopback addresses only.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().IsLoopback()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.Unmap().IsLoopback() {
			return false
		}
	}
	return true
}
