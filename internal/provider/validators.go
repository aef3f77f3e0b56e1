package provider

import (
	"context"
	"errors"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Interface assertions.
var (
	_ validator.Dynamic = parasValidator{}
	_ validator.String  = stringCheck{}
)

// deviceIDPattern is the platform's rule for device ids.
var deviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// deviceIDValidator rejects ids the platform would reject, before anything is sent.
func deviceIDValidator() validator.String {
	return stringvalidator.RegexMatches(deviceIDPattern,
		"must be 1 to 128 characters long and contain only letters, digits, underscores (_) and hyphens (-)")
}

// parasValidator checks at plan time that paras is an object, a map, or a string holding a
// JSON object, and that it can be encoded.
type parasValidator struct{}

func (parasValidator) Description(_ context.Context) string {
	return "value must be an object or a string containing a JSON object"
}

func (v parasValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (parasValidator) ValidateDynamic(_ context.Context, req validator.DynamicRequest, resp *validator.DynamicResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnderlyingValueNull() {
		return // Required attributes are reported missing by Terraform itself.
	}
	_, err := parasJSON(req.ConfigValue)
	if err == nil || errors.Is(err, errParasUnknown) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Invalid Paras Value", describeParasError(err, req.Path.String()))
}

// stringCheck validates a string attribute with a check that Configure also applies to
// values read from the environment, which schema validators never see.
type stringCheck struct {
	description string
	summary     string
	check       func(string) error
}

func (v stringCheck) Description(_ context.Context) string { return v.description }

func (v stringCheck) MarkdownDescription(_ context.Context) string { return v.description }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, err.Error())
	}
}

// endpointValidator requires an absolute http or https URL.
func endpointValidator() validator.String {
	return stringCheck{"value must be an http:// or https:// URL", "Invalid Endpoint", iotda.ValidateEndpoint}
}

// regionValidator requires the form of a region ID, such as cn-north-4.
func regionValidator() validator.String {
	return stringCheck{"value must be a region ID such as cn-north-4", "Invalid Region", iotda.ValidateRegion}
}

// pemCertificatesValidator requires at least one PEM certificate.
func pemCertificatesValidator() validator.String {
	return stringCheck{"value must contain one or more PEM-encoded certificates", "Invalid CA Certificate", iotda.ValidateCACertPEM}
}
