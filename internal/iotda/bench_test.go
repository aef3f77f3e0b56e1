package iotda_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// BenchmarkCreateCommand_Mock measures a whole command round trip through one Client: HTTP to
// the mock, MQTT to a simulated echo device and back.
func BenchmarkCreateCommand_Mock(b *testing.B) {
	s := newMock(b, nil)
	c := newClient(b, s, nil)
	cmd := echoCommand(echoID)

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.CreateCommand(b.Context(), cmd); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.CreateCommand(b.Context(), cmd); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkSign measures signing a typical CreateCommand request with each algorithm.
func BenchmarkSign(b *testing.B) {
	body := []byte(`{"service_id":"Switch","command_name":"ON_OFF","paras":{"value":"ON","brightness":80}}`)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, alg := range []string{signer.AlgorithmSDK, signer.AlgorithmV11} {
		b.Run(alg, func(b *testing.B) {
			req, err := http.NewRequestWithContext(b.Context(), http.MethodPost,
				"https://iotda.cn-north-4.myhuaweicloud.com/v5/iot/proj-1/devices/dev-1/commands", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Terraform/1.9.0 (+https://www.terraform.io) terraform-provider-iotda/dev")
			req.Header.Set("X-Project-Id", "proj-1")
			s := signer.Signer{AccessKey: mockAK, SecretKey: mockSK, Algorithm: alg, Region: "cn-north-4",
				Service: iotda.DerivedAuthService}
			b.ReportAllocs()
			for b.Loop() {
				// Sign adds Authorization; drop it so that every iteration signs the same headers.
				req.Header.Del("Authorization")
				if err := s.Sign(req, body, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
