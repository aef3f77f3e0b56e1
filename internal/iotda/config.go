// Package iotda is a small client for the Huawei Cloud IoTDA application API: it delivers
// synchronous device commands with token or AK/SK authentication, a retry policy that never
// repeats a request the platform may have received, and secret-safe debug logging.
package iotda

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// DerivedAuthService is the service name in IoTDA's V11-HMAC-SHA256 credential scope.
const DerivedAuthService = "iotdm"

// Config holds everything needed to build a Client.
type Config struct {
	// Endpoint is the full base URL, e.g. https://iotda.cn-north-4.myhuaweicloud.com or http://127.0.0.1:1234.
	// A trailing "/" is tolerated.
	Endpoint string
	// Region is the region, used in the V11 credential scope.
	Region string
	// ProjectID is the project in the request path (and the signed X-Project-Id header for AK/SK).
	ProjectID string
	// InstanceID is sent as the Instance-Id header when set.
	InstanceID string
	// AuthToken is an IAM token sent as X-Auth-Token.
	AuthToken string
	// AccessKey and SecretKey enable AK/SK request signing.
	AccessKey, SecretKey string
	// SecurityToken accompanies temporary AK/SK and is sent (signed) as X-Security-Token.
	SecurityToken string
	// SigningAlgorithm is "" (choose from the endpoint host, like the SDK's default derived predicate),
	// signer.AlgorithmSDK or signer.AlgorithmV11.
	SigningAlgorithm string
	// MaxRetries bounds the retries of requests that provably did not reach the platform; 0 disables them.
	MaxRetries int
	// Insecure disables TLS certificate verification.
	Insecure bool
	// CACertPEM holds extra PEM certificates trusted in addition to the system pool.
	CACertPEM string
	// UserAgent is the full User-Agent value; build it with UserAgent.
	UserAgent string
	// HTTPClient overrides the HTTP client (tests); by default NewClient builds one pooled client.
	HTTPClient *http.Client
	// Now is the clock used for signing; time.Now when nil.
	Now func() time.Time
}

// DefaultEndpoint returns the public IoTDA application endpoint of region.
func DefaultEndpoint(region string) string {
	return "https://iotda." + region + ".myhuaweicloud.com"
}

// standardHostPattern is the SDK's default derived predicate: hosts matching it use standard signing.
var standardHostPattern = regexp.MustCompile(
	`^[a-z][a-z0-9-]+(\.[a-z]{2,}-[a-z]+-\d{1,2})?\.(my)?(huaweicloud|myhwclouds)\.(com|cn)$`)

// algorithmForHost picks the signing algorithm for an endpoint host (without port) as the SDK's
// default derived predicate does, also treating instance access addresses (".iotda-app.") as derived.
func algorithmForHost(host string) string {
	host = strings.ToLower(host)
	if strings.Contains(host, ".iotda-app.") || !standardHostPattern.MatchString(host) {
		return signer.AlgorithmV11
	}
	return signer.AlgorithmSDK
}

// signingAlgorithm returns the algorithm AK/SK requests will use, or "" for token auth.
func (c Config) signingAlgorithm(u *url.URL) string {
	if c.AccessKey == "" {
		return ""
	}
	if c.SigningAlgorithm != "" {
		return c.SigningAlgorithm
	}
	return algorithmForHost(u.Hostname())
}

// EffectiveSigningAlgorithm is the algorithm AK/SK requests will use with this configuration:
// SigningAlgorithm when set, otherwise the one the endpoint's host calls for. It is "" for token
// authentication and for an endpoint that does not parse.
func (c Config) EffectiveSigningAlgorithm() string {
	u, err := parseEndpoint(c.Endpoint)
	if err != nil {
		return ""
	}
	return c.signingAlgorithm(u)
}

// ValidateEndpoint reports whether endpoint is usable: an absolute http(s) URL with a host, no
// user credentials, query or fragment. The provider applies it at plan time too.
func ValidateEndpoint(endpoint string) error {
	_, err := parseEndpoint(endpoint)
	return err
}

// regionPattern is the form of Huawei Cloud region IDs, such as cn-north-4 or ap-southeast-1
// (the SDK's region map, reference/iotda-platform-facts.md): lowercase letters and digits in
// groups joined by hyphens.
var regionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// ValidateRegion reports whether region has the form of a region ID. The region becomes part
// of the default endpoint's host name (https://iotda.{region}.myhuaweicloud.com), so a value
// with a space, a dot or a slash would make another host or a malformed URL.
func ValidateRegion(region string) error {
	if !regionPattern.MatchString(region) {
		return errRegion
	}
	return nil
}

var errRegion = errors.New("region must be a Huawei Cloud region ID such as cn-north-4: lowercase letters, " +
	"digits and single hyphens, with no spaces, dots or slashes")

// ValidateCACertPEM reports whether caCertPEM holds at least one PEM-encoded certificate.
func ValidateCACertPEM(caCertPEM string) error {
	if !x509.NewCertPool().AppendCertsFromPEM([]byte(caCertPEM)) {
		return errCACertPEM
	}
	return nil
}

var errCACertPEM = errors.New("ca_cert_pem must contain at least one PEM-encoded certificate " +
	"(-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)")

// parseEndpoint checks that the endpoint is an absolute http(s) URL with a host and returns it
// without a trailing "/". Errors never echo the value, which could hold credentials.
func parseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return nil, errors.New("endpoint is not a valid URL; use a form like https://iotda.cn-north-4.myhuaweicloud.com")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("endpoint must start with https:// (or http:// for a local mock)")
	}
	if u.Hostname() == "" {
		return nil, errors.New("endpoint has no host; use a form like https://iotda.cn-north-4.myhuaweicloud.com")
	}
	if u.User != nil {
		return nil, errors.New("endpoint must not contain user credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("endpoint must not contain a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// Validate reports every configuration problem at once. Messages name the setting (as the
// provider attribute) and never contain a secret value.
func (c Config) Validate() error {
	var errs []error
	u, err := parseEndpoint(c.Endpoint)
	if err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(c.ProjectID) == "" {
		errs = append(errs, errors.New("project_id is required"))
	}
	errs = append(errs, checkControl("project_id", c.ProjectID, "instance_id", c.InstanceID, "region", c.Region)...)
	if c.Region != "" {
		if err := ValidateRegion(c.Region); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, c.validateCredentials()...)
	switch c.SigningAlgorithm {
	case "", signer.AlgorithmSDK, signer.AlgorithmV11:
		if u != nil && c.signingAlgorithm(u) == signer.AlgorithmV11 && c.Region == "" {
			errs = append(errs, fmt.Errorf("region is required: AK/SK requests to %s are signed with %s, "+
				"whose credential scope includes the region (or set signing_algorithm = %q)",
				u.Hostname(), signer.AlgorithmV11, signer.AlgorithmSDK))
		}
	default:
		errs = append(errs, fmt.Errorf("signing_algorithm must be %q or %q (or empty to choose from the endpoint)",
			signer.AlgorithmSDK, signer.AlgorithmV11))
	}
	if c.MaxRetries < 0 {
		errs = append(errs, errors.New("max_retries must be 0 or more"))
	}
	if c.CACertPEM != "" {
		if err := ValidateCACertPEM(c.CACertPEM); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) validateCredentials() []error {
	hasToken, hasAK, hasSK := c.AuthToken != "", c.AccessKey != "", c.SecretKey != ""
	var errs []error
	switch {
	case hasToken && (hasAK || hasSK):
		errs = append(errs, errors.New("auth_token conflicts with access_key/secret_key: set only one authentication method"))
	case hasAK && !hasSK:
		errs = append(errs, errors.New("secret_key is required when access_key is set"))
	case hasSK && !hasAK:
		errs = append(errs, errors.New("access_key is required when secret_key is set"))
	case !hasToken && !hasAK:
		errs = append(errs, errors.New("no credentials: set auth_token, or access_key and secret_key"))
	}
	if c.SecurityToken != "" && (!hasAK || !hasSK) {
		errs = append(errs, errors.New("security_token requires access_key and secret_key"))
	}
	// These values travel in headers, where a control character would make every request fail.
	return append(errs, checkControl("auth_token", c.AuthToken, "access_key", c.AccessKey,
		"security_token", c.SecurityToken)...)
}

// checkControl takes name/value pairs and reports each value containing a control character.
func checkControl(pairs ...string) []error {
	var errs []error
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.ContainsFunc(pairs[i+1], isControl) {
			errs = append(errs, fmt.Errorf("%s must not contain control characters", pairs[i]))
		}
	}
	return errs
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
