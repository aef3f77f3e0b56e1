package iotda

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"golang.org/x/net/http/httpproxy"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

const (
	defaultBackoffBase = 200 * time.Millisecond
	defaultBackoffCap  = 5 * time.Second
	// maxResponseBytes bounds how much of a response body is read; IoTDA answers are small.
	maxResponseBytes = 1 << 20
	idleConnTimeout  = 30 * time.Second
)

// Client calls the IoTDA application API. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	host       string
	projectID  string
	instanceID string
	authToken  string
	secToken   string
	userAgent  string
	signer     *signer.Signer // nil with token authentication
	httpClient *http.Client
	maxRetries int
	now        func() time.Time
	secrets    []string
	// credentials hides the credentials in what comes back from a device (Redaction(nil)).
	credentials *Redaction

	// backoffBase and backoffCap shape the retry waits; tests shrink them.
	backoffBase, backoffCap time.Duration
}

// NewClient validates cfg and builds a client with one pooled HTTP transport.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base: base, host: base.Host, projectID: cfg.ProjectID, instanceID: cfg.InstanceID,
		authToken: cfg.AuthToken, secToken: cfg.SecurityToken, userAgent: cfg.UserAgent,
		maxRetries: cfg.MaxRetries, now: cfg.Now,
		backoffBase: defaultBackoffBase, backoffCap: defaultBackoffCap,
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, s := range []string{cfg.AuthToken, cfg.SecretKey, cfg.SecurityToken} {
		if s != "" {
			c.secrets = append(c.secrets, s)
		}
	}
	if alg := cfg.signingAlgorithm(base); alg != "" {
		c.signer = &signer.Signer{AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, Algorithm: alg,
			Region: cfg.Region, Service: DerivedAuthService}
	}
	c.credentials = c.Redaction(nil)
	if c.httpClient, err = buildHTTPClient(cfg, c.secrets); err != nil {
		return nil, err
	}
	return c, nil
}

// buildHTTPClient wraps the configured or a new pooled transport in the logging transport.
// Redirects are not followed: re-sending a command to another location could deliver it twice.
func buildHTTPClient(cfg Config, secrets []string) (*http.Client, error) {
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient // A shallow copy, so the caller's client is not modified.
	} else {
		t, err := pooledTransport(cfg)
		if err != nil {
			return nil, err
		}
		hc.Transport = t
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = &loggingTransport{next: next, secrets: secrets}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc, nil
}

// pooledTransport is go-cleanhttp's pooled transport with the configured trust and a proxy taken from
// the environment as it is now.
func pooledTransport(cfg Config) (*http.Transport, error) {
	t := cleanhttp.DefaultPooledTransport()
	// http.ProxyFromEnvironment reads the environment once per process, so a long-lived provider would
	// never see a changed HTTP_PROXY/HTTPS_PROXY/NO_PROXY between configurations, and tests could not set
	// them. Reading them here makes the proxy per configuration (and testable) with the same rules.
	proxyFunc := httpproxy.FromEnvironment().ProxyFunc()
	t.Proxy = func(r *http.Request) (*url.URL, error) { return proxyFunc(r.URL) }
	// Close idle connections well before typical load balancer idle timeouts (60 s), so that a
	// command is rarely written to a connection the server is closing, which would leave its
	// outcome unknown (Go never replays a POST once it may have been written).
	t.IdleConnTimeout = idleConnTimeout
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACertPEM != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(cfg.CACertPEM)) {
			return nil, errCACertPEM
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.Insecure {
		tlsCfg.InsecureSkipVerify = true //nolint:gosec // The user asked for it with insecure = true.
	}
	t.TLSClientConfig = tlsCfg
	return t, nil
}

// commandsURL is {endpoint}/v5/iot/{project_id}/devices/{device_id}/commands with escaped ids.
func (c *Client) commandsURL(deviceID string) *url.URL {
	u := *c.base
	u.Path = fmt.Sprintf("%s/v5/iot/%s/devices/%s/commands", c.base.Path, c.projectID, deviceID)
	u.RawPath = fmt.Sprintf("%s/v5/iot/%s/devices/%s/commands", c.base.EscapedPath(),
		url.PathEscape(c.projectID), url.PathEscape(deviceID))
	return &u
}
