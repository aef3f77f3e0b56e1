package provider

import (
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

// TestExamples_DeviceMessage applies the documentation's examples of iotda_device_message
// against the mock, with the devices they name: an online meter and a sleeping sensor, which
// reads its message once it wakes.
func TestExamples_DeviceMessage(t *testing.T) {
	t.Parallel()
	target := newMessageMock(t, mockserver.Options{}, []string{"meter-17", "sensor-042"}, "sensor-042")
	s := target.Server
	config := target.ProviderHCL + readExample(t, "resources/iotda_device_message/resource.tf") +
		readExample(t, "resources/iotda_device_message/sleeping-device.tf")
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("interval_status", knownvalue.StringExact("DELIVERED")),
					statecheck.ExpectKnownOutputValue("night_schedule", knownvalue.ObjectExact(map[string]knownvalue.Check{
						"status": knownvalue.StringExact("PENDING"), "finished_at": knownvalue.Null()})),
				},
				Check: resource.ComposeTestCheckFunc(checkMessages(s, "meter-17", 1, 1), checkMessages(s, "sensor-042", 1, 0)),
			},
			{
				// The sensor wakes: the next refresh shows its message delivered, sent once.
				PreConfig: func() { wakeAndDeliver(t, s, "sensor-042", 1) },
				Config:    config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("night_schedule", knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"status": knownvalue.StringExact("DELIVERED"), "finished_at": knownvalue.StringRegexp(rfc3339UTC)})),
				},
				Check: resource.ComposeTestCheckFunc(checkMessages(s, "meter-17", 1, 1), checkMessages(s, "sensor-042", 1, 1)),
			},
		},
	})
	if got := received(s, "sensor-042"); !slices.Equal(got, []string{`"sleep 22:00-06:00"`}) {
		t.Fatalf("the sensor read %q", got)
	}
}
