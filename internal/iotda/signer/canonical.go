package signer

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
)

// canonicalRequest builds METHOD\nURI\nQUERY\nHEADERS\nSIGNED\nBODYHASH exactly as the SDK does.
func canonicalRequest(req *http.Request, signed []string, body []byte) string {
	return strings.Join([]string{
		req.Method,
		canonicalURI(req.URL.Path),
		canonicalQuery(req),
		canonicalHeaders(req, signed),
		strings.Join(signed, ";"),
		contentHash(req.Header, body),
	}, "\n")
}

// canonicalURI escapes each decoded path segment and always ends with "/", as the SDK does.
func canonicalURI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = escape(s)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// canonicalQuery sorts keys and values before escaping them; the SDK sorts the raw strings, which
// can order differently from the escaped ones (e.g. "." and "/").
func canonicalQuery(req *http.Request) string {
	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		ek := escape(k)
		for _, v := range vals {
			parts = append(parts, ek+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

// canonicalHeaders renders "name:trimmedvalue\n" per value of each signed header.
func canonicalHeaders(req *http.Request, signed []string) string {
	lower := make(map[string][]string, len(req.Header))
	for k, v := range req.Header {
		lk := strings.ToLower(k)
		lower[lk] = append(lower[lk], v...)
	}
	var b strings.Builder
	for _, name := range signed {
		vals := append([]string(nil), lower[name]...)
		if name == "host" && len(vals) == 0 {
			host := req.Host
			if host == "" {
				host = req.URL.Host
			}
			vals = []string{host}
		}
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(name)
			b.WriteByte(':')
			b.WriteString(strings.TrimSpace(v))
			b.WriteByte('\n')
		}
	}
	if b.Len() == 0 {
		// The SDK joins zero lines and still appends the newline.
		return "\n"
	}
	return b.String()
}

// contentHash is the X-Sdk-Content-Sha256 value when present, else the hex SHA-256 of body.
func contentHash(h http.Header, body []byte) string {
	if v, ok := h[HeaderContentSha256]; ok && len(v) > 0 {
		return v[0]
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// signedHeaderNames lists header names lowercased, sorted and de-duplicated, skipping names
// that start with "content-type" or contain "_" as the SDK does.
func signedHeaderNames(h http.Header) []string {
	seen := make(map[string]bool, len(h))
	names := make([]string, 0, len(h))
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(k, "_") || seen[lk] {
			continue
		}
		seen[lk] = true
		names = append(names, lk)
	}
	sort.Strings(names)
	return names
}

func isJSONOrBSON(contentType string) bool {
	return strings.Contains(contentType, "application/json") || strings.Contains(contentType, "application/bson")
}

// isUnreserved reports the bytes the SDK leaves unescaped: A-Za-z0-9 and "_-~.".
func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '_' || c == '-' || c == '~' || c == '.'
}

// escape percent-encodes every byte outside A-Za-z0-9_-~. with uppercase hex.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isUnreserved(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
