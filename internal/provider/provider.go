// Package provider implements the iotda Terraform provider: the provider configuration;
// the iotda_device_command resource, data source and action (a synchronous command and the
// device's reply); the iotda_device_message resource and action (a message IoTDA keeps until
// a sleeping device connects); and the iotda_batch_command resource (one command to a fleet
// as a batch task). It only translates between Terraform and the internal/iotda API client.
package provider

import (
	"context"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Interface assertions.
var (
	_ provider.Provider                   = (*iotdaProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*iotdaProvider)(nil)
	_ provider.ProviderWithActions        = (*iotdaProvider)(nil)
)

// Signing algorithms a user may force; by default the client picks one from the endpoint.
const (
	signingSDK = "SDK-HMAC-SHA256"
	signingV11 = "V11-HMAC-SHA256"
)

// defaultMaxRetries is how often a request that provably never reached IoTDA is retried.
const defaultMaxRetries = 3

// iotdaProvider is the provider. version is the release version, or "dev"/"test".
type iotdaProvider struct {
	version string
}

// providerModel is the provider block.
type providerModel struct {
	Endpoint         types.String `tfsdk:"endpoint"`
	Region           types.String `tfsdk:"region"`
	ProjectID        types.String `tfsdk:"project_id"`
	InstanceID       types.String `tfsdk:"instance_id"`
	AuthToken        types.String `tfsdk:"auth_token"`
	AccessKey        types.String `tfsdk:"access_key"`
	SecretKey        types.String `tfsdk:"secret_key"`
	SecurityToken    types.String `tfsdk:"security_token"`
	SigningAlgorithm types.String `tfsdk:"signing_algorithm"`
	MaxRetries       types.Int64  `tfsdk:"max_retries"`
	Insecure         types.Bool   `tfsdk:"insecure"`
	CACertPEM        types.String `tfsdk:"ca_cert_pem"`
}

// providerData is what resources and data sources receive from Configure. client is nil
// when the configuration held values that were not known yet (configUnknown).
type providerData struct {
	client        *iotda.Client
	projectID     string
	endpoint      string
	configUnknown bool
}

// New returns a constructor for the provider, as providerserver.Serve expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &iotdaProvider{version: version}
	}
}

func (p *iotdaProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "iotda"
	resp.Version = p.version
}

func (p *iotdaProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The IoTDA provider delivers commands to devices connected to " +
			"[Huawei Cloud IoT Device Access (IoTDA)](https://www.huaweicloud.com/intl/en-us/product/iothub.html) " +
			"through the synchronous command API, and returns each device's reply.\n\n" +
			"Authenticate with either an IAM token (`auth_token`) or an access key pair (`access_key` and " +
			"`secret_key`, plus `security_token` for temporary credentials). Every argument can also be set " +
			"through an environment variable, named in its description.",
		Attributes: providerAttributes(),
	}
}

// providerAttributes lists the provider arguments; each description names its
// environment variables, because the docs are generated from them.
func providerAttributes() map[string]schema.Attribute {
	attrs := map[string]schema.Attribute{
		"endpoint": schema.StringAttribute{
			MarkdownDescription: "IoTDA application API endpoint, such as `https://iotda.cn-north-4.myhuaweicloud.com` " +
				"or an instance's access address. Defaults to `https://iotda.{region}.myhuaweicloud.com`. " +
				"Environment variable: `IOTDA_ENDPOINT`.",
			Optional:   true,
			Validators: []validator.String{endpointValidator()},
		},
		"region": schema.StringAttribute{
			MarkdownDescription: "Huawei Cloud region, such as `cn-north-4`. Used for the default endpoint and " +
				"for `V11-HMAC-SHA256` signatures. Environment variables: `IOTDA_REGION`, then `HW_REGION_NAME`.",
			Optional:   true,
			Validators: []validator.String{regionValidator()},
		},
		"project_id": schema.StringAttribute{
			MarkdownDescription: "Project ID the devices belong to. Required, here or in the environment. " +
				"Environment variables: `IOTDA_PROJECT_ID`, then `HW_PROJECT_ID`.",
			Optional: true,
		},
		"instance_id": schema.StringAttribute{
			MarkdownDescription: "IoTDA instance ID, sent as the `Instance-Id` header. Required by the standard " +
				"and enterprise editions. Environment variable: `IOTDA_INSTANCE_ID`.",
			Optional: true,
		},
		"max_retries": schema.Int64Attribute{
			MarkdownDescription: "How many times a request is retried when it provably did not reach IoTDA " +
				"(connection refused, DNS or TLS handshake failure, throttling). A request that may have reached " +
				"the platform is never retried, so a device never receives a command twice, and a batch task is " +
				"never created twice; reads of a batch task, which change nothing, are also retried after a lost " +
				"connection or a server error. Defaults to `3`. " +
				"Environment variable: `IOTDA_MAX_RETRIES`.",
			Optional:   true,
			Validators: []validator.Int64{int64validator.AtLeast(0)},
		},
		"insecure": schema.BoolAttribute{
			MarkdownDescription: "Skip TLS certificate verification. Only for testing. " +
				"Environment variable: `IOTDA_INSECURE`.",
			Optional: true,
		},
		"ca_cert_pem": schema.StringAttribute{
			MarkdownDescription: "PEM-encoded CA certificates to trust in addition to the system's, for " +
				"endpoints with a private CA. Environment variable: `IOTDA_CA_CERT_PEM`.",
			Optional:   true,
			Validators: []validator.String{pemCertificatesValidator()},
		},
	}
	maps.Copy(attrs, credentialAttributes())
	return attrs
}

// credentialAttributes are the authentication arguments, all sensitive.
func credentialAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"auth_token": schema.StringAttribute{
			MarkdownDescription: "IAM user token, sent as `X-Auth-Token`. Conflicts with `access_key`. " +
				"Environment variable: `IOTDA_AUTH_TOKEN`.",
			Optional:  true,
			Sensitive: true,
		},
		"access_key": schema.StringAttribute{
			MarkdownDescription: "Access key (AK) for request signing; requires `secret_key`. " +
				"Environment variables: `IOTDA_ACCESS_KEY`, then `HW_ACCESS_KEY`.",
			Optional:  true,
			Sensitive: true,
		},
		"secret_key": schema.StringAttribute{
			MarkdownDescription: "Secret key (SK) for request signing; requires `access_key`. " +
				"Environment variables: `IOTDA_SECRET_KEY`, then `HW_SECRET_KEY`.",
			Optional:  true,
			Sensitive: true,
		},
		"security_token": schema.StringAttribute{
			MarkdownDescription: "Security token for temporary access keys, sent as `X-Security-Token`. " +
				"Environment variables: `IOTDA_SECURITY_TOKEN`, then `HW_SECURITY_TOKEN`.",
			Optional:  true,
			Sensitive: true,
		},
		"signing_algorithm": schema.StringAttribute{
			MarkdownDescription: "AK/SK signing algorithm: `SDK-HMAC-SHA256` or `V11-HMAC-SHA256` (derived " +
				"signing, needed by the standard and enterprise editions' instance endpoints). By default it is " +
				"chosen from the endpoint. Environment variable: `IOTDA_SIGNING_ALGORITHM`.",
			Optional:   true,
			Validators: []validator.String{stringvalidator.OneOf(signingSDK, signingV11)},
		},
	}
}

// ValidateConfig catches what can be seen in the configuration alone. Conflicts that
// involve environment variables are reported by Configure.
func (p *iotdaProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if isSet(m.AuthToken) && (isSet(m.AccessKey) || isSet(m.SecretKey)) {
		resp.Diagnostics.AddAttributeError(path.Root("auth_token"), "Conflicting Credentials",
			"auth_token and access_key/secret_key are both set in the provider block. "+
				"Use either token authentication or AK/SK request signing, not both.")
	}
}

// isSet reports whether a configuration value is present (unknown counts: it will be).
func isSet(v types.String) bool {
	return !v.IsNull() && (v.IsUnknown() || v.ValueString() != "")
}

func (p *iotdaProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, known := resolveConfig(m, lookupEnv, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	data := &providerData{projectID: cfg.ProjectID, endpoint: cfg.Endpoint, configUnknown: !known}
	resp.ResourceData, resp.DataSourceData, resp.ActionData = data, data, data
	if !known {
		// Values that depend on resources are unknown during plan. Validation and planning
		// must not fail because of that; a delivery without a client reports it clearly.
		return
	}
	cfg.UserAgent = iotda.UserAgent(p.version, req.TerraformVersion)
	if err := cfg.Validate(); err != nil {
		resp.Diagnostics.AddError("Invalid Provider Configuration", err.Error())
		return
	}
	client, err := iotda.NewClient(cfg)
	if err != nil {
		resp.Diagnostics.AddError("Unable to Create IoTDA Client", err.Error())
		return
	}
	data.client = client
}

func (p *iotdaProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewDeviceCommandResource, NewBatchCommandResource, NewDeviceMessageResource,
		NewBatchMessageResource}
}

func (p *iotdaProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewDeviceCommandDataSource}
}

func (p *iotdaProvider) Actions(_ context.Context) []func() action.Action {
	return []func() action.Action{NewDeviceCommandAction, NewDeviceMessageAction}
}
