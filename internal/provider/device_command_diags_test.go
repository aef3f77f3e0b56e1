package provider

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

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
			absent:  "raise the timeout", // an interrupt is no sign of a short timeout
		},
		"timed out after sending": {
			ctx:     expired,
			err:     &iotda.DeliveryUnknownError{Err: context.DeadlineExceeded},
			summary: summaryOutcomeUnknown,
			detail:  "timeout expired before IoTDA answered",
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

// A secret echoed in a device's reply never reaches the failure diagnostic (nor, through
// it, Terraform's log), not even in part where a long reply is cut.
func TestReportDeviceFailure_MasksSecrets(t *testing.T) {
	t.Parallel()
	const secret = "sk-SECRET-4f2a9b7c"
	client, err := iotda.NewClient(iotda.Config{Endpoint: "https://iotda.example.com", ProjectID: "p1",
		AccessKey: "AK", SecretKey: secret, Region: "cn-north-4"})
	if err != nil {
		t.Fatal(err)
	}
	for _, reply := range []string{
		`{"result_code":1,"paras":{"echo":"` + secret + `"}}`,
		`{"result_code":1,"paras":{"pad":"` + strings.Repeat("x", maxShownReply-30) + `","echo":"` + secret + `"}}`,
	} {
		for _, fail := range []bool{true, false} {
			m := &deviceCommandModel{DeviceID: types.StringValue("d1"), ResultCode: types.Int64Value(1),
				FailOnDeviceError: types.BoolValue(fail)}
			var diags diag.Diagnostics
			reportDeviceFailure(m, &iotda.CommandResult{CommandID: "c1", Response: json.RawMessage(reply)}, nil, deliveryForResource,
				client.MaskSecrets, &diags)
			if len(diags) != 1 || diags[0].Summary() != summaryDeviceFailure {
				t.Fatalf("diagnostics = %v", diags)
			}
			for k := 6; k <= len(secret); k++ {
				if strings.Contains(diags[0].Detail(), secret[:k]) {
					t.Fatalf("the detail holds the first %d bytes of the secret:\n%s", k, diags[0].Detail())
				}
			}
			if len(reply) < maxShownReply && !strings.Contains(diags[0].Detail(), `"echo":"***"`) {
				t.Errorf("the masked reply is not shown:\n%s", diags[0].Detail())
			}
		}
	}
}

func TestReportReplyNotes(t *testing.T) {
	t.Parallel()
	cmd := iotda.Command{DeviceID: "d1", ServiceID: "Switch", CommandName: "ON_OFF"}
	mask := func(s string) string { return strings.ReplaceAll(s, "hush", "***") }
	tests := map[string]struct {
		reply   string
		summary string
		detail  []string
	}{
		"beyond the limits": {
			reply: nestedReply(maxReplyDepth + 5), summary: summaryReplyBeyondLimits,
			detail: []string{`"d1"`, `"ON_OFF"`, "c-9", "nested more than 32 levels", "response is null",
				"jsondecode(<address>.response_json)", "at most 512 values"},
		},
		"inexact numbers": {
			reply: `{"hush":1e999999999,"b":[1e-999999999]}`, summary: summaryReplyInexactNumbers,
			detail: []string{"2 number(s)", ".*** (1e999999999)", ".b[0] (1e-999999999)", "string holding the number"},
		},
		"not JSON": {reply: "OK", summary: summaryReplyNotJSON, detail: []string{"not JSON", `"d1"`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var diags diag.Diagnostics
			reportReplyNotes(cmd, "c-9", readReply(t.Context(), json.RawMessage(tc.reply)), mask, &diags)
			if len(diags) != 1 || diags.HasError() || diags[0].Summary() != tc.summary {
				t.Fatalf("diagnostics = %v, want one warning %q", diags, tc.summary)
			}
			for _, want := range tc.detail {
				if !strings.Contains(diags[0].Detail(), want) {
					t.Errorf("detail lacks %q:\n%s", want, diags[0].Detail())
				}
			}
		})
	}
	var none diag.Diagnostics
	reportReplyNotes(cmd, "c-9", readReply(t.Context(), json.RawMessage(`{"result_code":0}`)), mask, &none)
	if len(none) != 0 {
		t.Errorf("an ordinary reply gave %v", none)
	}
}
