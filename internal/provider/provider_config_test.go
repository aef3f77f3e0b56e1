package provider

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Secret values used below; no diagnostic may ever contain them.
const (
	secretToken = "tok-SECRET-1"
	secretAK    = "ak-SECRET-2"
	secretSK    = "sk-SECRET-3"
	secretST    = "st-SECRET-4"
)

// emptyProviderModel is a provider block with nothing set.
func emptyProviderModel() providerModel {
	return providerModel{
		Endpoint: types.StringNull(), Region: types.StringNull(), ProjectID: types.StringNull(),
		InstanceID: types.StringNull(), AuthToken: types.StringNull(), AccessKey: types.StringNull(),
		SecretKey: types.StringNull(), SecurityToken: types.StringNull(), SigningAlgorithm: types.StringNull(),
		MaxRetries: types.Int64Null(), Insecure: types.BoolNull(), CACertPEM: types.StringNull(),
	}
}

func envFunc(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}

func assertNoSecrets(t *testing.T, diags diag.Diagnostics) {
	t.Helper()
	for _, d := range diags {
		for _, s := range []string{secretToken, secretAK, secretSK, secretST} {
			if strings.Contains(d.Summary()+d.Detail(), s) {
				t.Errorf("diagnostic %q leaks a secret: %s", d.Summary(), d.Detail())
			}
		}
	}
}

func TestResolveConfig_FromConfiguration(t *testing.T) {
	t.Parallel()
	m := emptyProviderModel()
	m.Region = types.StringValue("cn-north-4")
	m.ProjectID = types.StringValue("p1")
	m.InstanceID = types.StringValue("i1")
	m.AccessKey = types.StringValue(secretAK)
	m.SecretKey = types.StringValue(secretSK)
	m.SecurityToken = types.StringValue(secretST)
	m.SigningAlgorithm = types.StringValue(signingV11)
	m.MaxRetries = types.Int64Value(0)
	// The environment loses against the provider block.
	env := map[string]string{"IOTDA_PROJECT_ID": "env-project", "IOTDA_REGION": "env-region", "IOTDA_MAX_RETRIES": "9"}
	var diags diag.Diagnostics
	cfg, known := resolveConfig(m, envFunc(env), &diags)
	if diags.HasError() || !known {
		t.Fatalf("resolveConfig: known=%v diags=%v", known, diags)
	}
	want := iotda.Config{
		Endpoint: iotda.DefaultEndpoint("cn-north-4"), Region: "cn-north-4", ProjectID: "p1", InstanceID: "i1",
		AccessKey: secretAK, SecretKey: secretSK, SecurityToken: secretST, SigningAlgorithm: signingV11,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config = %+v\nwant %+v", cfg, want)
	}
}

func TestResolveConfig_FromEnvironment(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		env  map[string]string
		want iotda.Config
	}{
		"IOTDA variables": {
			env: map[string]string{
				"IOTDA_ENDPOINT": "https://example.test", "IOTDA_REGION": "r1", "IOTDA_PROJECT_ID": "p1",
				"IOTDA_INSTANCE_ID": "i1", "IOTDA_AUTH_TOKEN": secretToken, "IOTDA_MAX_RETRIES": "5",
				"IOTDA_INSECURE": "false", "IOTDA_SIGNING_ALGORITHM": signingSDK,
			},
			want: iotda.Config{
				Endpoint: "https://example.test", Region: "r1", ProjectID: "p1", InstanceID: "i1",
				AuthToken: secretToken, MaxRetries: 5, SigningAlgorithm: signingSDK,
			},
		},
		"HW fallbacks": {
			env: map[string]string{
				"HW_REGION_NAME": "r2", "HW_PROJECT_ID": "p2", "HW_ACCESS_KEY": secretAK,
				"HW_SECRET_KEY": secretSK, "HW_SECURITY_TOKEN": secretST,
			},
			want: iotda.Config{
				Endpoint: iotda.DefaultEndpoint("r2"), Region: "r2", ProjectID: "p2",
				AccessKey: secretAK, SecretKey: secretSK, SecurityToken: secretST, MaxRetries: defaultMaxRetries,
			},
		},
		"IOTDA wins over HW": {
			env: map[string]string{
				"IOTDA_REGION": "r3", "HW_REGION_NAME": "hw", "IOTDA_PROJECT_ID": "p3", "HW_PROJECT_ID": "hw",
				"IOTDA_ACCESS_KEY": secretAK, "HW_ACCESS_KEY": "hw", "IOTDA_SECRET_KEY": secretSK, "HW_SECRET_KEY": "hw",
			},
			want: iotda.Config{
				Endpoint: iotda.DefaultEndpoint("r3"), Region: "r3", ProjectID: "p3",
				AccessKey: secretAK, SecretKey: secretSK, MaxRetries: defaultMaxRetries,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var diags diag.Diagnostics
			cfg, known := resolveConfig(emptyProviderModel(), envFunc(tc.env), &diags)
			if diags.HasError() || !known {
				t.Fatalf("resolveConfig: known=%v diags=%v", known, diags)
			}
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Errorf("config = %+v\nwant %+v", cfg, tc.want)
			}
		})
	}
}

func TestResolveConfig_Errors(t *testing.T) {
	t.Parallel()
	base := map[string]string{"IOTDA_REGION": "r", "IOTDA_PROJECT_ID": "p", "IOTDA_AUTH_TOKEN": secretToken}
	with := func(set map[string]string, unset ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for _, k := range unset {
			delete(out, k)
		}
		for k, v := range set {
			out[k] = v
		}
		return out
	}
	tests := map[string]struct {
		env        map[string]string
		wantPath   string
		wantDetail string
	}{
		"missing project":         {env: with(nil, "IOTDA_PROJECT_ID"), wantPath: "project_id", wantDetail: "IOTDA_PROJECT_ID or HW_PROJECT_ID"},
		"missing region+endpoint": {env: with(nil, "IOTDA_REGION"), wantPath: "region", wantDetail: "IOTDA_ENDPOINT"},
		"no credentials":          {env: with(nil, "IOTDA_AUTH_TOKEN"), wantPath: "auth_token", wantDetail: "IOTDA_AUTH_TOKEN"},
		"token and AK/SK": {
			env:      with(map[string]string{"IOTDA_ACCESS_KEY": secretAK, "IOTDA_SECRET_KEY": secretSK}),
			wantPath: "auth_token", wantDetail: "the IOTDA_ACCESS_KEY environment variable",
		},
		"access key without secret key": {
			env:      with(map[string]string{"HW_ACCESS_KEY": secretAK}, "IOTDA_AUTH_TOKEN"),
			wantPath: "secret_key", wantDetail: "IOTDA_SECRET_KEY or HW_SECRET_KEY",
		},
		"secret key without access key": {
			env:      with(map[string]string{"IOTDA_SECRET_KEY": secretSK}, "IOTDA_AUTH_TOKEN"),
			wantPath: "access_key", wantDetail: "IOTDA_ACCESS_KEY or HW_ACCESS_KEY",
		},
		"security token with a token": {
			env:      with(map[string]string{"IOTDA_SECURITY_TOKEN": secretST}),
			wantPath: "security_token", wantDetail: "temporary access keys",
		},
		"V11 endpoint without region": {
			env: with(map[string]string{"IOTDA_ENDPOINT": "https://x.st1.iotda-app.cn-north-4.myhuaweicloud.com",
				"IOTDA_ACCESS_KEY": secretAK, "IOTDA_SECRET_KEY": secretSK}, "IOTDA_REGION", "IOTDA_AUTH_TOKEN"),
			wantPath: "region", wantDetail: "V11-HMAC-SHA256",
		},
		"bad max retries":     {env: with(map[string]string{"IOTDA_MAX_RETRIES": "-1"}), wantPath: "max_retries", wantDetail: "IOTDA_MAX_RETRIES"},
		"bad insecure":        {env: with(map[string]string{"IOTDA_INSECURE": "maybe"}), wantPath: "insecure", wantDetail: "IOTDA_INSECURE"},
		"bad signing":         {env: with(map[string]string{"IOTDA_SIGNING_ALGORITHM": "MD5"}), wantPath: "signing_algorithm", wantDetail: "IOTDA_SIGNING_ALGORITHM"},
		"bad endpoint":        {env: with(map[string]string{"IOTDA_ENDPOINT": "iotda.example"}), wantPath: "endpoint", wantDetail: "IOTDA_ENDPOINT"},
		"region with a space": {env: with(map[string]string{"IOTDA_REGION": "cn north-4"}), wantPath: "region", wantDetail: "the IOTDA_REGION environment variable"},
		"region naming another host": {
			env:      with(map[string]string{"HW_REGION_NAME": "evil.example/x"}, "IOTDA_REGION"),
			wantPath: "region", wantDetail: "the HW_REGION_NAME environment variable",
		},
		"region with a line break": {env: with(map[string]string{"IOTDA_REGION": "cn-north-4\n"}), wantPath: "region", wantDetail: "control character"},
		"bad CA from env":          {env: with(map[string]string{"IOTDA_CA_CERT_PEM": "nope"}), wantPath: "ca_cert_pem", wantDetail: "IOTDA_CA_CERT_PEM"},
		"token with a line break":  {env: with(map[string]string{"IOTDA_AUTH_TOKEN": secretToken + "\n"}), wantPath: "auth_token", wantDetail: "IOTDA_AUTH_TOKEN environment variable contains a control character"},
		"secret key with a tab": {
			env:      with(map[string]string{"IOTDA_ACCESS_KEY": secretAK, "IOTDA_SECRET_KEY": "\t" + secretSK}, "IOTDA_AUTH_TOKEN"),
			wantPath: "secret_key", wantDetail: "IOTDA_SECRET_KEY",
		},
		"project with a DEL": {env: with(map[string]string{"IOTDA_PROJECT_ID": "p\x7f"}), wantPath: "project_id", wantDetail: "control character"},
		"empty env ignored":  {env: with(map[string]string{"IOTDA_PROJECT_ID": ""}), wantPath: "project_id", wantDetail: "project_id"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var diags diag.Diagnostics
			resolveConfig(emptyProviderModel(), envFunc(tc.env), &diags)
			assertNoSecrets(t, diags)
			if diags.ErrorsCount() != 1 {
				t.Fatalf("diagnostics = %v, want exactly one error", diags)
			}
			d := diags.Errors()[0]
			withPath, ok := d.(diag.DiagnosticWithPath)
			if !ok || !withPath.Path().Equal(path.Root(tc.wantPath)) {
				t.Errorf("error %q is not on path %s", d.Summary(), tc.wantPath)
			}
			if !strings.Contains(d.Detail(), tc.wantDetail) {
				t.Errorf("detail %q does not mention %q", d.Detail(), tc.wantDetail)
			}
		})
	}
}

// Plain http is for a local mock: to another host it sends the credentials in the clear.
func TestResolveConfig_PlainHTTPWarns(t *testing.T) {
	t.Parallel()
	for endpoint, warns := range map[string]bool{
		"http://127.0.0.1:8080":                      false,
		"http://localhost:8080":                      false,
		"http://[::1]:8080":                          false,
		"https://iotda.cn-north-4.myhuaweicloud.com": false,
		"http://iotda.cn-north-4.myhuaweicloud.com":  true,
		"http://192.0.2.10:8080":                     true,
	} {
		env := map[string]string{"IOTDA_ENDPOINT": endpoint, "IOTDA_PROJECT_ID": "p", "IOTDA_AUTH_TOKEN": secretToken}
		var diags diag.Diagnostics
		if _, known := resolveConfig(emptyProviderModel(), envFunc(env), &diags); diags.HasError() || !known {
			t.Fatalf("%s: known=%v diags=%v", endpoint, known, diags)
		}
		assertNoSecrets(t, diags)
		got := diags.WarningsCount() == 1 && diags.Warnings()[0].Summary() == "Unencrypted Endpoint"
		if got != warns || (!warns && diags.WarningsCount() != 0) {
			t.Errorf("%s: warnings = %v, want an Unencrypted Endpoint warning: %v", endpoint, diags.Warnings(), warns)
		}
	}
}

func TestResolveConfig_InsecureWarns(t *testing.T) {
	t.Parallel()
	m := emptyProviderModel()
	m.Insecure = types.BoolValue(true)
	env := map[string]string{"IOTDA_ENDPOINT": "https://127.0.0.1:1", "IOTDA_PROJECT_ID": "p", "IOTDA_AUTH_TOKEN": secretToken}
	var diags diag.Diagnostics
	cfg, known := resolveConfig(m, envFunc(env), &diags)
	if diags.HasError() || !known || !cfg.Insecure {
		t.Fatalf("resolveConfig: cfg=%+v known=%v diags=%v", cfg, known, diags)
	}
	if diags.WarningsCount() != 1 || diags.Warnings()[0].Summary() != "TLS Verification Disabled" {
		t.Errorf("warnings = %v, want one TLS Verification Disabled warning", diags.Warnings())
	}
}

func TestResolveConfig_UnknownValues(t *testing.T) {
	t.Parallel()
	// An unknown value with everything else in order: planning must not fail.
	m := emptyProviderModel()
	m.ProjectID = types.StringUnknown()
	var diags diag.Diagnostics
	env := map[string]string{"IOTDA_REGION": "r", "IOTDA_AUTH_TOKEN": secretToken}
	if _, known := resolveConfig(m, envFunc(env), &diags); known || diags.HasError() {
		t.Errorf("known=%v diags=%v; want unknown and no errors", known, diags)
	}

	// What can be judged without the unknown values is reported at plan already.
	m = emptyProviderModel()
	m.Endpoint = types.StringUnknown()
	m.AccessKey = types.StringValue(secretAK)
	diags = nil
	if _, known := resolveConfig(m, envFunc(map[string]string{"IOTDA_INSTANCE_ID": "i\n"}), &diags); known {
		t.Error("known = true with an unknown endpoint")
	}
	assertNoSecrets(t, diags)
	var paths []string
	for _, d := range diags.Errors() {
		if withPath, ok := d.(diag.DiagnosticWithPath); ok {
			paths = append(paths, withPath.Path().String())
		}
	}
	// Not region: the unknown endpoint may be enough.
	if want := []string{"project_id", "secret_key", "instance_id"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("errors on %v, want %v: %v", paths, want, diags)
	}
}
