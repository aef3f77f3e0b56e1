# A small module that switches lamps on or off with one command each, and reports what each
# lamp answered. Its tests (tests/lamps.tftest.hcl) run against the IoTDA mock server.
terraform {
  required_providers {
    iotda = {
      source = "iotdalabs/iotda"
    }
  }
}

variable "device_ids" {
  description = "The lamps to switch, by IoTDA device ID."
  type        = set(string)

  validation {
    condition     = alltrue([for id in var.device_ids : can(regex("^[A-Za-z0-9_-]{1,128}$", id))])
    error_message = "Each device ID must be 1 to 128 letters, digits, underscores or hyphens."
  }
}

variable "state" {
  description = "ON or OFF."
  type        = string

  validation {
    condition     = contains(["ON", "OFF"], var.state)
    error_message = "The state must be ON or OFF."
  }
}

variable "brightness" {
  description = "Brightness in percent, sent with ON."
  type        = number
  default     = 100
}

resource "iotda_device_command" "switch" {
  for_each = var.device_ids

  device_id    = each.key
  service_id   = "Switch"
  command_name = "ON_OFF"
  paras        = { value = var.state, brightness = var.brightness }

  lifecycle {
    # A lamp confirms the state it switched to in its reply.
    postcondition {
      condition     = try(self.response.paras.value, null) == var.state
      error_message = "Lamp ${self.device_id} did not confirm ${var.state}: it answered ${self.response_json}."
    }
  }
}

# The same command to a fleet as one IoTDA batch task, when fleet_ids is set.
variable "fleet_ids" {
  description = "Lamps to switch with one batch task instead of one command each, by IoTDA device ID."
  type        = list(string)
  default     = []
}

resource "iotda_batch_command" "fleet" {
  count = length(var.fleet_ids) > 0 ? 1 : 0

  device_ids   = var.fleet_ids
  service_id   = "Switch"
  command_name = "ON_OFF"
  paras        = { value = var.state, brightness = var.brightness }
}

output "command_ids" {
  description = "The command ID of each lamp's delivery, by device ID."
  value       = { for id, c in iotda_device_command.switch : id => c.command_id }
}

output "replies" {
  description = "What each lamp answered (the reply's paras), by device ID."
  value       = { for id, c in iotda_device_command.switch : id => c.response.paras }
}

locals {
  # results is one JSON text, an object keyed by device ID; {} without a fleet.
  fleet_results = try(jsondecode(iotda_batch_command.fleet[0].results), {})
}

output "fleet_states" {
  description = "The state each lamp of the fleet confirmed (its reply's paras.value), by device ID; null for a lamp that did not answer."
  value       = { for id, result in local.fleet_results : id => try(result.response.paras.value, null) }
}
