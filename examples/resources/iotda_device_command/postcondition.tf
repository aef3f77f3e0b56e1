# Fail the apply when the device's reply says the command did not take effect. The reply
# is saved all the same (the device did receive the command), and every later plan
# reports the failure until the command is delivered again, for example with
# `terraform apply -replace=iotda_device_command.set_interval`.
resource "iotda_device_command" "set_interval" {
  device_id    = "d-123"
  service_id   = "Config"
  command_name = "SET_INTERVAL"
  paras        = { interval = 30 }

  lifecycle {
    postcondition {
      condition     = try(self.response.paras.result, null) == "success"
      error_message = "Device d-123 did not apply the interval; it answered ${self.response_json}."
    }
  }
}
