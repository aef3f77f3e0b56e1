package signer

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	sdksigner "github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
)

// benchRequest is a typical CreateCommand request, as both signers see it.
var benchRequest = randomRequest{
	method: http.MethodPost,
	path:   "/v5/iot/0123456789abcdef/devices/d-123/commands",
	headers: map[string]string{
		"Content-Type": "application/json",
		"User-Agent":   "Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-iotda/0.1.0",
		"X-Project-Id": "0123456789abcdef",
		"Instance-Id":  "instance-1",
	},
	body: []byte(`{"service_id":"Switch","command_name":"ON_OFF","paras":{"value":"ON","brightness":80}}`),
}

// BenchmarkSigners compares our signer with the official SDK's on the same request, for both
// algorithms, so that the ratio comes from one run on one machine.
func BenchmarkSigners(b *testing.B) {
	const ak, sk, region, service = "AccessKey", "SecretKey", "cn-north-4", "iotdm"
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	date := now.Format(DateLayout)
	for _, alg := range []string{AlgorithmSDK, AlgorithmV11} {
		b.Run("ours/"+alg, func(b *testing.B) {
			s := Signer{AccessKey: ak, SecretKey: sk, Algorithm: alg, Region: region, Service: service}
			req, err := http.NewRequestWithContext(b.Context(), benchRequest.method,
				"https://iotda.example"+benchRequest.path, bytes.NewReader(benchRequest.body))
			if err != nil {
				b.Fatal(err)
			}
			for k, v := range benchRequest.headers {
				req.Header.Set(k, v)
			}
			b.ReportAllocs()
			for b.Loop() {
				req.Header.Del("Authorization")
				if err := s.Sign(req, benchRequest.body, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("official-sdk/"+alg, func(b *testing.B) {
			req := benchRequest.sdkRequest(date) // Built once, as ours is: only signing is measured.
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if alg == AlgorithmV11 {
					_, err = sdksigner.DerivedSigner{}.Sign(req, ak, sk, service, region)
				} else {
					_, err = sdksigner.Signer{}.Sign(req, ak, sk)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
