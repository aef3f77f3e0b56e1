package mockserver

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

const (
	testAK     = "AKTESTACCESSKEY"
	testSK     = "sk-very-secret-value"
	testToken  = "token-very-secret-value"
	testRegion = "cn-north-4"
)

// authClock is the mock's clock in the auth tests: a fixed instant, so that signature
// dates are checked against it and not against the machine's clock.
var authClock = time.Date(2026, 9, 2, 23, 59, 30, 0, time.UTC)

func newAuthServer(t *testing.T) *Server {
	t.Helper()
	return NewForTest(t, Options{
		Region:      testRegion,
		AuthToken:   testToken,
		Credentials: map[string]string{testAK: testSK},
		Now:         func() time.Time { return authClock },
		Devices:     []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}},
	})
}

// signedRequest builds a command request for the echo device, signed with sg at signedAt.
// The SDK's own headers are set before signing, so they are signed.
func signedRequest(t *testing.T, s *Server, sg signer.Signer, body string, signedAt time.Time) *http.Request {
	t.Helper()
	req := newCommandRequest(t, commandURL(s, "echo"), body)
	req.Header.Set("User-Agent", "huaweicloud-usdk-go/3.0")
	req.Header.Set("X-Project-Id", s.ProjectID())
	if err := sg.Sign(req, []byte(body), signedAt); err != nil {
		t.Fatal(err)
	}
	return req
}

func sdkSigner(sk string) signer.Signer {
	return signer.Signer{AccessKey: testAK, SecretKey: sk, Algorithm: signer.AlgorithmSDK}
}

func v11Signer(sk, region, service string) signer.Signer {
	return signer.Signer{AccessKey: testAK, SecretKey: sk, Algorithm: signer.AlgorithmV11, Region: region, Service: service}
}

func TestAuth_Accepted(t *testing.T) {
	s := newAuthServer(t)
	const body = `{"paras":{"v":1}}` + "\n" // the SDK's json.Encoder adds the newline
	tests := map[string]func() *http.Request{
		"token": func() *http.Request {
			req := newCommandRequest(t, commandURL(s, "echo"), body)
			req.Header.Set("X-Auth-Token", testToken)
			return req
		},
		"SDK-HMAC-SHA256": func() *http.Request { return signedRequest(t, s, sdkSigner(testSK), body, authClock) },
		"V11-HMAC-SHA256": func() *http.Request {
			return signedRequest(t, s, v11Signer(testSK, testRegion, httpapi.AuthService), body, authClock)
		},
		"14 minutes early": func() *http.Request {
			return signedRequest(t, s, sdkSigner(testSK), body, authClock.Add(-14*time.Minute))
		},
		"V11 across midnight": func() *http.Request {
			// Signed on the next UTC day, 30 s ahead of the mock: the scope is that day.
			return signedRequest(t, s, v11Signer(testSK, testRegion, httpapi.AuthService), body, authClock.Add(time.Minute))
		},
		"token and signature": func() *http.Request {
			req := newCommandRequest(t, commandURL(s, "echo"), body)
			req.Header.Set("X-Auth-Token", testToken)
			if err := sdkSigner(testSK).Sign(req, []byte(body), authClock); err != nil {
				t.Fatal(err)
			}
			return req
		},
	}
	for name, build := range tests {
		t.Run(name, func(t *testing.T) {
			resp, respBody := do(t, nil, build())
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, body %s", resp.StatusCode, respBody)
			}
		})
	}
}

func TestAuth_Rejected(t *testing.T) {
	s := newAuthServer(t)
	const body = `{"paras":{"v":1}}`
	v11 := v11Signer(testSK, testRegion, httpapi.AuthService)
	tests := map[string]struct {
		build   func() *http.Request
		wantMsg string
	}{
		"no credentials": {func() *http.Request {
			return newCommandRequest(t, commandURL(s, "echo"), body)
		}, "neither"},
		"wrong token": {func() *http.Request {
			req := newCommandRequest(t, commandURL(s, "echo"), body)
			req.Header.Set("X-Auth-Token", testToken+"x")
			return req
		}, "X-Auth-Token is not valid"},
		"wrong secret SDK": {func() *http.Request {
			return signedRequest(t, s, sdkSigner(testSK+"x"), body, authClock)
		}, "signature does not match"},
		"wrong secret V11": {func() *http.Request {
			return signedRequest(t, s, v11Signer(testSK+"x", testRegion, httpapi.AuthService), body, authClock)
		}, "signature does not match"},
		"unknown access key": {func() *http.Request {
			sg := sdkSigner(testSK)
			sg.AccessKey = "OTHER"
			return signedRequest(t, s, sg, body, authClock)
		}, "access key is not known"},
		"body changed after signing": {func() *http.Request {
			req := signedRequest(t, s, sdkSigner(testSK), body, authClock)
			return replaceBody(t, req, `{"paras":{"v":2}}`)
		}, "signature does not match"},
		"signed header changed": {func() *http.Request {
			req := signedRequest(t, s, v11, body, authClock)
			req.Header.Set("X-Project-Id", "someone-else")
			return req
		}, "signature does not match"},
		"X-Sdk-Date missing": {func() *http.Request {
			req := signedRequest(t, s, sdkSigner(testSK), body, authClock)
			req.Header.Del(signer.HeaderDate)
			return req
		}, "X-Sdk-Date header is missing"},
		"X-Sdk-Date malformed": {func() *http.Request {
			req := signedRequest(t, s, sdkSigner(testSK), body, authClock)
			req.Header.Set(signer.HeaderDate, authClock.Format(time.RFC3339))
			return req
		}, "not in the format"},
		"X-Sdk-Date stale": {func() *http.Request {
			return signedRequest(t, s, sdkSigner(testSK), body, authClock.Add(-16*time.Minute))
		}, "15 minutes"},
		"X-Sdk-Date in the future": {func() *http.Request {
			return signedRequest(t, s, v11, body, authClock.Add(16*time.Minute))
		}, "15 minutes"},
		"V11 other region": {func() *http.Request {
			return signedRequest(t, s, v11Signer(testSK, "cn-south-1", httpapi.AuthService), body, authClock)
		}, `region "cn-south-1"`},
		"V11 other service": {func() *http.Request {
			return signedRequest(t, s, v11Signer(testSK, testRegion, "iotda"), body, authClock)
		}, `service "iotda"`},
		"V11 scope date": {func() *http.Request {
			req := signedRequest(t, s, v11, body, authClock)
			req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/20260902/", "/20260901/", 1))
			return req
		}, `scope date "20260901"`},
		"date not signed": {func() *http.Request { return unsignedDateRequest(t, s, body) }, "x-sdk-date is not among"},
		"malformed Authorization": {func() *http.Request {
			req := newCommandRequest(t, commandURL(s, "echo"), body)
			req.Header.Set("Authorization", "Bearer "+testToken)
			return req
		}, "Authorization header is malformed"},
		"valid signature, wrong token": {func() *http.Request {
			req := signedRequest(t, s, sdkSigner(testSK), body, authClock)
			req.Header.Set("X-Auth-Token", "nope")
			return req
		}, "X-Auth-Token is not valid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			resp, respBody := do(t, nil, tc.build())
			e := wantError(t, resp, respBody, http.StatusUnauthorized, httpapi.CodeUnauthorized)
			if !strings.Contains(e.ErrorMsg, tc.wantMsg) {
				t.Errorf("error_msg = %q, want it to contain %q", e.ErrorMsg, tc.wantMsg)
			}
			assertNoSecrets(t, string(respBody))
		})
	}
	if n := len(s.Deliveries("")); n != 0 {
		t.Errorf("%d deliveries after rejected requests, want none", n)
	}
}

// assertNoSecrets checks that an answer quotes neither a configured secret nor any
// signature (the client's or the one the mock expected): no 64-digit hex string at all.
func assertNoSecrets(t *testing.T, body string) {
	t.Helper()
	for _, secret := range []string{testSK, testToken} {
		if strings.Contains(body, secret) {
			t.Errorf("answer %s contains a secret", body)
		}
	}
	if hexSignature.MatchString(body) {
		t.Errorf("answer %s contains a signature", body)
	}
}

var hexSignature = regexp.MustCompile(`[0-9a-fA-F]{64}`)

// replaceBody swaps the request body, keeping the signed headers.
func replaceBody(t *testing.T, req *http.Request, body string) *http.Request {
	t.Helper()
	out := newCommandRequest(t, req.URL.String(), body)
	out.Header = req.Header.Clone()
	return out
}

// unsignedDateRequest signs a request correctly except that X-Sdk-Date is left out of the
// signed headers, so a replay could move it freely.
func unsignedDateRequest(t *testing.T, s *Server, body string) *http.Request {
	t.Helper()
	req := newCommandRequest(t, commandURL(s, "echo"), body)
	req.Header.Set("X-Project-Id", s.ProjectID())
	req.Header.Set(signer.HeaderDate, authClock.Format(signer.DateLayout))
	auth := signer.Authorization{Algorithm: signer.AlgorithmSDK, AccessKey: testAK, SignedHeaders: []string{"x-project-id"}}
	sig, err := signer.ComputeSignature(auth, testSK, req, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	auth.Signature = sig
	req.Header.Set("Authorization", auth.String())
	return req
}

func TestAuth_Modes(t *testing.T) {
	const body = `{"paras":{}}`
	t.Run("no auth configured accepts anything", func(t *testing.T) {
		s := NewForTest(t, Options{Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
		if resp, b := postCommand(t, s, "echo", body); resp.StatusCode != http.StatusOK {
			t.Errorf("status = %d, body %s", resp.StatusCode, b)
		}
	})
	t.Run("token only rejects signatures", func(t *testing.T) {
		s := NewForTest(t, Options{AuthToken: testToken, Now: func() time.Time { return authClock }})
		resp, b := do(t, nil, signedRequest(t, s, sdkSigner(testSK), body, authClock))
		if e := wantError(t, resp, b, http.StatusUnauthorized, httpapi.CodeUnauthorized); !strings.Contains(e.ErrorMsg, "AK/SK") {
			t.Errorf("error_msg = %q", e.ErrorMsg)
		}
	})
	t.Run("AK/SK only rejects tokens", func(t *testing.T) {
		s := NewForTest(t, Options{Credentials: map[string]string{testAK: testSK}})
		req := newCommandRequest(t, commandURL(s, "echo"), body)
		req.Header.Set("X-Auth-Token", testToken)
		resp, b := do(t, nil, req)
		if e := wantError(t, resp, b, http.StatusUnauthorized, httpapi.CodeUnauthorized); !strings.Contains(e.ErrorMsg, "token") {
			t.Errorf("error_msg = %q", e.ErrorMsg)
		}
	})
}

func TestAuth_JournalMasksCredentials(t *testing.T) {
	s := newAuthServer(t)
	req := signedRequest(t, s, v11Signer(testSK, testRegion, httpapi.AuthService), `{"paras":{}}`, authClock)
	req.Header.Set("X-Auth-Token", testToken)
	req.Header.Set("X-Security-Token", "sts-secret")
	if resp, b := do(t, nil, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, b)
	}
	h := http.Header(lastRequest(t, s).Header)
	if got := h.Get("Authorization"); got != signer.AlgorithmV11+" ***" {
		t.Errorf("journaled Authorization = %q", got)
	}
	for _, name := range []string{"X-Auth-Token", "X-Security-Token"} {
		if got := h.Get(name); got != "***" {
			t.Errorf("journaled %s = %q", name, got)
		}
	}
	if h.Get("X-Project-Id") != s.ProjectID() {
		t.Errorf("other headers must be kept: %v", h)
	}
}

// sha256Hex is the lowercase hex SHA-256 of s.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestAuth_SignatureBindsTheBody replays a captured signed request with another body. The
// SDK's signer takes an X-Sdk-Content-Sha256 header as the body's hash without looking at
// the body; the mock's verifier must not: an unsigned header is ignored and the body
// received is hashed, and a signed one must be that body's hash (or UNSIGNED-PAYLOAD).
func TestAuth_SignatureBindsTheBody(t *testing.T) {
	s := newAuthServer(t)
	const original = `{"command_name":"OPEN","paras":{"door":"front"}}` + "\n"
	const forged = `{"command_name":"OPEN","paras":{"door":"vault"}}` + "\n"
	v11 := v11Signer(testSK, testRegion, httpapi.AuthService)
	// signedWithHash signs the original body with an X-Sdk-Content-Sha256 header of the
	// given value among the signed headers.
	signedWithHash := func(sg signer.Signer, body, hash string) *http.Request {
		req := newCommandRequest(t, commandURL(s, "echo"), body)
		req.Header.Set("X-Project-Id", s.ProjectID())
		req.Header.Set(signer.HeaderContentSha256, hash)
		if err := sg.Sign(req, []byte(body), authClock); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(req.Header.Get("Authorization"), "x-sdk-content-sha256") {
			t.Fatalf("the content hash is not signed: %s", req.Header.Get("Authorization"))
		}
		return req
	}
	rejected := map[string]func() *http.Request{
		"V11, body replaced, unsigned hash of the original": func() *http.Request {
			req := replaceBody(t, signedRequest(t, s, v11, original, authClock), forged)
			req.Header.Set(signer.HeaderContentSha256, sha256Hex(original))
			return req
		},
		"SDK, body replaced, unsigned hash of the original": func() *http.Request {
			req := replaceBody(t, signedRequest(t, s, sdkSigner(testSK), original, authClock), forged)
			req.Header.Set(signer.HeaderContentSha256, sha256Hex(original))
			return req
		},
		"V11, body replaced, unsigned hash in upper case": func() *http.Request {
			req := replaceBody(t, signedRequest(t, s, v11, original, authClock), forged)
			req.Header.Set(signer.HeaderContentSha256, strings.ToUpper(sha256Hex(original)))
			return req
		},
		"V11, body replaced, unsigned hash of the new body": func() *http.Request {
			req := replaceBody(t, signedRequest(t, s, v11, original, authClock), forged)
			req.Header.Set(signer.HeaderContentSha256, sha256Hex(forged))
			return req
		},
		"SDK, body replaced, unsigned UNSIGNED-PAYLOAD": func() *http.Request {
			req := replaceBody(t, signedRequest(t, s, sdkSigner(testSK), original, authClock), forged)
			req.Header.Set(signer.HeaderContentSha256, "UNSIGNED-PAYLOAD")
			return req
		},
		"V11, body replaced, signed hash of the original": func() *http.Request {
			return replaceBody(t, signedWithHash(v11, original, sha256Hex(original)), forged)
		},
		"SDK, body replaced, signed hash of the original": func() *http.Request {
			return replaceBody(t, signedWithHash(sdkSigner(testSK), original, sha256Hex(original)), forged)
		},
		"V11, signed hash that is not the body's": func() *http.Request {
			return signedWithHash(v11, original, sha256Hex(forged))
		},
		"SDK, signed hash that is not a hash": func() *http.Request {
			return signedWithHash(sdkSigner(testSK), original, "anything")
		},
		"SDK, signed hash sent twice": func() *http.Request {
			req := signedWithHash(sdkSigner(testSK), original, sha256Hex(original))
			req.Header.Add(signer.HeaderContentSha256, sha256Hex(original))
			return req
		},
	}
	for name, build := range rejected {
		t.Run(name, func(t *testing.T) {
			resp, respBody := do(t, nil, build())
			e := wantError(t, resp, respBody, http.StatusUnauthorized, httpapi.CodeUnauthorized)
			if !strings.Contains(e.ErrorMsg, "signature does not match") && !strings.Contains(e.ErrorMsg, "X-Sdk-Content-Sha256") {
				t.Errorf("error_msg = %q, want it to blame the signature or the content hash", e.ErrorMsg)
			}
			assertNoSecrets(t, string(respBody))
			if got := lastRequest(t, s); len(got.Body) != 0 {
				t.Errorf("a request that failed authentication was journaled with its body %s", got.Body)
			}
		})
	}
	if n := len(s.Deliveries("echo")); n != 0 {
		t.Fatalf("%d commands delivered from replayed requests, want none", n)
	}

	accepted := map[string]func() *http.Request{
		"signed hash of the body": func() *http.Request {
			return signedWithHash(v11, original, sha256Hex(original))
		},
		"signed hash of the body in upper case": func() *http.Request {
			return signedWithHash(sdkSigner(testSK), original, strings.ToUpper(sha256Hex(original)))
		},
		"signed UNSIGNED-PAYLOAD": func() *http.Request {
			return signedWithHash(v11, original, "UNSIGNED-PAYLOAD")
		},
		"unsigned hash of the body": func() *http.Request {
			req := signedRequest(t, s, sdkSigner(testSK), original, authClock)
			req.Header.Set(signer.HeaderContentSha256, sha256Hex(original))
			return req
		},
		"unsigned wrong hash, body unchanged": func() *http.Request {
			req := signedRequest(t, s, v11, original, authClock)
			req.Header.Set(signer.HeaderContentSha256, sha256Hex(forged))
			return req
		},
	}
	for name, build := range accepted {
		t.Run(name, func(t *testing.T) {
			if resp, respBody := do(t, nil, build()); resp.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, body %s", resp.StatusCode, respBody)
			}
		})
	}
	for _, d := range s.Deliveries("echo") {
		if strings.Contains(string(d.Body), "vault") {
			t.Errorf("the forged command was delivered: %s", d.Body)
		}
	}
}
