package provider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

func TestDeviceIDValidator(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"d1":                        true,
		"Dev_01-a":                  true,
		strings.Repeat("a", 128):    true,
		strings.Repeat("a", 129):    false,
		"":                          false,
		"has space":                 false,
		"dot.id":                    false,
		"slash/id":                  false,
		"ünïcode":                   false,
		"$oc/devices/x/sys/#":       false,
		"plus+sign":                 false,
		"0123456789_ABCDEFabcdef-x": true,
	} {
		req := validator.StringRequest{Path: path.Root("device_id"), ConfigValue: types.StringValue(id)}
		var resp validator.StringResponse
		deviceIDValidator().ValidateString(t.Context(), req, &resp)
		if got := !resp.Diagnostics.HasError(); got != ok {
			t.Errorf("device_id %q valid = %v, want %v", id, got, ok)
		}
		if !ok && !strings.Contains(resp.Diagnostics[0].Detail(), "letters, digits, underscores (_) and hyphens (-)") {
			t.Errorf("device_id %q: detail %q does not say which characters are allowed", id, resp.Diagnostics[0].Detail())
		}
	}
}

func TestParasValidator(t *testing.T) {
	t.Parallel()
	good := types.DynamicValue(obj(t, map[string]attr.Value{"value": types.StringValue("ON")}))
	tests := map[string]struct {
		in      types.Dynamic
		wantErr string
	}{
		"object":         {in: good},
		"json string":    {in: types.DynamicValue(types.StringValue(`{"value":"ON"}`))},
		"unknown":        {in: types.DynamicUnknown()},
		"unknown inside": {in: types.DynamicValue(obj(t, map[string]attr.Value{"a": types.StringUnknown()}))},
		"null":           {in: types.DynamicNull()},
		"list":           {in: types.DynamicValue(tuple(t, types.StringValue("ON"))), wantErr: "got a list"},
		"number":         {in: types.DynamicValue(num(t, "3")), wantErr: "got a number"},
		"malformed":      {in: types.DynamicValue(types.StringValue(`{"value":ON}`)), wantErr: "the paras string is not valid JSON: invalid character 'O'"},
		"nested":         {in: types.DynamicValue(obj(t, map[string]attr.Value{"a": num(t, "1e5000")})), wantErr: "paras.a: the number is too large"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := validator.DynamicRequest{Path: path.Root("paras"), ConfigValue: tc.in}
			var resp validator.DynamicResponse
			parasValidator{}.ValidateDynamic(t.Context(), req, &resp)
			if tc.wantErr == "" {
				if resp.Diagnostics.HasError() {
					t.Fatalf("unexpected error: %v", resp.Diagnostics)
				}
				return
			}
			if len(resp.Diagnostics) != 1 {
				t.Fatalf("diagnostics = %v, want one error", resp.Diagnostics)
			}
			d := resp.Diagnostics[0]
			if !strings.Contains(d.Detail(), tc.wantErr) {
				t.Errorf("detail = %q, want it to contain %q", d.Detail(), tc.wantErr)
			}
			withPath, ok := d.(interface{ Path() path.Path })
			if !ok || !withPath.Path().Equal(path.Root("paras")) {
				t.Errorf("diagnostic %v is not on the paras path", d)
			}
		})
	}
}

func TestEndpointValidator(t *testing.T) {
	t.Parallel()
	for endpoint, ok := range map[string]bool{
		"https://iotda.cn-north-4.myhuaweicloud.com":                true,
		"http://127.0.0.1:8080":                                     true,
		"https://x.st1.iotda-app.cn-north-4.myhuaweicloud.com:443/": true,
		"iotda.cn-north-4.myhuaweicloud.com":                        false,
		"ftp://host":                                                false,
		"https://":                                                  false,
		"":                                                          false,
	} {
		req := validator.StringRequest{Path: path.Root("endpoint"), ConfigValue: types.StringValue(endpoint)}
		var resp validator.StringResponse
		endpointValidator().ValidateString(t.Context(), req, &resp)
		if got := !resp.Diagnostics.HasError(); got != ok {
			t.Errorf("endpoint %q valid = %v, want %v (%v)", endpoint, got, ok, resp.Diagnostics)
		}
	}
}

func TestRegionValidator(t *testing.T) {
	t.Parallel()
	for region, ok := range map[string]bool{
		"cn-north-4":     true,
		"ap-southeast-1": true,
		"la-south-2":     true,
		"cn-north-4 ":    false,
		"cn north 4":     false,
		"CN-NORTH-4":     false,
		"evil.example/x": false,
		"cn-north-4#":    false,
		"-cn":            false,
	} {
		req := validator.StringRequest{Path: path.Root("region"), ConfigValue: types.StringValue(region)}
		var resp validator.StringResponse
		regionValidator().ValidateString(t.Context(), req, &resp)
		if got := !resp.Diagnostics.HasError(); got != ok {
			t.Errorf("region %q valid = %v, want %v (%v)", region, got, ok, resp.Diagnostics)
		}
	}
}

func TestPEMCertificatesValidator(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		pem string
		ok  bool
	}{
		"certificate": {pem: selfSignedPEM(t), ok: true},
		"garbage":     {pem: "not a certificate"},
		"private key": {pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
	} {
		req := validator.StringRequest{Path: path.Root("ca_cert_pem"), ConfigValue: types.StringValue(tc.pem)}
		var resp validator.StringResponse
		pemCertificatesValidator().ValidateString(t.Context(), req, &resp)
		if got := !resp.Diagnostics.HasError(); got != tc.ok {
			t.Errorf("%s: valid = %v, want %v", name, got, tc.ok)
		}
	}
}

// selfSignedPEM returns a freshly generated self-signed CA certificate in PEM form.
func selfSignedPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// A timeout of zero or less is refused; one that is not a duration at all is left to the
// timeouts block's own validator, so it is reported once.
func TestPositiveDuration(t *testing.T) {
	t.Parallel()
	for value, ok := range map[string]bool{"60s": true, "1ns": true, "abc": true, "0s": false, "0": false, "-5m": false} {
		req := validator.StringRequest{Path: path.Root("timeouts").AtName("create"), ConfigValue: types.StringValue(value)}
		var resp validator.StringResponse
		positiveDuration{}.ValidateString(t.Context(), req, &resp)
		if got := !resp.Diagnostics.HasError(); got != ok {
			t.Errorf("%q accepted = %v, want %v (%v)", value, got, ok, resp.Diagnostics)
		}
	}
}

// TestTopicRule covers the topic names a device could never receive on, or would take for
// the platform's own traffic, in both topic attributes.
func TestTopicRule(t *testing.T) {
	t.Parallel()
	full, ok1 := topicRule("topic_full_name", false).(stringCheck)
	suffix, ok2 := topicRule("topic", true).(stringCheck)
	if !ok1 || !ok2 {
		t.Fatal("topicRule is not a stringCheck")
	}
	for _, tc := range []struct {
		rule stringCheck
		in   string
		want string // "" when the name is taken
	}{
		{full, "/device/message/down", ""},
		{full, "factory/line-1/cfg", ""},
		{suffix, "cfg", ""},
		{suffix, "a/b", ""},
		{full, "$oc/devices/d1/sys/commands/request_id=x", "is under $oc/"},
		{full, "$oc/", "is under $oc/"},
		{full, "$oc/devices/d1/user/cfg", "set topic to the part after it"},
		{full, "$OC/devices/d1/sys/commands/request_id=x", "starts with $"},
		{full, "$Oc/devices/d1/sys/properties/set/request_id=1", "starts with $"},
		{full, "$oc", "starts with $"},
		{full, "$SYS/broker", "starts with $"},
		{full, "  $oc/devices/d1/sys/commands/request_id=x", "white space"},
		{full, "\t$oc/devices/d1/sys/commands", "white space"},
		{full, "   ", "white space"},
		{full, "/a/b ", "white space"},
		{suffix, " cfg", "white space"},
		{suffix, "cfg\n", "white space"},
		{full, "", "is empty"},
		{full, "a/#", "wildcard"},
		{full, "/a\x00b", "NUL"},
		{full, "a\tb", "control character"},
		{suffix, "a\nb", "control character"},
		{full, "a\u0085b", "control character"},
		{full, "a\x7fb", "control character"},
		{full, "a b/c", ""},
		{suffix, "a/+/b", "wildcard"},
		{suffix, "/cfg", "starts with /"},
		{suffix, "$oc/devices/d1/user/cfg", "full topic name"},
		{full, strings.Repeat("a", 129), "at most 128 bytes"},
		{full, strings.Repeat("a", 128), ""},
		{suffix, strings.Repeat("é", 64), ""},
		{suffix, strings.Repeat("é", 65), "130 bytes long"},
	} {
		err := tc.rule.check(tc.in)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: refused: %v", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}
