package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

// signalWriter records writes and signals each one.
type signalWriter struct {
	got chan string
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.got <- string(p)
	return len(p), nil
}

func TestLogWriter_FlushesOnItsOwnAndOnClose(t *testing.T) {
	out := &signalWriter{got: make(chan string, 4)}
	l := newLogWriter(out)
	if _, err := io.WriteString(l, "line 1\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(l, "line 2\n"); err != nil {
		t.Fatal(err)
	}
	// Nothing is written until the flush interval has passed; then everything is.
	var written string
	for !strings.Contains(written, "line 2\n") {
		select {
		case got := <-out.got:
			written += got
		case <-time.After(10 * time.Second):
			t.Fatalf("buffered lines were never written (got %q)", written)
		}
	}
	if written != "line 1\nline 2\n" {
		t.Errorf("wrote %q", written)
	}
	if _, err := io.WriteString(l, "line 3\n"); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-out.got:
		if !strings.Contains(got, "line 3") {
			t.Errorf("Close wrote %q", got)
		}
	default:
		t.Fatal("Close did not write out the buffer")
	}
	if _, err := io.WriteString(l, "late\n"); err == nil {
		t.Error("a write after Close succeeded")
	}
}
