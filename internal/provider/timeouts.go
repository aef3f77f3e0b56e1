package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	dsschema "github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

var _ validator.String = positiveDuration{}

// positiveDuration refuses a timeout of zero or less at plan time. The timeouts block of
// terraform-plugin-framework-timeouts accepts "0s" and "-5m", with which every request ends
// before it is sent, reported as a connection failure that sends the user to check the
// endpoint. A value that is not a duration at all is left to that block's own validator.
type positiveDuration struct{}

func (positiveDuration) Description(_ context.Context) string {
	return "value must be a duration longer than zero"
}

func (v positiveDuration) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (positiveDuration) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d > 0 {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid Timeout",
		fmt.Sprintf("%s is %q: a timeout must be longer than zero, such as \"60s\" or \"30m\". Remove it to use "+
			"the default.", req.Path, req.ConfigValue.ValueString()))
}

// withPositiveTimeouts adds positiveDuration to every duration of a resource's timeouts block.
func withPositiveTimeouts(b rschema.SingleNestedBlock) rschema.SingleNestedBlock {
	attrs := make(map[string]rschema.Attribute, len(b.Attributes))
	for name, a := range b.Attributes {
		if s, ok := a.(rschema.StringAttribute); ok {
			s.Validators = append(slices.Clip(s.Validators), positiveDuration{})
			a = s
		}
		attrs[name] = a
	}
	b.Attributes = attrs
	return b
}

// withPositiveDataSourceTimeouts is withPositiveTimeouts for a data source's timeouts block.
func withPositiveDataSourceTimeouts(b dsschema.SingleNestedBlock) dsschema.SingleNestedBlock {
	attrs := make(map[string]dsschema.Attribute, len(b.Attributes))
	for name, a := range b.Attributes {
		if s, ok := a.(dsschema.StringAttribute); ok {
			s.Validators = append(slices.Clip(s.Validators), positiveDuration{})
			a = s
		}
		attrs[name] = a
	}
	b.Attributes = attrs
	return b
}
