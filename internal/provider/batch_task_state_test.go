package provider

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

func TestSameJSONValue(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`, true},
		{`{"n":1.0}`, `{"n":1}`, true},
		{`{"n":1e0,"m":0.10}`, `{"n":1,"m":0.1}`, true},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567890.0}`, true},
		{`{"n":12345678901234567890}`, `{"n":12345678901234567891}`, false},
		{`{"s":"\u00e9"}`, `{"s":"é"}`, true},
		{`{"l":[1,2]}`, `{"l":[2,1]}`, false},
		{`{"a":{"b":[{"c":true}]}}`, ` { "a" : { "b" : [ { "c" : true } ] } } `, true},
		{`{"a":null}`, `{}`, false},
		{`{"a":"1"}`, `{"a":1}`, false},
		{`{"n":1e99999}`, `{"n":1e99999}`, true},
		{`{"n":1e99999}`, `{"n":10e99998}`, false},
		{`{"a":`, `{"a":`, true},
		{`{"a":`, `{"b":`, false},
	} {
		if got := sameJSONValue([]byte(c.a), []byte(c.b)); got != c.want {
			t.Errorf("sameJSONValue(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// A progress line fits a terminal line, whatever the counts.
func TestProgressLineIsShort(t *testing.T) {
	var f fleetTask
	f.setTask(&iotda.BatchTask{TaskID: "64f1c2a9e4b0a1b2c3d4e5f6", Status: iotda.TaskProcessing,
		Progress: iotda.TaskProgress{Total: 30000, Success: 12345, Fail: 2345, Processing: 10000, Waitting: 4000,
			FailWaitRetry: 1300, Stopped: 5, Removed: 5}})
	line := progressLine(&f, time.Now().Add(-1234*time.Second))
	if len(line) > 120 {
		t.Fatalf("%d characters: %s", len(line), line)
	}
	want := "task 64f1c2a9e4b0a1b2c3d4e5f6 Processing 14700/30000 done: 2345 failed, 10 stopped, 10000 running, " +
		"5300 waiting (20m34s)"
	if line != want {
		t.Fatalf("line %s\nwant %s", line, want)
	}
}

// taskMismatch tells the task a create made from another: by its name, type, targets in any
// order and document as a JSON value; a task read back must echo its targets and be newer
// than the request, while a create's answer is held only to what it echoes.
func TestTaskMismatch(t *testing.T) {
	m := &batchCommandModel{fleetTask: fleetTask{DeviceIDs: types.ListValueMust(types.StringType,
		[]attr.Value{types.StringValue("a"), types.StringValue("b")}), GroupIDs: types.ListNull(types.StringType)},
		ServiceID: types.StringValue("S"), CommandName: types.StringValue("C"),
		Paras: types.DynamicValue(types.StringValue(`{"x":1,"y":[true]}`))}
	doc := json.RawMessage(`{"paras":{"y":[true],"x":1.0},"command_name":"C","service_id":"S"}`)
	sent := sentTask{Name: "n", Mark: iotda.TaskMark{NewestID: "00000000000000000000000a"}}
	newer := "00000000000000000000000b"
	for _, c := range []struct {
		task iotda.BatchTask
		read bool
		want string // "" for the task sent
	}{
		{iotda.BatchTask{TaskID: newer, TaskName: "n", TaskType: iotda.TaskTypeCreateCommands, Targets: []string{"b", "a"},
			Document: doc}, true, ""},
		{iotda.BatchTask{TaskID: newer, Targets: []string{"a", "b"}}, true, ""},
		{iotda.BatchTask{TaskID: newer}, false, ""},
		{iotda.BatchTask{TaskID: newer}, true, "targets are not the 2 devices sent (0 listed)"},
		{iotda.BatchTask{TaskID: newer, TargetCount: 3}, false, "targets are not the 2 devices sent (3 listed)"},
		{iotda.BatchTask{TaskID: newer, TaskName: "other", Targets: []string{"a", "b"}}, true, `named "other", not "n"`},
		{iotda.BatchTask{TaskID: newer, Targets: []string{"a"}, Document: doc}, false, "not the 2 devices sent (1 listed)"},
		{iotda.BatchTask{TaskID: newer, Targets: []string{"a", "b"}, Document: json.RawMessage(`{"paras":{"x":2}}`)},
			false, `document is not the command "C" of service "S" sent`},
		{iotda.BatchTask{TaskID: newer, TaskType: "createMessages", Targets: []string{"a", "b"}}, true,
			"a createMessages task, not createCommands"},
		{iotda.BatchTask{TaskID: newer, GroupIDs: []string{"g"}, Targets: []string{"a", "b"}}, true, ""},
		{iotda.BatchTask{TaskID: "000000000000000000000009", Targets: []string{"a", "b"}}, true, "created before the request"},
		{iotda.BatchTask{TaskID: "000000000000000000000009", Targets: []string{"a", "b"}}, false, ""},
	} {
		got := taskMismatch(m, sent, &c.task, c.read)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("taskMismatch(%+v, read %v) = %q, want %q", c.task, c.read, got, c.want)
		}
	}
	g := &batchCommandModel{fleetTask: fleetTask{DeviceIDs: types.ListNull(types.StringType),
		GroupIDs: types.ListValueMust(types.StringType, []attr.Value{types.StringValue("g1")})}}
	if got := taskMismatch(g, sent, &iotda.BatchTask{TaskID: newer, GroupIDs: []string{"g2"}}, false); !strings.Contains(got,
		"device groups are not the 1 group sent") {
		t.Errorf("another group: %q", got)
	}
	if got := taskMismatch(g, sent, &iotda.BatchTask{TaskID: newer}, false); got != "" {
		t.Errorf("a group answer that echoes nothing: %q", got)
	}
}

// "Still Running" says what stopped the apply: the reads, not the timeout, when every read
// failed; and it never sends the user to terraform untaint.
func TestAddNotFollowed(t *testing.T) {
	m := &batchCommandModel{fleetTask: fleetTask{TaskID: types.StringValue("abc"), TaskName: types.StringValue("n"),
		DeviceIDs: types.ListValueMust(types.StringType, []attr.Value{types.StringValue("a")}),
		GroupIDs:  types.ListNull(types.StringType)}, CommandName: types.StringValue("REBOOT")}
	m.setTask(&iotda.BatchTask{TaskID: "abc", Status: iotda.TaskProcessing, Progress: iotda.TaskProgress{Total: 1, Processing: 1}})
	readErr := &iotda.APIError{StatusCode: 502, RequestID: "req-9"}
	for name, c := range map[string]struct {
		res      followResult
		want     []string
		unwanted []string
	}{
		"every read failed, then the timeout": {followResult{end: followTimedOut, lastErr: readErr, reads: 4, failed: 4},
			[]string{"every read of it failed (4 of 4) until timeouts.create (7s) expired", "HTTP 502", "req-9",
				"next plan shows an update that follows this same task"}, []string{"raise timeouts.create", "untaint <"}},
		"the timeout, reads fine": {followResult{end: followTimedOut, reads: 4, failed: 1},
			[]string{"was still Processing, 0/1 done: 1 running when timeouts.create (7s) expired", "raise timeouts.create"},
			[]string{"every read"}},
		"interrupted": {followResult{end: followInterrupted, reads: 2},
			[]string{"when the apply was interrupted", "no terraform untaint needed"}, []string{"raise timeouts.create"}},
		"gone": {followResult{end: followGone, lastErr: &iotda.APIError{StatusCode: 404}, reads: 2, failed: 1},
			[]string{"is not on IoTDA any more", "apply -replace=<address>: that creates a new task, sending command " +
				`"REBOOT" to every device again`}, nil},
		"answers that do not match": {followResult{end: followMalformed, lastErr: errors.New("the answer's batchtask has no task_id"),
			reads: 3, failed: 3}, []string{"3 answers in a row about it did not match the task", "has no task_id",
			"not a network failure", "next plan shows an update that follows this same task"},
			[]string{"Check the network", "raise timeouts.create"}},
	} {
		var diags diag.Diagnostics
		addNotFollowed(m, c.res, 7*time.Second, &diags)
		if diags.HasError() || len(diags) != 1 {
			t.Fatalf("%s: %v", name, diags)
		}
		detail := diags[0].Detail()
		for _, w := range c.want {
			if !strings.Contains(detail, w) {
				t.Errorf("%s: %q lacks %q", name, detail, w)
			}
		}
		for _, u := range c.unwanted {
			if strings.Contains(detail, u) {
				t.Errorf("%s: %q has %q", name, detail, u)
			}
		}
	}
}

// The warnings of a create not known for certain put the way out first, and never send the
// user to a command that runs the fleet again without saying so.
func TestUnresolvedCreateWarnings(t *testing.T) {
	m := &batchCommandModel{fleetTask: fleetTask{TaskName: types.StringValue("nightly"),
		DeviceIDs: types.ListValueMust(types.StringType, []attr.Value{types.StringValue("a")}),
		GroupIDs:  types.ListNull(types.StringType)}, CommandName: types.StringValue("REBOOT")}
	sent := sentTask{Name: "nightly", At: time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC), Mark: iotda.TaskMark{Local: true}}
	lost := errors.New("HTTP 502")
	ambiguous := ambiguousDetail(m, sent, lost, []string{"0a", "0b"})
	for _, want := range []string{"IoTDA holds 2 tasks named \"nightly\"", "0a, 0b", "terraform import <address> <task_id>",
		"-replace=<address> sends the request again", "leave task_name out", "HTTP 502", "in the 1h0m0s before it"} {
		if !strings.Contains(ambiguous, want) {
			t.Errorf("the ambiguity warning lacks %q:\n%s", want, ambiguous)
		}
	}
	if strings.Index(ambiguous, "terraform import") > strings.Index(ambiguous, "got no usable answer") {
		t.Errorf("the ambiguity warning does not start with the way out:\n%s", ambiguous)
	}
	never := neverFoundDetail(m, sent, nil)
	for _, want := range []string{"2026-01-02T15:04:05Z", "in the 2m0s since", "NOT sent again", "every refresh",
		"plans show no change", "ListBatchTasks of task_type createCommands: no task named \"nightly\"",
		"terraform apply -replace=<address> sends the request again, once"} {
		if !strings.Contains(never, want) {
			t.Errorf("the never-found warning lacks %q:\n%s", want, never)
		}
	}
}
