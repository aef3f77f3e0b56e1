// Package testutil holds small helpers shared by the tests of several packages.
package testutil

import (
	"net"
	"testing"
)

// ClosedAddr returns a 127.0.0.1 address that nothing listens on any more: a port that was
// just released, so a connection to it is refused.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
