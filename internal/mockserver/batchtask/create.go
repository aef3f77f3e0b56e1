package batchtask

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"
)

// Limits of CreateBatchTask (facts §2 and §6).
const (
	MaxTargets       = 30000
	maxTaskName      = 128
	maxAppID         = 36
	maxRetryCount    = 5
	maxRetryInterval = 1440 // minutes
	maxScheduleAhead = 7 * 24 * time.Hour
	maxServiceID     = 64
	maxCommandName   = 128
	// ScheduleLayout is the platform's yyyyMMdd'T'HHmmss'Z'.
	ScheduleLayout = "20060102T150405Z"
)

// TaskTypes are the task types the platform knows (facts §2). The mock runs createCommands,
// and createMessages when it has a message service (Config.Messages); the others are refused
// with a message saying so.
var TaskTypes = []string{"softwareUpgrade", "firmwareUpgrade", "moduleUpgrade", "createDevices", "deleteDevices",
	"freezeDevices", "unfreezeDevices", TaskTypeCreateCommands, "createAsyncCommands", "createMessages",
	"updateDeviceShadows", "updateDevices"}

// Task types the mock runs.
const (
	// TaskTypeCreateCommands delivers a synchronous command to every target.
	TaskTypeCreateCommands = "createCommands"
	// TaskTypeCreateMessages sends a device message to every target (iotda-messages-facts.md §5).
	TaskTypeCreateMessages = "createMessages"
)

var (
	// taskNamePattern: Chinese characters, letters, digits and underscores (facts §2).
	taskNamePattern = regexp.MustCompile(`^[\p{Han}A-Za-z0-9_]+$`)
	// DeviceIDPattern is the platform's rule for device ids.
	DeviceIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
	appIDPattern    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,36}$`)
	// GroupIDPattern is the rule for device group ids: at most 36 hexadecimal characters
	// and hyphens (the SDK's ShowDeviceGroupRequest).
	GroupIDPattern = regexp.MustCompile(`^[0-9A-Fa-f-]{1,36}$`)
)

// createRequest is the CreateBatchTask body. Pointers tell absent from empty.
type createRequest struct {
	AppID          *string                    `json:"app_id"`
	TaskName       *string                    `json:"task_name"`
	TaskType       *string                    `json:"task_type"`
	TaskMode       *string                    `json:"task_mode"`
	NeedConfirm    *bool                      `json:"need_confirm"`
	TaskExtInfo    json.RawMessage            `json:"task_ext_info"`
	Targets        *[]string                  `json:"targets"`
	TargetsFilter  map[string]json.RawMessage `json:"targets_filter"`
	Document       json.RawMessage            `json:"document"`
	TaskPolicy     *Policy                    `json:"task_policy"`
	DocumentSource *string                    `json:"document_source"`
}

// document is a createCommands document: one synchronous command.
type document struct {
	ServiceID   *string         `json:"service_id"`
	CommandName *string         `json:"command_name"`
	Paras       json.RawMessage `json:"paras"`
}

// Create validates a CreateBatchTask body and starts the task. It returns the task as it is
// at creation (status Initializing, or Fail when its targets cannot be resolved), or the
// platform's 400 answer.
func (b *Backend) Create(body []byte) (Task, *Error) {
	req, err := decodeCreate(body, b.checkDocument)
	if err != nil {
		return Task{}, err
	}
	t, err := b.newTask(req)
	if err != nil {
		return Task{}, err
	}
	b.mu.Lock()
	if e := b.admitLocked(len(t.subtasks)); e != nil && !finished(t.status) {
		b.mu.Unlock()
		return Task{}, e
	}
	b.seq++
	t.id = fmt.Sprintf("%08x%016x", uint32(t.createdAt.Unix()), b.seq) //nolint:gosec // seconds fit 32 bits until 2106
	b.tasks[t.id] = t
	b.order = append(b.order, t.id)
	b.subtasks += len(t.subtasks)
	b.pruneLocked()
	b.mu.Unlock()

	t.mu.Lock()
	snap := t.snapshotLocked()
	t.mu.Unlock()
	b.cfg.OnEvent(Event{Kind: EventTaskCreated, TaskID: t.id, Status: snap.Status, Detail: createdDetail(snap)})
	if finished(snap.Status) {
		b.cfg.OnEvent(Event{Kind: EventTaskFinished, TaskID: t.id, Status: snap.Status})
		b.notifyFinished()
		return snap, nil
	}
	b.exec.start(t)
	return snap, nil
}

func createdDetail(t Task) json.RawMessage {
	d, err := json.Marshal(struct {
		TaskName string   `json:"task_name"`
		TaskType string   `json:"task_type"`
		Targets  int      `json:"targets"`
		GroupIDs []string `json:"group_ids,omitempty"`
	}{t.TaskName, t.TaskType, t.Progress.Total, t.GroupIDs})
	if err != nil {
		return nil
	}
	return d
}

// decodeCreate parses and checks the body in the platform's order: JSON, then each field;
// checkDoc checks the document of the task type.
func decodeCreate(body []byte, checkDoc func(taskType string, doc json.RawMessage) *Error) (*createRequest, *Error) {
	trimmed := bytes.TrimSpace(body)
	if !json.Valid(trimmed) {
		return nil, &Error{Status: 400, Code: CodeBadRequest,
			Msg: "Invalid input. Bad request, for more detail, refer to the error message. The request body is not valid JSON."}
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, invalid("The request body must be a JSON object.")
	}
	var req createRequest
	if err := json.Unmarshal(trimmed, &req); err != nil {
		return nil, invalid("A field has the wrong type: %s.", jsonFieldError(err))
	}
	if e := req.checkNames(); e != nil {
		return nil, e
	}
	if e := checkDoc(*req.TaskType, req.Document); e != nil {
		return nil, e
	}
	if e := req.checkTargets(); e != nil {
		return nil, e
	}
	if e := req.checkPolicy(); e != nil {
		return nil, e
	}
	return &req, nil
}

func jsonFieldError(err error) string {
	if te, ok := err.(*json.UnmarshalTypeError); ok { //nolint:errorlint // Unmarshal returns it unwrapped
		return fmt.Sprintf("%s must be %s, not a JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

func (r *createRequest) checkNames() *Error {
	switch {
	case r.TaskName == nil || *r.TaskName == "":
		return invalid("task_name is required.")
	case utf8.RuneCountInString(*r.TaskName) > maxTaskName:
		return invalid("task_name is longer than %d characters.", maxTaskName)
	case !taskNamePattern.MatchString(*r.TaskName):
		return invalid("task_name may contain only Chinese characters, letters, digits and underscores (_).")
	case r.TaskType == nil || *r.TaskType == "":
		return invalid("task_type is required.")
	case !slices.Contains(TaskTypes, *r.TaskType):
		return invalid("task_type %q is not a batch task type.", *r.TaskType)
	case *r.TaskType != TaskTypeCreateCommands && *r.TaskType != TaskTypeCreateMessages:
		return invalid("The mock runs only createCommands and createMessages tasks, not %s.", *r.TaskType)
	case r.AppID != nil && (len(*r.AppID) > maxAppID || !appIDPattern.MatchString(*r.AppID)):
		return invalid("app_id must be 1 to %d letters, digits, underscores or hyphens.", maxAppID)
	case r.TaskMode != nil || r.NeedConfirm != nil || len(r.TaskExtInfo) > 0:
		return invalid("task_mode, need_confirm and task_ext_info apply to upgrade tasks only.")
	case r.DocumentSource != nil && r.Targets == nil && r.TargetsFilter == nil:
		return invalid("document_source is not supported for %s; use targets or targets_filter.", *r.TaskType)
	}
	return nil
}

// checkDocument checks a task's document with the rules of its task type.
func (b *Backend) checkDocument(taskType string, raw json.RawMessage) *Error {
	if taskType == TaskTypeCreateMessages {
		return b.checkMessageDocument(raw)
	}
	return checkCommandDocument(raw)
}

// checkMessageDocument checks a createMessages document with the rules of a CreateMessage
// body, through the message service (the document holds one, facts §5). The platform's
// example document sets both topic and topic_full_name, which the single-device API refuses;
// which one the platform takes is UNCONFIRMED, and the mock refuses both, as for one device.
func (b *Backend) checkMessageDocument(raw json.RawMessage) *Error {
	if b.cfg.Messages == nil {
		return invalid("The mock runs createMessages tasks only with its device message service.")
	}
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return invalid("document is required for createMessages: a message as CreateMessage takes it, such as " +
			"{\"message_id\",\"name\",\"message\"}.")
	case raw[0] != '{':
		return invalid("document must be a JSON object.")
	}
	if err := b.cfg.Messages.CheckMessage(raw); err != nil {
		return invalid("document is not a valid message: %v", err)
	}
	return nil
}

// checkCommandDocument checks a createCommands document with the synchronous command's rules
// (the document holds one CreateCommand body, facts §2).
func checkCommandDocument(raw json.RawMessage) *Error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return invalid("document is required for createCommands: {\"service_id\",\"command_name\",\"paras\"}.")
	}
	if raw[0] != '{' {
		return invalid("document must be a JSON object.")
	}
	var d document
	if err := json.Unmarshal(raw, &d); err != nil {
		return invalid("document.service_id and document.command_name must be strings.")
	}
	if p := bytes.TrimSpace(d.Paras); len(p) == 0 || p[0] != '{' {
		return invalid("document.paras is required and must be a JSON object.")
	}
	if d.ServiceID != nil && utf8.RuneCountInString(*d.ServiceID) > maxServiceID {
		return invalid("document.service_id is longer than %d characters.", maxServiceID)
	}
	if d.CommandName != nil && utf8.RuneCountInString(*d.CommandName) > maxCommandName {
		return invalid("document.command_name is longer than %d characters.", maxCommandName)
	}
	return nil
}

func (r *createRequest) checkTargets() *Error {
	if r.Targets != nil {
		// targets wins over targets_filter and document_source (facts §2).
		ts := *r.Targets
		switch {
		case len(ts) == 0:
			return invalid("targets must list at least one device.")
		case len(ts) > MaxTargets:
			return invalid("targets lists %d devices; at most %d are allowed.", len(ts), MaxTargets)
		}
		seen := make(map[string]struct{}, len(ts))
		for i, id := range ts {
			if !DeviceIDPattern.MatchString(id) {
				return invalid("targets[%d] is not a device id: 1 to 128 letters, digits, underscores or hyphens.", i)
			}
			// The platform's answer to a repeated target is not documented; the mock refuses
			// it rather than guess whether the device would get the command twice.
			if _, dup := seen[id]; dup {
				return invalid("targets lists device %s more than once.", id)
			}
			seen[id] = struct{}{}
		}
		return nil
	}
	if r.TargetsFilter == nil {
		// Not documented: the mock refuses a task with no targets at once.
		return invalid("A %s task needs targets or targets_filter.group_ids.", *r.TaskType)
	}
	for k := range r.TargetsFilter {
		if k != "group_ids" {
			return invalid("targets_filter supports only group_ids, not %s.", k)
		}
	}
	var groups []string
	if err := json.Unmarshal(r.TargetsFilter["group_ids"], &groups); err != nil || len(groups) == 0 {
		return invalid("targets_filter.group_ids must be a non-empty array of device group ids.")
	}
	for i, g := range groups {
		if !GroupIDPattern.MatchString(g) {
			return invalid("targets_filter.group_ids[%d] is not a group id: at most 36 hexadecimal characters and hyphens.", i)
		}
	}
	return nil
}

func (r *createRequest) checkPolicy() *Error {
	p := r.TaskPolicy
	if p == nil {
		return nil
	}
	if (p.RetryCount == nil) != (p.RetryInterval == nil) {
		return invalid("task_policy.retry_count and task_policy.retry_interval must be set together.")
	}
	if p.RetryCount != nil && (*p.RetryCount < 0 || *p.RetryCount > maxRetryCount) {
		return invalid("task_policy.retry_count must be 0 to %d.", maxRetryCount)
	}
	// The minimum is not documented; an interval of 0 minutes would retry at once, which the
	// mock refuses.
	if p.RetryInterval != nil && (*p.RetryInterval < 1 || *p.RetryInterval > maxRetryInterval) {
		return invalid("task_policy.retry_interval must be 1 to %d minutes.", maxRetryInterval)
	}
	if p.ScheduleTime != "" {
		if _, err := time.Parse(ScheduleLayout, p.ScheduleTime); err != nil {
			return invalid("task_policy.schedule_time must be in the format yyyyMMdd'T'HHmmss'Z'.")
		}
	}
	return nil
}

// newTask builds a task from a valid request, resolving group targets now. A group that does
// not exist or holds no device makes the task end at once in Fail with a status_desc and no
// subtasks, as the platform does for an unknown group (facts §6).
func (b *Backend) newTask(req *createRequest) (*task, *Error) {
	now := b.cfg.Now()
	t := &task{name: *req.TaskName, taskType: *req.TaskType, document: compactOrRaw(req.Document),
		policy: req.TaskPolicy, createdAt: now.UTC().Truncate(time.Second), status: StatusInitializing}
	if req.AppID != nil {
		t.appID = *req.AppID
	}
	if p := t.policy; p != nil && p.ScheduleTime != "" {
		at, _ := time.Parse(ScheduleLayout, p.ScheduleTime) // checked by checkPolicy
		if at.Before(now.Add(-time.Minute)) || at.After(now.Add(maxScheduleAhead)) {
			return nil, invalid("task_policy.schedule_time must be within the next 7 days.")
		}
	}
	if t.taskType == TaskTypeCreateCommands {
		var d document
		_ = json.Unmarshal(req.Document, &d) // checked by checkCommandDocument
		t.command = Command{Paras: d.Paras}
		if d.ServiceID != nil {
			t.command.ServiceID = *d.ServiceID
		}
		if d.CommandName != nil {
			t.command.CommandName = *d.CommandName
		}
	}
	var targets []string
	if req.Targets != nil {
		t.targets = *req.Targets
		targets = t.targets
	} else {
		_ = json.Unmarshal(req.TargetsFilter["group_ids"], &t.groupIDs) // checked by checkTargets
		var desc string
		targets, desc = b.resolveGroups(t.groupIDs)
		if desc != "" {
			t.status, t.statusDesc = StatusFail, desc
			return t, nil
		}
	}
	t.subtasks = make([]subtask, len(targets))
	for i, id := range targets {
		t.subtasks[i] = subtask{target: id, status: StatusWaitting}
	}
	t.progress = Progress{Total: len(targets), Waitting: len(targets)}
	t.remaining = len(targets)
	return t, nil
}

// resolveGroups returns the members of the groups, each device once, in group order; or why
// the task cannot run.
func (b *Backend) resolveGroups(groupIDs []string) ([]string, string) {
	var out []string
	seen := map[string]struct{}{}
	for _, g := range groupIDs {
		ids, ok := b.cfg.Devices.GroupMembers(g)
		if !ok {
			return nil, "The device group " + g + " does not exist."
		}
		for _, id := range ids {
			if _, dup := seen[id]; !dup {
				seen[id] = struct{}{}
				out = append(out, id)
			}
		}
	}
	switch {
	case len(out) == 0:
		return nil, "The device groups hold no devices."
	case len(out) > MaxTargets:
		return nil, fmt.Sprintf("The device groups hold %d devices; a task takes at most %d.", len(out), MaxTargets)
	}
	return out, ""
}

// compactOrRaw compacts valid JSON, keeping every number as written.
func compactOrRaw(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}
