package mockserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// discardBody reads and drops the body of a request that will not be served, at most
// Limits.MaxBodyBytes of it within Limits.HTTPReadTimeout, holding no more than a small
// buffer. A client still sending its body when the answer comes would otherwise see the
// connection reset instead of the answer (the server closes a connection whose unread body
// is larger than 256 KiB).
func (h *httpSide) discardBody(x *exchange) {
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(x.w, x.r.Body, h.opts.Limits.MaxBodyBytes))
}

// readBody reads the request body, at most limit bytes of it (Limits.MaxBodyBytes for a
// command; batch task bodies list up to 30,000 devices), within what is left of
// Limits.HTTPReadTimeout. Once the body has been read to its end, net/http lifts the read
// deadline and watches the connection instead: waiting for the device is not reading.
func (h *httpSide) readBody(x *exchange, limit int64) ([]byte, *answer) {
	tooLarge := func() ([]byte, *answer) {
		a := errorAnswer(http.StatusBadRequest, codeInvalidInput,
			fmt.Sprintf("%s The request body exceeds %d bytes.", msgInvalidInput, limit))
		return nil, &a
	}
	if x.r.ContentLength > limit {
		// Read (and drop) up to the limit, as for a body found too large while reading: a
		// client still sending would otherwise see the connection reset, not the answer.
		h.discardBody(x)
		return tooLarge()
	}
	var body []byte
	var err error
	r := http.MaxBytesReader(x.w, x.r.Body, limit)
	if n := x.r.ContentLength; n >= 0 {
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
			a := errorAnswer(http.StatusBadRequest, codeBadRequest, fmt.Sprintf(
				"%s The request body was not received within %s.", msgBadRequest, h.opts.Limits.HTTPReadTimeout))
			return nil, &a
		}
		a := errorAnswer(http.StatusBadRequest, codeBadRequest, msgBadRequest+" The request body could not be read.")
		return nil, &a
	}
	return body, nil
}
