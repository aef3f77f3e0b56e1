package faults

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFault_JSON(t *testing.T) {
	var f Fault
	if err := json.Unmarshal([]byte(`{"device_id":"d","times":-1,"status":503,"delay":"1.5s","reset_after_delivery":true}`), &f); err != nil {
		t.Fatal(err)
	}
	want := Fault{DeviceID: "d", Times: -1, Status: 503, Delay: 1500 * time.Millisecond, ResetAfterDelivery: true}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("decoded %+v, want %+v", f, want)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"delay":"1.5s"`) {
		t.Errorf("encoded %s, want the delay as a duration string", b)
	}
	var back Fault
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, f) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"delay":2000000}`), &f); err != nil || f.Delay != 2*time.Millisecond {
		t.Errorf("numeric delay = %v, %v", f.Delay, err)
	}
	for in, want := range map[string]string{`{"status":429,"retry_after":1}`: "1", `{"status":429,"retry_after":"2"}`: "2",
		`{"status":429,"retry_after":"Wed, 21 Oct 2026 07:28:00 GMT"}`: "Wed, 21 Oct 2026 07:28:00 GMT"} {
		var f Fault
		if err := json.Unmarshal([]byte(in), &f); err != nil || f.RetryAfter != want {
			t.Errorf("%s: retry_after %q, %v; want %q", in, f.RetryAfter, err, want)
		}
		if b, err := json.Marshal(f); err != nil || !strings.Contains(string(b), `"retry_after":"`+want+`"`) {
			t.Errorf("%s: encoded %s, %v", in, b, err)
		}
	}
	for _, bad := range []string{`{"delay":"soon"}`, `{"delay":true}`, `{"stauts":500}`, `{"retry_after":true}`, `{"retry_after":[1]}`} {
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}

func TestFault_Label(t *testing.T) {
	for f, want := range map[*Fault]string{
		{Status: 500, Delay: time.Second}: "status=500,delay=1s",
		{ResetBeforeBody: true}:           "reset_before_body",
		{Body: "x", Truncate: true}:       "body,truncate",
		{Name: "mine", Status: 500}:       "mine",
		{}:                                "noop",
	} {
		if got := f.Label(); got != want {
			t.Errorf("Label(%+v) = %q, want %q", *f, got, want)
		}
	}
}

// TestSet_TakeOrderScopeAndTimes: faults are taken in the order they were added, a device's
// fault only by its own requests, each as many times as it says (0 once, -1 for ever).
func TestSet_TakeOrderScopeAndTimes(t *testing.T) {
	s := NewSet()
	s.Add(Fault{Name: "d1 twice", DeviceID: "d1", Times: 2})
	s.Add(Fault{Name: "any once"})
	s.Add(Fault{Name: "any forever", Times: -1})
	var got []string
	for _, device := range []string{"d2", "d1", "d1", "d1", "", "d2"} {
		f, ok := s.Take(device, OpCreateCommand)
		if !ok {
			t.Fatalf("no fault for %q", device)
		}
		got = append(got, device+":"+f.Name)
	}
	want := []string{"d2:any once", "d1:d1 twice", "d1:d1 twice", "d1:any forever", ":any forever", "d2:any forever"}
	if !slices.Equal(got, want) {
		t.Errorf("taken %q, want %q", got, want)
	}
	if p := s.Pending(); len(p) != 1 || p[0].Name != "any forever" || p[0].Times != -1 {
		t.Errorf("pending %+v, want only the endless fault", p)
	}
	s.Clear()
	if _, ok := s.Take("d1", ""); ok || s.Pending() == nil || len(s.Pending()) != 0 {
		t.Errorf("a cleared set still has faults: %+v", s.Pending())
	}
}

func TestFault_ValidateAndAnswer(t *testing.T) {
	for _, bad := range []Fault{{Status: 99}, {Status: 600}, {Times: -2}, {Delay: -time.Second}} {
		if err := bad.Validate(); err == nil || strings.HasSuffix(err.Error(), ".") {
			t.Errorf("Validate(%+v) = %v, want an error without a final period", bad, err)
		}
	}
	if err := (Fault{Status: 503, Times: -1, Delay: time.Second}).Validate(); err != nil {
		t.Errorf("a valid fault: %v", err)
	}
	for _, tt := range []struct {
		f    Fault
		body string
	}{
		{Fault{Status: 429}, `{"error_code":"MOCK.FAULT","error_msg":"Too Many Requests"}`},
		{Fault{Status: 500, ErrorCode: "IOTDA.000500", ErrorMsg: "boom"}, `{"error_code":"IOTDA.000500","error_msg":"boom"}`},
		{Fault{Status: 502, Body: "<html>"}, `<html>`},
	} {
		if status, body := tt.f.Answer(); status != tt.f.Status || string(body) != tt.body {
			t.Errorf("Answer(%+v) = %d %s, want %d %s", tt.f, status, body, tt.f.Status, tt.body)
		}
	}
}

// TestFault_JSONOfTheNewKinds: hold reads as a duration, patches as JSON values, and all of
// them come back as they went in.
func TestFault_JSONOfTheNewKinds(t *testing.T) {
	in := `{"operation":"CreateBatchTask","status":502,"forward":true,"content_type":"text/html",` +
		`"body":"<html>502</html>","hold":"15s"}`
	var f Fault
	if err := json.Unmarshal([]byte(in), &f); err != nil {
		t.Fatal(err)
	}
	want := Fault{Operation: OpCreateBatchTask, Status: 502, Forward: true, ContentType: "text/html",
		Body: "<html>502</html>", Hold: 15 * time.Second}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("decoded %+v, want %+v", f, want)
	}
	var p Fault
	if err := json.Unmarshal([]byte(`{"operation":"ShowBatchTask","merge_patch":{"batchtask":{"task_id":null}},`+
		`"json_patch":[{"op":"remove","path":"/task_details/0"}]}`), &p); err != nil {
		t.Fatal(err)
	}
	if string(p.MergePatch) != `{"batchtask":{"task_id":null}}` || string(p.JSONPatch) != `[{"op":"remove","path":"/task_details/0"}]` {
		t.Errorf("patches decoded as %s and %s", p.MergePatch, p.JSONPatch)
	}
	for _, g := range []Fault{f, p} {
		b, err := json.Marshal(g)
		if err != nil {
			t.Fatal(err)
		}
		var back Fault
		if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, g) {
			t.Errorf("round trip of %s = %+v, %v", b, back, err)
		}
	}
	if err := json.Unmarshal([]byte(`{"hold":"later"}`), &f); err == nil {
		t.Error(`{"hold":"later"} decoded without error`)
	}
}

func TestFault_LabelOfTheNewKinds(t *testing.T) {
	for _, tt := range []struct {
		f    Fault
		want string
	}{
		{Fault{Operation: OpCreateBatchTask, Status: 504, Forward: true}, "operation=CreateBatchTask,status=504,forward"},
		{Fault{Hold: 15 * time.Second}, "hold=15s"},
		{Fault{MergePatch: json.RawMessage(`{}`), JSONPatch: json.RawMessage(`[]`)}, "merge_patch,json_patch"},
	} {
		if got := tt.f.Label(); got != tt.want {
			t.Errorf("Label(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
}

// TestFault_ValidateCombinations: each contradiction is refused with a message naming the
// fields; each kind the batch tests need is accepted.
func TestFault_ValidateCombinations(t *testing.T) {
	for _, tt := range []struct {
		f    Fault
		want string // a part of the message
	}{
		{Fault{Operation: "ShowTask"}, `operation "ShowTask" is not an operation`},
		{Fault{Forward: true}, "forward needs a status"},
		{Fault{ResetBeforeBody: true, Hold: time.Second}, "reset_before_body"},
		{Fault{ResetBeforeBody: true, Forward: true, Status: 502}, "reset_before_body"},
		{Fault{Hold: time.Second, Status: 502}, "add forward"},
		{Fault{Hold: -time.Second}, "hold must not be negative"},
		{Fault{Status: 502, Forward: true, MergePatch: json.RawMessage(`{}`)}, "merge_patch and json_patch"},
		{Fault{Body: "x", JSONPatch: json.RawMessage(`[]`)}, "merge_patch and json_patch"},
		{Fault{ResetAfterDelivery: true, MergePatch: json.RawMessage(`{}`)}, "merge_patch and json_patch"},
		{Fault{MergePatch: json.RawMessage(`[1]`)}, "merge_patch must be a JSON object"},
		{Fault{MergePatch: json.RawMessage(`{`)}, "merge_patch must be a JSON object"},
		{Fault{JSONPatch: json.RawMessage(`{"op":"remove"}`)}, "json_patch must be an array"},
		{Fault{JSONPatch: json.RawMessage(`[{"op":"drop","path":"/a"}]`)}, `unsupported operation`},
		{Fault{JSONPatch: json.RawMessage(`[{"op":"remove"}]`)}, "missing path"},
		// Faults that could never act, or parts of them that would never apply.
		{Fault{}, "the fault does nothing"},
		{Fault{Name: "n", Operation: OpCreateCommand, DeviceID: "d1", Times: -1}, "the fault does nothing"},
		{Fault{ContentType: "text/html", ErrorMsg: "boom"}, "error_code and error_msg make the error body of status"},
		{Fault{DeviceID: "x", Operation: OpListBatchTasks, Status: 503}, "device_id limits the fault"},
		{Fault{DeviceID: "x", Operation: OpCreateBatchTask, Hold: time.Second}, "CreateBatchTask names none"},
		{Fault{DeviceID: "x", Operation: OpShowBatchTask, MergePatch: json.RawMessage(`{}`)}, "aim it at one of CreateCommand"},
		{Fault{ErrorCode: "X.1", Delay: time.Second}, "error_code and error_msg make the error body of status"},
		{Fault{ErrorMsg: "boom", Body: "x"}, "add status"},
		{Fault{ContentType: "text/html", Delay: time.Second}, "content_type is the type of the fault's own answer"},
		{Fault{ResetBeforeBody: true, Status: 503}, "reset_before_body ends the request without an answer"},
		{Fault{ResetBeforeBody: true, Delay: time.Second}, "delay"},
		{Fault{ResetBeforeBody: true, Truncate: true}, "truncate"},
		{Fault{Operation: OpDeleteBatchTask, MergePatch: json.RawMessage(`{"a":1}`)}, "204 with no body"},
		{Fault{Operation: OpDeleteDeviceMessage, JSONPatch: json.RawMessage(`[]`)}, "DeleteDeviceMessage never has"},
		{Fault{Operation: OpStopBatchTask, MergePatch: json.RawMessage(`{}`)}, "the mock refuses it"},
	} {
		err := tt.f.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.HasSuffix(err.Error(), ".") {
			t.Errorf("Validate(%+v) = %v, want an error containing %q without a final period", tt.f, err, tt.want)
		}
	}
	for _, ok := range []Fault{
		{Operation: OpCreateBatchTask, Status: 502, Forward: true, Body: "<html></html>", ContentType: "text/html"},
		{Operation: OpCreateBatchTask, ResetAfterDelivery: true, Hold: time.Second},
		{Operation: OpCreateBatchTask, Hold: 15 * time.Second},
		{Operation: OpCreateBatchTask, Hold: time.Second, Status: 504, Forward: true},
		{Operation: OpShowBatchTask, Times: -1, MergePatch: json.RawMessage(`{"batchtask":{"task_id":null}}`)},
		{Operation: OpShowBatchTask, JSONPatch: json.RawMessage(`[{"op":"remove","path":"/task_details/1"}]`)},
		{Operation: OpShowDeviceMessage, DeviceID: "d1", Status: 500},
		{Operation: OpCreateMessage, DeviceID: "d1", Hold: time.Second},
		{DeviceID: "d1", Status: 503, ErrorCode: "X.1", ErrorMsg: "boom", ContentType: "application/json"},
		{Operation: OpListBatchTasks, RetryAfter: "5"},
		{Operation: OpDeleteBatchTask, Status: 500, Forward: true},
		{ResetBeforeBody: true, Operation: OpCreateCommand, DeviceID: "d1", Times: 2, Name: "cut"},
		{Delay: time.Second},
		{Body: "<html>", ContentType: "text/html"},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", ok, err)
		}
	}
}

func TestOperationOf(t *testing.T) {
	for _, tt := range []struct{ method, path, want string }{
		{"POST", "/v5/iot/p/devices/d1/commands", OpCreateCommand},
		{"GET", "/v5/iot/p/devices/d1/commands", ""},
		{"POST", "/v5/iot/p/batchtasks", OpCreateBatchTask},
		{"GET", "/v5/iot/p/batchtasks", OpListBatchTasks},
		{"GET", "/v5/iot/p/batchtasks/0123abc", OpShowBatchTask},
		{"DELETE", "/v5/iot/p/batchtasks/0123abc", OpDeleteBatchTask},
		{"POST", "/v5/iot/p/batchtasks/0123abc/stop", OpStopBatchTask},
		{"POST", "/v5/iot/p/batchtasks/0123abc/retry", OpRetryBatchTask},
		{"POST", "/v5/iot/p/batchtasks/0123abc/confirm", OpConfirmBatchTask},
		{"POST", "/v5/iot/p/devices/d1/messages", OpCreateMessage},
		{"GET", "/v5/iot/p/devices/d1/messages", OpListDeviceMessages},
		{"GET", "/v5/iot/p/devices/d1/messages/m1", OpShowDeviceMessage},
		{"DELETE", "/v5/iot/p/devices/d1/messages/m1", OpDeleteDeviceMessage},
		{"GET", "/v5/iot/p/batchtasks/", ""}, // an empty id is no task
		{"GET", "/v5/iot//batchtasks", ""},
		{"GET", "/v4/iot/p/batchtasks", ""},
		{"GET", "/_mock/faults", ""},
	} {
		if got := OperationOf(tt.method, tt.path); got != tt.want {
			t.Errorf("OperationOf(%s %s) = %q, want %q", tt.method, tt.path, got, tt.want)
		}
	}
	if ops := Operations(); len(ops) != 12 || ops[0] != OpCreateCommand {
		t.Errorf("Operations() = %q", ops)
	}
}

// TestSet_TakeByOperation: a fault aimed at an operation is taken only by it; one without an
// operation by any, a request with no operation included.
func TestSet_TakeByOperation(t *testing.T) {
	s := NewSet()
	s.Add(Fault{Name: "show", Operation: OpShowBatchTask, Times: -1})
	s.Add(Fault{Name: "messages of d1", Operation: OpCreateMessage, DeviceID: "d1"})
	s.Add(Fault{Name: "any"})
	if f, ok := s.Take("", OpCreateBatchTask); !ok || f.Name != "any" {
		t.Errorf("create took %+v, %v; want the fault without an operation", f, ok)
	}
	if _, ok := s.Take("d2", OpCreateMessage); ok {
		t.Error("a message to d2 took d1's fault")
	}
	if f, ok := s.Take("d1", OpCreateMessage); !ok || f.Name != "messages of d1" {
		t.Errorf("a message to d1 took %+v, %v", f, ok)
	}
	for range 3 {
		if f, ok := s.Take("", OpShowBatchTask); !ok || f.Name != "show" {
			t.Errorf("show took %+v, %v", f, ok)
		}
	}
	if _, ok := s.Take("", OpListBatchTasks); ok {
		t.Error("list took a fault aimed at show")
	}
}

// TestFault_Rewrite: a merge patch drops and replaces members, a JSON patch removes and adds
// array elements, untouched values keep their spelling (numbers, HTML characters), and a
// patch that does not apply says why.
func TestFault_Rewrite(t *testing.T) {
	answer := []byte(`{"batchtask":{"task_id":"aaa","task_name":"a<b"},"task_details":[{"target":"d1","n":1.50},` +
		`{"target":"d2"}],"page":{"count":2}}`)
	for _, tt := range []struct {
		f    Fault
		want string
	}{
		{Fault{MergePatch: json.RawMessage(`{"batchtask":{"task_id":null}}`)},
			`{"batchtask":{"task_name":"a<b"},"task_details":[{"target":"d1","n":1.50},{"target":"d2"}],"page":{"count":2}}`},
		{Fault{MergePatch: json.RawMessage(`{"batchtask":{"task_id":"bbb"}}`)},
			`{"batchtask":{"task_id":"bbb","task_name":"a<b"},"task_details":[{"target":"d1","n":1.50},{"target":"d2"}],"page":{"count":2}}`},
		{Fault{JSONPatch: json.RawMessage(`[{"op":"remove","path":"/task_details/0"},` +
			`{"op":"add","path":"/task_details/-","value":{"target":"stranger"}}]`)},
			`{"batchtask":{"task_id":"aaa","task_name":"a<b"},"task_details":[{"target":"d2"},{"target":"stranger"}],"page":{"count":2}}`},
		{Fault{MergePatch: json.RawMessage(`{"task_details":[]}`), JSONPatch: json.RawMessage(`[{"op":"replace","path":"/page/count","value":0}]`)},
			`{"batchtask":{"task_id":"aaa","task_name":"a<b"},"task_details":[],"page":{"count":0}}`},
	} {
		got, err := tt.f.Rewrite(answer)
		if err != nil {
			t.Errorf("Rewrite(%s%s): %v", tt.f.MergePatch, tt.f.JSONPatch, err)
			continue
		}
		var gotV, wantV any
		if json.Unmarshal(got, &gotV) != nil || json.Unmarshal([]byte(tt.want), &wantV) != nil || !reflect.DeepEqual(gotV, wantV) {
			t.Errorf("Rewrite(%s%s) = %s, want %s", tt.f.MergePatch, tt.f.JSONPatch, got, tt.want)
		}
		if strings.Contains(tt.want, "1.50") && !strings.Contains(string(got), "1.50") {
			t.Errorf("Rewrite(%s%s) = %s: a number it did not touch was respelt", tt.f.MergePatch, tt.f.JSONPatch, got)
		}
	}
	for _, bad := range []Fault{
		{JSONPatch: json.RawMessage(`[{"op":"remove","path":"/task_details/5"}]`)},
		{JSONPatch: json.RawMessage(`[{"op":"test","path":"/page/count","value":3}]`)},
	} {
		if _, err := bad.Rewrite(answer); err == nil || !strings.HasPrefix(err.Error(), "json_patch: ") {
			t.Errorf("Rewrite(%s) = %v, want a json_patch error", bad.JSONPatch, err)
		}
	}
	if _, err := (&Fault{MergePatch: json.RawMessage(`{}`)}).Rewrite([]byte("<html>")); err == nil {
		t.Error("rewriting an answer that is not JSON succeeded")
	}
}
