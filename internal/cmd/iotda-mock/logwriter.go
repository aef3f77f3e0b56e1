package main

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// logFlushInterval is how long a log line may wait in the buffer.
const logFlushInterval = 100 * time.Millisecond

// logWriter buffers log lines and writes them out every logFlushInterval, when the buffer
// fills and on Close, so that a busy mock does not pay a write to standard error for each
// command it logs.
type logWriter struct {
	mu     sync.Mutex
	buf    *bufio.Writer
	timer  *time.Timer // pending flush; nil when the buffer is empty
	closed bool
}

func newLogWriter(w io.Writer) *logWriter {
	return &logWriter{buf: bufio.NewWriterSize(w, 64<<10)}
}

// Write buffers p (one log line: slog writes each record with one Write).
func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, io.ErrClosedPipe
	}
	n, err := l.buf.Write(p)
	if l.timer == nil && l.buf.Buffered() > 0 {
		l.timer = time.AfterFunc(logFlushInterval, l.flush)
	}
	return n, err
}

// flush writes out what is buffered.
func (l *logWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	_ = l.buf.Flush()
}

// Close writes out what is buffered; later writes fail.
func (l *logWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	l.closed = true
	return l.buf.Flush()
}
