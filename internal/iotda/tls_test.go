package iotda

import (
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// newCountingTLSServer starts a TLS server that counts new connections and answers 200.
func newCountingTLSServer(t *testing.T, conns *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(reply(http.StatusOK, `{"command_id":"tls-ok"}`))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // The untrusted-client case logs a handshake error.
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestCreateCommand_TLSTrust(t *testing.T) {
	var conns atomic.Int32
	srv := newCountingTLSServer(t, &conns)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))

	t.Run("ca_cert_pem trusted", func(t *testing.T) {
		c := newTestClient(t, srv.URL, func(c *Config) { c.CACertPEM = caPEM })
		if res, err := c.CreateCommand(t.Context(), simpleCommand); err != nil || res.CommandID != "tls-ok" {
			t.Fatalf("res %+v, err %v", res, err)
		}
	})
	t.Run("insecure", func(t *testing.T) {
		c := newTestClient(t, srv.URL, func(c *Config) { c.Insecure = true })
		if _, err := c.CreateCommand(t.Context(), simpleCommand); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("untrusted certificate is permanent", func(t *testing.T) {
		before := conns.Load()
		c := newTestClient(t, srv.URL, func(c *Config) { c.MaxRetries = 3 })
		_, err := c.CreateCommand(t.Context(), simpleCommand)
		var ns *NotSentError
		if !errors.As(err, &ns) || ns.Attempts != 1 || !strings.Contains(err.Error(), "ca_cert_pem") {
			t.Fatalf("err = %v", err)
		}
		if n := conns.Load() - before; n != 1 {
			t.Fatalf("%d connections, want 1 (no retry)", n)
		}
	})
}

func TestCreateCommand_TLSHandshakeFailureRetried(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var accepts atomic.Int32
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_ = conn.Close() // Drop the connection during the handshake.
		}
	}()
	c := newTestClient(t, "https://"+l.Addr().String(), func(c *Config) { c.MaxRetries = 2; c.Insecure = true })
	_, err = c.CreateCommand(t.Context(), simpleCommand)
	var ns *NotSentError
	if !errors.As(err, &ns) || ns.Attempts != 3 {
		t.Fatalf("err = %v", err)
	}
	if n := accepts.Load(); n != 3 {
		t.Fatalf("accepts = %d, want 3", n)
	}
}
