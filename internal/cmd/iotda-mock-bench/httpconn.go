package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// httpConn is one keep-alive HTTP/1.1 connection of the load client: it writes each
// request in one write and reads the answer with Content-Length, with no goroutine of its
// own, so that the load client takes as little as it can of the CPU the mock shares. It
// reconnects after an error.
type httpConn struct {
	url  string // http://host:port
	conn net.Conn
	br   *bufio.Reader
	req  []byte
}

// ioTimeout bounds one request: longer than the mock's platform timeout.
const ioTimeout = time.Minute

func (h *httpConn) close() {
	if h.conn != nil {
		_ = h.conn.Close()
		h.conn = nil
	}
}

// post sends a JSON POST and returns the answer's status and body.
func (h *httpConn) post(path, token, body string) (int, []byte, error) {
	u, err := url.Parse(h.url)
	if err != nil || u.Scheme != "http" {
		return 0, nil, fmt.Errorf("the load client speaks plain http only, not %q", h.url)
	}
	if h.conn == nil {
		c, err := net.DialTimeout("tcp", u.Host, ioTimeout)
		if err != nil {
			return 0, nil, err
		}
		h.conn, h.br = c, bufio.NewReaderSize(c, 8192)
	}
	_ = h.conn.SetDeadline(time.Now().Add(ioTimeout))
	h.req = append(h.req[:0], "POST "+path+" HTTP/1.1\r\nHost: "+u.Host+
		"\r\nContent-Type: application/json\r\nX-Auth-Token: "+token+
		"\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body...)
	if _, err := h.conn.Write(h.req); err != nil {
		h.close()
		return 0, nil, err
	}
	status, data, keep, err := h.readResponse()
	if err != nil || !keep {
		h.close()
	}
	return status, data, err
}

// readResponse reads a status line, headers and a Content-Length body.
func (h *httpConn) readResponse() (status int, body []byte, keepAlive bool, err error) {
	line, err := h.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	if status, err = strconv.Atoi(string(f[1])); err != nil {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	length, keepAlive := -1, true
	for {
		line, err := h.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keepAlive = false
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, nil, false, errors.New("the load client reads Content-Length answers only")
		}
	}
	if length < 0 {
		return 0, nil, false, errors.New("answer without Content-Length")
	}
	body = make([]byte, length)
	if _, err := io.ReadFull(h.br, body); err != nil {
		return 0, nil, false, err
	}
	return status, body, keepAlive, nil
}
