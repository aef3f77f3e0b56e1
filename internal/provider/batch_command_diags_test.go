package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// TestBatchCommandResource_Redirect: as for one command, a redirect answering the creation of
// a task is never followed; the error names where it pointed and says so.
func TestBatchCommandResource_Redirect(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			hits.Add(1)
		}
		w.Header().Set("Location", "https://iotda.example.com/v5/iot/p1/batchtasks")
		w.WriteHeader(http.StatusFound)
	}))
	t.Cleanup(ts.Close)
	target := &testTarget{ProviderHCL: fmt.Sprintf(`
provider "iotda" {
  endpoint    = %[1]q
  project_id  = "p1"
  auth_token  = "redirect-test-token"
}
`, ts.URL)}
	config := batchConfig(target, `  device_ids = ["d1", "d2"]
  command_name = "REBOOT"
  paras        = { delay = 5 }`)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: wrapped(`IoTDA Rejected the Batch Task.*HTTP 302.*redirect to ` +
					`https://iotda\.example\.com/v5/iot/p1/batchtasks.*does not follow redirects.*most likely not created`),
			},
			{
				// Nothing was saved: the next apply creates the task.
				Config: config, PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPreRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(testBatchAddr, plancheck.ResourceActionCreate),
				}},
			},
		},
	})
	if n := hits.Load(); n != 1 {
		t.Errorf("the endpoint was sent %d creates, want 1: a redirect is neither followed nor retried", n)
	}
}

// Without a configured client the batch resource says what cannot be done, not that a
// command to a device named "the batch task's devices" cannot be delivered.
func TestBatchCommandResource_NotConfigured(t *testing.T) {
	t.Parallel()
	for name, pd := range map[string]*providerData{"not configured": nil, "configuration unknown": {configUnknown: true}} {
		var diags diag.Diagnostics
		if c := (&batchCommandResource{data: pd}).client(&diags); c != nil || !diags.HasError() {
			t.Fatalf("%s: client %v, diagnostics %v", name, c, diags)
		}
		if detail := diags[0].Detail(); !strings.HasPrefix(detail, "The batch task cannot be created, read or deleted") ||
			strings.Contains(detail, "device") {
			t.Errorf("%s: detail %q", name, detail)
		}
	}
}

// A create that never reached IoTDA because the apply was interrupted or timed out while
// connecting says so, as for a single command, rather than only sending the user to the
// connection settings.
func TestDiagnoseCreateError_EndedWhileConnecting(t *testing.T) {
	t.Parallel()
	pd := &providerData{projectID: "p1", endpoint: "https://iotda.example"}
	m := &batchCommandModel{fleetTask: fleetTask{TaskName: types.StringValue("nightly"), DeviceIDs: types.ListNull(types.StringType),
		GroupIDs: types.ListNull(types.StringType)}, CommandName: types.StringValue("REBOOT")}
	notSent := &iotda.NotSentError{Err: errors.New("dial tcp 192.0.2.1:443: operation was canceled"), Attempts: 1}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, stop := context.WithTimeout(t.Context(), 0)
	defer stop()
	for name, c := range map[string]struct {
		ctx            context.Context
		detail, absent string
	}{
		"cancelled":  {cancelled, "cancelled while connecting. Apply again to create the task.", "Check the endpoint"},
		"timed out":  {expired, "The timeout expired while connecting. Check the endpoint", ""},
		"not ending": {t.Context(), "no device received anything. Check the endpoint", "while connecting"},
	} {
		var diags diag.Diagnostics
		diagnoseCreateError(c.ctx, pd, m, notSent, &diags)
		if len(diags) != 1 || diags[0].Summary() != summaryBatchNotCreated {
			t.Fatalf("%s: diagnostics %v", name, diags)
		}
		detail := diags[0].Detail()
		if !strings.Contains(detail, c.detail) || (c.absent != "" && strings.Contains(detail, c.absent)) {
			t.Errorf("%s: detail %q, want %q and not %q", name, detail, c.detail, c.absent)
		}
	}
}
