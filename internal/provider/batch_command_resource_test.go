package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
)

const testBatchAddr = "iotda_batch_command.test"

func TestBatchCommandResource_Smoke(t *testing.T) {
	t.Parallel()
	echo := &mockserver.Behavior{Kind: mockserver.BehaviorEcho}
	target := newMockTarget(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "d1", Simulated: echo}, {ID: "d2", Simulated: echo},
	}})
	config := fmt.Sprintf(`%[1]s
resource "iotda_batch_command" "test" {
  device_ids   = ["d1", "d2"]
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = { delay = 5 }
}
`, target.ProviderHCL)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue(testBatchAddr, tfjsonpath.New("status"), knownvalue.StringExact("Success")),
			},
		}},
	})
}
