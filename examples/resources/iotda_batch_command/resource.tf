# Reboot a fleet: one batch task, and IoTDA delivers the command to every device.
resource "iotda_batch_command" "reboot_fleet" {
  device_ids   = ["sensor-1", "sensor-2", "sensor-3"]
  service_id   = "Maintenance"
  command_name = "REBOOT"
  paras        = { delay = 5 }

  # IoTDA retries a device that failed (offline, silent) twice, 5 minutes apart.
  retry_count    = 2
  retry_interval = 5

  # One failed device is a warning; more are an error. The results are saved either way.
  max_failed_devices = 1

  # A new firmware version runs the task again.
  triggers = {
    firmware = "1.2"
  }

  # How long an apply follows the task. When it expires first, the task keeps running on
  # IoTDA and stays in state; the next apply follows the same task to its end.
  timeouts {
    create = "30m"
  }
}

# Every member of IoTDA device groups.
resource "iotda_batch_command" "lights_off" {
  group_ids    = ["0a1b2c3d-0000-4000-8000-000000000001"]
  service_id   = "Light"
  command_name = "SWITCH"
  paras        = { value = "OFF" }
}

# A large fleet, one task per chunk of 1,000 devices: plans stay fast (Terraform compares
# each list with its previous value in time that grows with the square of its length), and
# IoTDA runs the tasks side by side. Beyond 30,000 devices, chunks are required.
locals {
  # sensor-1 .. sensor-3000 (range() makes at most 1,024 numbers at a time).
  fleet  = flatten([for k in range(3) : formatlist("sensor-%d", range(k * 1000 + 1, k * 1000 + 1001))])
  chunks = { for i, ids in chunklist(local.fleet, 1000) : format("%03d", i) => ids }
}

resource "iotda_batch_command" "configure" {
  for_each     = local.chunks
  device_ids   = each.value
  service_id   = "Config"
  command_name = "SET_INTERVAL"
  paras        = { interval = 30 }
}

# results is JSON text, an object keyed by device ID. Every device's result holds status,
# command_id, result_code, response (the device's reply), error_code and error_msg, null
# where they do not apply.
output "sensor_1_reply" {
  value = jsondecode(iotda_batch_command.reboot_fleet.results)["sensor-1"].response
}

output "offline_devices" {
  value = [
    for id, r in merge([for c in iotda_batch_command.configure : jsondecode(c.results)]...) :
    id if r.error_code == "IOTDA.014016"
  ]
}

output "failed_devices" {
  value = flatten([for c in iotda_batch_command.configure : c.failed_device_ids])
}
