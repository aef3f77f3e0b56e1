package signer

import (
	"bytes"
	"crypto/hmac"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const (
	vectorAK   = "AccessKey"
	vectorSK   = "SecretKey"
	vectorDate = "20060102T150405Z"
)

// vectorRequest builds the requests of the SDK's own signer tests.
func vectorRequest(t *testing.T, post bool) (*http.Request, []byte) {
	t.Helper()
	if !post {
		req := httptest.NewRequest(http.MethodGet, "https://example.huaweicloud.com/path?limit=1", nil)
		req.Header = http.Header{"TEST_UNDERSCORE": {"TEST_VALUE"}}
		return req, nil
	}
	body := []byte("{\"Name\":\"test\",\"Id\":1}\n")
	req := httptest.NewRequest(http.MethodPost, "https://example.huaweicloud.com/path?key=value", bytes.NewReader(body))
	req.Header = http.Header{"TEST_UNDERSCORE": {"TEST_VALUE"}, "Content-Type": {"application/json"}}
	return req, body
}

func TestSign_PublishedVectors(t *testing.T) {
	now, err := time.Parse(DateLayout, vectorDate)
	if err != nil {
		t.Fatal(err)
	}
	sdk := Signer{AccessKey: vectorAK, SecretKey: vectorSK}
	v11 := Signer{AccessKey: vectorAK, SecretKey: vectorSK, Algorithm: AlgorithmV11, Region: "test-region-1", Service: "demo"}
	cases := []struct {
		name   string
		s      Signer
		post   bool
		expect string
	}{
		{"sdk-get", sdk, false, "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, " +
			"Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"},
		{"sdk-post", sdk, true, "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, " +
			"Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59"},
		{"v11-get", v11, false, "V11-HMAC-SHA256 Credential=AccessKey/20060102/test-region-1/demo, " +
			"SignedHeaders=x-sdk-date, Signature=8fd3610508884bb19718317797c7378716a94bc740d97502e569322e366341cc"},
		{"v11-post", v11, true, "V11-HMAC-SHA256 Credential=AccessKey/20060102/test-region-1/demo, " +
			"SignedHeaders=x-sdk-date, Signature=4112f88b92d82dd1e1b7dd142f1e99e4f1762c42ca8fe0968b3045120870a903"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, body := vectorRequest(t, tc.post)
			if err := tc.s.Sign(req, body, now); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != tc.expect {
				t.Fatalf("Authorization\n got %s\nwant %s", got, tc.expect)
			}
			if got := req.Header.Get(HeaderDate); got != vectorDate {
				t.Fatalf("X-Sdk-Date = %q", got)
			}
		})
	}
}

func TestSign_Errors(t *testing.T) {
	now := time.Now()
	cases := map[string]Signer{
		"no-ak":      {SecretKey: "s"},
		"no-sk":      {AccessKey: "a"},
		"bad-alg":    {AccessKey: "a", SecretKey: "s", Algorithm: "MD5"},
		"v11-region": {AccessKey: "a", SecretKey: "s", Algorithm: AlgorithmV11, Service: "iotdm"},
		"v11-svc":    {AccessKey: "a", SecretKey: "s", Algorithm: AlgorithmV11, Region: "r"},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://h/p", nil)
			if err := s.Sign(req, nil, now); err == nil {
				t.Fatal("expected an error")
			}
			if req.Header.Get("Authorization") != "" {
				t.Fatal("Authorization set despite error")
			}
		})
	}
	if err := (Signer{AccessKey: "a", SecretKey: "s"}).Sign(nil, nil, now); err == nil {
		t.Fatal("nil request accepted")
	}
}

func TestSign_UnsignedPayloadForNonJSON(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "http://h/p", strings.NewReader("x"))
	req.Header.Set("Content-Type", "text/plain")
	s := Signer{AccessKey: "a", SecretKey: "s"}
	if err := s.Sign(req, []byte("x"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := req.Header.Get(HeaderContentSha256); got != "UNSIGNED-PAYLOAD" {
		t.Fatalf("X-Sdk-Content-Sha256 = %q", got)
	}
}

// signedFixture returns a signed request resembling a CreateCommand call.
func signedFixture(t *testing.T, s Signer) (*http.Request, []byte, Authorization) {
	t.Helper()
	body := []byte(`{"paras":{"v":1}}`)
	req := httptest.NewRequest(http.MethodPost, "https://iotda.example/v5/iot/p/devices/d/commands?x=1", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ua")
	req.Header.Set("X-Project-Id", "p")
	req.Header.Set("Host", "iotda.example")
	if err := s.Sign(req, body, time.Date(2026, 9, 2, 23, 59, 59, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	auth, err := ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	return req, body, auth
}

func TestComputeSignature_MatchesSignAndDetectsTampering(t *testing.T) {
	for _, s := range []Signer{
		{AccessKey: "ak", SecretKey: "sk"},
		{AccessKey: "ak", SecretKey: "sk", Algorithm: AlgorithmV11, Region: "cn-north-4", Service: "iotdm"},
	} {
		t.Run(s.Algorithm, func(t *testing.T) {
			req, body, auth := signedFixture(t, s)
			if !strings.Contains(strings.Join(auth.SignedHeaders, ";"), "host") {
				t.Fatalf("explicit Host not signed: %v", auth.SignedHeaders)
			}
			verify := func(r *http.Request, b []byte) bool {
				t.Helper()
				sig, err := ComputeSignature(auth, "sk", r, b)
				if err != nil {
					t.Fatal(err)
				}
				return hmac.Equal([]byte(sig), []byte(auth.Signature))
			}
			if !verify(req, body) {
				t.Fatal("ComputeSignature differs from Sign")
			}
			// A server sees Host in req.Host, not in the header map.
			r2 := req.Clone(t.Context())
			r2.Header.Del("Host")
			r2.Host = "iotda.example"
			if !verify(r2, body) {
				t.Fatal("host from req.Host not used")
			}
			if verify(req, []byte(`{"paras":{"v":2}}`)) {
				t.Fatal("changed body still verifies")
			}
			r3 := req.Clone(t.Context())
			r3.Header.Set("X-Project-Id", "other")
			if verify(r3, body) {
				t.Fatal("changed signed header still verifies")
			}
			r4 := req.Clone(t.Context())
			r4.Header.Set("Content-Type", "application/xml; charset=utf-8")
			if !verify(r4, body) {
				t.Fatal("unsigned Content-Type change broke the signature")
			}
			if sig, err := ComputeSignature(auth, "other", req, body); err != nil || sig == auth.Signature {
				t.Fatalf("wrong secret key verifies (err %v)", err)
			}
		})
	}
}

func TestComputeSignature_Errors(t *testing.T) {
	req, body, auth := signedFixture(t, Signer{AccessKey: "ak", SecretKey: "sk", Algorithm: AlgorithmV11, Region: "r", Service: "iotdm"})
	wrongDay := auth
	wrongDay.Date = "20260901"
	noDate := req.Clone(t.Context())
	noDate.Header.Del(HeaderDate)
	badAlg := auth
	badAlg.Algorithm = "X"
	noScope := auth
	noScope.Region = ""
	cases := map[string]struct {
		a   Authorization
		sk  string
		req *http.Request
	}{
		"scope-date":  {wrongDay, "sk", req},
		"no-date":     {auth, "sk", noDate},
		"bad-alg":     {badAlg, "sk", req},
		"empty-scope": {noScope, "sk", req},
		"no-secret":   {auth, "", req},
		"nil-request": {auth, "sk", nil},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ComputeSignature(tc.a, tc.sk, tc.req, body); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func TestCanonicalURIAndQuery(t *testing.T) {
	if got := canonicalURI("/v5/iot/p/devices/a b+%~ü/commands"); got != "/v5/iot/p/devices/a%20b%2B%25~%C3%BC/commands/" {
		t.Fatalf("canonicalURI = %q", got)
	}
	for in, want := range map[string]string{"": "/", "/": "/", "/a/": "/a/"} {
		if got := canonicalURI(in); got != want {
			t.Fatalf("canonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "http://h/?b=2&a.=x&a%2F=y&b=1&e=", nil)
	if got, want := canonicalQuery(req), "a.=x&a%2F=y&b=1&b=2&e="; got != want {
		t.Fatalf("canonicalQuery = %q, want %q", got, want)
	}
}
