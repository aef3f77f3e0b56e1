package provider

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// lookupEnv reads an environment variable; an empty value counts as unset.
func lookupEnv(name string) string { return os.Getenv(name) }

// setting is one resolved provider argument: its value and where it came from, so that
// messages can point the user at the argument or the environment variable they set.
type setting struct {
	attr    string // the argument, also when the value came from the environment
	value   string
	source  string // "" when unset, else "the x argument" or "the X environment variable"
	unknown bool   // the configured value is only known after apply
}

func (s setting) set() bool { return s.value != "" }

// known reports whether none of the settings waits for apply, so that a check on them can
// run during plan.
func known(settings ...setting) bool {
	for _, s := range settings {
		if s.unknown {
			return false
		}
	}
	return true
}

// resolver merges the provider block with the environment and records diagnostics.
type resolver struct {
	getenv  func(string) string
	diags   *diag.Diagnostics
	unknown bool
}

// str resolves a string argument: the configuration wins, then the first environment
// variable that is set.
func (r *resolver) str(v types.String, attr string, envs ...string) setting {
	if v.IsUnknown() {
		r.unknown = true
		return setting{attr: attr, unknown: true}
	}
	if !v.IsNull() && v.ValueString() != "" {
		return setting{attr: attr, value: v.ValueString(), source: "the " + attr + " argument"}
	}
	for _, name := range envs {
		if val := r.getenv(name); val != "" {
			return setting{attr: attr, value: val, source: "the " + name + " environment variable"}
		}
	}
	return setting{attr: attr}
}

// envNames lists an argument's environment variables for messages: `IOTDA_X or HW_X`.
func envNames(envs ...string) string { return strings.Join(envs, " or ") }

// resolveConfig builds the client configuration from the provider block and the
// environment. known is false when a configured value is unknown (during plan).
func resolveConfig(m providerModel, getenv func(string) string, diags *diag.Diagnostics) (iotda.Config, bool) {
	r := &resolver{getenv: getenv, diags: diags}
	endpoint := r.str(m.Endpoint, "endpoint", "IOTDA_ENDPOINT")
	region := r.str(m.Region, "region", "IOTDA_REGION", "HW_REGION_NAME")
	project := r.str(m.ProjectID, "project_id", "IOTDA_PROJECT_ID", "HW_PROJECT_ID")
	instance := r.str(m.InstanceID, "instance_id", "IOTDA_INSTANCE_ID")
	token := r.str(m.AuthToken, "auth_token", "IOTDA_AUTH_TOKEN")
	ak := r.str(m.AccessKey, "access_key", "IOTDA_ACCESS_KEY", "HW_ACCESS_KEY")
	sk := r.str(m.SecretKey, "secret_key", "IOTDA_SECRET_KEY", "HW_SECRET_KEY")
	st := r.str(m.SecurityToken, "security_token", "IOTDA_SECURITY_TOKEN", "HW_SECURITY_TOKEN")
	alg := r.str(m.SigningAlgorithm, "signing_algorithm", "IOTDA_SIGNING_ALGORITHM")
	caCert := r.str(m.CACertPEM, "ca_cert_pem", "IOTDA_CA_CERT_PEM")
	maxRetries := r.maxRetries(m.MaxRetries)
	insecure := r.insecure(m.Insecure)
	cfg := iotda.Config{
		Endpoint: endpoint.value, Region: region.value, ProjectID: project.value, InstanceID: instance.value,
		AuthToken: token.value, AccessKey: ak.value, SecretKey: sk.value, SecurityToken: st.value,
		SigningAlgorithm: alg.value, MaxRetries: maxRetries, Insecure: insecure, CACertPEM: caCert.value,
	}
	r.checkLocation(endpoint, region, project)
	r.checkCredentials(token, ak, sk, st)
	r.checkFormats(endpoint, region, alg, caCert)
	r.checkPlain(region, project, instance, token, ak, sk, st)
	if r.unknown {
		// During plan some values may wait for resources. The checks above ran on the
		// settings they could judge; the rest waits for apply.
		return cfg, false
	}
	if cfg.Endpoint == "" && cfg.Region != "" {
		cfg.Endpoint = iotda.DefaultEndpoint(cfg.Region)
	}
	if !region.set() && cfg.EffectiveSigningAlgorithm() == signingV11 {
		diags.AddAttributeError(path.Root("region"), "Missing Region",
			fmt.Sprintf("Requests to %s are signed with %s, whose credential scope includes the region. Set region "+
				"(or the %s environment variable), or set signing_algorithm = %q if this endpoint accepts it.",
				cfg.Endpoint, signingV11, envNames("IOTDA_REGION", "HW_REGION_NAME"), signingSDK))
	}
	if u, err := url.Parse(cfg.Endpoint); err == nil && u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		diags.AddAttributeWarning(path.Root("endpoint"), "Unencrypted Endpoint",
			fmt.Sprintf("The endpoint %s uses plain http to a host that is not this machine, so the credentials "+
				"(or signed requests) and the commands travel unencrypted. Use https://, or plain http only for a "+
				"local mock.", cfg.Endpoint))
	}
	if insecure {
		diags.AddAttributeWarning(path.Root("insecure"), "TLS Verification Disabled",
			"insecure is true, so the IoTDA endpoint's certificate is not verified. Use this only for testing; "+
				"for a private CA, set ca_cert_pem instead.")
	}
	return cfg, true
}

func (r *resolver) checkLocation(endpoint, region, project setting) {
	if !project.set() && known(project) {
		r.diags.AddAttributeError(path.Root("project_id"), "Missing Project ID",
			"The IoTDA project ID is not set. Set project_id in the provider block, or the "+
				envNames("IOTDA_PROJECT_ID", "HW_PROJECT_ID")+" environment variable.")
	}
	if !endpoint.set() && !region.set() && known(endpoint, region) {
		r.diags.AddAttributeError(path.Root("region"), "Missing Region or Endpoint",
			"Neither a region nor an endpoint is set. Set region in the provider block (or the "+
				envNames("IOTDA_REGION", "HW_REGION_NAME")+" environment variable) to use "+
				"https://iotda.{region}.myhuaweicloud.com, or set endpoint (or IOTDA_ENDPOINT).")
	}
}

func (r *resolver) checkCredentials(token, ak, sk, st setting) {
	if !known(token, ak, sk, st) {
		return
	}
	switch {
	case token.set() && (ak.set() || sk.set()):
		other := ak
		if !ak.set() {
			other = sk
		}
		r.diags.AddAttributeError(path.Root("auth_token"), "Conflicting Credentials",
			fmt.Sprintf("Both a token (from %s) and an access key pair (from %s) are set. Use either auth_token "+
				"or access_key and secret_key: unset one of them.", token.source, other.source))
	case ak.set() && !sk.set():
		r.diags.AddAttributeError(path.Root("secret_key"), "Missing Secret Key",
			fmt.Sprintf("An access key is set (from %s) but no secret key. Set secret_key, or the %s environment "+
				"variable.", ak.source, envNames("IOTDA_SECRET_KEY", "HW_SECRET_KEY")))
	case sk.set() && !ak.set():
		r.diags.AddAttributeError(path.Root("access_key"), "Missing Access Key",
			fmt.Sprintf("A secret key is set (from %s) but no access key. Set access_key, or the %s environment "+
				"variable.", sk.source, envNames("IOTDA_ACCESS_KEY", "HW_ACCESS_KEY")))
	case st.set() && !ak.set():
		r.diags.AddAttributeError(path.Root("security_token"), "Security Token Without Access Key",
			fmt.Sprintf("A security token is set (from %s), but it is only used with temporary access keys. "+
				"Set access_key and secret_key as well, or remove the security token.", st.source))
	case !token.set() && !ak.set():
		r.diags.AddAttributeError(path.Root("auth_token"), "Missing Credentials",
			"No IoTDA credentials are set. Set auth_token (or IOTDA_AUTH_TOKEN), or access_key and secret_key "+
				"(or "+envNames("IOTDA_ACCESS_KEY", "HW_ACCESS_KEY")+" and "+envNames("IOTDA_SECRET_KEY", "HW_SECRET_KEY")+").")
	}
}

// checkFormats validates values that may have come from the environment, which the
// schema validators never see.
func (r *resolver) checkFormats(endpoint, region, alg, caCert setting) {
	if endpoint.set() {
		if err := iotda.ValidateEndpoint(endpoint.value); err != nil {
			r.diags.AddAttributeError(path.Root("endpoint"), "Invalid Endpoint", "From "+endpoint.source+": "+err.Error())
		}
	}
	// A control character is reported by checkPlain, with advice of its own.
	if region.set() && !strings.ContainsFunc(region.value, isControl) {
		if err := iotda.ValidateRegion(region.value); err != nil {
			r.diags.AddAttributeError(path.Root("region"), "Invalid Region",
				fmt.Sprintf("From %s: %v; got %q.", region.source, err, region.value))
		}
	}
	if alg.set() && alg.value != signingSDK && alg.value != signingV11 {
		r.diags.AddAttributeError(path.Root("signing_algorithm"), "Invalid Signing Algorithm",
			fmt.Sprintf("%s must be %s or %s (or unset to choose automatically), got %q.",
				alg.source, signingSDK, signingV11, alg.value))
	}
	if caCert.set() {
		if err := iotda.ValidateCACertPEM(caCert.value); err != nil {
			r.diags.AddAttributeError(path.Root("ca_cert_pem"), "Invalid CA Certificate", "From "+caCert.source+": "+err.Error())
		}
	}
}

// checkPlain reports values holding a control character, typically a line break copied
// with a key or read from a file. They would corrupt the request headers they go into.
// The value is not shown: it may be a secret.
func (r *resolver) checkPlain(settings ...setting) {
	for _, s := range settings {
		if strings.ContainsFunc(s.value, isControl) {
			r.diags.AddAttributeError(path.Root(s.attr), "Invalid Provider Setting",
				fmt.Sprintf("The value from %s contains a control character, such as a line break copied with it "+
					"or read from a file with file() (use trimspace()). Remove it.", s.source))
		}
	}
}

// isLoopbackHost reports whether host (without port) names this machine: localhost or a
// loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isControl(c rune) bool { return c < 0x20 || c == 0x7f }

func (r *resolver) maxRetries(v types.Int64) int {
	if v.IsUnknown() {
		r.unknown = true
		return 0
	}
	if !v.IsNull() {
		return int(v.ValueInt64())
	}
	s := r.getenv("IOTDA_MAX_RETRIES")
	if s == "" {
		return defaultMaxRetries
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		r.diags.AddAttributeError(path.Root("max_retries"), "Invalid Max Retries",
			fmt.Sprintf("The IOTDA_MAX_RETRIES environment variable must be a whole number of at least 0, got %q.", s))
		return 0
	}
	return n
}

func (r *resolver) insecure(v types.Bool) bool {
	if v.IsUnknown() {
		r.unknown = true
		return false
	}
	if !v.IsNull() {
		return v.ValueBool()
	}
	s := r.getenv("IOTDA_INSECURE")
	if s == "" {
		return false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		r.diags.AddAttributeError(path.Root("insecure"), "Invalid Insecure Setting",
			fmt.Sprintf("The IOTDA_INSECURE environment variable must be true or false, got %q.", s))
		return false
	}
	return b
}
