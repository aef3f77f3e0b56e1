# Give a fleet of meters a new reporting interval: one batch task, and IoTDA creates the
# message for every meter. Meters that are online receive it at once; IoTDA keeps it for
# those asleep (up to a day by default) and delivers it when they wake.
resource "iotda_batch_message" "interval" {
  device_ids = ["meter-1", "meter-2", "meter-3"]
  name       = "set_interval"
  message    = { interval = 900, unit = "s" }

  # One device IoTDA refuses (such as a meter not registered yet) is a warning; more are
  # an error. The results are saved either way.
  max_failed_devices = 1

  # A new revision sends the message again, to every meter.
  triggers = {
    rev = "3"
  }
}

# Every member of IoTDA device groups; with payload_format = "raw", the text itself is the
# MQTT payload rather than the platform's {"name","id","content"} wrapping.
resource "iotda_batch_message" "night_mode" {
  group_ids      = ["0a1b2c3d-0000-4000-8000-000000000002"]
  message        = "night-mode on"
  payload_format = "raw"
}

# The meters that have not received the message yet. The apply does not wait for them:
# every refresh (terraform plan, terraform refresh) reads their status again, without
# sending anything, and a meter leaves the list once its message is delivered.
output "meters_asleep" {
  value = iotda_batch_message.interval.pending_device_ids
}

# results is JSON text, an object keyed by device ID. Every device's result holds status,
# message_id, message_status (PENDING, DELIVERED, FAILED or TIMEOUT), error_code,
# error_msg and finished_at, null where they do not apply.
output "meter_1_status" {
  value = jsondecode(iotda_batch_message.interval.results)["meter-1"].message_status
}
