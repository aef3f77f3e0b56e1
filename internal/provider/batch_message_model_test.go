package provider

import (
	"context"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// An entry says what the subtask and, where its output tells, the message became; the
// device is pending until the message is known to be final.
func TestEntryOf(t *testing.T) {
	const mine = "m-1"
	for _, c := range []struct {
		name              string
		st                iotda.Subtask
		entry             string
		pending, needRead bool
		failed            string
	}{
		{"accepted, pending", iotda.Subtask{Target: "a", Status: "Success",
			Output: `{"message_id":"m-1","result":{"status":"PENDING","created_time":"20260102T030405Z"}}`},
			`{"status":"Success","message_id":"m-1","message_status":"PENDING","error_code":null,"error_msg":null,"finished_at":null}`,
			true, false, ""},
		{"delivered at once", iotda.Subtask{Target: "a", Status: "Success",
			Output: `{"message_id":"m-1","result":{"status":"DELIVERED","created_time":"20260102T030405Z","finished_time":"20260102T030406Z"}}`},
			`{"status":"Success","message_id":"m-1","message_status":"DELIVERED","error_code":null,"error_msg":null,"finished_at":"2026-01-02T03:04:06Z"}`,
			false, false, ""},
		{"failed, reason unknown", iotda.Subtask{Target: "a", Status: "Success",
			Output: `{"message_id":"m-1","result":{"status":"FAILED","finished_time":"20260102T030406Z"}}`},
			`{"status":"Success","message_id":"m-1","message_status":"FAILED","error_code":null,"error_msg":null,"finished_at":"2026-01-02T03:04:06Z"}`,
			false, true, "FAILED"},
		{"an output that says nothing", iotda.Subtask{Target: "a", Status: "Success", Output: "ok"},
			`{"status":"Success","message_id":"m-1","message_status":null,"error_code":null,"error_msg":null,"finished_at":null}`,
			true, true, ""},
		{"an output naming the device's own id", iotda.Subtask{Target: "a", Status: "Success",
			Output: `{"message_id":"per-device-7","result":{"status":"PENDING"}}`},
			`{"status":"Success","message_id":"per-device-7","message_status":"PENDING","error_code":null,"error_msg":null,"finished_at":null}`,
			true, false, ""},
		{"unknown device", iotda.Subtask{Target: "a", Status: "Fail", ErrorCode: "IOTDA.014000", ErrorMsg: "no <device>"},
			`{"status":"Fail","message_id":null,"message_status":null,"error_code":"IOTDA.014000","error_msg":"no <device>","finished_at":null}`,
			false, false, "Fail"},
		{"stopped", iotda.Subtask{Target: "a", Status: "Stopped"},
			`{"status":"Stopped","message_id":null,"message_status":null,"error_code":null,"error_msg":null,"finished_at":null}`,
			false, false, "Stopped"},
	} {
		e := entryOf(c.st, mine)
		text := encodeMessageEntry(e)
		f := e.failure("a")
		failed := ""
		if f != nil {
			failed = f.Status
		}
		if string(text) != c.entry || e.pending() != c.pending || e.needsRead() != c.needRead || failed != c.failed {
			t.Errorf("%s: %s pending %v, needs a read %v, failure %q; want %s, %v, %v, %q", c.name, text, e.pending(),
				e.needsRead(), failed, c.entry, c.pending, c.needRead, c.failed)
		}
	}
}

// Results, failed_device_ids and pending_device_ids come from the entries, and a read of a
// message moves its device out of pending.
func TestSetEntriesAndSettle(t *testing.T) {
	m := batchMessageModel{MessageID: types.StringValue("m-1")}
	entries := map[string]messageEntry{}
	for _, st := range []iotda.Subtask{
		{Target: "d3", Status: "Success", Output: `{"message_id":"m-1","result":{"status":"PENDING"}}`},
		{Target: "d1", Status: "Success", Output: `{"message_id":"m-1","result":{"status":"DELIVERED"}}`},
		{Target: "d2", Status: "Fail", ErrorCode: "IOTDA.014000", ErrorMsg: "no device"},
		{Target: "d4", Status: "Success", Output: ``},
	} {
		entries[st.Target] = entryOf(st, "m-1")
	}
	failures := m.setEntries(entries)
	m.settle()
	if len(failures) != 1 || failures[0].DeviceID != "d2" || strings.Join(listStrings(m.FailedDeviceIDs), ",") != "d2" {
		t.Fatalf("failures %+v, failed_device_ids %v", failures, m.FailedDeviceIDs)
	}
	if got := strings.Join(listStrings(m.PendingDeviceIDs), ","); got != "d3,d4" {
		t.Fatalf("pending_device_ids %s, want d3,d4", got)
	}
	text := m.Results.ValueString()
	if !strings.HasPrefix(text, `{"d1":{"status":"Success"`) || !json.Valid([]byte(text)) {
		t.Fatalf("results %s", text)
	}
	back, err := decodeMessageEntries(text)
	if err != nil || len(back) != 4 {
		t.Fatalf("results read back: %v, %v", back, err)
	}
	e := back["d3"]
	e.record(&iotda.DeviceMessage{MessageID: "m-1", Status: iotda.MessageTimeout})
	back["d3"] = e
	failures = m.setEntries(back)
	m.settle()
	if len(failures) != 2 || strings.Join(listStrings(m.PendingDeviceIDs), ",") != "d4" {
		t.Fatalf("after d3 timed out: failures %+v, pending %v", failures, m.PendingDeviceIDs)
	}
	for _, r := range []types.String{types.StringNull(), types.StringUnknown()} {
		m.Results = r
		m.settle()
		if m.PendingDeviceIDs.IsNull() != r.IsNull() || m.PendingDeviceIDs.IsUnknown() != r.IsUnknown() {
			t.Errorf("results %v: pending_device_ids %v", r, m.PendingDeviceIDs)
		}
	}
}

func bigNumber(t *testing.T, s string) types.Number {
	t.Helper()
	f, ok := new(big.Float).SetPrec(numberPrecision).SetString(s)
	if !ok {
		t.Fatalf("not a number: %s", s)
	}
	return types.NumberValue(f)
}

func testBatchMessage(t *testing.T) batchMessageModel {
	t.Helper()
	obj := types.ObjectValueMust(map[string]attr.Type{"interval": types.NumberType, "big": types.NumberType},
		map[string]attr.Value{"interval": bigNumber(t, "900"), "big": bigNumber(t, "12345678901234567890")})
	return batchMessageModel{MessageID: types.StringValue("m-1"), Message: types.DynamicValue(obj),
		Name: types.StringValue("cfg"), Topic: types.StringNull(), TopicFullName: types.StringNull(),
		Encoding: types.StringNull(), PayloadFormat: types.StringNull(), TTL: types.Int64Value(60),
		Properties: types.ObjectNull(propertiesAttrTypes)}
}

// The document is the CreateMessage body with the provider's message id, every digit kept;
// IoTDA's answer of it, in another member order or spelling, is the same document.
func TestBatchMessageDocument(t *testing.T) {
	m := testBatchMessage(t)
	doc, diags := m.document()
	if diags.HasError() {
		t.Fatal(diags)
	}
	want := `{"message_id":"m-1","name":"cfg","message":{"big":12345678901234567890,"interval":900},"ttl":60}`
	if string(doc) != want {
		t.Fatalf("document %s, want %s", doc, want)
	}
	if !m.sameDocument([]byte(`{"ttl":60,"message":{"interval":900.0,"big":1.234567890123456789e19},"name":"cfg","message_id":"m-1"}`)) {
		t.Fatal("IoTDA's answer in another order and spelling is not the same document")
	}
	if m.sameDocument([]byte(`{"message_id":"m-2","name":"cfg","message":{"big":12345678901234567890,"interval":900},"ttl":60}`)) {
		t.Fatal("another message id is the same document")
	}
	m.Message = types.DynamicValue(types.BoolValue(true))
	if _, diags := m.document(); !diags.HasError() || !hasAttributeError(diags, path.Root("message")) {
		t.Fatalf("a message that cannot be sent: %v", diags)
	}
}

func hasAttributeError(diags diag.Diagnostics, p path.Path) bool {
	for _, d := range diags.Errors() {
		if wp, ok := d.(diag.DiagnosticWithPath); ok && wp.Path().Equal(p) {
			return true
		}
	}
	return false
}

// What replaces the resource is what IoTDA would receive: a change of form only does not,
// and right after an import the message compares as a JSON value.
func TestBatchMessageReplacedPaths(t *testing.T) {
	ctx := context.Background()
	state := testBatchMessage(t)
	for name, c := range map[string]struct {
		edit         func(*batchMessageModel)
		justImported bool
		want         string
	}{
		"nothing": {func(*batchMessageModel) {}, false, ""},
		"a map, not an object": {func(m *batchMessageModel) {
			m.Message = types.DynamicValue(types.MapValueMust(types.NumberType, map[string]attr.Value{
				"interval": bigNumber(t, "900"), "big": bigNumber(t, "12345678901234567890")}))
		}, false, ""},
		"defaults written out": {func(m *batchMessageModel) {
			m.Encoding, m.PayloadFormat = types.StringValue("none"), types.StringValue("standard")
		}, false, ""},
		"ttl left to its default": {func(m *batchMessageModel) { m.TTL = types.Int64Null() }, false, "ttl"},
		"another number":          {func(m *batchMessageModel) { m.Message = types.DynamicValue(types.StringValue("x")) }, false, "message"},
		"a name":                  {func(m *batchMessageModel) { m.Name = types.StringValue("other") }, false, "name"},
		"a topic":                 {func(m *batchMessageModel) { m.Topic = types.StringValue("cfg") }, false, "topic"},
		"unknown message":         {func(m *batchMessageModel) { m.Message = types.DynamicUnknown() }, false, "message"},
		"imported, same value": {func(m *batchMessageModel) {
			m.Message = types.DynamicValue(types.StringValue("")) // replaced below
		}, true, ""},
	} {
		plan := testBatchMessage(t)
		c.edit(&plan)
		before := state
		if name == "imported, same value" {
			// The imported state holds IoTDA's spelling; the configuration, its own.
			plan = testBatchMessage(t)
			before.Message = types.DynamicValue(types.ObjectValueMust(map[string]attr.Type{"interval": types.NumberType,
				"big": types.NumberType}, map[string]attr.Value{"interval": bigNumber(t, "900.0"),
				"big": bigNumber(t, "1.2345678901234567890e19")}))
		}
		var got []string
		for _, p := range before.replacedPaths(ctx, &plan, c.justImported) {
			got = append(got, p.String())
		}
		if strings.Join(got, ",") != c.want {
			t.Errorf("%s: replaced by %v, want %q", name, got, c.want)
		}
	}
}

// An imported task's document becomes the arguments, the platform's defaults null.
func TestBatchMessageAdoptDocument(t *testing.T) {
	for doc, want := range map[string]string{
		`{"message_id":"m-9","message":"hello","encoding":"none","payload_format":"standard","topic":"cfg"}`:  `"hello"|m-9|cfg||<null>`,
		`{"message_id":"m-9","name":"n","message":{"b":{"c":[1,2.50]},"a":1},"topic_full_name":"/x","ttl":5}`: `{"a":1,"b":{"c":[1,2.5]}}|m-9||/x|5`,
	} {
		var m batchMessageModel
		var diags diag.Diagnostics
		m.adoptDocument(&iotda.BatchTask{TaskID: "t", Document: json.RawMessage(doc)}, &diags)
		if diags.HasError() {
			t.Fatalf("%s: %v", doc, diags)
		}
		content, err := messageContent(m.Message, "message")
		ttl := "<null>"
		if !m.TTL.IsNull() {
			ttl = m.TTL.String()
		}
		got := strings.Join([]string{string(content), m.MessageID.ValueString(), m.Topic.ValueString(),
			m.TopicFullName.ValueString(), ttl}, "|")
		if err != nil || got != want || !m.Encoding.IsNull() || !m.PayloadFormat.IsNull() {
			t.Errorf("%s: adopted %s (%v), encoding %v, payload_format %v; want %s", doc, got, err, m.Encoding,
				m.PayloadFormat, want)
		}
	}
	var m batchMessageModel
	var diags diag.Diagnostics
	m.adoptDocument(&iotda.BatchTask{TaskID: "t", Document: json.RawMessage(`{"service_id":"S","paras":{}}`)}, &diags)
	if !diags.HasError() {
		t.Fatal("a command document was adopted as a message")
	}
}

// messageReadServer serves GET .../devices/{id}/messages/{message_id} from a table of answers
// by device, counting every request; any other request is a test failure.
func messageReadServer(t *testing.T, answers map[string]string) (*iotda.Client, *int) {
	t.Helper()
	var mu sync.Mutex
	requests := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		parts := strings.Split(r.URL.Path, "/")
		if r.Method != http.MethodGet || len(parts) < 4 || parts[len(parts)-2] != "messages" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		answer, ok := answers[parts[len(parts)-3]]
		w.Header().Set("Content-Type", "application/json")
		switch {
		case !ok:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error_code":"IOTDA.014000","error_msg":"The device does not exist."}`))
		case answer == "500":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"error_code":"IOTDA.000500","error_msg":"oops"}`))
		default:
			_, _ = w.Write([]byte(answer))
		}
	}))
	t.Cleanup(ts.Close)
	c, err := iotda.NewClient(iotda.Config{Endpoint: ts.URL, ProjectID: "p", AuthToken: "t", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c, &requests
}

// A refresh reads the pending devices only, records what became of their messages, and
// keeps what it cannot know; devices that ended FAILED or TIMEOUT are listed with a warning,
// and never make the next plan replace the resource, even beyond max_failed_devices.
func TestRefreshPending(t *testing.T) {
	c, requests := messageReadServer(t, map[string]string{
		"asleep":    `{"message_id":"m-1","status":"PENDING"}`,
		"woke":      `{"message_id":"m-1","status":"DELIVERED","finished_time":"20260102T040000Z"}`,
		"expired":   `{"message_id":"m-1","status":"TIMEOUT","finished_time":"20260103T030405Z"}`,
		"evicted":   `{}`,
		"flaky":     "500",
		"delivered": `{"message_id":"m-1","status":"DELIVERED"}`,
	})
	m := batchMessageModel{MessageID: types.StringValue("m-1")}
	m.TaskID, m.TaskName, m.MaxFailedDevices = types.StringValue("t1"), types.StringValue("tn"), types.Int64Value(0)
	entries := map[string]messageEntry{}
	for _, id := range []string{"asleep", "woke", "expired", "evicted", "flaky", "removed"} {
		entries[id] = entryOf(iotda.Subtask{Target: id, Status: "Success",
			Output: `{"message_id":"m-1","result":{"status":"PENDING"}}`}, "m-1")
	}
	entries["delivered"] = entryOf(iotda.Subtask{Target: "delivered", Status: "Success",
		Output: `{"message_id":"m-1","result":{"status":"DELIVERED"}}`}, "m-1")
	m.setEntries(entries)
	m.settle()

	var fp fleetPrivate
	var diags diag.Diagnostics
	if !m.refreshPending(t.Context(), c, &fp, &diags) {
		t.Fatal("the refresh changed nothing")
	}
	m.settle()
	if *requests != 7 {
		t.Fatalf("%d reads, want one per pending device (6, the failing one retried once), none for the delivered one",
			*requests)
	}
	if got := strings.Join(listStrings(m.PendingDeviceIDs), ","); got != "asleep,evicted,flaky,removed" {
		t.Fatalf("pending %s", got)
	}
	if got := strings.Join(listStrings(m.FailedDeviceIDs), ","); got != "expired" {
		t.Fatalf("failed %s", got)
	}
	// One read without the message is not enough to take it as gone.
	if got := strings.Join(fp.Unreadable, ","); got != "" || fp.FailedRun || fp.NotFound["evicted"] != 1 ||
		fp.NotFound["removed"] != 1 {
		t.Fatalf("unreadable %q, not found %v, failed run %v", got, fp.NotFound, fp.FailedRun)
	}
	back, _ := decodeMessageEntries(m.Results.ValueString())
	if e := back["woke"]; *e.MessageStatus != "DELIVERED" || *e.FinishedAt != "2026-01-02T04:00:00Z" {
		t.Fatalf("woke: %s", encodeMessageEntry(e))
	}
	var summaries []string
	for _, d := range diags {
		summaries = append(summaries, d.Summary())
	}
	if diags.HasError() || strings.Join(summaries, "|") != summaryFleetMessageNotFound+"|"+summaryMessageStatusUnread+"|Batch Message Failed on Some Devices" {
		t.Fatalf("diagnostics %v", diags)
	}
	if d := diags[2].Detail(); !strings.Contains(d, "expired: TIMEOUT") || !strings.Contains(d, "not sent to the fleet again") ||
		!strings.Contains(d, "-replace=<address>") {
		t.Fatalf("detail %s", d)
	}

	// The next refreshes read them again; the third read in a row without the message takes
	// it as gone.
	m.MaxFailedDevices = types.Int64Value(5)
	for refresh := 2; refresh <= 3; refresh++ {
		*requests = 0
		diags = nil
		m.refreshPending(t.Context(), c, &fp, &diags)
		if *requests != 5 || diags.HasError() {
			t.Fatalf("refresh %d: %d reads, %v; want asleep, evicted, removed and flaky (retried once)", refresh,
				*requests, diags)
		}
	}
	if got := strings.Join(fp.Unreadable, ","); got != "evicted,removed" || fp.NotFound != nil {
		t.Fatalf("unreadable %q, not found %v", got, fp.NotFound)
	}
	if diags[0].Summary() != summaryFleetMessageGone {
		t.Fatalf("diagnostics %v", diags)
	}

	// Then a refresh reads only what may still change: not the devices IoTDA no longer has.
	*requests = 0
	diags = nil
	m.refreshPending(t.Context(), c, &fp, &diags)
	if *requests != 3 || diags.HasError() {
		t.Fatalf("%d reads, %v; want asleep and flaky (retried once) read again", *requests, diags)
	}
}

// TestCountNotFound: a device whose message is found again starts counting afresh, so one
// answer without it (a broken proxy's, a moment's) never stops following it.
func TestCountNotFound(t *testing.T) {
	var fp fleetPrivate
	for i := 1; i < goneAfterReads; i++ {
		if gone, notYet := fp.countNotFound(nil, []string{"d1"}); gone != nil || len(notYet) != 1 {
			t.Fatalf("read %d: gone %v, not yet %v", i, gone, notYet)
		}
	}
	fp.countNotFound([]string{"d1"}, nil)
	if fp.NotFound != nil {
		t.Fatalf("found again, yet counted: %v", fp.NotFound)
	}
	for i := 1; i <= goneAfterReads; i++ {
		gone, _ := fp.countNotFound(nil, []string{"d1"})
		if (i == goneAfterReads) != (len(gone) == 1) {
			t.Fatalf("read %d: gone %v", i, gone)
		}
	}
}
