package iotda

import (
	"crypto/hmac"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

func TestCreateCommand_AKSKSignatureVerifies(t *testing.T) {
	fixed := time.Date(2026, 9, 2, 23, 59, 30, 0, time.UTC)
	cases := []struct{ name, forced, wantAlg string }{
		{"sdk", signer.AlgorithmSDK, signer.AlgorithmSDK},
		{"v11", signer.AlgorithmV11, signer.AlgorithmV11},
		{"auto-local-host", "", signer.AlgorithmV11},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, reply(http.StatusOK, `{"command_id":"c"}`))
			c := newTestClient(t, ts.URL, func(c *Config) {
				c.AuthToken, c.AccessKey, c.SecretKey, c.SecurityToken = "", testAK, testSK, testSecTok
				c.SigningAlgorithm, c.InstanceID = tc.forced, "inst-9"
				c.Now = func() time.Time { return fixed }
			})
			if _, err := c.CreateCommand(t.Context(), simpleCommand); err != nil {
				t.Fatal(err)
			}
			got := ts.lastRequest()
			auth, err := signer.ParseAuthorization(got.header.Get("Authorization"))
			if err != nil {
				t.Fatal(err)
			}
			if auth.Algorithm != tc.wantAlg || auth.AccessKey != testAK {
				t.Fatalf("auth %+v", auth)
			}
			if tc.wantAlg == signer.AlgorithmV11 && (auth.Region != testRegion || auth.Service != "iotdm" || auth.Date != "20260902") {
				t.Fatalf("scope %+v", auth)
			}
			for _, h := range []string{"instance-id", "user-agent", "x-project-id", "x-sdk-date", "x-security-token"} {
				if !slices.Contains(auth.SignedHeaders, h) {
					t.Errorf("%s not signed: %v", h, auth.SignedHeaders)
				}
			}
			if got.header.Get("X-Project-Id") != testProject || got.header.Get("X-Security-Token") != testSecTok ||
				got.header.Get("X-Auth-Token") != "" || got.header.Get("X-Sdk-Date") != "20260902T235930Z" {
				t.Fatalf("headers %v", got.header)
			}
			sig, err := signer.ComputeSignature(auth, testSK, got.req, got.body)
			if err != nil || !hmac.Equal([]byte(sig), []byte(auth.Signature)) {
				t.Fatalf("signature does not verify server-side (err %v)", err)
			}
			if bad, _ := signer.ComputeSignature(auth, testSK, got.req, append(got.body, ' ')); bad == auth.Signature {
				t.Fatal("signature ignores the body")
			}
		})
	}
}

func TestAlgorithmForHost(t *testing.T) {
	cases := map[string]string{
		"iotda.cn-north-4.myhuaweicloud.com":                   signer.AlgorithmSDK,
		"IOTDA.cn-north-4.myhuaweicloud.com":                   signer.AlgorithmSDK,
		"iotda.ap-southeast-1.myhuaweicloud.com":               signer.AlgorithmSDK,
		"iotda.myhuaweicloud.com":                              signer.AlgorithmSDK,
		"iotda.cn-north-4.huaweicloud.cn":                      signer.AlgorithmSDK,
		"x.st1.iotda-app.cn-north-4.myhuaweicloud.com":         signer.AlgorithmV11,
		"9bc34.st1.iotda-app.ap-southeast-1.myhuaweicloud.com": signer.AlgorithmV11,
		"127.0.0.1": signer.AlgorithmV11,
		"localhost": signer.AlgorithmV11,
		"iotda.cn-north-4.myhuaweicloud.com.evil.example": signer.AlgorithmV11,
	}
	for host, want := range cases {
		if got := algorithmForHost(host); got != want {
			t.Errorf("algorithmForHost(%q) = %s, want %s", host, got, want)
		}
	}
}
