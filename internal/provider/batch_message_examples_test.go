package provider

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// TestExamples_BatchMessage applies the iotda_batch_message example against a mock with the
// meters and the device group it names, one meter asleep: it is listed as pending, then shown
// delivered by the next refresh once it wakes, sent once.
func TestExamples_BatchMessage(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 0, func(o *mockserver.Options) {
		o.Fleets = []mockserver.Fleet{{Prefix: "meter-", Count: 3, Behavior: mockserver.Behavior{Kind: mockserver.BehaviorEcho}}}
		o.Groups = []mockserver.Group{{ID: "0a1b2c3d-0000-4000-8000-000000000002", DeviceIDs: []string{"meter-1", "meter-2"}}}
	})
	s := target.Server
	if err := s.SleepDevice("meter-3", 0); err != nil {
		t.Fatal(err)
	}
	config := target.ProviderHCL + readExample(t, "resources/iotda_batch_message/resource.tf")
	// received checks how many messages each meter read: the interval, and the night mode for
	// the group's members.
	received := func(want map[string]int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			for id, n := range want {
				if got := len(s.ReceivedMessages(id)); got != n {
					return fmt.Errorf("%s read %d messages, want %d", id, got, n)
				}
			}
			return nil
		}
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("meters_asleep",
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("meter-3")})),
					statecheck.ExpectKnownOutputValue("meter_1_status", knownvalue.StringExact("DELIVERED")),
				},
				Check: received(map[string]int{"meter-1": 2, "meter-2": 2, "meter-3": 0}),
			},
			{
				PreConfig: func() {
					if err := s.WakeDevice("meter-3"); err != nil {
						t.Fatal(err)
					}
					ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
					defer cancel()
					if _, err := s.WaitJournal(ctx, func(e mockserver.Entry) bool {
						return e.Kind == mockserver.EntryMessageDelivered && e.DeviceID == "meter-3"
					}); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("meters_asleep", knownvalue.ListSizeExact(0)),
				},
				Check: received(map[string]int{"meter-1": 2, "meter-2": 2, "meter-3": 1}),
			},
		},
	})
}
