# Send a secret without storing it (Terraform 1.11 or OpenTofu 1.11 or newer). The ephemeral
# variable and the write-only paras_wo stay out of the plan and the state; change
# paras_wo_version to deliver the command again, for example after rotating the password.
variable "wifi_password" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "iotda_device_command" "wifi" {
  device_id        = "d-123"
  service_id       = "WiFi"
  command_name     = "SET_CREDENTIALS"
  paras_wo         = { ssid = "plant-3", password = var.wifi_password }
  paras_wo_version = 1
}
