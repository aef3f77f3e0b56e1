package provider

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

func TestParseOutput(t *testing.T) {
	for _, c := range []struct {
		name, output, commandID, reply string
	}{
		{"the synchronous answer", `{"command_id":"c-1","response":{"result_code":0,"n":1.50}}`, "c-1", `{"result_code":0,"n":1.50}`},
		{"an empty reply", `{"command_id":"c-2"}`, "c-2", ""},
		{"a null reply", `{"command_id":"c-3","response":null}`, "c-3", ""},
		{"an empty string reply", `{"command_id":"c-4","response":""}`, "c-4", ""},
		{"a string reply", `{"command_id":"c-5","response":"OK"}`, "c-5", `"OK"`},
		{"a reply only", `{"result_code":0,"paras":{}}`, "", `{"result_code":0,"paras":{}}`},
		{"a JSON array", `[1,2]`, "", `[1,2]`},
		{"text", `rebooted`, "", `"rebooted"`},
		{"text with bytes that are not UTF-8", "ok\xff", "", "\"ok\uFFFD\""},
		{"nothing", ``, "", ""},
		{"a command id that is not a string", `{"command_id":5,"response":{"a":1}}`, "", `{"a":1}`},
	} {
		id, reply := parseOutput(c.output)
		if id != c.commandID || string(reply) != c.reply {
			t.Errorf("%s: command id %q, reply %q; want %q, %q", c.name, id, reply, c.commandID, c.reply)
		}
	}
}

func TestSubtaskResult(t *testing.T) {
	for _, c := range []struct {
		name   string
		st     iotda.Subtask
		entry  string
		failed bool
	}{
		{"success", iotda.Subtask{Target: "a", Status: "Success", Output: `{"command_id":"c","response":{"result_code":0,"h":"<&>"}}`},
			`{"status":"Success","command_id":"c","result_code":0,"response":{"result_code":0,"h":"<&>"},"error_code":null,"error_msg":null}`, false},
		{"empty reply", iotda.Subtask{Target: "a", Status: "Success", Output: `{"command_id":"c"}`},
			`{"status":"Success","command_id":"c","result_code":0,"response":null,"error_code":null,"error_msg":null}`, false},
		{"device failure", iotda.Subtask{Target: "a", Status: "Success", Output: `{"command_id":"c","response":{"result_code":"4"}}`},
			`{"status":"Success","command_id":"c","result_code":4,"response":{"result_code":"4"},"error_code":null,"error_msg":null}`, true},
		{"result code not an integer", iotda.Subtask{Target: "a", Status: "Success", Output: `{"response":{"result_code":1.5}}`},
			`{"status":"Success","command_id":null,"result_code":null,"response":{"result_code":1.5},"error_code":null,"error_msg":null}`, true},
		{"a reply that is not JSON", iotda.Subtask{Target: "a", Status: "Success", Output: "rebooted <ok>"},
			`{"status":"Success","command_id":null,"result_code":0,"response":"rebooted <ok>","error_code":null,"error_msg":null}`, false},
		{"offline", iotda.Subtask{Target: "a", Status: "Fail", ErrorCode: "IOTDA.014016", ErrorMsg: "offline"},
			`{"status":"Fail","command_id":null,"result_code":null,"response":null,"error_code":"IOTDA.014016","error_msg":"offline"}`, true},
		{"stopped", iotda.Subtask{Target: "a", Status: "Stopped"},
			`{"status":"Stopped","command_id":null,"result_code":null,"response":null,"error_code":null,"error_msg":null}`, true},
	} {
		e, failure := subtaskResult(c.st)
		if string(e.text) != c.entry || e.deep || (failure != nil) != c.failed || !json.Valid(e.text) {
			t.Errorf("%s: entry %s (deep %v), failure %+v; want %s, failed %v", c.name, e.text, e.deep, failure, c.entry, c.failed)
		}
	}
}

func TestSetResults(t *testing.T) {
	var m batchCommandModel
	failures := m.setResults([]iotda.Subtask{
		{Target: "c", Status: "Fail", ErrorCode: "E"}, {Target: "a", Status: "Success", Output: `{"response":{"v":"<é>"}}`},
		{Target: "b", Status: "Fail", ErrorCode: "E"}, {Target: "b", Status: "Fail", ErrorCode: "E"},
	}, subtaskResult)
	if len(failures) != 2 || failures[0].DeviceID != "b" || failures[1].DeviceID != "c" {
		t.Fatalf("failures %+v", failures)
	}
	if got := fmt.Sprint(listStrings(m.FailedDeviceIDs)); got != "[b c]" {
		t.Fatalf("failed_device_ids %s", got)
	}
	const none = `"command_id":null,"result_code":null,"response":null`
	want := `{"a":{"status":"Success","command_id":null,"result_code":0,"response":{"v":"<é>"},"error_code":null,"error_msg":null},` +
		`"b":{"status":"Fail",` + none + `,"error_code":"E","error_msg":null},` +
		`"c":{"status":"Fail",` + none + `,"error_code":"E","error_msg":null}}`
	if m.Results.ValueString() != want {
		t.Fatalf("results %s\nwant    %s", m.Results.ValueString(), want)
	}
}

func TestSetResults_TextTerraformWouldNormalizeIsEscaped(t *testing.T) {
	var m batchCommandModel
	m.setResults([]iotda.Subtask{{Target: "a", Status: "Success", Output: "{\"response\":{\"name\":\"e\u0301\"}}"}}, subtaskResult)
	if want := `{"a":{"status":"Success","command_id":null,"result_code":0,"response":{"name":"e\u0301"},"error_code":null,"error_msg":null}}`; m.Results.ValueString() != want {
		t.Fatalf("results %s, want %s", m.Results.ValueString(), want)
	}
	var decoded map[string]struct {
		Response struct{ Name string } `json:"response"`
	}
	if err := json.Unmarshal([]byte(m.Results.ValueString()), &decoded); err != nil || decoded["a"].Response.Name != "e\u0301" {
		t.Fatalf("decoded %+v, %v: the escapes decode to what the device sent", decoded, err)
	}
}

func TestSetResults_DeepReplyIsKeptWhole(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	var m batchCommandModel
	failures := m.setResults([]iotda.Subtask{{Target: "a", Status: "Success", Output: `{"command_id":"c","response":` + deep + `}`}}, subtaskResult)
	if want := ` {"a":{"status":"Success","command_id":"c","result_code":0,"response":` + deep + `,"error_code":null,"error_msg":null}}`; len(failures) != 0 ||
		m.Results.ValueString() != want {
		t.Fatalf("failures %+v, results %.120s...", failures, m.Results.ValueString())
	}
}

func TestReportFailures(t *testing.T) {
	model := func(maxFailed int64, status string) *batchCommandModel {
		return &batchCommandModel{fleetTask: fleetTask{TaskID: types.StringValue("abc"), TaskName: types.StringValue("n"),
			Status: types.StringValue(status), MaxFailedDevices: types.Int64Value(maxFailed),
			DeviceIDs: types.ListNull(types.StringType), GroupIDs: types.ListNull(types.StringType)}}
	}
	var many []deviceFailure
	for i := range 25 {
		many = append(many, deviceFailure{DeviceID: fmt.Sprintf("d%02d", i), Status: "Fail", ErrorCode: "IOTDA.014016", ErrorMsg: "offline"})
	}
	var diags diag.Diagnostics
	reportFailures(model(25, "PartialSuccess"), many, 100, false, &diags)
	if diags.HasError() || diags.WarningsCount() != 1 {
		t.Fatalf("within the threshold: %v", diags)
	}
	detail := diags[0].Detail()
	if !strings.Contains(detail, "d19: Fail, IOTDA.014016 (offline)") || strings.Contains(detail, "d20:") ||
		!strings.Contains(detail, "... and 5 more") || !strings.Contains(detail, "25 devices failed out of 100") {
		t.Fatalf("warning lists the first 20 and counts the rest:\n%s", detail)
	}
	diags = nil
	reportFailures(model(24, "PartialSuccess"), many, 100, false, &diags)
	if !diags.HasError() || !strings.Contains(diags[0].Detail(), "more than max_failed_devices (24)") {
		t.Fatalf("over the threshold: %v", diags)
	}
	diags = nil
	reportFailures(model(0, "Success"), nil, 100, false, &diags)
	if len(diags) != 0 {
		t.Fatalf("no failure: %v", diags)
	}
	// A task that failed as a whole is an error whatever the threshold.
	diags = nil
	m := model(1000, "Fail")
	m.StatusDesc = types.StringValue("The device group g does not exist.")
	reportFailures(m, nil, 0, false, &diags)
	if !diags.HasError() || !strings.Contains(diags[0].Detail(), "failed as a whole: The device group g does not exist.") {
		t.Fatalf("whole task failure: %v", diags)
	}
}

func TestRefreshFleet_KeepsATaskIoTDANoLongerHas(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error_code":"IOTDA.016404","error_msg":"gone"}`))
	}))
	t.Cleanup(ts.Close)
	c, err := iotda.NewClient(iotda.Config{Endpoint: ts.URL, ProjectID: "p", AuthToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	m := batchCommandModel{fleetTask: fleetTask{TaskID: types.StringValue("abc"), Status: types.StringValue("Processing"),
		DeviceIDs: types.ListValueMust(types.StringType, nil), GroupIDs: types.ListNull(types.StringType)}}
	var diags diag.Diagnostics
	var fp fleetPrivate
	if refreshFleet(t.Context(), c, "p", &m, &fp, false, &diags) || diags.HasError() || diags.WarningsCount() != 1 ||
		!strings.Contains(diags[0].Detail(), "kept as it was last seen") || !fp.Gone {
		t.Fatalf("a task gone from IoTDA is kept with a warning, not removed: %v, %+v", diags, fp)
	}
	// An import of a task IoTDA does not have is an error.
	diags = nil
	if refreshFleet(t.Context(), c, "p", &m, &fp, true, &diags) || !diags.HasError() {
		t.Fatalf("import of a missing task: %v", diags)
	}
}

func TestSameStrings(t *testing.T) {
	l := func(ss ...string) types.List {
		var v []string
		v = append(v, ss...)
		out, _ := types.ListValueFrom(t.Context(), types.StringType, v)
		return out
	}
	for _, c := range []struct {
		a, b types.List
		want bool
	}{
		{l("a", "b"), l("b", "a"), true},
		{l("a", "b"), l("a", "b", "c"), false},
		{l("a", "a"), l("a", "b"), false},
		{types.ListNull(types.StringType), types.ListNull(types.StringType), true},
		{types.ListNull(types.StringType), l("a"), false},
	} {
		if got := sameStrings(c.a, c.b); got != c.want {
			t.Errorf("sameStrings(%v, %v) = %v", c.a, c.b, got)
		}
	}
}

func TestDerivedTaskNameIsValidAndUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		name := derivedTaskName(time.Now())
		if !taskNamePattern.MatchString(name) || len(name) > maxTaskNameRunes || seen[name] {
			t.Fatalf("task name %q: invalid or repeated", name)
		}
		seen[name] = true
	}
}

func TestLimitFrameworkTrace(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string // "" for unset
	}{
		{map[string]string{}, "WARN"},
		{map[string]string{"TF_LOG": "debug"}, "DEBUG"},
		{map[string]string{"TF_LOG": "INFO", "TF_LOG_PROVIDER": "error"}, "ERROR"},
		{map[string]string{"TF_LOG": "trace"}, ""},
		{map[string]string{"TF_LOG": "JSON"}, ""},
		{map[string]string{"TF_LOG_SDK_FRAMEWORK": "trace"}, "trace"},
	} {
		for _, name := range []string{"TF_LOG", "TF_LOG_PROVIDER", envFrameworkLog} {
			t.Setenv(name, c.env[name])
			if _, set := c.env[name]; !set {
				if err := os.Unsetenv(name); err != nil {
					t.Fatal(err)
				}
			}
		}
		LimitFrameworkTrace()
		if got := os.Getenv(envFrameworkLog); got != c.want {
			t.Errorf("env %v: %s = %q, want %q", c.env, envFrameworkLog, got, c.want)
		}
	}
}

// A poll gives up only on answers that asking again will not change.
func TestPermanentReadError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&iotda.APIError{StatusCode: 404, ErrorCode: "IOTDA.016404"}, true},
		{&iotda.APIError{StatusCode: 401}, true},
		{&iotda.APIError{StatusCode: 403, ErrorCode: "IOTDA.000004"}, true},
		{&iotda.APIError{StatusCode: 429}, false},
		{&iotda.APIError{StatusCode: 403, ErrorCode: "IOTDA.021101"}, false},
		{&iotda.APIError{StatusCode: 400, ErrorCode: "APIGW.0308"}, false},
		{&iotda.APIError{StatusCode: 500}, false},
		{&iotda.DeliveryUnknownError{Err: errors.New("reset")}, false},
	} {
		if got := permanentReadError(c.err); got != c.want {
			t.Errorf("permanentReadError(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
