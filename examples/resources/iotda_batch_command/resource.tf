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

# A large fleet, one task per chunk of devices: each resource stays small and fast to
# plan, and IoTDA runs the tasks side by side. Beyond 30,000 devices, chunks are required.
locals {
  fleet  = formatlist("sensor-%d", range(1, 1001))
  chunks = { for i, ids in chunklist(local.fleet, 250) : format("%03d", i) => ids }
}

resource "iotda_batch_command" "configure" {
  for_each     = local.chunks
  device_ids   = each.value
  service_id   = "Config"
  command_name = "SET_INTERVAL"
  paras        = { interval = 30 }
}

# results is JSON text, an object keyed by device ID. Each device's result holds status,
# command_id, result_code, response, and error_code and error_msg for the devices that failed.
output "sensor_1_reply" {
  value = jsondecode(iotda_batch_command.reboot_fleet.results)["sensor-1"].response
}

output "failed_devices" {
  value = flatten([for c in iotda_batch_command.configure : c.failed_device_ids])
}
