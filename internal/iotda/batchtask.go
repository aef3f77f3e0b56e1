package iotda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The batch task API (iotda-batchtask-facts.md): POST, GET and DELETE on
// /v5/iot/{project_id}/batchtasks[/{task_id}]. The platform runs a task's subtasks itself; for
// task type createCommands each subtask is one synchronous command to one device.

// Task types of the fleet resources.
const (
	// TaskTypeCreateCommands delivers a synchronous command to every target.
	TaskTypeCreateCommands = "createCommands"
	// TaskTypeCreateMessages sends a device message to every target: its document is one
	// CreateMessage body (MessageDocument; iotda-messages-facts.md §5).
	TaskTypeCreateMessages = "createMessages"
)

// Task statuses, spelled as the platform spells them ("Waitting" has two t's; facts §3).
const (
	TaskInitializing   = "Initializing"
	TaskWaitting       = "Waitting"
	TaskProcessing     = "Processing"
	TaskSuccess        = "Success"
	TaskFail           = "Fail"
	TaskPartialSuccess = "PartialSuccess"
	TaskStopping       = "Stopping"
	TaskStopped        = "Stopped"
)

// Subtask statuses besides the shared Waitting, Processing, Success, Fail and Stopped (facts §3).
const (
	SubtaskFailWaitRetry = "FailWaitRetry"
	SubtaskRemoved       = "Removed"
)

// TaskFinished reports whether a task status is terminal: the task will not change any more and
// may be deleted (Success, Fail, PartialSuccess, Stopped; DeleteBatchTask.html).
func TaskFinished(status string) bool {
	switch status {
	case TaskSuccess, TaskFail, TaskPartialSuccess, TaskStopped:
		return true
	}
	return false
}

const (
	// detailPageLimit is the largest page ShowBatchTask allows (facts §4).
	detailPageLimit = 50
	// createTimeLayout is the platform's yyyyMMdd'T'HHmmss'Z' (facts §3).
	createTimeLayout = "20060102T150405Z"
)

// maxBatchPageBytes bounds the bytes of one page of a batch task answer. A page of
// task_details holds up to 50 subtasks, each with the device's reply in its output, and every
// page echoes the task's targets (up to 30,000 ids) and document; pages are read as they
// arrive and only what is needed is kept (batchtask_stream.go), so this bounds the time a page
// that never ends can take, not the memory. A variable so that tests can lower it.
var maxBatchPageBytes int64 = 64 << 20

// Bounds of what is kept of one answer's strings, in bytes of their JSON text: ids and
// names, messages, one subtask's output (a device's reply, which MQTT bounds at 1 MB), a
// task's document.
const (
	maxNameText     = 1024
	maxMessageText  = 4096
	maxOutputText   = 2 << 20
	maxDocumentText = 4 << 20
)

// NewBatchTask is a CreateBatchTask request (the SDK's CreateBatchTask model).
type NewBatchTask struct {
	// TaskName is required: at most 128 letters, digits, underscores or Chinese characters.
	TaskName string
	// TaskType defaults to TaskTypeCreateCommands.
	TaskType string
	// AppID is the resource space; the default space when empty.
	AppID string
	// Targets are device ids (at most 30,000). GroupIDs, sent as targets_filter.group_ids,
	// are used when Targets is empty: the platform takes targets first (facts §2).
	Targets  []string
	GroupIDs []string
	// Document is sent compacted, its strings and numbers exactly as written; for
	// createCommands build it with CommandDocument.
	Document json.RawMessage
	// Policy is the optional task_policy.
	Policy *TaskPolicy
}

// TaskPolicy is a task's task_policy. RetryCount (at most 5) and RetryInterval (minutes, at
// most 1440) go together; ScheduleTime (yyyyMMdd'T'HHmmss'Z', within 7 days) is optional.
type TaskPolicy struct {
	ScheduleTime  string `json:"schedule_time,omitempty"`
	RetryCount    *int32 `json:"retry_count,omitempty"`
	RetryInterval *int32 `json:"retry_interval,omitempty"`
}

// BatchTask is a task as the platform reports it (the SDK's Task model).
type BatchTask struct {
	TaskID   string
	TaskName string
	TaskType string
	// Targets are the task's device ids, kept only by ShowBatchTaskDefinition (and
	// CreateBatchTask); TargetCount is how many the answer listed, always counted.
	Targets     []string
	TargetCount int
	// GroupIDs is targets_filter.group_ids.
	GroupIDs []string
	// Document is the task's document exactly as received, kept only by
	// ShowBatchTaskDefinition and CreateBatchTask; nil when absent or not kept.
	Document   json.RawMessage
	Policy     *TaskPolicy
	Status     string
	StatusDesc string
	Progress   TaskProgress
	// CreateTime is the platform's create_time as sent; CreatedAt the same parsed (zero when
	// absent or not in the documented format).
	CreateTime string
	CreatedAt  time.Time
}

// TaskProgress counts subtasks per status. A counter the platform omits is 0.
type TaskProgress struct {
	Total         int `json:"total"`
	Processing    int `json:"processing"`
	Success       int `json:"success"`
	Fail          int `json:"fail"`
	Waitting      int `json:"waitting"`
	FailWaitRetry int `json:"fail_wait_retry"`
	Stopped       int `json:"stopped"`
	Removed       int `json:"removed"`
}

// Subtask is one task_details record: one target of the task.
type Subtask struct {
	// Target is the device id.
	Target string
	Status string
	// Output is the subtask's output, a string on the wire (facts §3); for createCommands
	// it is the device's reply or the command's answer, as text; for createMessages most
	// likely the CreateMessage answer (MessageOutput reads it). A credential of the client
	// that a device echoed in it is replaced by "***" (Redaction), and Redacted names the
	// attributes whose values were (AttrAuthToken, ...; nil when none).
	Output   string
	Redacted []string
	// ErrorCode and ErrorMsg are the subtask's error, when it failed.
	ErrorCode, ErrorMsg string
}

// CreateBatchTask creates a batch task: POST {endpoint}/v5/iot/{project_id}/batchtasks.
//
// Like CreateCommand it is never retried once it may have reached the platform, because a
// second task would deliver every command again. Errors:
//   - *APIError: the platform refused it with a 4xx, or a 3xx redirect (answered by a proxy or
//     gateway in front of IoTDA, which did not pass the request on); no task was created.
//   - *NotSentError: the request provably never left; no task was created.
//   - *DeliveryUnknownError: the task may exist. Every other outcome: a 5xx answer (its
//     *APIError is wrapped, so errors.As finds it), a gateway's HTML error page, a connection
//     lost or a timeout after the request was written, a 2xx answer without a usable task (no
//     task_id, another task's name, a body that cannot be read). Find the task with
//     FindBatchTasks by its name rather than sending it again.
func (c *Client) CreateBatchTask(ctx context.Context, t NewBatchTask) (*BatchTask, error) {
	body, err := batchTaskBody(t)
	if err != nil {
		return nil, err
	}
	var task BatchTask
	decode := func(r io.Reader) error {
		task = BatchTask{}
		s := newPageScanner(r, maxBatchPageBytes)
		if err := s.task(&task, true, c.secrets); err != nil {
			return err
		}
		return s.end()
	}
	r, err := c.do(ctx, request{method: http.MethodPost, target: c.apiURL("batchtasks").String(), body: body,
		effect: effectBatchTask, decode: decode})
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.StatusCode >= 500 {
		return nil, &DeliveryUnknownError{Err: apiErr, RequestID: apiErr.RequestID, host: c.host, effect: effectBatchTask}
	}
	if err != nil {
		return nil, err
	}
	unknown := func(why string) error {
		return &DeliveryUnknownError{Err: errors.New(why), RequestID: r.requestID, host: c.host, effect: effectBatchTask}
	}
	status := "the HTTP " + strconv.Itoa(r.status) + " answer"
	switch {
	case r.readErr != nil:
		return nil, unknown(status + " could not be read: " + sanitize(r.readErr.Error(), c.secrets))
	case task.TaskID == "":
		return nil, unknown(status + " has no task_id")
	case !taskIDPattern.MatchString(task.TaskID):
		return nil, unknown(status + " has a task_id that is not a batch task id: " + sanitize(strconv.Quote(task.TaskID), c.secrets))
	case task.TaskName != "" && task.TaskName != t.TaskName:
		return nil, unknown(fmt.Sprintf("%s names task %s %q, not %q", status, task.TaskID,
			sanitize(task.TaskName, c.secrets), t.TaskName))
	}
	return &task, nil
}

// batchTaskBody renders the request body. Document is compacted, never decoded, so its
// numbers keep every digit.
func batchTaskBody(t NewBatchTask) ([]byte, error) {
	if t.TaskName == "" {
		return nil, errors.New("iotda: task name is required")
	}
	if len(t.Targets) == 0 && len(t.GroupIDs) == 0 {
		return nil, errors.New("iotda: a batch task needs targets or group ids")
	}
	if len(t.Document) > 0 && !json.Valid(t.Document) {
		return nil, errors.New("iotda: the task document is not valid JSON")
	}
	w := struct {
		AppID         string              `json:"app_id,omitempty"`
		TaskName      string              `json:"task_name"`
		TaskType      string              `json:"task_type"`
		Targets       []string            `json:"targets,omitempty"`
		TargetsFilter map[string][]string `json:"targets_filter,omitempty"`
		Document      json.RawMessage     `json:"document,omitempty"`
		TaskPolicy    *TaskPolicy         `json:"task_policy,omitempty"`
	}{AppID: t.AppID, TaskName: t.TaskName, TaskType: t.TaskType, Targets: t.Targets, Document: t.Document,
		TaskPolicy: t.Policy}
	if w.TaskType == "" {
		w.TaskType = TaskTypeCreateCommands
	}
	if len(t.Targets) == 0 {
		w.TargetsFilter = map[string][]string{"group_ids": t.GroupIDs}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as the SDK's encoder, and so that paras reach devices as written
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// DeleteBatchTask deletes a finished task: DELETE {endpoint}/v5/iot/{project_id}/batchtasks/{task_id}
// (204). The platform refuses a task that has not finished (403, facts §1). Errors as
// ShowBatchTask; errors.Is(err, ErrNotFound) when the task does not exist (or was deleted by
// an earlier attempt whose answer was lost).
func (c *Client) DeleteBatchTask(ctx context.Context, taskID string) error {
	if err := checkTaskID(taskID); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: http.MethodDelete, target: c.apiURL("batchtasks", taskID).String(), effect: effectNone})
	return err
}

// taskIDPattern is the platform's rule for task ids: at most 24 of a-f and 0-9 (facts §3).
var taskIDPattern = regexp.MustCompile(`^[a-f0-9]{1,24}$`)

// checkTaskID refuses an id that cannot name a task in a path.
func checkTaskID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("iotda: %q is not a batch task id", id)
	}
	return nil
}

// apiURL is {endpoint}/v5/iot/{project_id}/ followed by the escaped segments.
func (c *Client) apiURL(segments ...string) *url.URL {
	u := *c.base
	path, raw := c.base.Path+"/v5/iot/"+c.projectID, c.base.EscapedPath()+"/v5/iot/"+url.PathEscape(c.projectID)
	for _, s := range segments {
		path += "/" + s
		raw += "/" + url.PathEscape(s)
	}
	u.Path, u.RawPath = path, raw
	return &u
}
