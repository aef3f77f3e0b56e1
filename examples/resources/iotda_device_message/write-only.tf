# Send a key without storing it (Terraform 1.11 or OpenTofu 1.11 or newer). The ephemeral
# variable and the write-only message_wo stay out of the plan, the state and the logs; change
# message_wo_version to send the message again, for example after rotating the key.
variable "device_key" {
  type      = string
  sensitive = true
  ephemeral = true
}

resource "iotda_device_message" "key" {
  device_id          = "meter-17"
  message_wo         = { key = var.device_key }
  message_wo_version = 1
}
