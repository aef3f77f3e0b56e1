// Command terraform-provider-iotda is the Terraform provider for Huawei Cloud IoTDA device commands.
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"

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

	// Without a file and line on every log line, the progress lines of a long batch apply
	// (TF_LOG_PROVIDER=INFO) fit a terminal; providerserver.Serve cannot leave them out.
	opts := []tf6server.ServeOpt{tf6server.WithoutLogLocation()}
	if debug {
		opts = append(opts, tf6server.WithManagedDebug())
	} else {
		ignoreTerminate()
	}
	err := tf6server.Serve("registry.terraform.io/iotdalabs/iotda", providerserver.NewProtocol6(provider.New(version)()), opts...)
	if err != nil {
		log.Fatal(err.Error())
	}
}

// ignoreTerminate keeps the provider running through a SIGTERM. Served by Terraform, the
// provider is in Terraform's process group, and systemd, GNU timeout and CI runners signal
// the whole group: a SIGTERM would end the provider in the middle of a batch task, before
// Terraform could save it, and the next apply would create the task again. Terraform stops
// on the same signal gracefully (StopProvider cancels the provider's work, which hands back
// what it knows, and Terraform saves it), then ends the provider itself. go-plugin already
// ignores SIGINT in plugins for the same reason.
func ignoreTerminate() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		for range ch {
			log.Println("[INFO] SIGTERM ignored: Terraform stops the provider once it has saved the state")
		}
	}()
}
