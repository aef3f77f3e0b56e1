# A sensor that wakes a few times a day: hand the message to IoTDA and end the apply at once.
# IoTDA keeps it for up to 12 hours and delivers it when the sensor connects. Later plans and
# refreshes read its status (PENDING, then DELIVERED, or TIMEOUT if the sensor stays asleep,
# which the next apply sends again); it is never sent twice otherwise.
resource "iotda_device_message" "night_schedule" {
  device_id         = "sensor-042"
  message           = "sleep 22:00-06:00"
  payload_format    = "raw" # the MQTT payload is the text itself
  ttl               = 720   # minutes, in steps of 5; at most 1440
  wait_for_delivery = false
}

output "night_schedule" {
  value = {
    status      = iotda_device_message.night_schedule.status
    finished_at = iotda_device_message.night_schedule.finished_at
  }
}
