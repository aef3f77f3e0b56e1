package provider

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// Following a message to its end, and reading it later: a device that connects in the last
// seconds of the wait is seen DELIVERED (one last read before the deadline, past the backed
// off polls), and reads that fail or report a status the provider does not know keep the
// state and let plans go on.

// wakeAfterReads wakes a sleeping device once its message has been read n times: a device
// that connects after the polls have backed off.
func wakeAfterReads(t *testing.T, s *mockserver.Server, deviceID string, n int) {
	t.Helper()
	wakeWhen(t, s, deviceID, time.Minute, func(mockserver.Entry) bool {
		return messageRequests(s, deviceID, http.MethodGet) >= n
	})
}

// With a 10 s wait the polls read at about 0.5, 1.5, 3.5 and 7.5 s, and the next would come
// at 15.5 s: the device wakes after the fourth, and the last read, just before the deadline,
// sees the message delivered.
func TestDeviceMessage_LastReadJustBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	t.Run("resource", func(t *testing.T) {
		t.Parallel()
		target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
		s := target.Server
		wakeAfterReads(t, s, "d1", 4)
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testProviderFactories,
			Steps: []resource.TestStep{{
				Config: messageConfig(target, "d1", `
  message = "just in time"
  timeouts {
    create = "10s"
  }
`),
				ConfigStateChecks: []statecheck.StateCheck{expectStatus("DELIVERED")},
				Check:             checkMessages(s, "d1", 1, 1),
			}},
		})
		if n := messageRequests(s, "d1", http.MethodGet); n != 5 {
			t.Errorf("%d reads, want the four polls and the last one", n)
		}
	})
	t.Run("action", func(t *testing.T) {
		t.Parallel()
		target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
		s := target.Server
		p := newProtoProvider(t)
		p.configure(s, "test-token")
		wakeAfterReads(t, s, "d1", 4)
		progress, diags := p.invokeMessage(with(messageTo("d1"), "timeout", str("10s")))
		if len(diags) != 0 {
			t.Fatalf("diagnostics %s; progress %q", formatProtoDiags(diags), progress)
		}
		progressMatches(t, progress, `PENDING`, `^Message [0-9a-f-]{36} delivered to device "d1"`)
		if err := checkMessages(s, "d1", 1, 1)(nil); err != nil {
			t.Fatal(err)
		}
	})
}

// The action with a message still PENDING at the deadline: the last read came just before
// it, and the action did not overrun its timeout.
func TestDeviceMessageAction_StillPendingAtTheDeadline(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	p := newProtoProvider(t)
	p.configure(s, "test-token")
	start := time.Now()
	_, diags := p.invokeMessage(with(messageTo("d1"), "timeout", str("3s")))
	if len(diags) != 1 || diags[0].Summary != summaryMessagePending {
		t.Fatalf("diagnostics %s", formatProtoDiags(diags))
	}
	if took := time.Since(start); took > 3*time.Second+2*time.Second {
		t.Errorf("the action took %v with a 3 s timeout", took)
	}
	// Polls at 0.5 and 1.5 s, then the last read at 2.7 s instead of 3.5 s, past the deadline.
	if n := messageRequests(s, "d1", http.MethodGet); n != 3 {
		t.Errorf("%d reads, want 3", n)
	}
}

// Reads of a PENDING message that fail for good (500 after the retries, 403) or report a
// status the provider does not know are warnings: the state is kept and plans go on; the
// next read that works records the status. Nothing is sent meanwhile.
func TestDeviceMessageResource_FailingReadsKeepTheState(t *testing.T) {
	t.Parallel()
	cli := requireCLI(t)
	target := newMessageMock(t, mockserver.Options{}, []string{"d1"}, "d1")
	s := target.Server
	r := newFleetCLIRun(t, cli, messageConfig(target, "d1", `
  message           = "later"
  wait_for_delivery = false
`))
	applyOK(t, r)
	if st := readMessageState(t, r); st.Attributes["status"] != "PENDING" {
		t.Fatalf("state %s", st.raw)
	}
	for _, tc := range []struct {
		fault  mockserver.Fault
		want   []string
		status string
	}{
		{mockserver.Fault{Status: http.StatusInternalServerError, ErrorCode: "IOTDA.000500", ErrorMsg: "boom"},
			[]string{"Warning: Reading the Message Failed", "HTTP 500", "keeps the status last seen (PENDING)"}, "PENDING"},
		{mockserver.Fault{Status: http.StatusForbidden, ErrorCode: "IOTDA.000004", ErrorMsg: "no permission"},
			[]string{"Warning: Reading the Message Failed", "HTTP 403"}, "PENDING"},
		{mockserver.Fault{MergePatch: json.RawMessage(`{"status":"BOGUS"}`)},
			[]string{"Warning: Message Status Unknown", `status "BOGUS"`}, "BOGUS"},
	} {
		s.ClearFaults()
		f := tc.fault
		f.Operation, f.Times = "ShowDeviceMessage", -1
		s.InjectFault(f)
		for range 2 {
			out, ok := r.run("plan", "-no-color", "-input=false", "-detailed-exitcode")
			if !ok {
				t.Fatalf("the plan failed or is not empty:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Fatalf("the plan does not say %q:\n%s", w, out)
				}
			}
		}
		applyOK(t, r, "No changes.")
		if st := readMessageState(t, r); st.Attributes["status"] != tc.status || st.Tainted {
			t.Fatalf("state %s, want status %s", st.raw, tc.status)
		}
	}
	s.ClearFaults()
	wakeAndDeliver(t, s, "d1", 1)
	applyOK(t, r, "No changes.")
	if st := readMessageState(t, r); st.Attributes["status"] != "DELIVERED" {
		t.Fatalf("state %s", st.raw)
	}
	planEmpty(t, r)
	if err := checkMessages(s, "d1", 1, 1)(nil); err != nil {
		t.Fatal(err)
	}
}
