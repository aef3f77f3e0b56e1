package iotda

import (
	"os"
	"strings"
)

// UserAgent builds "Terraform/<tfv> (+https://www.terraform.io) terraform-provider-iotda/<pv>", followed by
// " " and TF_APPEND_USER_AGENT when that environment variable is set, like HashiCorp's providers do.
func UserAgent(providerVersion, terraformVersion string) string {
	if providerVersion == "" {
		providerVersion = "dev"
	}
	if terraformVersion == "" {
		terraformVersion = "unknown"
	}
	ua := "Terraform/" + terraformVersion + " (+https://www.terraform.io) terraform-provider-iotda/" + providerVersion
	if extra := strings.TrimSpace(os.Getenv("TF_APPEND_USER_AGENT")); extra != "" {
		ua += " " + extra
	}
	return ua
}
