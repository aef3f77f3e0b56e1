package signer

import (
	"bytes"
	"crypto/hmac"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	sdksigner "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	sdkrequest "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

// randomRequest is one logical request, rendered both as an *http.Request and as the SDK's request type.
type randomRequest struct {
	method  string
	path    string
	query   map[string][]string
	headers map[string]string // canonical names, one value each (the SDK holds a single value per name)
	body    []byte
}

var (
	segmentPieces = []string{"a", "Z", "9", " ", "ü", "中", "%", "+", "~", "-", ".", "_", "!", "(", ")", "&", "=", "?",
		"#", ";", ":", "@", "*", "'", "$", ",", "%41", "é"}
	headerNames = []string{"Instance-Id", "User-Agent", "X-Project-Id", "X-Security-Token", "X-Custom", "Accept",
		"X_Underscore", "Test_underscore", "Content-Type", "Content-Type-Extra", "Host", "X-Trace-A", "Zz-Last"}
	contentTypes = []string{"application/json", "application/json;charset=UTF-8", "text/plain", "application/octet-stream",
		"application/bson"}
	headerValuePieces = []string{"v", "1", " ", "é", "abc", "/", "=", ";", "\t", "中"}
	methods           = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}
)

func pickString(r *rand.Rand, pieces []string, maxPieces int) string {
	var b strings.Builder
	for range r.IntN(maxPieces + 1) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func newRandomRequest(r *rand.Rand) randomRequest {
	rr := randomRequest{method: methods[r.IntN(len(methods))], query: map[string][]string{}, headers: map[string]string{}}
	segs := make([]string, 1+r.IntN(5))
	for i := range segs {
		segs[i] = pickString(r, segmentPieces, 4)
	}
	rr.path = "/" + strings.Join(segs, "/")
	if r.IntN(4) == 0 {
		rr.path += "/"
	}
	for range r.IntN(4) {
		k := pickString(r, segmentPieces, 3)
		if k == "" {
			k = "k"
		}
		for range 1 + r.IntN(3) { // repeated keys
			rr.query[k] = append(rr.query[k], pickString(r, segmentPieces, 3))
		}
	}
	for range r.IntN(6) {
		name := headerNames[r.IntN(len(headerNames))]
		switch name {
		case "Content-Type":
			rr.headers[name] = contentTypes[r.IntN(len(contentTypes))]
		case "Host":
			rr.headers[name] = "host.example:8443"
		case "User-Agent":
			// Go's client drops an empty User-Agent instead of sending it, so keep it non-empty.
			rr.headers[name] = "ua" + pickString(r, headerValuePieces, 3)
		default:
			rr.headers[name] = pickString(r, headerValuePieces, 5)
		}
	}
	if r.IntN(3) > 0 {
		rr.body = make([]byte, r.IntN(200))
		for i := range rr.body {
			rr.body[i] = byte(r.IntN(256))
		}
	}
	return rr
}

func (rr randomRequest) httpRequest(t *testing.T, base *url.URL) *http.Request {
	t.Helper()
	u := *base
	u.Path = rr.path
	u.RawQuery = url.Values(rr.query).Encode()
	req, err := http.NewRequestWithContext(t.Context(), rr.method, u.String(), bytes.NewReader(rr.body))
	if err != nil {
		t.Fatal(err)
	}
	// Setting Path directly keeps literal segment characters such as "%" (u.String() re-escapes them).
	req.URL.Path, req.URL.RawPath = rr.path, ""
	for k, v := range rr.headers {
		req.Header[k] = []string{v}
	}
	if h, ok := rr.headers["Host"]; ok {
		req.Host = h // What a server will see in r.Host.
	}
	return req
}

func (rr randomRequest) sdkRequest(date string) *sdkrequest.DefaultHttpRequest {
	b := sdkrequest.NewHttpRequestBuilder().WithMethod(rr.method).WithEndpoint("https://iotda.example").WithPath(rr.path)
	if len(rr.body) > 0 {
		b.WithBody("body", string(rr.body)) // A string body is hashed raw, without JSON encoding.
	}
	for k, v := range rr.query {
		b.AddQueryParam(k, reflect.ValueOf(v))
	}
	for k, v := range rr.headers {
		b.AddHeaderParam(k, v)
	}
	b.AddHeaderParam(HeaderDate, date)
	return b.Build()
}

// TestSign_MatchesOfficialSDK signs random requests with both signers and requires identical headers, then
// sends ours through a real HTTP round trip and checks ComputeSignature verifies it on the server side.
func TestSign_MatchesOfficialSDK(t *testing.T) {
	const ak, sk, region, service = "HPUAEXAMPLEAK", "secret/Key+value", "cn-north-4", "iotdm"
	var verifyFailures []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth, err := ParseAuthorization(r.Header.Get("Authorization"))
		if err == nil {
			var sig string
			if sig, err = ComputeSignature(auth, sk, r, body); err == nil && !hmac.Equal([]byte(sig), []byte(auth.Signature)) {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(20260902, 7))
	now := time.Date(2026, 9, 2, 8, 30, 0, 0, time.UTC)
	date := now.Format(DateLayout)
	for i := range 400 {
		rr := newRandomRequest(rng)
		v11 := i%2 == 1
		ours := Signer{AccessKey: ak, SecretKey: sk}
		var want map[string]string
		if v11 {
			ours = Signer{AccessKey: ak, SecretKey: sk, Algorithm: AlgorithmV11, Region: region, Service: service}
			want, err = sdksigner.DerivedSigner{}.Sign(rr.sdkRequest(date), ak, sk, service, region)
		} else {
			want, err = sdksigner.Signer{}.Sign(rr.sdkRequest(date), ak, sk)
		}
		if err != nil {
			t.Fatalf("case %d: SDK: %v", i, err)
		}
		req := rr.httpRequest(t, base)
		if err := ours.Sign(req, rr.body, now); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := req.Header.Get("Authorization"); got != want["Authorization"] {
			t.Fatalf("case %d (%+v):\n got %s\nwant %s", i, rr, got, want["Authorization"])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("case %d: round trip: %v", i, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			verifyFailures = append(verifyFailures, rr.method+" "+rr.path+" -> "+resp.Status)
		}
	}
	if len(verifyFailures) > 0 {
		t.Fatalf("%d requests failed server-side verification, e.g. %q", len(verifyFailures), verifyFailures[0])
	}
}
