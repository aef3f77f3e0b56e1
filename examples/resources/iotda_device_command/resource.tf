# Switch a device on once, when this resource is created.
resource "iotda_device_command" "switch_on" {
  device_id    = "d-123"
  service_id   = "Switch"
  command_name = "ON_OFF"
  paras = {
    value = "ON"
  }
}

# Push a configuration and deliver it again whenever the firmware version changes.
resource "iotda_device_command" "configure" {
  device_id    = "d-123"
  service_id   = "Config"
  command_name = "SET_CONFIG"
  paras = jsonencode({
    interval = 30
    limits   = { min = 0.5, max = 12345678901234567890 }
  })

  triggers = {
    firmware = "1.2"
  }

  # A device that answers with a non-zero result_code only produces a warning.
  fail_on_device_error = false

  timeouts {
    create = "90s"
  }
}

output "switch_result" {
  value = iotda_device_command.switch_on.response.paras.result
}
