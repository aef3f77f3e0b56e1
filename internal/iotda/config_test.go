package iotda

import (
	"net/http"
	"strings"
	"testing"
)

func validConfig() Config {
	return Config{Endpoint: "https://iotda.cn-north-4.myhuaweicloud.com/", Region: testRegion, ProjectID: testProject,
		AuthToken: testToken, MaxRetries: 3}
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
	aksk := func(c *Config) { c.AuthToken, c.AccessKey, c.SecretKey = "", testAK, testSK }
	cases := []struct {
		name    string
		mutate  func(*Config)
		setting string
	}{
		{"no-endpoint", func(c *Config) { c.Endpoint = "" }, "endpoint"},
		{"bad-scheme", func(c *Config) { c.Endpoint = "ftp://iotda.example" }, "endpoint"},
		{"no-scheme", func(c *Config) { c.Endpoint = "iotda.cn-north-4.myhuaweicloud.com" }, "endpoint"},
		{"unparsable", func(c *Config) { c.Endpoint = "http://[::1" }, "endpoint"},
		{"userinfo", func(c *Config) { c.Endpoint = "https://user:" + testSK + "@iotda.example" }, "endpoint"},
		{"query", func(c *Config) { c.Endpoint = "https://iotda.example/?x=1" }, "endpoint"},
		{"no-project", func(c *Config) { c.ProjectID = " " }, "project_id"},
		{"control-instance", func(c *Config) { c.InstanceID = "a\nb" }, "instance_id"},
		{"no-credentials", func(c *Config) { c.AuthToken = "" }, "auth_token"},
		{"token-and-ak", func(c *Config) { c.AccessKey, c.SecretKey = testAK, testSK }, "auth_token"},
		{"ak-without-sk", func(c *Config) { aksk(c); c.SecretKey = "" }, "secret_key"},
		{"sk-without-ak", func(c *Config) { aksk(c); c.AccessKey = "" }, "access_key"},
		{"security-token-with-token", func(c *Config) { c.SecurityToken = testSecTok }, "security_token"},
		{"control-token", func(c *Config) { c.AuthToken = testToken + "\r\n" }, "auth_token"},
		{"bad-algorithm", func(c *Config) { aksk(c); c.SigningAlgorithm = "HMAC" }, "signing_algorithm"},
		{"v11-without-region", func(c *Config) {
			aksk(c)
			c.Region, c.Endpoint = "", "https://x.st1.iotda-app.cn-north-4.myhuaweicloud.com"
		}, "region"},
		{"forced-v11-without-region", func(c *Config) { aksk(c); c.Region, c.SigningAlgorithm = "", "V11-HMAC-SHA256" }, "region"},
		{"region-with-space", func(c *Config) { c.Region = "cn north-4" }, "region"},
		{"region-trailing-space", func(c *Config) { c.Region = "cn-north-4 " }, "region"},
		{"region-with-slash", func(c *Config) { c.Region = "evil.example/x" }, "region"},
		{"region-uppercase", func(c *Config) { c.Region = "CN-NORTH-4" }, "region"},
		{"region-double-hyphen", func(c *Config) { c.Region = "cn--north" }, "region"},
		{"negative-retries", func(c *Config) { c.MaxRetries = -1 }, "max_retries"},
		{"bad-ca", func(c *Config) { c.CACertPEM = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----" }, "ca_cert_pem"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.mutate(&cfg)
			err := cfg.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.setting) {
				t.Errorf("error %q does not name %s", msg, tc.setting)
			}
			for _, secret := range []string{testToken, testSK, testSecTok} {
				if strings.Contains(msg, secret) {
					t.Errorf("error %q leaks a secret", msg)
				}
			}
			if _, err := NewClient(cfg); err == nil {
				t.Error("NewClient accepted an invalid config")
			}
		})
	}
}

func TestConfigValidate_AcceptsVariants(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"aksk-standard-host-no-region": func(c *Config) { c.AuthToken, c.AccessKey, c.SecretKey, c.Region = "", testAK, testSK, "" },
		"aksk-security-token": func(c *Config) {
			c.AuthToken, c.AccessKey, c.SecretKey, c.SecurityToken = "", testAK, testSK, testSecTok
		},
		"local-http-mock":   func(c *Config) { c.Endpoint = "http://127.0.0.1:8080" },
		"path-prefix":       func(c *Config) { c.Endpoint = "https://gw.example/iotda/" },
		"zero-retries":      func(c *Config) { c.MaxRetries = 0 },
		"region-la-south-2": func(c *Config) { c.Region = "la-south-2" },
		"region-one-word":   func(c *Config) { c.Region = "local" },
	} {
		cfg := validConfig()
		mutate(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDefaultEndpoint(t *testing.T) {
	if got := DefaultEndpoint("ap-southeast-1"); got != "https://iotda.ap-southeast-1.myhuaweicloud.com" {
		t.Fatal(got)
	}
}

func TestUserAgent(t *testing.T) {
	t.Setenv("TF_APPEND_USER_AGENT", "")
	if got, want := UserAgent("1.2.3", "1.9.0"), "Terraform/1.9.0 (+https://www.terraform.io) terraform-provider-iotda/1.2.3"; got != want {
		t.Fatalf("UserAgent = %q, want %q", got, want)
	}
	t.Setenv("TF_APPEND_USER_AGENT", " ci/42 ")
	if got := UserAgent("", ""); got != "Terraform/unknown (+https://www.terraform.io) terraform-provider-iotda/dev ci/42" {
		t.Fatalf("UserAgent = %q", got)
	}
}

func TestNewClient_DoesNotModifyCallerHTTPClient(t *testing.T) {
	hc := &http.Client{}
	cfg := validConfig()
	cfg.HTTPClient = hc
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || hc.CheckRedirect != nil {
		t.Fatal("caller's client was modified")
	}
	if _, ok := c.httpClient.Transport.(*loggingTransport); !ok {
		t.Fatal("logging transport not installed")
	}
}
