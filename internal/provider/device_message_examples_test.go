package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
)

// TestExamples_DeviceMessage applies the documentation's examples of iotda_device_message
// against messagePlatform, with the devices they name: an online meter and a sleeping sensor.
func TestExamples_DeviceMessage(t *testing.T) {
	t.Parallel()
	p := newMessagePlatform(t, "meter-17", "sensor-042")
	p.devices.setOnline("meter-17", true)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: p.providerHCL() + readExample(t, "resources/iotda_device_message/resource.tf") +
					readExample(t, "resources/iotda_device_message/sleeping-device.tf"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("interval_status", knownvalue.StringExact("DELIVERED")),
					statecheck.ExpectKnownOutputValue("night_schedule", knownvalue.ObjectExact(map[string]knownvalue.Check{
						"status": knownvalue.StringExact("PENDING"), "finished_at": knownvalue.Null()})),
				},
			},
			{
				// The sensor wakes: the next refresh shows its message delivered, sent once.
				PreConfig: func() { p.connect("sensor-042") },
				Config: p.providerHCL() + readExample(t, "resources/iotda_device_message/resource.tf") +
					readExample(t, "resources/iotda_device_message/sleeping-device.tf"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("night_schedule", knownvalue.ObjectPartial(map[string]knownvalue.Check{
						"status": knownvalue.StringExact("DELIVERED"), "finished_at": knownvalue.StringRegexp(rfc3339UTC)})),
				},
			},
		},
	})
	if got := p.published("sensor-042"); len(got) != 1 || string(got[0].Payload) != "sleep 22:00-06:00" {
		t.Fatalf("the sensor received %+v", got)
	}
	if posts, _ := p.counts(); posts != 2 {
		t.Fatalf("%d messages sent, want 2", posts)
	}
}
