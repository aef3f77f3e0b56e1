# Delivers the command whenever Terraform reads it: on every plan and refresh, and
# when `terraform destroy` refreshes (not with -refresh=false, nor when a saved plan
# is applied). Use it only for commands that read state from a device and are safe
# to repeat.
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
