# Install firmware with a command, and reboot the device after each new firmware version
# (Terraform 1.14 or newer).
variable "firmware_version" {
  type    = string
  default = "1.2.0"
}

# Stands for whatever changes the firmware: here the version is kept in terraform_data, whose
# update runs the actions listed for after_update.
resource "terraform_data" "firmware" {
  input = var.firmware_version

  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.iotda_device_command.install, action.iotda_device_command.restart]
    }
  }
}

action "iotda_device_command" "install" {
  config {
    device_id    = "d-123"
    service_id   = "Firmware"
    command_name = "INSTALL"
    paras        = { version = var.firmware_version }
  }
}

action "iotda_device_command" "restart" {
  config {
    device_id    = "d-123"
    service_id   = "Maintenance"
    command_name = "REBOOT"
    paras        = { delay = 5 }

    # A device that reports a failed reboot only produces a warning.
    fail_on_device_error = false
  }
}
