package provider

import (
	"cmp"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver"
	"github.com/iotdalabs/terraform-provider-iotda/internal/testutil"
)

// Protocol-level tests of the iotda_device_command action: they talk to the provider
// server as Terraform 1.14 does (GetProviderSchema, ValidateActionConfig, ConfigureProvider,
// InvokeAction), so they run with any CLI, or none.

func TestDeviceCommandAction_Schema(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	s, ok := p.schemas.ActionSchemas[actionType]
	if !ok {
		t.Fatalf("GetProviderSchema lists no action %s: %v", actionType, p.schemas.ActionSchemas)
	}
	if !strings.Contains(s.Schema.Block.Description, "Terraform 1.14") {
		t.Errorf("the action's description does not say which Terraform it needs: %q", s.Schema.Block.Description)
	}
	want := map[string]struct {
		typ      tftypes.Type
		required bool
	}{
		"device_id": {tftypes.String, true}, "service_id": {tftypes.String, false},
		"command_name": {tftypes.String, false}, "paras": {tftypes.DynamicPseudoType, true},
		"fail_on_device_error": {tftypes.Bool, false}, "timeout": {tftypes.String, false},
	}
	got := map[string]bool{}
	for _, a := range s.Schema.Block.Attributes {
		got[a.Name] = true
		w, ok := want[a.Name]
		if !ok {
			t.Errorf("unexpected attribute %q (an action has no triggers and no results)", a.Name)
			continue
		}
		if !a.Type.Equal(w.typ) || a.Required != w.required || a.Optional == w.required || a.Computed ||
			a.Sensitive || a.WriteOnly || a.DescriptionKind != tfprotov6.StringKindMarkdown || a.Description == "" {
			t.Errorf("attribute %q = %+v, want type %s, required %v, documented", a.Name, a, w.typ, w.required)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("attribute %q is missing", name)
		}
	}
	if len(s.Schema.Block.BlockTypes) != 0 {
		t.Errorf("the action has blocks %v; its timeout is an argument", s.Schema.Block.BlockTypes)
	}
}

// Plan-time validation: every offline check names the attribute, and nothing is sent.
func TestDeviceCommandAction_ValidateConfig(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	unknown := tftypes.NewValue(tftypes.String, tftypes.UnknownValue)
	tests := map[string]struct {
		args    map[string]tftypes.Value
		attr    string
		summary string
		detail  string
	}{
		"device_id with a space": {with(switchOn("d1"), "device_id", str("lamp 1")), "device_id",
			"Invalid Attribute Value Match", "letters, digits, underscores"},
		"device_id too long": {with(switchOn("d1"), "device_id", str(strings.Repeat("d", 129))), "device_id",
			"Invalid Attribute Value Match", "1 to 128 characters"},
		"service_id too long": {with(switchOn("d1"), "service_id", str(strings.Repeat("s", 65))), "service_id",
			"Invalid Attribute Value Length", "at most 64"},
		"command_name too long": {with(switchOn("d1"), "command_name", str(strings.Repeat("c", 129))), "command_name",
			"Invalid Attribute Value Length", "at most 128"},
		"paras a list": {with(switchOn("d1"), "paras", tftypes.NewValue(tftypes.List{ElementType: tftypes.String},
			[]tftypes.Value{str("ON")})), "paras", "Invalid Paras Value", "must be an object"},
		"paras malformed JSON": {with(switchOn("d1"), "paras", str(`{"value":`)), "paras",
			"Invalid Paras Value", "not valid JSON"},
		"paras a JSON array": {with(switchOn("d1"), "paras", str(`["ON"]`)), "paras",
			"Invalid Paras Value", "must hold a JSON object"},
		"timeout not a duration": {with(switchOn("d1"), "timeout", str("soon")), "timeout",
			"Invalid Timeout", `"soon" is not a duration`},
		"timeout zero": {with(switchOn("d1"), "timeout", str("0s")), "timeout",
			"Invalid Timeout", "longer than zero"},
		"timeout negative": {with(switchOn("d1"), "timeout", str("-5s")), "timeout",
			"Invalid Timeout", "longer than zero"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			diags := p.validate(tc.args)
			if len(diags) != 1 || diags[0].Severity != tfprotov6.DiagnosticSeverityError {
				t.Fatalf("diagnostics: %s\nwant one error", formatProtoDiags(diags))
			}
			d := diags[0]
			if want := tftypes.NewAttributePath().WithAttributeName(tc.attr); !d.Attribute.Equal(want) {
				t.Errorf("path = %v, want %v", d.Attribute, want)
			}
			if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) {
				t.Errorf("diagnostic = %q: %q, want %q with %q", d.Summary, d.Detail, tc.summary, tc.detail)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		for _, args := range []map[string]tftypes.Value{
			switchOn("d1"),
			with(with(switchOn("d-1_A"), "timeout", str("2m")), "fail_on_device_error", tftypes.NewValue(tftypes.Bool, false)),
			with(switchOn("d1"), "paras", str(`{"value":"ON"}`)),
			// Values known only at apply are checked when they are known.
			with(with(switchOn("d1"), "device_id", unknown), "timeout", unknown),
			with(switchOn("d1"), "paras", tftypes.NewValue(tftypes.DynamicPseudoType, tftypes.UnknownValue)),
		} {
			if diags := p.validate(args); len(diags) > 0 {
				t.Errorf("%v: %s", args, formatProtoDiags(diags))
			}
		}
	})
}

// newActionMock starts a mock with the devices and returns a provider configured for it.
func newActionMock(t *testing.T, opts mockserver.Options) (*protoProvider, *mockserver.Server) {
	t.Helper()
	opts.AuthToken = "test-token"
	s := mockserver.NewForTest(t, opts)
	p := newProtoProvider(t)
	p.configure(s, opts.AuthToken)
	return p, s
}

func TestDeviceCommandAction_InvokeProgress(t *testing.T) {
	t.Parallel()
	p, s := newActionMock(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "lamp", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
	}})
	progress, diags := p.invoke(switchOn("lamp"))
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %s", formatProtoDiags(diags))
	}
	deliveries := s.Deliveries("lamp")
	if len(deliveries) != 1 {
		t.Fatalf("the mock delivered %d commands to lamp, want 1", len(deliveries))
	}
	want := []*regexp.Regexp{
		regexp.MustCompile(`^Delivering command "ON_OFF" of service "Switch" to device "lamp"$`),
		regexp.MustCompile(`^Device "lamp" answered \(command_id ` + regexp.QuoteMeta(deliveries[0].CommandID) +
			`\) with result_code 0 and reply \{"result_code":0,"response_name":"ON_OFF","paras":\{"value":"ON"\}\}$`),
	}
	if len(progress) != len(want) {
		t.Fatalf("progress = %q, want %d messages", progress, len(want))
	}
	for i, re := range want {
		if !re.MatchString(progress[i]) {
			t.Errorf("progress[%d] = %q, want %s", i, progress[i], re)
		}
	}
	// Invoking again delivers again: an action keeps no state.
	if _, diags := p.invoke(switchOn("lamp")); len(diags) > 0 {
		t.Fatalf("second invoke: %s", formatProtoDiags(diags))
	}
	if n := len(s.Deliveries("lamp")); n != 2 {
		t.Errorf("the mock delivered %d commands to lamp after two invocations, want 2", n)
	}
}

// The paras sent are exactly what the configuration says, as for the resource.
func TestDeviceCommandAction_ParasOnTheWire(t *testing.T) {
	t.Parallel()
	p, s := newActionMock(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "lamp", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
	}})
	args := with(switchOn("lamp"), "paras", str(`{ "level": 12345678901234567890, "mode": "eco" }`))
	if _, diags := p.invoke(args); len(diags) > 0 {
		t.Fatalf("diagnostics: %s", formatProtoDiags(diags))
	}
	deliveries := s.Deliveries("lamp")
	if len(deliveries) != 1 {
		t.Fatalf("the mock delivered %d commands, want 1", len(deliveries))
	}
	var cmd struct {
		Paras json.RawMessage `json:"paras"`
	}
	if err := json.Unmarshal(deliveries[0].Body, &cmd); err != nil {
		t.Fatalf("delivered body %q: %v", deliveries[0].Body, err)
	}
	if want := `{"level":12345678901234567890,"mode":"eco"}`; string(cmd.Paras) != want {
		t.Errorf("paras on the wire = %s, want %s", cmd.Paras, want)
	}
}

// A long reply is cut in the progress message, never in the middle of a character.
func TestDeviceCommandAction_LongReplyShortened(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 300)
	p, _ := newActionMock(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "chatty", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorReply,
			Response: json.RawMessage(`{"result_code":0,"paras":{"text":"` + long + `"}}`)}},
	}})
	progress, diags := p.invoke(switchOn("chatty"))
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %s", formatProtoDiags(diags))
	}
	last := progress[len(progress)-1]
	reply := last[strings.Index(last, "reply ")+len("reply "):]
	if !strings.HasSuffix(reply, "...") || len(reply) > maxProgressReply+len("...") || !strings.HasPrefix(reply, `{"result_code":0,"paras":{"text":"éé`) {
		t.Errorf("reply in the progress message = %q (%d bytes), want at most %d bytes and a mark", reply, len(reply), maxProgressReply)
	}
	if strings.ContainsRune(reply, '\uFFFD') {
		t.Errorf("the reply was cut inside a character: %q", reply)
	}
}

// A device that echoes the provider's token back does not show it in the progress message.
func TestDeviceCommandAction_ProgressMasksSecrets(t *testing.T) {
	t.Parallel()
	p, _ := newActionMock(t, mockserver.Options{Devices: []mockserver.Device{
		{ID: "lamp", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
	}})
	progress, diags := p.invoke(with(switchOn("lamp"), "paras", str(`{"note":"test-token"}`)))
	// The only diagnostic is the warning that says so, naming the credential, not its value.
	if len(diags) != 1 || diags[0].Summary != summaryReplyRedacted || !strings.Contains(diags[0].Detail, "auth_token") ||
		strings.Contains(diags[0].Detail, "test-token") {
		t.Fatalf("diagnostics: %s\nwant the redaction warning", formatProtoDiags(diags))
	}
	last := progress[len(progress)-1]
	if strings.Contains(last, "test-token") || !strings.Contains(last, `"note":"***"`) {
		t.Errorf("progress message = %q, want the token masked", last)
	}
}

// One case per row of the diagnostics table in DESIGN.md, through InvokeAction.
func TestDeviceCommandAction_Diagnostics(t *testing.T) {
	t.Parallel()
	devices := []mockserver.Device{
		{ID: "lamp", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
		{ID: "failing", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, ResultCode: 5}},
		{ID: "silent", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorSilent}},
		{ID: "slow", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho, Delay: 3 * time.Second}},
		{ID: "sleepy"},
		{ID: "throttled", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
		{ID: "broken", Simulated: &mockserver.Behavior{Kind: mockserver.BehaviorEcho}},
	}
	tests := map[string]struct {
		args       map[string]tftypes.Value
		fault      *mockserver.Fault
		severity   tfprotov6.DiagnosticSeverity // 0: no diagnostic
		summary    string
		detail     string
		progress   string // the last progress message
		deliveries int
		requests   int // command API requests, when more than one
		// platformTimeout is the mock's wait for the device; default 1 s.
		platformTimeout time.Duration
	}{
		"answered": {
			args: switchOn("lamp"), progress: `answered \(command_id [0-9a-f-]+\) with result_code 0`, deliveries: 1,
		},
		"non-zero result_code": {
			args: switchOn("failing"), severity: tfprotov6.DiagnosticSeverityError, summary: summaryDeviceFailure,
			detail:   `(?s)"failing".*result_code 5.*Set fail_on_device_error = false`,
			progress: `answered .* with result_code 5 and reply`, deliveries: 1,
		},
		"non-zero result_code tolerated": {
			args:     with(switchOn("failing"), "fail_on_device_error", tftypes.NewValue(tftypes.Bool, false)),
			severity: tfprotov6.DiagnosticSeverityWarning, summary: summaryDeviceFailure,
			detail:   `(?s)result_code 5.*only a warning and the action succeeds`,
			progress: `answered .* with result_code 5`, deliveries: 1,
		},
		"device did not answer (IOTDA.014111)": {
			args: switchOn("silent"), severity: tfprotov6.DiagnosticSeverityError, summary: summaryDeviceTimeout,
			detail:     `(?s)"silent".*IOTDA\.014111.*\$oc/devices/silent/sys/commands/request_id=\{request_id\}.*whether or not the device subscribed`,
			progress:   `Delivering command "ON_OFF" of service "Switch" to device "silent" failed: Device Did Not Respond in Time`,
			deliveries: 1,
		},
		"timeout before the platform answered": {
			args: with(switchOn("slow"), "timeout", str("1s")), severity: tfprotov6.DiagnosticSeverityError,
			summary: summaryOutcomeUnknown, detail: `(?s)"slow".*timeout expired.*NOT be retried.*the action's timeout argument`,
			progress: `failed: Command Delivery Outcome Unknown`, deliveries: 1,
			// The platform waits longer than the action, so the action's timeout ends first.
			platformTimeout: 10 * time.Second,
		},
		"offline (IOTDA.014016)": {
			args: switchOn("sleepy"), severity: tfprotov6.DiagnosticSeverityError, summary: summaryDeviceOffline,
			detail: `(?s)"sleepy".*HTTP 403.*IOTDA\.014016`, progress: `failed: Device Is Offline`,
		},
		"not found": {
			args: switchOn("ghost"), severity: tfprotov6.DiagnosticSeverityError, summary: summaryDeviceNotFound,
			detail: `(?s)"ghost".*project "mock-project".*HTTP 404`, progress: `failed: Device Not Found`,
		},
		"server error": {
			args: switchOn("broken"), fault: &mockserver.Fault{DeviceID: "broken", Status: http.StatusServiceUnavailable,
				ErrorCode: "IOTDA.000001", ErrorMsg: "unavailable"},
			severity: tfprotov6.DiagnosticSeverityError, summary: summaryAPIError,
			detail: `(?s)HTTP 503.*IOTDA\.000001.*X-Request-Id: \S+`, progress: `failed: IoTDA API Error`,
		},
		"throttled, then delivered once": {
			args: switchOn("throttled"), fault: &mockserver.Fault{DeviceID: "throttled", Status: http.StatusTooManyRequests,
				ErrorCode: "IOTDA.000005", RetryAfter: "0"},
			progress: `answered .* with result_code 0`, deliveries: 1, requests: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			// A mock per case, so that faults and journals do not mix.
			p, s := newActionMock(t, mockserver.Options{PlatformTimeout: cmp.Or(tc.platformTimeout, time.Second), Devices: devices})
			if tc.fault != nil {
				s.InjectFault(*tc.fault)
			}
			progress, diags := p.invoke(tc.args)
			if tc.severity == 0 {
				if len(diags) > 0 {
					t.Fatalf("diagnostics: %s", formatProtoDiags(diags))
				}
			} else {
				if len(diags) != 1 || diags[0].Severity != tc.severity || diags[0].Summary != tc.summary {
					t.Fatalf("diagnostics: %s\nwant one %v %q", formatProtoDiags(diags), tc.severity, tc.summary)
				}
				if !regexp.MustCompile(tc.detail).MatchString(diags[0].Detail) {
					t.Errorf("detail does not match %s:\n%s", tc.detail, diags[0].Detail)
				}
				checkNoSecrets(t, "the diagnostic", diags[0].Detail, []string{"test-token"})
			}
			if len(progress) != 2 || !strings.HasPrefix(progress[0], "Delivering ") ||
				!regexp.MustCompile(tc.progress).MatchString(progress[1]) {
				t.Errorf("progress = %q, want a delivering message and one matching %s", progress, tc.progress)
			}
			device := tc.args["device_id"]
			var id string
			if err := device.As(&id); err != nil {
				t.Fatal(err)
			}
			if n := len(s.Deliveries(id)); n != tc.deliveries {
				t.Errorf("the mock delivered %d commands to %s, want %d", n, id, tc.deliveries)
			}
			if n := requests(s, id); tc.requests > 0 && n != tc.requests {
				t.Errorf("the mock answered %d requests for %s, want %d", n, id, tc.requests)
			}
		})
	}
}

func TestDeviceCommandAction_CannotReach(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	typ := p.schemas.Provider.ValueType()
	cfg := objectValue(typ, map[string]tftypes.Value{
		"endpoint":    str("http://" + testutil.ClosedAddr(t)),
		"project_id":  str("p1"),
		"auth_token":  str("test-token"),
		"max_retries": tftypes.NewValue(tftypes.Number, 1),
	})
	resp, err := p.server.ConfigureProvider(t.Context(), &tfprotov6.ConfigureProviderRequest{Config: p.dynamicValue(typ, cfg)})
	if err != nil || len(resp.Diagnostics) > 0 {
		t.Fatalf("ConfigureProvider: %v %s", err, formatProtoDiags(resp.Diagnostics))
	}
	progress, diags := p.invoke(switchOn("lamp"))
	if len(diags) != 1 || diags[0].Summary != summaryCannotReach ||
		!regexp.MustCompile(`(?s)"lamp" \(2 attempt\(s\)\).*never reached the platform`).MatchString(diags[0].Detail) {
		t.Errorf("diagnostics: %s\nwant %q after 2 attempts", formatProtoDiags(diags), summaryCannotReach)
	}
	if len(progress) != 2 || !strings.HasSuffix(progress[1], "failed: "+summaryCannotReach) {
		t.Errorf("progress = %q", progress)
	}
}

// Invoked before the provider is configured (which Terraform never does), the action says
// so instead of panicking.
func TestDeviceCommandAction_NotConfigured(t *testing.T) {
	t.Parallel()
	p := newProtoProvider(t)
	_, diags := p.invoke(switchOn("lamp"))
	if len(diags) != 1 || diags[0].Summary != "Provider Not Configured" {
		t.Errorf("diagnostics: %s", formatProtoDiags(diags))
	}
}
