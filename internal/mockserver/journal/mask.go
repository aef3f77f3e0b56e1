package journal

import (
	"net/http"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// MaskedValue replaces credential header values in the journal.
const MaskedValue = "***"

// MaskHeader copies h with the values of credential headers masked. For Authorization the
// algorithm is kept, so that tests can tell which signing algorithm a client used.
func MaskHeader(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for name, values := range h {
		vs := make([]string, len(values))
		for i, v := range values {
			vs[i] = maskHeaderValue(name, v)
		}
		out[name] = vs
	}
	return out
}

func maskHeaderValue(name, value string) string {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization":
		// Only a known algorithm name is kept: anything else might be a credential.
		if alg, _, _ := strings.Cut(value, " "); alg == signer.AlgorithmSDK || alg == signer.AlgorithmV11 {
			return alg + " " + MaskedValue
		}
		return MaskedValue
	case "X-Auth-Token", "X-Security-Token":
		return MaskedValue
	}
	return value
}
