# Tests of the lamps module, run with `tofu test` (OpenTofu 1.6+) or `terraform test`
# (Terraform 1.6+) against the IoTDA mock server. run-tests.sh starts the mock with
# mock-config.json and sets IOTDA_ENDPOINT, IOTDA_PROJECT_ID and IOTDA_AUTH_TOKEN, which
# configure the provider.

variables {
  # Ten lamps of the mock's simulated fleet (lamp-1 .. lamp-100).
  device_ids = [for i in range(1, 11) : "lamp-${i}"]
  state      = "ON"
}

run "switch_on" {
  assert {
    condition     = length(output.command_ids) == 10
    error_message = "Expected one command per lamp, got ${length(output.command_ids)}."
  }

  assert {
    condition     = alltrue([for reply in values(output.replies) : reply.value == "ON" && reply.brightness == 100])
    error_message = "Every lamp should confirm ON at 100%."
  }
}

run "same_configuration_delivers_nothing" {
  # A run's outputs reach a later run through its variables.
  variables {
    previous_ids = run.switch_on.command_ids
  }

  # Nothing changed, so applying again keeps every command: the IDs are those of the first run.
  assert {
    condition     = alltrue([for id, cid in output.command_ids : cid == var.previous_ids[id]])
    error_message = "An unchanged configuration must not deliver the commands again."
  }
}

run "switch_off" {
  variables {
    state = "OFF"
  }

  # A new state replaces every command, that is, delivers it again: the lamps' replies are new.
  assert {
    condition     = alltrue([for reply in values(output.replies) : reply.value == "OFF"])
    error_message = "Every lamp should confirm OFF."
  }
}

run "switch_a_fleet_in_one_batch_task" {
  variables {
    state     = "OFF"
    fleet_ids = [for i in range(11, 21) : "lamp-${i}"]
  }

  # One batch task; results holds every lamp's reply, read with jsondecode() in the module.
  assert {
    condition     = length(output.fleet_states) == 10 && alltrue([for s in values(output.fleet_states) : s == "OFF"])
    error_message = "Every lamp of the fleet should confirm OFF, got ${jsonencode(output.fleet_states)}."
  }
}

run "invalid_device_id_is_refused_at_plan" {
  command = plan

  variables {
    device_ids = ["lamp 1"]
  }

  expect_failures = [var.device_ids]
}

run "a_lamp_that_does_not_confirm_fails_the_postcondition" {
  variables {
    # lamp-stuck answers every command with {"value": "OFF"}.
    device_ids = ["lamp-stuck"]
  }

  expect_failures = [iotda_device_command.switch]
}
