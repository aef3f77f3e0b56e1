package provider

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
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

// sameTask tells the task a lookup finds by a name chosen in the configuration from another
// of that name: the targets in any order, the document as a JSON value.
func TestSameTask(t *testing.T) {
	m := &batchCommandModel{fleetTask: fleetTask{DeviceIDs: types.ListValueMust(types.StringType,
		[]attr.Value{types.StringValue("a"), types.StringValue("b")}), GroupIDs: types.ListNull(types.StringType)},
		ServiceID: types.StringValue("S"), CommandName: types.StringValue("C"),
		Paras: types.DynamicValue(types.StringValue(`{"x":1,"y":[true]}`))}
	doc := json.RawMessage(`{"paras":{"y":[true],"x":1.0},"command_name":"C","service_id":"S"}`)
	for _, c := range []struct {
		task iotda.BatchTask
		want bool
	}{
		{iotda.BatchTask{TaskType: iotda.TaskTypeCreateCommands, Targets: []string{"b", "a"}, Document: doc}, true},
		{iotda.BatchTask{Targets: []string{"a"}, Document: doc}, false},
		{iotda.BatchTask{Targets: []string{"a", "b"}, Document: json.RawMessage(`{"paras":{"x":2}}`)}, false},
		{iotda.BatchTask{TaskType: "createMessages", Targets: []string{"a", "b"}, Document: doc}, false},
		{iotda.BatchTask{GroupIDs: []string{"g"}, Document: doc}, false},
	} {
		if got := sameTask(m, &c.task); got != c.want {
			t.Errorf("sameTask(%+v) = %v", c.task, got)
		}
	}
}
