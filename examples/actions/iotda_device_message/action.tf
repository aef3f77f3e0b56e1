# Ask a device to upload its logs, on demand (Terraform 1.14 or newer):
#   terraform apply -invoke=action.iotda_device_message.upload_logs
# IoTDA keeps the message for an hour if the device is asleep; the action follows it for two
# minutes, showing its progress, and stores nothing.
action "iotda_device_message" "upload_logs" {
  config {
    device_id = "meter-17"
    message   = { command = "upload_logs", since_hours = 24 }
    ttl       = 60
    timeout   = "2m"
  }
}
