package provider

import (
	"os"
	"strings"
)

// envFrameworkLog sets the log level of terraform-plugin-framework's own logs.
const envFrameworkLog = "TF_LOG_SDK_FRAMEWORK"

// LimitFrameworkTrace keeps terraform-plugin-framework's TRACE logs off unless the user asked
// for TRACE logs, by setting TF_LOG_SDK_FRAMEWORK when it is unset.
//
// Why: terraform-plugin-framework v1.19.0 nulls write-only attributes in every plan, read,
// create and update by walking every value of the resource (NullifyWriteOnlyAttributes in
// internal/fwserver), adding the value's path to a context it reuses and logging a TRACE line
// per value. The context grows by one layer per value and each TRACE line searches it whole,
// so the walk is quadratic in the number of values: an iotda_batch_command for 10,000 devices
// holds about 80,000, and one apply took over 10 minutes. When TRACE is off the framework skips
// the search, and the walk is linear. Terraform shows provider logs only when TF_LOG is set,
// so the level follows TF_LOG_PROVIDER, then TF_LOG: a user who asks for TRACE (or JSON) still
// gets the framework's TRACE lines, and pays for them on large fleets.
func LimitFrameworkTrace() {
	if _, set := os.LookupEnv(envFrameworkLog); set {
		return
	}
	level := "WARN"
	for _, name := range []string{"TF_LOG_PROVIDER", "TF_LOG"} {
		if v := strings.ToUpper(strings.TrimSpace(os.Getenv(name))); v != "" {
			level = v
			break
		}
	}
	if level == "TRACE" || level == "JSON" {
		return
	}
	_ = os.Setenv(envFrameworkLog, level) // Setenv fails only for invalid names.
}
