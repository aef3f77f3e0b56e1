package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// discardBody reads and drops the body of a request that will not be served, at most
// Config.MaxBodyBytes of it within the server's read timeout, holding no more than a small
// buffer. A client still sending its body when the answer comes would otherwise see the
// connection reset instead of the answer (the server closes a connection whose unread body
// is larger than 256 KiB).
func (x *Exchange) discardBody() {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(x.W, x.R.Body, x.api.cfg.MaxBodyBytes))
}

// readBody reads the request body, at most limit bytes of it (Config.MaxBodyBytes for a
// command; batch task bodies list up to 30,000 devices), within what is left of the
// server's read timeout. Once the body has been read to its end, net/http lifts the read
// deadline and watches the connection instead: waiting for the device is not reading.
func (x *Exchange) readBody(limit int64) ([]byte, *Answer) {
	tooLarge := func() ([]byte, *Answer) {
		a := ErrorAnswer(http.StatusBadRequest, CodeInvalidInput,
			fmt.Sprintf("%s The request body exceeds %d bytes.", MsgInvalidInput, limit))
		return nil, &a
	}
	if x.R.ContentLength > limit {
		// Read (and drop) up to the limit, as for a body found too large while reading: a
		// client still sending would otherwise see the connection reset, not the answer.
		x.discardBody()
		return tooLarge()
	}
	var body []byte
	var err error
	r := http.MaxBytesReader(x.W, x.R.Body, limit)
	if n := x.R.ContentLength; n >= 0 {
		// The length is known and within the limit: read it into a buffer of that size
		// rather than one grown by doubling.
		body = make([]byte, n)
		_, err = io.ReadFull(r, body)
	} else {
		body, err = io.ReadAll(r)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooBig):
			return tooLarge()
		case errors.As(err, &netErr) && netErr.Timeout():
			a := ErrorAnswer(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf(
				"%s The request body was not received within %s.", MsgBadRequest, x.api.cfg.ReadTimeout))
			return nil, &a
		}
		a := ErrorAnswer(http.StatusBadRequest, CodeBadRequest, MsgBadRequest+" The request body could not be read.")
		return nil, &a
	}
	return body, nil
}
