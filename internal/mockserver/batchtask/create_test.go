package batchtask

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestCreate_AnswersTheTaskFlatWithTheDocumentAsSent(t *testing.T) {
	devs := newFakeDevices().online("d1", "d2")
	b, events := newBackend(t, devs, nil)
	raw := []byte(`{"task_name":"reboot_1","task_type":"createCommands","app_id":"space-1","targets":["d1","d2"],` +
		`"document":{"service_id":"S","command_name":"C","paras":{"big":12345678901234567890,"html":"<&>"}},` +
		`"task_policy":{"retry_count":1,"retry_interval":2}}`)
	r := b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json; charset=utf-8", raw)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var w map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &w); err != nil {
		t.Fatal(err)
	}
	var id string
	_ = json.Unmarshal(w["task_id"], &id)
	if !taskIDPattern.MatchString(id) || len(id) != 24 {
		t.Errorf("task_id %q is not 24 lowercase hex characters", id)
	}
	for k, want := range map[string]string{
		"task_name": `"reboot_1"`, "task_type": `"createCommands"`, "status": `"Initializing"`,
		"targets":     `["d1","d2"]`,
		"document":    `{"service_id":"S","command_name":"C","paras":{"big":12345678901234567890,"html":"<&>"}}`,
		"task_policy": `{"retry_count":1,"retry_interval":2}`,
	} {
		if string(w[k]) != want {
			t.Errorf("%s = %s, want %s", k, w[k], want)
		}
	}
	if _, ok := w["batchtask"]; ok {
		t.Error("Create must answer the task's fields at the top level, not wrapped")
	}
	var progress Progress
	_ = json.Unmarshal(w["task_progress"], &progress)
	if progress.Total != 2 || progress.Waitting != 2 {
		t.Errorf("task_progress %+v, want total 2, all waitting", progress)
	}
	if len(events.of(EventTaskCreated)) != 1 {
		t.Errorf("events %+v", events.of(EventTaskCreated))
	}
	task := wait(t, b, id)
	if task.AppID != "space-1" || task.Status != StatusSuccess {
		t.Errorf("task %+v", task)
	}
}

func TestCreate_TaskIDsIncrease(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online("d1"), nil)
	prev := ""
	for range 5 {
		id := create(t, b, body([]string{"d1"}, nil))
		if id <= prev {
			t.Fatalf("task id %s does not increase over %s", id, prev)
		}
		prev = id
	}
}

func TestCreate_RefusesInvalidBodies(t *testing.T) {
	tooMany := deviceIDs(MaxTargets + 1)
	long := strings.Repeat("x", 129)
	cases := map[string]struct {
		raw         []byte
		contentType string
		code, msg   string
	}{
		"not JSON":               {raw: []byte(`{"task_name":`), code: CodeBadRequest, msg: "not valid JSON"},
		"not an object":          {raw: []byte(`[1]`), code: CodeInvalidInput, msg: "must be a JSON object"},
		"form content type":      {raw: body([]string{"d1"}, nil), contentType: "application/x-www-form-urlencoded", code: CodeBadRequest, msg: "Content-Type"},
		"task_name missing":      {raw: body([]string{"d1"}, map[string]any{"task_name": nil}), code: CodeInvalidInput, msg: "task_name is required"},
		"task_name too long":     {raw: body([]string{"d1"}, map[string]any{"task_name": long}), msg: "longer than 128"},
		"task_name with hyphen":  {raw: body([]string{"d1"}, map[string]any{"task_name": "a-b"}), msg: "task_name may contain only"},
		"task_name of 129 Han":   {raw: body([]string{"d1"}, map[string]any{"task_name": strings.Repeat("任", 129)}), msg: "longer than 128"},
		"task_type missing":      {raw: body([]string{"d1"}, map[string]any{"task_type": nil}), msg: "task_type is required"},
		"task_type unknown":      {raw: body([]string{"d1"}, map[string]any{"task_type": "reboot"}), msg: "not a batch task type"},
		"task_type not run":      {raw: body([]string{"d1"}, map[string]any{"task_type": "createDevices"}), msg: "only createCommands and createMessages"},
		"task_name not a string": {raw: body([]string{"d1"}, map[string]any{"task_name": 5}), msg: "task_name must be string"},
		"app_id invalid":         {raw: body([]string{"d1"}, map[string]any{"app_id": "a b"}), msg: "app_id"},
		"upgrade-only field":     {raw: body([]string{"d1"}, map[string]any{"need_confirm": true}), msg: "upgrade tasks only"},
		"document missing":       {raw: body([]string{"d1"}, map[string]any{"document": nil}), msg: "document is required"},
		"document not object":    {raw: body([]string{"d1"}, map[string]any{"document": "x"}), msg: "document must be a JSON object"},
		"paras missing":          {raw: body([]string{"d1"}, map[string]any{"document": map[string]any{"service_id": "S"}}), msg: "paras is required"},
		"paras a list":           {raw: body([]string{"d1"}, map[string]any{"document": map[string]any{"paras": []int{1}}}), msg: "paras is required"},
		"service_id too long":    {raw: body([]string{"d1"}, map[string]any{"document": map[string]any{"service_id": strings.Repeat("s", 65), "paras": map[string]int{}}}), msg: "service_id is longer than 64"},
		"command_name too long":  {raw: body([]string{"d1"}, map[string]any{"document": map[string]any{"command_name": long, "paras": map[string]int{}}}), msg: "command_name is longer than 128"},
		"no targets":             {raw: body(nil, nil), msg: "needs targets"},
		"empty targets":          {raw: body([]string{}, nil), msg: "at least one device"},
		"too many targets":       {raw: body(tooMany, nil), msg: "at most 30000"},
		"invalid target":         {raw: body([]string{"d1", "d/2"}, nil), msg: "targets[1] is not a device id"},
		"duplicate target":       {raw: body([]string{"d1", "d1"}, nil), msg: "device d1 more than once"},
		"filter other key":       {raw: body(nil, map[string]any{"targets_filter": map[string]any{"product_id": "p"}}), msg: "supports only group_ids"},
		"filter empty groups":    {raw: body(nil, map[string]any{"targets_filter": map[string]any{"group_ids": []string{}}}), msg: "non-empty array"},
		"filter invalid group":   {raw: body(nil, map[string]any{"targets_filter": map[string]any{"group_ids": []string{"xyz!"}}}), msg: "group_ids[0] is not a group id"},
		"document_source only":   {raw: body(nil, map[string]any{"document_source": "file-1"}), msg: "document_source is not supported"},
		"retry_count alone":      {raw: body([]string{"d1"}, map[string]any{"task_policy": map[string]int{"retry_count": 1}}), msg: "set together"},
		"retry_count above 5":    {raw: body([]string{"d1"}, map[string]any{"task_policy": map[string]int{"retry_count": 6, "retry_interval": 1}}), msg: "retry_count must be 0 to 5"},
		"retry_interval 0":       {raw: body([]string{"d1"}, map[string]any{"task_policy": map[string]int{"retry_count": 1, "retry_interval": 0}}), msg: "retry_interval must be 1 to 1440"},
		"retry_interval 1441":    {raw: body([]string{"d1"}, map[string]any{"task_policy": map[string]int{"retry_count": 1, "retry_interval": 1441}}), msg: "retry_interval must be 1 to 1440"},
		"schedule_time format":   {raw: body([]string{"d1"}, map[string]any{"task_policy": map[string]string{"schedule_time": "2026-01-01"}}), msg: "yyyyMMdd"},
		"schedule_time far":      {raw: body([]string{"d1"}, map[string]any{"task_policy": map[string]string{"schedule_time": "20990101T000000Z"}}), msg: "within the next 7 days"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, events := newBackend(t, newFakeDevices(), nil)
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			r := b.Respond(http.MethodPost, []string{"batchtasks"}, nil, ct, c.raw)
			code := c.code
			if code == "" {
				code = CodeInvalidInput
			}
			if r.Status != http.StatusBadRequest || errorCode(t, r) != code {
				t.Fatalf("answer %d %s, want 400 %s", r.Status, r.Body, code)
			}
			mustContain(t, r, c.msg)
			if len(b.Tasks()) != 0 || len(events.of(EventTaskCreated)) != 0 {
				t.Fatal("a refused request created a task")
			}
		})
	}
}

func TestCreate_TargetsWinOverGroups(t *testing.T) {
	devs := newFakeDevices().online("d1", "g1")
	devs.groups["0a-1"] = []string{"g1"}
	b, _ := newBackend(t, devs, nil)
	id := create(t, b, body([]string{"d1"}, map[string]any{"targets_filter": map[string]any{"group_ids": []string{"0a-1"}}}))
	wait(t, b, id)
	subs, _ := b.Subtasks(id)
	if len(subs) != 1 || subs[0].Target != "d1" {
		t.Fatalf("subtasks %+v, want only d1: targets take precedence over targets_filter", subs)
	}
}

func TestCreate_GroupTargets(t *testing.T) {
	devs := newFakeDevices().online("a1", "a2", "b1")
	devs.groups["aaaa-1"] = []string{"a1", "a2"}
	devs.groups["bbbb-2"] = []string{"a2", "b1"}
	devs.groups["cccc-3"] = nil
	b, _ := newBackend(t, devs, nil)

	id := create(t, b, body(nil, map[string]any{"targets_filter": map[string]any{"group_ids": []string{"aaaa-1", "bbbb-2"}}}))
	task := wait(t, b, id)
	subs, _ := b.Subtasks(id)
	var got []string
	for _, s := range subs {
		got = append(got, s.Target)
	}
	if strings.Join(got, ",") != "a1,a2,b1" || task.Status != StatusSuccess || task.Progress.Total != 3 {
		t.Fatalf("targets %v (each device once, in group order), task %+v", got, task)
	}
	if len(task.GroupIDs) != 2 || task.Targets != nil {
		t.Errorf("task %+v: the groups are echoed, not the targets", task)
	}

	for name, groups := range map[string][]string{"unknown": {"aaaa-1", "dddd-4"}, "empty": {"cccc-3"}} {
		id := create(t, b, body(nil, map[string]any{"targets_filter": map[string]any{"group_ids": groups}}))
		task, _ := b.Get(id)
		subs, _ := b.Subtasks(id)
		if task.Status != StatusFail || task.StatusDesc == "" || len(subs) != 0 || task.Progress.Total != 0 {
			t.Errorf("%s group: task %+v, %d subtasks; want Fail at once with a status_desc and none", name, task, len(subs))
		}
	}
}
