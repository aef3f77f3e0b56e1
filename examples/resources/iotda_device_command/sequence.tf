# Deliver three commands in order, and deliver all three again, in the same order,
# whenever var.round changes (or with `terraform apply -replace=iotda_device_command.stop`).
# Each command's triggers name the command_id of the one before it, which is new whenever
# that one is delivered again, and the reference also makes Terraform wait for it.
variable "round" {
  type    = string
  default = "1"
}

resource "iotda_device_command" "stop" {
  device_id    = "d-123"
  service_id   = "Motor"
  command_name = "STOP"
  paras        = {}
  triggers     = { round = var.round }
}

resource "iotda_device_command" "calibrate" {
  device_id    = "d-123"
  service_id   = "Motor"
  command_name = "CALIBRATE"
  paras        = { speed = 10 }
  triggers     = { after = iotda_device_command.stop.command_id }
}

resource "iotda_device_command" "start" {
  device_id    = "d-123"
  service_id   = "Motor"
  command_name = "START"
  paras        = {}
  triggers     = { after = iotda_device_command.calibrate.command_id }
}
