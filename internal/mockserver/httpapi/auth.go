package httpapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// maxClockSkew is how far X-Sdk-Date may be from the mock's clock, as API Gateway allows.
const maxClockSkew = 15 * time.Minute

// AuthService is the derived-auth service name IoTDA's V11 signatures are scoped to.
const AuthService = "iotdm"

// authError is an authentication failure. Its message says what was wrong without ever
// quoting a secret or the expected signature.
type authError struct{ msg string }

func (e *authError) Error() string { return "Authentication failed: " + e.msg + "." }

func authFailed(msg string) error { return &authError{msg: msg} }

// checkCredentials checks what the request's headers alone can show: the X-Auth-Token, and
// for an AK/SK signature the Authorization header's shape, the access key, X-Sdk-Date and the
// V11 scope. Every credential header the request carries must be valid, and at least one must
// be present. With neither Config.AuthToken nor Config.Credentials set, every request is
// accepted. The X-Security-Token of temporary credentials is not checked.
//
// For a signed request it returns verifyBody, which finishes the check against the body once
// it has been read; nil means nothing depends on the body. The body is read only after this
// check passes, so that a peer without credentials cannot make the mock read, hold or journal
// one.
func checkCredentials(cfg *Config, r *http.Request) (verifyBody func(body []byte) error, err error) {
	if cfg.AuthToken == "" && len(cfg.Credentials) == 0 {
		return nil, nil
	}
	token, hasToken := r.Header[http.CanonicalHeaderKey("X-Auth-Token")]
	authz := r.Header.Get("Authorization")
	if !hasToken && authz == "" {
		return nil, authFailed("the request has neither an X-Auth-Token nor an Authorization header")
	}
	if hasToken {
		if err := checkToken(cfg, token); err != nil {
			return nil, err
		}
	}
	if authz == "" {
		return nil, nil
	}
	return checkSignatureHeaders(cfg, r, authz)
}

func checkToken(cfg *Config, values []string) error {
	if cfg.AuthToken == "" {
		return authFailed("token authentication is not enabled on this mock; sign the request with an access key")
	}
	if len(values) != 1 {
		return authFailed("the request has more than one X-Auth-Token header")
	}
	if subtle.ConstantTimeCompare([]byte(values[0]), []byte(cfg.AuthToken)) != 1 {
		return authFailed("the X-Auth-Token is not valid")
	}
	return nil
}

// checkSignatureHeaders checks the parts of an AK/SK signature that do not depend on the body
// and returns the check of the signature itself.
func checkSignatureHeaders(cfg *Config, r *http.Request, authz string) (func(body []byte) error, error) {
	if len(cfg.Credentials) == 0 {
		return nil, authFailed("AK/SK authentication is not enabled on this mock; use an X-Auth-Token")
	}
	auth, err := signer.ParseAuthorization(authz)
	if err != nil {
		return nil, authFailed("the Authorization header is malformed (want " + signer.AlgorithmSDK +
			" Access=..., SignedHeaders=..., Signature=... or " + signer.AlgorithmV11 + " Credential=...)")
	}
	secret, ok := cfg.Credentials[auth.AccessKey]
	if !ok {
		return nil, authFailed("the access key is not known")
	}
	date, err := checkSdkDate(cfg, r)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(auth.SignedHeaders, strings.ToLower(signer.HeaderDate)) {
		return nil, authFailed("x-sdk-date is not among the signed headers")
	}
	if auth.Algorithm == signer.AlgorithmV11 {
		if err := checkScope(cfg, auth, date); err != nil {
			return nil, err
		}
	}
	return func(body []byte) error { return checkSignature(auth, secret, r, body) }, nil
}

// checkSignature recomputes the signature over the body the mock received.
//
// The client-side signer takes an X-Sdk-Content-Sha256 header, when present, as the body's
// hash without looking at the body (as the SDK does, facts §3). A verifier that did the same
// would let anyone replace the body of a captured request and add that header with the hash
// of the original body. Here the header counts only when it is among the signed headers, and
// then only when it equals the hash of the body received or is UNSIGNED-PAYLOAD, the API
// Gateway's marker for a body the client chose not to sign. Otherwise the body itself is
// hashed.
func checkSignature(auth signer.Authorization, secret string, r *http.Request, body []byte) error {
	req, err := withVerifiedContentHash(auth, r, body)
	if err != nil {
		return err
	}
	want, err := signer.ComputeSignature(auth, secret, req, body)
	if err != nil {
		return authFailed("the signature cannot be verified: " + err.Error())
	}
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(auth.Signature))) {
		return authFailed("the signature does not match the request (check the secret key, the signed headers and the body)")
	}
	return nil
}

// unsignedPayload is the X-Sdk-Content-Sha256 value of a body left out of the signature.
const unsignedPayload = "UNSIGNED-PAYLOAD"

// withVerifiedContentHash returns the request the signature is to be computed over: r itself
// when its X-Sdk-Content-Sha256 header may stand for the body, or a copy without the header
// when the header is not signed, so that the body received is hashed instead.
func withVerifiedContentHash(auth signer.Authorization, r *http.Request, body []byte) (*http.Request, error) {
	values, present := r.Header[signer.HeaderContentSha256]
	if !present {
		return r, nil
	}
	if !slices.Contains(auth.SignedHeaders, strings.ToLower(signer.HeaderContentSha256)) {
		// Anybody can add an unsigned header: ignore it and hash the body.
		req := r.Clone(r.Context())
		req.Header.Del(signer.HeaderContentSha256)
		return req, nil
	}
	if len(values) != 1 {
		return nil, authFailed("the request has more than one X-Sdk-Content-Sha256 header")
	}
	v := strings.TrimSpace(values[0])
	sum := sha256.Sum256(body)
	if v != unsignedPayload && !strings.EqualFold(v, hex.EncodeToString(sum[:])) {
		return nil, authFailed("the signed X-Sdk-Content-Sha256 header is not the SHA-256 of the request body")
	}
	return r, nil
}

// checkSdkDate checks that X-Sdk-Date is present, well formed and close to the mock's clock.
func checkSdkDate(cfg *Config, r *http.Request) (time.Time, error) {
	v := r.Header.Get(signer.HeaderDate)
	if v == "" {
		return time.Time{}, authFailed("the X-Sdk-Date header is missing")
	}
	date, err := time.Parse(signer.DateLayout, v)
	if err != nil {
		return time.Time{}, authFailed("the X-Sdk-Date header is not in the format yyyyMMddTHHmmssZ")
	}
	if skew := cfg.Now().Sub(date).Abs(); skew > maxClockSkew {
		return time.Time{}, authFailed("the X-Sdk-Date is more than 15 minutes away from the server time " +
			cfg.Now().UTC().Format(signer.DateLayout))
	}
	return date, nil
}

// checkScope checks a V11 credential scope against the mock's region and the request date.
func checkScope(cfg *Config, auth signer.Authorization, date time.Time) error {
	if auth.Region != cfg.Region {
		return authFailed("the credential scope region " + Quote(auth.Region) + " is not this endpoint's region " +
			Quote(cfg.Region))
	}
	if auth.Service != AuthService {
		return authFailed("the credential scope service " + Quote(auth.Service) + " is not " + Quote(AuthService))
	}
	if day := date.UTC().Format("20060102"); auth.Date != day {
		return authFailed("the credential scope date " + Quote(auth.Date) + " is not the X-Sdk-Date day " + Quote(day))
	}
	return nil
}
