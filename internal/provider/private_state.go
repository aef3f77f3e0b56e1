package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
)

// The private state every resource shares: Terraform keeps it with the state, unseen by the
// user, between a resource's calls.

// privateImported is the private state key ImportState sets: the resource came from an
// existing task or message, so arguments IoTDA does not keep (triggers, a message's ttl) are
// adopted from the configuration on the first plan instead of sending anything again.
const privateImported = "imported"

// imported reports whether the resource was just imported and not yet reconciled with its
// configuration (the private key ImportState sets and the first update clears).
func imported(ctx context.Context, p privateGetter) bool {
	if p == nil {
		return false
	}
	v, diags := p.GetKey(ctx, privateImported)
	return !diags.HasError() && len(v) > 0
}

// privateGetter and privateSetter are the private state of a request and of a response.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}
