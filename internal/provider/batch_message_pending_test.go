package provider

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// TestPendingOrder: each refresh reads the pending devices after the last one the previous
// refresh read, then from the first again.
func TestPendingOrder(t *testing.T) {
	pending := []string{"a", "b", "c", "d", "e"}
	for _, c := range []struct {
		cursor string
		limit  int
		want   string
	}{
		{"", 10, "a b c d e"},
		{"", 2, "a b"},
		{"b", 2, "c d"},
		{"d", 3, "e a b"},
		{"e", 10, "a b c d e"},
		{"bb", 10, "c d e a b"}, // a device no longer pending
		{"z", 2, "a b"},
	} {
		if got := strings.Join(pendingOrder(pending, c.cursor, c.limit), " "); got != c.want {
			t.Errorf("pendingOrder(%q, %d) = %q, want %q", c.cursor, c.limit, got, c.want)
		}
	}
}

// TestBatchMessageResource_PendingReadsGoOn: more devices pending than one refresh can read
// within timeouts.read, IoTDA far away. Each refresh goes on from where the last one stopped,
// so that every pending device is read within a few refreshes, and nothing is sent again.
func TestBatchMessageResource_PendingReadsGoOn(t *testing.T) {
	t.Parallel()
	const devices = 60
	m := newMsgFleet(t, devices, nil)
	m.sleep(t, m.ids...)
	isMessageRead := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/messages/")
	}
	// Every read takes 250 ms, eight at a time: a second of reading reads about 32 devices.
	m.proxy.Add(rule(isMessageRead, testutil.Action{Hold: 250 * time.Millisecond}))
	config := m.config("  timeouts {\n    read = \"1s\"\n  }\n")
	steps := []resource.TestStep{{Config: config, ConfigStateChecks: []statecheck.StateCheck{
		listSize("pending_device_ids", devices)}, Check: m.sentOnce(0)}}
	for range 8 {
		steps = append(steps, resource.TestStep{RefreshState: true, Check: m.sentOnce(0)})
	}
	steps = append(steps, resource.TestStep{Config: config, ConfigPlanChecks: emptyMessagePlan(),
		Check: resource.ComposeTestCheckFunc(m.sentOnce(0), func(*terraform.State) error {
			var unread []string
			for _, id := range m.ids {
				if messageReads(m.Server, id) == 0 {
					unread = append(unread, id)
				}
			}
			if len(unread) > 0 {
				return fmt.Errorf("%d pending devices were never read in 9 refreshes: %v", len(unread), unread)
			}
			return nil
		})})
	resource.UnitTest(t, resource.TestCase{ProtoV6ProviderFactories: testProviderFactories, Steps: steps})
}

// messageReads counts the ShowDeviceMessage requests the mock answered for deviceID.
func messageReads(s *mockserver.Server, deviceID string) int {
	n := 0
	for _, e := range s.Journal() {
		if e.Kind == mockserver.EntryRequest && e.Method == http.MethodGet &&
			strings.Contains(e.Path, "/devices/"+deviceID+"/messages/") {
			n++
		}
	}
	return n
}
