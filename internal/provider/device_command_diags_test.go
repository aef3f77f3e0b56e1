package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// The diagnostics of delivery errors whose context ended meanwhile: what the platform said,
// or how far the request got, decides the message, not the context alone.
func TestDiagnoseDeliveryError_EndedContext(t *testing.T) {
	t.Parallel()
	pd := &providerData{projectID: "p1", endpoint: "https://iotda.example"}
	cmd := iotda.Command{DeviceID: "d1", ServiceID: "Switch", CommandName: "ON_OFF"}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, stop := context.WithTimeout(t.Context(), 0)
	defer stop()
	dialErr := errors.New("dial tcp 192.0.2.1:443: operation was canceled")

	tests := map[string]struct {
		ctx            context.Context
		err            error
		summary        string
		detail, absent string
	}{
		"throttled, retry wait cut short": {
			ctx:     expired,
			err:     &iotda.APIError{StatusCode: 429, ErrorCode: "APIGW.0308", ErrorMsg: "throttled"},
			summary: summaryAPIError,
			detail:  "HTTP 429",
			absent:  "may or may not",
		},
		"cancelled while connecting": {
			ctx:     cancelled,
			err:     &iotda.NotSentError{Err: dialErr, Attempts: 1},
			summary: summaryCannotReach,
			detail:  "cancelled while connecting",
			absent:  "Check the endpoint",
		},
		"timed out while connecting": {
			ctx:     expired,
			err:     &iotda.NotSentError{Err: dialErr, Attempts: 2},
			summary: summaryCannotReach,
			detail:  "The timeout expired while connecting. Check the endpoint",
		},
		"cancelled after sending": {
			ctx:     cancelled,
			err:     &iotda.DeliveryUnknownError{Err: context.Canceled},
			summary: summaryOutcomeUnknown,
			detail:  "cancelled before IoTDA answered",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var diags diag.Diagnostics
			diagnoseDeliveryError(tc.ctx, pd, cmd, nil, tc.err, &diags)
			if len(diags) != 1 || !diags.HasError() {
				t.Fatalf("diagnostics = %v, want one error", diags)
			}
			got := diags[0]
			if got.Summary() != tc.summary {
				t.Errorf("summary = %q, want %q", got.Summary(), tc.summary)
			}
			if !strings.Contains(got.Detail(), tc.detail) {
				t.Errorf("detail lacks %q:\n%s", tc.detail, got.Detail())
			}
			if tc.absent != "" && strings.Contains(got.Detail(), tc.absent) {
				t.Errorf("detail holds %q:\n%s", tc.absent, got.Detail())
			}
		})
	}
}
