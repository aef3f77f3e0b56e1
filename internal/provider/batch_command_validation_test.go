package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// Everything the platform would refuse and can be known offline is refused at plan time,
// with the attribute's path, before any request.
func TestBatchCommandResource_ValidationErrors(t *testing.T) {
	t.Parallel()
	target := batchMock(t, 1, nil)
	ok := `
  device_ids = ["fleet-1"]
  paras      = {}
`
	cases := []struct {
		name, body, want string
	}{
		{"neither targets", `paras = {}`, `Missing Attribute Configuration.*Exactly one of these attributes must be configured: \[device_ids,group_ids\]`},
		{"both targets", `
  device_ids = ["fleet-1"]
  group_ids  = ["aaaa-1"]
  paras      = {}`, `Invalid Attribute Combination.*line 21.*device_ids = \["fleet-1"\].*Exactly one of these attributes must be configured: \[device_ids,group_ids\]`},
		{"empty device_ids", `
  device_ids = []
  paras      = {}`, `Attribute device_ids list must contain at least 1 elements`},
		{"device id with a slash", `
  device_ids = ["fleet-1", "a/b"]
  paras      = {}`, `Attribute device_ids\[1\] must be 1 to 128 characters long and contain only letters, digits`},
		{"device listed twice", `
  device_ids = ["fleet-1", "x", "fleet-1"]
  paras      = {}`, `Duplicate Device ID.*"fleet-1" is listed twice, at index 0 and at index 2`},
		{"30,001 devices", `
  device_ids = flatten([for i in range(31) : [for j in range(1000) : "d-${i * 1000 + j}"]])
  paras      = {}`, `Attribute device_ids list must contain at least 1 elements and at most 30000 elements, got: 31000`},
		{"null device id", `
  device_ids = ["fleet-1", null]
  paras      = {}`, `Null Device ID.*device_ids = \["fleet-1", null\].*Element 1 of the list is null. Every element must be a device ID`},
		{"null group id", `
  group_ids = [null]
  paras     = {}`, `Null Group ID.*group_ids = \[null\].*Element 0 of the list is null. Every element must be a group ID`},
		{"group id not hex", `
  group_ids = ["group one"]
  paras     = {}`, `Attribute group_ids\[0\] must be a device group ID`},
		{"group listed twice", `
  group_ids = ["aaaa-1", "aaaa-1"]
  paras     = {}`, `Duplicate Group ID.*"aaaa-1" is listed twice`},
		{"task name with a hyphen", ok + `  task_name = "reboot-all"`, `Attribute task_name must be 1 to 128 letters, digits, underscores`},
		{"task name empty", ok + `  task_name = ""`, `Attribute task_name must be 1 to 128 letters.*leave it out for a unique default name.*got: $`},
		{"task name of 129 characters", ok + `  task_name = "` + strings.Repeat("任", 129) + `"`,
			`Attribute task_name string length must be at most 128 characters, got: 129`},
		{"service_id of 65 characters", ok + `  service_id = "` + strings.Repeat("s", 65) + `"`, `Attribute service_id string length must be at most 64`},
		{"command_name of 129 characters", ok + `  command_name = "` + strings.Repeat("c", 129) + `"`, `Attribute command_name string length must be at most 128`},
		{"paras a list", `
  device_ids = ["fleet-1"]
  paras      = [1, 2]`, `Invalid Paras Value.*paras must be an object.*got a list`},
		{"paras malformed JSON", `
  device_ids = ["fleet-1"]
  paras      = "{\"a\": }"`, `Invalid Paras Value.*not valid JSON`},
		{"retry_count above 5", ok + `
  retry_count    = 6
  retry_interval = 1`, `Attribute retry_count value must be between 0 and 5, got: 6`},
		{"retry_interval 0", ok + `
  retry_count    = 1
  retry_interval = 0`, `Attribute retry_interval value must be between 1 and 1440, got: 0`},
		{"retry_count alone", ok + `  retry_count = 2`, `Attribute "retry_interval" must be specified when "retry_count" is specified`},
		{"retry_interval alone", ok + `  retry_interval = 2`, `Attribute "retry_count" must be specified when "retry_interval" is specified`},
		{"max_failed_devices negative", ok + `  max_failed_devices = -1`, `Attribute max_failed_devices value must be at least 0`},
		{"create timeout 0", ok + `  timeouts { create = "0s" }`, `Invalid Timeout.*timeouts.create is "0s": a timeout must be longer than zero`},
		{"read timeout negative", ok + `  timeouts { read = "-5m" }`, `Invalid Timeout.*timeouts.read is "-5m"`},
		{"delete timeout negative", ok + `  timeouts { delete = "-1s" }`, `Invalid Timeout.*timeouts.delete is "-1s"`},
	}
	// The group returns once its parallel subtests have all run.
	t.Run("invalid", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				resource.UnitTest(t, resource.TestCase{
					ProtoV6ProviderFactories: testProviderFactories,
					Steps: []resource.TestStep{{
						Config:      batchConfig(target, c.body),
						PlanOnly:    true,
						ExpectError: wrapped(c.want),
					}},
				})
			})
		}
	})
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testProviderFactories,
		Steps: []resource.TestStep{{
			// Nothing of the above reached the platform; a valid name with Chinese characters does.
			Config: batchConfig(target, ok+`  task_name = "重启_all_1"`),
			Check: func(*terraform.State) error {
				if n := batchRequests(target.Server, "POST"); n != 1 {
					return fmt.Errorf("%d creating requests, want only the valid one", n)
				}
				return nil
			},
		}},
	})
}
