# The provider's source: without this block, Terraform and OpenTofu look for hashicorp/iotda.
# Every example in this documentation applies as written beside this file, with the provider
# configured by the variables below or by the IOTDA_* environment variables alone.
terraform {
  required_providers {
    iotda = {
      source = "iotdalabs/iotda"
    }
  }
}

# Token authentication against the public endpoint of a region.
provider "iotda" {
  region     = "cn-north-4"
  project_id = var.project_id
  auth_token = var.auth_token
}

# AK/SK signing against an instance access address (standard and enterprise
# editions). The V11-HMAC-SHA256 algorithm is chosen automatically for such hosts.
provider "iotda" {
  alias       = "instance"
  endpoint    = "https://0123456789.st1.iotda-app.cn-north-4.myhuaweicloud.com"
  region      = "cn-north-4"
  project_id  = var.project_id
  instance_id = var.instance_id
  access_key  = var.access_key
  secret_key  = var.secret_key
}

# Each variable defaults to null, which leaves its argument to the environment:
# IOTDA_PROJECT_ID, IOTDA_INSTANCE_ID, IOTDA_AUTH_TOKEN, IOTDA_ACCESS_KEY and IOTDA_SECRET_KEY
# (IOTDA_ENDPOINT, when set, is used instead of the region's public endpoint).
variable "project_id" {
  type    = string
  default = null
}

variable "instance_id" {
  type    = string
  default = null
}

variable "auth_token" {
  type      = string
  sensitive = true
  default   = null
}

variable "access_key" {
  type      = string
  sensitive = true
  default   = null
}

variable "secret_key" {
  type      = string
  sensitive = true
  default   = null
}
