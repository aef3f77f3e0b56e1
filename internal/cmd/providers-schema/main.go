// Command providers-schema writes the provider's schema in the JSON format of
// `terraform providers schema -json`, for tfplugindocs's --providers-schema flag.
//
// It serves the provider in-process and asks it for its schema over the plugin protocol
// (GetProviderSchema), so the schema includes everything the provider defines, actions
// included, whatever Terraform CLI is installed: Terraform 1.5.7's `providers schema -json`
// knows nothing of actions, and tfplugindocs documents only what the schema it reads knows.
//
// Usage:
//
//	go run ./internal/cmd/providers-schema -o bin/providers-schema.json
//	tfplugindocs generate --provider-name iotda --providers-schema bin/providers-schema.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/iotdalabs/terraform-provider-iotda/internal/provider"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("providers-schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the JSON to this `file` instead of standard output")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	server := providerserver.NewProtocol6(provider.New("docs")())()
	schemas, err := providersSchema(context.Background(), server)
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "providers-schema:", err)
		return 1
	}
	b, err := json.MarshalIndent(schemas, "", "  ")
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "providers-schema:", err)
		return 1
	}
	b = append(b, '\n')
	if *out == "" {
		_, err = stdout.Write(b)
	} else {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		_, _ = fmt.Fprintln(stderr, "providers-schema:", err)
		return 1
	}
	return 0
}
