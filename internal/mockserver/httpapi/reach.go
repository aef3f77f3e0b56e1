package httpapi

import (
	"context"
	"net"
	"os"
	"slices"
	"time"
)

// Where clients reach the mock. A listener bound to an unspecified address (0.0.0.0, ::, or
// no host at all) listens on every interface, and the address it reports, [::]:8080, is one
// no client can use; nor does a certificate for localhost serve a client that connects from
// elsewhere. The mock names such a listener by the machine instead (ReachableAddr), and its
// generated certificate covers the machine's names and addresses (ListenHosts).

// lookupTimeout bounds the check that the machine's name resolves.
const lookupTimeout = 2 * time.Second

// ListenHosts returns the names and addresses by which clients can reach a listener bound to
// addr (host:port), best first, besides the loopback ones the generated certificate always
// covers: for an unspecified host, the machine's name (first when it resolves) and its
// interfaces' addresses other than loopback and link-local ones; for a host beyond
// loopback, that host; nothing for a loopback host or an addr that is not host:port.
func ListenHosts(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		return nil
	case !unspecified(host):
		if host == "localhost" || isLoopback(host) {
			return nil
		}
		return []string{host}
	}
	var hosts []string
	name, nameErr := os.Hostname()
	if nameErr == nil && name != "" && name != "localhost" {
		hosts = append(hosts, name)
	}
	if ifAddrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range ifAddrs {
			ipNet, ok := a.(*net.IPNet)
			if !ok || ipNet.IP.IsLoopback() || ipNet.IP.IsLinkLocalUnicast() || ipNet.IP.IsUnspecified() {
				continue
			}
			if ip := ipNet.IP.String(); !slices.Contains(hosts, ip) {
				hosts = append(hosts, ip)
			}
		}
	}
	if len(hosts) > 0 && hosts[0] == name && !resolves(name) {
		// A name nobody can look up is no way in: an address first, the name still certified.
		hosts = append(hosts[1:], name)
	}
	return hosts
}

// ReachableAddr returns addr (host:port, as a listener reports it) with an unspecified host
// replaced by the first of ListenHosts, or by 127.0.0.1 when the machine has no other.
func ReachableAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !unspecified(host) {
		return addr
	}
	host = "127.0.0.1"
	if hosts := ListenHosts(addr); len(hosts) > 0 {
		host = hosts[0]
	}
	return net.JoinHostPort(host, port)
}

// unspecified reports whether host binds every interface.
func unspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// resolves reports whether name resolves to an address, within lookupTimeout.
func resolves(name string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	return err == nil && len(addrs) > 0
}
