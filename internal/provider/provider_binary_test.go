package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	builtProvider.once.Do(func() {
		builtProvider.dir, builtProvider.err = os.MkdirTemp("", "iotda-provider-")
		if builtProvider.err != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(builtProvider.dir, "terraform-provider-iotda"),
			"github.com/iotdalabs/terraform-provider-iotda")
		if out, err := cmd.CombinedOutput(); err != nil {
			builtProvider.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if builtProvider.err != nil {
		t.Fatal(builtProvider.err)
	}
	return builtProvider.dir
}

// removeBuiltProvider removes the binary providerBinaryDir built, if it built one.
func removeBuiltProvider() {
	if builtProvider.dir != "" {
		_ = os.RemoveAll(builtProvider.dir)
	}
}
