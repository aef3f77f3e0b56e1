package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builtProvider is the provider's binary, built once for the test binary: the directory
// holding terraform-provider-iotda. TestMain removes it.
var builtProvider struct {
	once sync.Once
	dir  string
	err  error
}

// providerBinaryDir builds the provider (as make build does) and returns its directory.
func providerBinaryDir(t *testing.T) string {
	t.Helper()
	builtProvider.once.Do(buildProvider)
	if builtProvider.err != nil {
		t.Fatal(builtProvider.err)
	}
	return builtProvider.dir
}

// buildProvider builds the provider into a directory of its own, shared by every test of the
// test binary (so not a test's TempDir): TestMain removes it.
func buildProvider() {
	builtProvider.dir, builtProvider.err = os.MkdirTemp("", "iotda-provider-")
	if builtProvider.err != nil {
		return
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(builtProvider.dir, "terraform-provider-iotda"),
		"github.com/iotdalabs/terraform-provider-iotda")
	if out, err := cmd.CombinedOutput(); err != nil {
		builtProvider.err = fmt.Errorf("go build: %v\n%s", err, out)
	}
}

// removeBuiltProvider removes the binary providerBinaryDir built, if it built one.
func removeBuiltProvider() {
	if builtProvider.dir != "" {
		_ = os.RemoveAll(builtProvider.dir)
	}
}

// newBinaryCLIRun is newFleetCLIRun with Terraform launching the provider's binary through
// dev_overrides, as for a user, instead of attaching to the provider served by the test.
func newBinaryCLIRun(t *testing.T, cli, configuration string) *cliRun {
	t.Helper()
	r := newFleetCLIRun(t, cli, configuration)
	rc := filepath.Join(r.dir, "dev.tfrc")
	overrides := fmt.Sprintf("provider_installation {\n  dev_overrides {\n    %q = %q\n  }\n  direct {}\n}\n",
		providerAddress, providerBinaryDir(t))
	if err := os.WriteFile(rc, []byte(overrides), 0o600); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range r.env {
		if !strings.HasPrefix(kv, "TF_REATTACH_PROVIDERS=") && !strings.HasPrefix(kv, "TF_CLI_CONFIG_FILE=") {
			env = append(env, kv)
		}
	}
	r.env = append(env, "TF_CLI_CONFIG_FILE="+rc)
	return r
}
