package mockserver

import (
	"crypto/hmac"
	"crypto/subtle"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// maxClockSkew is how far X-Sdk-Date may be from the mock's clock, as API Gateway allows.
const maxClockSkew = 15 * time.Minute

// iotdaAuthService is the derived-auth service name IoTDA's V11 signatures are scoped to.
const iotdaAuthService = "iotdm"

// authError is an authentication failure. Its message says what was wrong without ever
// quoting a secret or the expected signature.
type authError struct{ msg string }

func (e *authError) Error() string { return "Authentication failed: " + e.msg + "." }

func authFailed(msg string) error { return &authError{msg: msg} }

// authenticate checks the request's credentials against opts. Every credential header the
// request carries must be valid, and at least one must be present. With neither
// Options.AuthToken nor Options.Credentials set, every request is accepted. The
// X-Security-Token of temporary credentials is not checked.
func authenticate(opts *Options, r *http.Request, body []byte) error {
	if opts.AuthToken == "" && len(opts.Credentials) == 0 {
		return nil
	}
	token, hasToken := r.Header[http.CanonicalHeaderKey("X-Auth-Token")]
	authz := r.Header.Get("Authorization")
	if !hasToken && authz == "" {
		return authFailed("the request has neither an X-Auth-Token nor an Authorization header")
	}
	if hasToken {
		if err := checkToken(opts, token); err != nil {
			return err
		}
	}
	if authz != "" {
		if err := checkSignature(opts, r, authz, body); err != nil {
			return err
		}
	}
	return nil
}

func checkToken(opts *Options, values []string) error {
	if opts.AuthToken == "" {
		return authFailed("token authentication is not enabled on this mock; sign the request with an access key")
	}
	if len(values) != 1 {
		return authFailed("the request has more than one X-Auth-Token header")
	}
	if subtle.ConstantTimeCompare([]byte(values[0]), []byte(opts.AuthToken)) != 1 {
		return authFailed("the X-Auth-Token is not valid")
	}
	return nil
}

func checkSignature(opts *Options, r *http.Request, authz string, body []byte) error {
	if len(opts.Credentials) == 0 {
		return authFailed("AK/SK authentication is not enabled on this mock; use an X-Auth-Token")
	}
	auth, err := signer.ParseAuthorization(authz)
	if err != nil {
		return authFailed("the Authorization header is malformed (want " + signer.AlgorithmSDK +
			" Access=..., SignedHeaders=..., Signature=... or " + signer.AlgorithmV11 + " Credential=...)")
	}
	secret, ok := opts.Credentials[auth.AccessKey]
	if !ok {
		return authFailed("the access key is not known")
	}
	date, err := checkSdkDate(opts, r)
	if err != nil {
		return err
	}
	if !slices.Contains(auth.SignedHeaders, strings.ToLower(signer.HeaderDate)) {
		return authFailed("x-sdk-date is not among the signed headers")
	}
	if auth.Algorithm == signer.AlgorithmV11 {
		if err := checkScope(opts, auth, date); err != nil {
			return err
		}
	}
	want, err := signer.ComputeSignature(auth, secret, r, body)
	if err != nil {
		return authFailed("the signature cannot be verified: " + err.Error())
	}
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(auth.Signature))) {
		return authFailed("the signature does not match the request (check the secret key, the signed headers and the body)")
	}
	return nil
}

// checkSdkDate checks that X-Sdk-Date is present, well formed and close to the mock's clock.
func checkSdkDate(opts *Options, r *http.Request) (time.Time, error) {
	v := r.Header.Get(signer.HeaderDate)
	if v == "" {
		return time.Time{}, authFailed("the X-Sdk-Date header is missing")
	}
	date, err := time.Parse(signer.DateLayout, v)
	if err != nil {
		return time.Time{}, authFailed("the X-Sdk-Date header is not in the format yyyyMMddTHHmmssZ")
	}
	if skew := opts.Now().Sub(date).Abs(); skew > maxClockSkew {
		return time.Time{}, authFailed("the X-Sdk-Date is more than 15 minutes away from the server time " +
			opts.Now().UTC().Format(signer.DateLayout))
	}
	return date, nil
}

// checkScope checks a V11 credential scope against the mock's region and the request date.
func checkScope(opts *Options, auth signer.Authorization, date time.Time) error {
	if auth.Region != opts.Region {
		return authFailed("the credential scope region " + quote(auth.Region) + " is not this endpoint's region " +
			quote(opts.Region))
	}
	if auth.Service != iotdaAuthService {
		return authFailed("the credential scope service " + quote(auth.Service) + " is not " + quote(iotdaAuthService))
	}
	if day := date.UTC().Format("20060102"); auth.Date != day {
		return authFailed("the credential scope date " + quote(auth.Date) + " is not the X-Sdk-Date day " + quote(day))
	}
	return nil
}

// quote quotes a client-supplied value for an error message, cut short so that the
// message stays small.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	return strconv.Quote(s)
}
