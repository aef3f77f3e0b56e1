# Reboot a device on demand (Terraform 1.14 or newer):
#   terraform apply -invoke=action.iotda_device_command.reboot
# Terraform shows what is delivered and what the device answered; nothing is stored.
action "iotda_device_command" "reboot" {
  config {
    device_id    = "d-123"
    service_id   = "Maintenance"
    command_name = "REBOOT"
    paras        = { delay = 5 }
    timeout      = "60s"
  }
}
