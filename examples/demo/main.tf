# The configuration `make demo` applies against the IoTDA mock server.
# The provider reads IOTDA_ENDPOINT, IOTDA_PROJECT_ID and IOTDA_AUTH_TOKEN from
# the environment that scripts/demo.sh sets up.
terraform {
  required_providers {
    iotda = {
      source = "iotdalabs/iotda"
    }
  }
}

provider "iotda" {}

resource "iotda_device_command" "switch_on" {
  device_id    = "demo-lamp"
  service_id   = "Switch"
  command_name = "ON_OFF"
  paras = {
    value      = "ON"
    brightness = 80
  }
}

output "command_id" {
  value = iotda_device_command.switch_on.command_id
}

output "device_reply" {
  value = iotda_device_command.switch_on.response_json
}

output "device_result" {
  value = iotda_device_command.switch_on.response.paras
}
