// Command terraform-provider-iotda is the Terraform provider for Huawei Cloud IoTDA device commands.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/iotdalabs/terraform-provider-iotda/internal/provider"
)

// Run "make generate" to format examples and regenerate the docs.

// version is set by the release build (goreleaser) through -ldflags "-X main.version=...".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "set to true to run the provider with support for debuggers like delve")
	flag.Parse()
	provider.LimitFrameworkTrace()

	opts := providerserver.ServeOpts{
		Address: "registry.terraform.io/iotdalabs/iotda",
		Debug:   debug,
	}
	if err := providerserver.Serve(context.Background(), provider.New(version), opts); err != nil {
		log.Fatal(err.Error())
	}
}
