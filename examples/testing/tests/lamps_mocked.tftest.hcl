# The same module tested with a mocked provider (Terraform 1.7+, OpenTofu 1.8+): no mock server,
# no credentials, no delivery. It runs in a second and checks the module's own logic (its
# outputs, conditions and validation), not how devices or IoTDA behave: use the mock server
# (lamps.tftest.hcl) for that.
#
# A mocked provider makes up every computed attribute it is not given: a random string for
# response_json and for the batch resource's results, which jsondecode() cannot read, and an
# unknown shape for response. The defaults below give them replies such as a device sends, and a
# run overrides them where it needs another reply.
mock_provider "iotda" {
  mock_resource "iotda_device_command" {
    defaults = {
      command_id    = "00000000-0000-4000-8000-000000000001"
      response      = { result_code = 0, paras = { value = "ON", brightness = 100 } }
      response_json = "{\"result_code\":0,\"paras\":{\"value\":\"ON\",\"brightness\":100}}"
      result_code   = 0
    }
  }

  mock_resource "iotda_batch_command" {
    defaults = {
      status            = "Success"
      failed_device_ids = []
      # One JSON text keyed by device ID, each device with the same six members.
      results = "{\"lamp-11\":{\"status\":\"Success\",\"command_id\":\"c-11\",\"result_code\":0,\"response\":{\"paras\":{\"value\":\"ON\"}},\"error_code\":null,\"error_msg\":null},\"lamp-12\":{\"status\":\"Success\",\"command_id\":\"c-12\",\"result_code\":0,\"response\":{\"paras\":{\"value\":\"ON\"}},\"error_code\":null,\"error_msg\":null}}"
    }
  }
}

variables {
  device_ids = ["lamp-1", "lamp-2"]
  state      = "ON"
}

run "switch_on" {
  assert {
    condition     = length(output.command_ids) == 2 && alltrue([for reply in values(output.replies) : reply.value == "ON"])
    error_message = "Expected one command per lamp, each confirmed ON."
  }
}

run "a_lamp_that_does_not_confirm_fails_the_postcondition" {
  # The lamps of the run before keep their reply (ON) in the plan, so the postcondition
  # already fails there.
  command = plan

  variables {
    state = "OFF"
  }

  # The default reply says ON, so asking for OFF fails the module's postcondition.
  expect_failures = [iotda_device_command.switch]
}

run "switch_off" {
  # A mocked provider does not plan as the provider does: a change of paras, which delivers the
  # command again (a replacement), is an update in place that keeps the previous reply. New
  # resources, here other lamps, get the reply of the override below.
  variables {
    device_ids = ["lamp-3", "lamp-4"]
    state      = "OFF"
  }

  # Another reply for this run only.
  override_resource {
    target = iotda_device_command.switch
    values = {
      response      = { result_code = 0, paras = { value = "OFF", brightness = 100 } }
      response_json = "{\"result_code\":0,\"paras\":{\"value\":\"OFF\",\"brightness\":100}}"
    }
  }

  assert {
    condition     = alltrue([for reply in values(output.replies) : reply.value == "OFF"])
    error_message = "Every lamp should confirm OFF."
  }
}

run "a_fleet_reads_results_with_jsondecode" {
  variables {
    fleet_ids = ["lamp-11", "lamp-12"]
  }

  assert {
    condition     = output.fleet_states == { "lamp-11" = "ON", "lamp-12" = "ON" }
    error_message = "The fleet's states come from results: ${jsonencode(output.fleet_states)}."
  }
}
