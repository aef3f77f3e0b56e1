package provider

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// The access key pair the signing mocks accept, and the region their V11 scope must name.
// The region is not the mock's default, so that a client falling back to a default fails.
const (
	authAccessKey = "AKIOTDATESTKEY0001"
	authSecretKey = "sk-auth-test-7d21"
	authRegion    = "ap-southeast-3"
)

// newSignedMock starts a mock that accepts only AK/SK signatures by authAccessKey (no
// token), scoped to authRegion, with one echoing device "d1".
func newSignedMock(t *testing.T) *mockserver.Server {
	t.Helper()
	if realEndpoint() {
		t.Skip("needs the mock platform's journal; skipped against a real IoTDA endpoint")
	}
	return mockserver.NewForTest(t, mockserver.Options{
		Region:      authRegion,
		Credentials: map[string]string{authAccessKey: authSecretKey},
		Devices:     []mockserver.Device{{ID: "d1", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}}},
	})
}

// signedConfig is a provider block for s with endpoint, project_id, max_retries = 0 and
// args, plus a resource delivering to "d1".
func signedConfig(s *mockserver.Server, args string) string {
	target := &testTarget{DeviceID: "d1", ProjectID: s.ProjectID(), Server: s, ProviderHCL: fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = %[2]q
  max_retries = 0
%[3]s
}
`, s.URL(), s.ProjectID(), args)}
	return testAccDeviceCommandConfig(target, `  paras = { value = "ON" }`)
}

// akskArgs renders access_key and secret_key followed by extra provider arguments.
func akskArgs(secretKey, extra string) string {
	return fmt.Sprintf("  access_key = %q\n  secret_key = %q\n%s", authAccessKey, secretKey, extra)
}

// checkRequestAuth checks every command request the mock journaled: its Authorization
// header names alg (the journal masks the rest), it has no X-Auth-Token, and it carries a
// masked X-Security-Token exactly when withSecurityToken is set.
func checkRequestAuth(s *mockserver.Server, alg string, withSecurityToken bool) func(*terraform.State) error {
	return func(*terraform.State) error {
		n := 0
		for _, e := range s.Journal() {
			if e.Kind != mockserver.EntryRequest {
				continue
			}
			n++
			if got, want := e.Header["Authorization"], []string{alg + " ***"}; !slices.Equal(got, want) {
				return fmt.Errorf("request %s: Authorization %q, want %q", e.RequestID, got, want)
			}
			if v, ok := e.Header["X-Auth-Token"]; ok {
				return fmt.Errorf("request %s carries an X-Auth-Token %q; want AK/SK signing only", e.RequestID, v)
			}
			st, hasST := e.Header["X-Security-Token"]
			if hasST != withSecurityToken || (hasST && !slices.Equal(st, []string{"***"})) {
				return fmt.Errorf("request %s: X-Security-Token %q, want present=%v (masked)", e.RequestID, st, withSecurityToken)
			}
			if e.Status != http.StatusOK {
				return fmt.Errorf("request %s answered %d %s, want 200", e.RequestID, e.Status, e.ErrorCode)
			}
		}
		if n != 1 {
			return fmt.Errorf("the mock answered %d command requests, want 1", n)
		}
		return nil
	}
}

func TestProvider_AccessKeySigning(t *testing.T) {
	t.Parallel()
	region := fmt.Sprintf("  region = %q\n", authRegion)
	tests := map[string]struct {
		extra             string
		wantAlg           string
		withSecurityToken bool
	}{
		// Standard signing needs no region.
		"SDK-HMAC-SHA256": {extra: `  signing_algorithm = "SDK-HMAC-SHA256"` + "\n", wantAlg: signingSDK},
		// Derived signing is scoped to the mock's region, which it checks.
		"V11-HMAC-SHA256": {extra: region + `  signing_algorithm = "V11-HMAC-SHA256"` + "\n", wantAlg: signingV11},
		// 127.0.0.1 is not a public Huawei Cloud host, so the provider chooses V11.
		"automatic": {extra: region, wantAlg: signingV11},
		// Temporary credentials: the security token travels in X-Security-Token.
		"security token": {
			extra:   region + `  security_token = "st-auth-test-0e77"` + "\n",
			wantAlg: signingV11, withSecurityToken: true,
		},
		"security token with SDK-HMAC-SHA256": {
			extra:   `  signing_algorithm = "SDK-HMAC-SHA256"` + "\n" + `  security_token = "st-auth-test-0e77"` + "\n",
			wantAlg: signingSDK, withSecurityToken: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newSignedMock(t)
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testProviderFactories,
				Steps: []resource.TestStep{
					{
						Config: signedConfig(s, akskArgs(authSecretKey, tc.extra)),
						ConfigStateChecks: []statecheck.StateCheck{
							statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
							statecheck.ExpectKnownValue(testResourceAddr,
								tfjsonpath.New("response").AtMapKey("paras").AtMapKey("value"), knownvalue.StringExact("ON")),
						},
						Check: resource.ComposeAggregateTestCheckFunc(
							checkDeliveries(s, "d1", 1),
							checkRequestAuth(s, tc.wantAlg, tc.withSecurityToken),
						),
					},
				},
			})
		})
	}
}

// expectRejected is a PreConfig asserting the mock's journal so far: want command requests,
// each refused with 401 IOTDA.000002, and no delivery.
func expectRejected(t *testing.T, s *mockserver.Server, want int) func() {
	return func() {
		t.Helper()
		if n := len(s.Deliveries("")); n != 0 {
			t.Errorf("the mock delivered %d commands, want 0", n)
		}
		n := 0
		for _, e := range s.Journal() {
			if e.Kind != mockserver.EntryRequest {
				continue
			}
			n++
			if e.Status != http.StatusUnauthorized || e.ErrorCode != "IOTDA.000002" {
				t.Errorf("request %s answered %d %s, want 401 IOTDA.000002", e.RequestID, e.Status, e.ErrorCode)
			}
		}
		if n != want {
			t.Errorf("the mock answered %d command requests, want %d", n, want)
		}
	}
}

func TestProvider_AccessKeyErrors(t *testing.T) {
	t.Parallel()
	s := newSignedMock(t)
	config := func(args string) string { return signedConfig(s, args) }
	region := fmt.Sprintf("  region = %q\n", authRegion)
	unauthorized := `(?s)IoTDA API Error.*"d1".*HTTP\s+401.*IOTDA\.000002.*access_key\s+and\s+secret_key.*X-Request-Id`
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// A wrong secret key: the signature does not verify, and nothing is delivered.
			{
				Config:      config(akskArgs("sk-wrong-secret", region)),
				ExpectError: regexp.MustCompile(unauthorized),
			},
			// A V11 signature scoped to another region is refused as well.
			{
				PreConfig:   expectRejected(t, s, 1),
				Config:      config(akskArgs(authSecretKey, `  region = "eu-west-101"`+"\n")),
				ExpectError: regexp.MustCompile(unauthorized),
			},
			// A token and an access key in one block fail at plan time, before any request.
			{
				PreConfig:   expectRejected(t, s, 2),
				Config:      config(`  auth_token = "tok"` + "\n" + `  access_key = "` + authAccessKey + `"` + "\n"),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Conflicting Credentials.*auth_token.*access_key`),
			},
			// Automatic signing against 127.0.0.1 chooses V11, which needs a region.
			{
				PreConfig:   expectRejected(t, s, 2),
				Config:      config(akskArgs(authSecretKey, "")),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)Missing Region.*V11-HMAC-SHA256.*signing_algorithm`),
			},
		},
	})
	expectRejected(t, s, 2)()
}

// tlsProviderHCL is a token-authenticated provider block for a TLS mock, plus extra arguments.
func tlsProviderHCL(s *mockserver.Server, extra string) string {
	return fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = %[2]q
  auth_token  = "test-token"
  max_retries = 2
%[3]s
}
`, s.URL(), s.ProjectID(), extra)
}

func TestProvider_TLSTrust(t *testing.T) {
	t.Parallel()
	target := newMockTarget(t, mockserver.Options{TLS: true})
	s := target.Server
	// The trigger makes each successful step a new delivery.
	config := func(trust, extra string) string {
		withTrust := *target
		withTrust.ProviderHCL = tlsProviderHCL(s, extra)
		return testAccDeviceCommandConfig(&withTrust, fmt.Sprintf(`
  paras    = { value = "ON" }
  triggers = { trust = %[1]q }
`, trust))
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			// The mock's CA is not trusted: the handshake fails, once (a certificate error is
			// not retried), and no request reaches the mock.
			{
				Config: config("system", ""),
				ExpectError: regexp.MustCompile(`(?s)Cannot Reach IoTDA.*"d1".*\(1\s+attempt\(s\)\).*` +
					`certificate.*ca_cert_pem.*x509`),
			},
			// Trusting the mock's CA through ca_cert_pem delivers.
			{
				PreConfig: func() {
					if n := requests(s, ""); n != 0 {
						t.Errorf("the mock answered %d requests although the TLS handshake failed, want 0", n)
					}
				},
				Config: config("ca_cert_pem", fmt.Sprintf("  ca_cert_pem = %q\n", s.CACertPEM())),
				Check:  checkDeliveries(s, "d1", 1),
			},
			// insecure = true skips verification (with a warning) and delivers as well.
			{
				Config: config("insecure", "  insecure = true\n"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(testResourceAddr, tfjsonpath.New("result_code"), knownvalue.Int64Exact(0)),
				},
				Check: checkDeliveries(s, "d1", 2),
			},
		},
	})
}
