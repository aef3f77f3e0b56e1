# Delivers the command on every plan and refresh: use it only for commands
# that read state from a device and are safe to repeat.
data "iotda_device_command" "status" {
  device_id    = "d-123"
  service_id   = "Status"
  command_name = "GET_STATUS"
  paras        = {}

  timeouts {
    read = "30s"
  }
}

output "device_status" {
  value = data.iotda_device_command.status.response.paras
}
