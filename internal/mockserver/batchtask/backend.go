// Package batchtask is the IoTDA mock's batch task engine: the tasks, their rules and an
// executor that runs each subtask through the mock's device side. It follows the split the
// trusted cloud fakes use (moto's models.py and responses.py):
//
//   - the Backend (backend.go, create.go, executor.go) owns the tasks and the rules: what a
//     valid task is, how a subtask moves from Waitting to Success or Fail, how retries and
//     the task's status follow;
//   - responses.go turns an authenticated HTTP request into Backend calls and Backend results
//     into the platform's exact bodies and errors.
//
// The mockserver package authenticates requests, journals them, and implements the seams
// through which the executor reaches devices: Devices delivers a createCommands subtask's
// command through the same path as the synchronous command API, so simulated and real
// devices answer batch tasks alike, and Messages creates a createMessages subtask's message
// through the device message service, which caches it for a device that is offline.
//
// Platform facts come from iotda-batchtask-facts.md; where the platform's behaviour is not
// documented, the choice made here is said in the comment of the code that makes it.
package batchtask

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultPlatformTimeout = 20 * time.Second
	DefaultConcurrency     = 200
	DefaultMaxTasks        = 1000
	// DefaultMaxSubtasks keeps ten tasks of 30,000 devices, about 100 MB.
	DefaultMaxSubtasks     = 300000
	DefaultMaxRunningTasks = 100
)

// Command is one subtask's command on its way to a device.
type Command struct {
	DeviceID    string
	CommandID   string
	ServiceID   string
	CommandName string
	Paras       json.RawMessage
}

// Outcome is what became of one delivery, in the platform's terms.
type Outcome struct {
	// Output is the subtask's output text when the subtask succeeded: for a command, the
	// synchronous API's 200 body for the device's reply (the README's reply rules); for a
	// message, CreateMessage's 201 body.
	Output string
	// ErrorCode and ErrorMsg are set when the subtask failed (for a command: the device
	// offline, unknown or silent; for a message: the device unknown, the message refused);
	// Output is then empty.
	ErrorCode, ErrorMsg string
	// MessageID is the id of the message a createMessages subtask created, for the journal.
	MessageID string
}

// Devices is the seam to the device side.
type Devices interface {
	// Deliver sends cmd to its device and waits for the reply until ctx ends. ctx carries
	// the platform timeout.
	Deliver(ctx context.Context, cmd Command) Outcome
	// GroupMembers returns the ids of the devices in a group; ok is false when there is no
	// such group.
	GroupMembers(groupID string) (ids []string, ok bool)
}

// Messages is the seam to the device message service, for createMessages tasks. Their
// document is one CreateMessage body ("参考下发设备消息", see Deliver Message:
// iotda-messages-facts.md §5), created for each target as the single-device API creates it.
type Messages interface {
	// CheckMessage checks a createMessages document with the rules of a CreateMessage body;
	// nil when it is valid, else why not, which the create's 400 answer quotes.
	CheckMessage(document json.RawMessage) error
	// SendMessage creates document's message for one device, as CreateMessage does: the
	// service delivers it at once when the device is online and caches it (PENDING) when
	// not. Output is then the 201 answer; a refusal (an unknown device, a message id the
	// device already has) is the error code and message of the error answer.
	SendMessage(ctx context.Context, deviceID string, document json.RawMessage) Outcome
}

// Event kinds reported to Config.OnEvent.
const (
	// EventTaskCreated: a task was accepted (Status is its first status).
	EventTaskCreated = "batch_task"
	// EventSubtask: one delivery attempt of a subtask ended (Status Success, Fail or
	// FailWaitRetry).
	EventSubtask = "batch_subtask"
	// EventTaskFinished: a task reached a terminal status.
	EventTaskFinished = "batch_task_done"
	// EventTaskDeleted: a task was deleted.
	EventTaskDeleted = "batch_task_deleted"
)

// Event is something the backend did, for the mock's journal.
type Event struct {
	Kind      string
	TaskID    string
	DeviceID  string
	CommandID string
	// MessageID is the message a createMessages subtask created.
	MessageID string
	Status    string
	ErrorCode string
	// Detail is a short JSON summary (a created task's name, type and target count).
	Detail json.RawMessage
}

// Config configures a Backend. Devices is required; every other field has a default.
type Config struct {
	Devices Devices
	// Messages runs createMessages tasks; without it they are refused.
	Messages Messages
	// PlatformTimeout is how long a subtask waits for the device's reply (20 s).
	PlatformTimeout time.Duration
	// Concurrency is how many subtasks, across all tasks, are delivered at once.
	Concurrency int
	// TimeScale multiplies task_policy.retry_interval (minutes), so that tests can retry in
	// milliseconds: 0.001 makes a minute 60 ms. Default 1.
	TimeScale float64
	// MaxTasks is how many tasks are kept, and MaxSubtasks how many subtasks (targets) all
	// of them hold together; beyond either, the oldest finished tasks are dropped, so that a
	// long-running mock does not grow without bound. A task of 30,000 devices holds about
	// 10 MB.
	MaxTasks    int
	MaxSubtasks int
	// MaxRunningTasks is how many tasks may be unfinished at once (running, or waiting for
	// their schedule_time): a create beyond it, or one whose targets would take the unfinished
	// tasks' subtasks past MaxSubtasks, is refused (403 CodeTooManyTasks), since unfinished
	// tasks cannot be dropped.
	MaxRunningTasks int
	// Now is the clock for task ids and create_time. Default time.Now.
	Now func() time.Time
	// NewCommandID returns a fresh command id. Required.
	NewCommandID func() string
	// OnEvent, when set, is told of every event. It must not block.
	OnEvent func(Event)
}

// Backend holds the batch tasks of one mock platform.
type Backend struct {
	cfg  Config
	exec *executor

	mu    sync.Mutex
	tasks map[string]*task
	// order holds the task ids in creation order, which is also ascending id order.
	order []string
	// subtasks counts the subtasks of the tasks kept.
	subtasks int
	seq      uint64
	// changed is closed and replaced whenever a task reaches a terminal status.
	changed chan struct{}
}

// New returns a Backend whose executor runs until Close.
func New(cfg Config) *Backend {
	if cfg.PlatformTimeout <= 0 {
		cfg.PlatformTimeout = DefaultPlatformTimeout
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.TimeScale <= 0 || math.IsNaN(cfg.TimeScale) || math.IsInf(cfg.TimeScale, 0) {
		cfg.TimeScale = 1
	}
	if cfg.MaxTasks <= 0 {
		cfg.MaxTasks = DefaultMaxTasks
	}
	if cfg.MaxSubtasks <= 0 {
		cfg.MaxSubtasks = DefaultMaxSubtasks
	}
	if cfg.MaxRunningTasks <= 0 {
		cfg.MaxRunningTasks = DefaultMaxRunningTasks
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(Event) {}
	}
	b := &Backend{cfg: cfg, tasks: make(map[string]*task), changed: make(chan struct{})}
	b.exec = newExecutor(b)
	return b
}

// Close stops the executor: running subtasks are abandoned (their tasks stay unfinished) and
// every worker has returned when Close does.
func (b *Backend) Close() { b.exec.close() }

// Task statuses and subtask statuses (facts §3), spelled as the platform spells them.
const (
	StatusInitializing   = "Initializing"
	StatusWaitting       = "Waitting"
	StatusProcessing     = "Processing"
	StatusSuccess        = "Success"
	StatusFail           = "Fail"
	StatusPartialSuccess = "PartialSuccess"
	StatusStopping       = "Stopping"
	StatusStopped        = "Stopped"
	StatusFailWaitRetry  = "FailWaitRetry"
	StatusRemoved        = "Removed"
)

// finished reports whether a task status is terminal.
func finished(status string) bool {
	switch status {
	case StatusSuccess, StatusFail, StatusPartialSuccess, StatusStopped:
		return true
	}
	return false
}

// task is one batch task. Its fields below mu change while it runs.
type task struct {
	id        string
	name      string
	taskType  string
	appID     string
	targets   []string // as sent, nil for a group task
	groupIDs  []string
	document  json.RawMessage
	policy    *Policy
	command   Command // the document as a command, without device and command id
	createdAt time.Time

	mu         sync.Mutex
	status     string
	statusDesc string
	subtasks   []subtask // in target order; record id len-i, so the first target is newest
	progress   Progress
	remaining  int // subtasks not yet Success or Fail
}

// subtask is one target of a task.
type subtask struct {
	target    string
	status    string
	output    string
	errCode   string
	errMsg    string
	commandID string
	messageID string
	attempts  int
}

// Policy is a task's task_policy.
type Policy struct {
	ScheduleTime  string `json:"schedule_time,omitempty"`
	RetryCount    *int   `json:"retry_count,omitempty"`
	RetryInterval *int   `json:"retry_interval,omitempty"`
}

// Progress counts subtasks per status; the JSON names are the platform's.
type Progress struct {
	Total         int `json:"total"`
	Processing    int `json:"processing"`
	Success       int `json:"success"`
	Fail          int `json:"fail"`
	Waitting      int `json:"waitting"`
	FailWaitRetry int `json:"fail_wait_retry"`
	Stopped       int `json:"stopped"`
	Removed       int `json:"removed"`
}

// counter returns the progress counter of a subtask status.
func (p *Progress) counter(status string) *int {
	switch status {
	case StatusProcessing:
		return &p.Processing
	case StatusSuccess:
		return &p.Success
	case StatusFail:
		return &p.Fail
	case StatusWaitting:
		return &p.Waitting
	case StatusFailWaitRetry:
		return &p.FailWaitRetry
	case StatusStopped:
		return &p.Stopped
	case StatusRemoved:
		return &p.Removed
	}
	return nil
}

// setStatusLocked moves subtask i to status, keeping the counters. t.mu must be held.
func (t *task) setStatusLocked(i int, status string) {
	st := &t.subtasks[i]
	if c := t.progress.counter(st.status); c != nil {
		*c--
	}
	if c := t.progress.counter(status); c != nil {
		*c++
	}
	st.status = status
}

// Task is a snapshot of a task, as the API shows it.
type Task struct {
	TaskID     string
	TaskName   string
	TaskType   string
	AppID      string
	Targets    []string
	GroupIDs   []string
	Document   json.RawMessage
	Policy     *Policy
	Status     string
	StatusDesc string
	Progress   Progress
	CreatedAt  time.Time
}

// Subtask is a snapshot of one subtask, as the API shows it.
type Subtask struct {
	// RecordID is the subtask's 24-hex record id, the marker of the page it ends.
	RecordID  string
	Target    string
	Status    string
	Output    string
	ErrorCode string
	ErrorMsg  string
	// CommandID is the id of the last command delivered for it, and MessageID of the message
	// created for it (neither is part of the API).
	CommandID string
	MessageID string
}

func (t *task) snapshotLocked() Task {
	return Task{TaskID: t.id, TaskName: t.name, TaskType: t.taskType, AppID: t.appID, Targets: t.targets,
		GroupIDs: t.groupIDs, Document: t.document, Policy: t.policy, Status: t.status, StatusDesc: t.statusDesc,
		Progress: t.progress, CreatedAt: t.createdAt}
}

// recordID is the record id of subtask i of n: n-i, so that records sorted by descending id
// (the platform's order, facts §4) come in target order.
func recordID(n, i int) string { return fmt.Sprintf("%024x", n-i) }

// Error is a refusal in the platform's terms.
type Error struct {
	Status int
	Code   string
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg) }

// Error codes. IOTDA.000006, IOTDA.000008 and IOTDA.000017 are the platform's documented
// common codes (facts §6). The codes for an unknown task, a task that cannot be deleted yet
// and an operation a task type does not support are not documented; the mock's choices are
// below, and clients should rely on the HTTP status alone.
const (
	CodeInvalidInput  = "IOTDA.000006"
	CodeBadRequest    = "IOTDA.000008"
	CodeLimitRange    = "IOTDA.000017"
	CodeTaskNotFound  = "IOTDA.016404"
	CodeTaskRunning   = "IOTDA.016403"
	CodeNotApplicable = "IOTDA.016400"
	// CodeTooManyTasks refuses a task beyond Config.MaxRunningTasks or MaxSubtasks. How many
	// tasks the platform runs at once per tenant is not documented (facts §6).
	CodeTooManyTasks = "IOTDA.016429"

	msgInvalidInput = "Invalid input data."
)

func invalid(format string, args ...any) *Error {
	return &Error{Status: 400, Code: CodeInvalidInput, Msg: msgInvalidInput + " " + fmt.Sprintf(format, args...)}
}

func notFound(id string) *Error {
	return &Error{Status: 404, Code: CodeTaskNotFound, Msg: "The batch task does not exist. task_id: " + id}
}

// Get returns a snapshot of a task.
func (b *Backend) Get(taskID string) (Task, bool) {
	t := b.task(taskID)
	if t == nil {
		return Task{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.snapshotLocked(), true
}

func (b *Backend) task(id string) *task {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tasks[id]
}

// Subtasks returns a snapshot of every subtask of a task, in target order.
func (b *Backend) Subtasks(taskID string) ([]Subtask, bool) {
	t := b.task(taskID)
	if t == nil {
		return nil, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Subtask, len(t.subtasks))
	for i, st := range t.subtasks {
		out[i] = st.snapshot(len(t.subtasks), i)
	}
	return out, true
}

func (st *subtask) snapshot(n, i int) Subtask {
	return Subtask{RecordID: recordID(n, i), Target: st.target, Status: st.status, Output: st.output,
		ErrorCode: st.errCode, ErrorMsg: st.errMsg, CommandID: st.commandID, MessageID: st.messageID}
}

// Tasks returns snapshots of every task, oldest first.
func (b *Backend) Tasks() []Task {
	b.mu.Lock()
	ts := make([]*task, 0, len(b.order))
	for _, id := range b.order {
		ts = append(ts, b.tasks[id])
	}
	b.mu.Unlock()
	out := make([]Task, 0, len(ts))
	for _, t := range ts {
		t.mu.Lock()
		out = append(out, t.snapshotLocked())
		t.mu.Unlock()
	}
	return out
}

// Wait blocks until the task has a terminal status, or ctx ends. Tests use it instead of
// polling.
func (b *Backend) Wait(ctx context.Context, taskID string) (Task, error) {
	for {
		b.mu.Lock()
		t, changed := b.tasks[taskID], b.changed
		b.mu.Unlock()
		if t == nil {
			return Task{}, notFound(taskID)
		}
		t.mu.Lock()
		snap := t.snapshotLocked()
		t.mu.Unlock()
		if finished(snap.Status) {
			return snap, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return snap, ctx.Err()
		}
	}
}

// notifyFinished wakes Wait callers.
func (b *Backend) notifyFinished() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
}

// DetailQuery selects the subtasks ShowBatchTask returns (facts §4).
type DetailQuery struct {
	Status string
	Target string
	Limit  int
	Marker string
	Offset int
}

// Page is a page's count and marker.
type Page struct {
	Count  int64
	Marker string
}

// Show returns a task and one page of its subtasks. Records are ordered by descending record
// id; only those below q.Marker count, then q.Offset of them are skipped.
func (b *Backend) Show(taskID string, q DetailQuery) (Task, []Subtask, Page, *Error) {
	t := b.task(taskID)
	if t == nil {
		return Task{}, nil, Page{}, notFound(taskID)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.subtasks)
	match := func(st *subtask) bool {
		return (q.Status == "" || st.status == q.Status) && (q.Target == "" || st.target == q.Target)
	}
	var page Page
	if q.Status == "" && q.Target == "" {
		page.Count = int64(n)
	} else {
		for i := range t.subtasks {
			if match(&t.subtasks[i]) {
				page.Count++
			}
		}
	}
	// Record ids are n-i: the first record below marker m is index n-m+1... clamped to 0.
	start := 0
	if q.Marker != "" {
		m, ok := parseMarker(q.Marker)
		switch {
		case !ok:
			start = n
		case m <= uint64(n):
			start = n - int(m) + 1
		}
	}
	var out []Subtask
	skipped := 0
	for i := start; i < n && len(out) < q.Limit; i++ {
		st := &t.subtasks[i]
		if !match(st) {
			continue
		}
		if skipped < q.Offset {
			skipped++
			continue
		}
		out = append(out, st.snapshot(n, i))
	}
	if len(out) > 0 {
		page.Marker = out[len(out)-1].RecordID
	}
	return t.snapshotLocked(), out, page, nil
}

// parseMarker reads a 24-hex marker. Values above what uint64 holds (the default
// ffffffffffffffffffffffff among them) are above every record id.
func parseMarker(m string) (uint64, bool) {
	m = strings.TrimLeft(strings.ToLower(m), "0")
	if len(m) > 16 {
		return math.MaxUint64, true
	}
	var v uint64
	if m == "" {
		return 0, true
	}
	if _, err := fmt.Sscanf(m, "%x", &v); err != nil {
		return 0, false
	}
	return v, true
}

// ListQuery selects the tasks ListBatchTasks returns (facts §4).
type ListQuery struct {
	TaskType string
	AppID    string
	Status   string
	Limit    int
	Marker   string
	Offset   int
}

// List returns one page of tasks, newest (largest id) first. It snapshots the tasks of the
// page only; the tasks' targets are shared with the backend, not copied.
func (b *Backend) List(q ListQuery) ([]Task, Page) {
	b.mu.Lock()
	ts := make([]*task, len(b.order))
	for i, id := range b.order {
		ts[len(ts)-1-i] = b.tasks[id]
	}
	b.mu.Unlock()
	var page Page
	var out []Task
	skipped := 0
	for _, t := range ts {
		t.mu.Lock()
		match := t.taskType == q.TaskType && (q.AppID == "" || t.appID == q.AppID) && (q.Status == "" || t.status == q.Status)
		var snap Task
		if match && len(out) < q.Limit {
			snap = t.snapshotLocked()
		}
		t.mu.Unlock()
		if !match {
			continue
		}
		page.Count++
		if q.Marker != "" && strings.ToLower(t.id) >= strings.ToLower(q.Marker) {
			continue
		}
		if skipped < q.Offset {
			skipped++
			continue
		}
		if len(out) < q.Limit {
			out = append(out, snap)
		}
	}
	if len(out) > 0 {
		page.Marker = out[len(out)-1].TaskID
	}
	return out, page
}

// Delete removes a finished task. A task that has not finished is refused with 403 (facts §1:
// the status table lists 403; which code the platform uses is not documented).
func (b *Backend) Delete(taskID string) *Error {
	b.mu.Lock()
	t := b.tasks[taskID]
	if t == nil {
		b.mu.Unlock()
		return notFound(taskID)
	}
	t.mu.Lock()
	status := t.status
	t.mu.Unlock()
	if !finished(status) {
		b.mu.Unlock()
		return &Error{Status: 403, Code: CodeTaskRunning, Msg: "The batch task " + taskID + " is " + status +
			"; only a finished task (Success, Fail, PartialSuccess or Stopped) can be deleted."}
	}
	delete(b.tasks, taskID)
	b.order = slices.DeleteFunc(b.order, func(id string) bool { return id == taskID })
	b.subtasks -= len(t.subtasks)
	b.mu.Unlock()
	b.cfg.OnEvent(Event{Kind: EventTaskDeleted, TaskID: taskID, Status: status})
	return nil
}
