# Give a meter a new reporting interval. The apply follows the message until the meter has
# it, for up to timeouts.create; changing the interval or the revision sends it again.
resource "iotda_device_message" "interval" {
  device_id = "meter-17"
  name      = "set_interval"
  message   = { interval = 900, unit = "s" }

  triggers = {
    rev = "3"
  }

  timeouts {
    create = "10m"
  }
}

output "interval_status" {
  value = iotda_device_message.interval.status # "DELIVERED"
}
