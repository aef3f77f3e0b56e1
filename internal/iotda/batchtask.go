package iotda

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The batch task API (iotda-batchtask-facts.md): POST, GET and DELETE on
// /v5/iot/{project_id}/batchtasks[/{task_id}]. The platform runs a task's subtasks itself; for
// task type createCommands each subtask is one synchronous command to one device.

// TaskTypeCreateCommands is the task type that delivers a synchronous command to every target.
const TaskTypeCreateCommands = "createCommands"

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
	// maxBatchPageBytes bounds one page of a batch task. A page holds up to 50 subtasks, each
	// with the device's reply in its output, so it may be much larger than a command's answer.
	maxBatchPageBytes = 64 << 20
	// maxSubtasks bounds how many subtasks ShowBatchTask reads: the platform's 30,000 targets
	// per task, with room for group targets. A platform that keeps paging past it is
	// misbehaving, and the loop must end.
	maxSubtasks = 1_000_000
	// maxListedTasks bounds how many tasks FindBatchTask reads, for the same reason.
	maxListedTasks = 1_000_000
	// createTimeLayout is the platform's yyyyMMdd'T'HHmmss'Z' (facts §3).
	createTimeLayout = "20060102T150405Z"
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
	Targets  []string
	// GroupIDs is targets_filter.group_ids.
	GroupIDs []string
	// Document is the task's document exactly as received; nil when absent.
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
	// it is the device's reply or the command's answer, as text.
	Output string
	// ErrorCode and ErrorMsg are the subtask's error, when it failed.
	ErrorCode, ErrorMsg string
}

// BatchTaskDetails is a task read whole: the task and every subtask.
type BatchTaskDetails struct {
	Task     BatchTask
	Subtasks []Subtask
	// Count is the number of subtasks the platform said there are (page.count).
	Count int64
	// RequestID is the X-Request-Id of the last page.
	RequestID string
}

// BatchTaskList is one page of ListBatchTasks.
type BatchTaskList struct {
	Tasks []BatchTask
	// Count is the number of tasks matching the query; Marker the id of the page's last task,
	// to pass as ListBatchTasksOptions.Marker for the next page.
	Count  int64
	Marker string
}

// ListBatchTasksOptions filters ListBatchTasks. TaskType defaults to TaskTypeCreateCommands
// (the platform requires one). Limit is 1-50 (default 10 on the platform), Offset 0-500.
type ListBatchTasksOptions struct {
	TaskType string
	AppID    string
	Status   string
	Limit    int
	Marker   string
	Offset   int
}

// CreateBatchTask creates a batch task: POST {endpoint}/v5/iot/{project_id}/batchtasks.
//
// Like CreateCommand it is never retried once it may have reached the platform, because a
// second task would deliver every command again. Errors: *APIError (the platform refused it),
// *NotSentError (provably not created) or *DeliveryUnknownError (perhaps created; find it with
// FindBatchTask by its name). A 2xx answer without a task_id is a *DeliveryUnknownError too.
func (c *Client) CreateBatchTask(ctx context.Context, t NewBatchTask) (*BatchTask, error) {
	body, err := batchTaskBody(t)
	if err != nil {
		return nil, err
	}
	r, err := c.do(ctx, request{method: http.MethodPost, target: c.apiURL("batchtasks").String(), body: body,
		effect: effectBatchTask})
	if err != nil {
		return nil, err
	}
	unknown := func(why string) error {
		return &DeliveryUnknownError{Err: errors.New(why), RequestID: r.requestID, host: c.host, effect: effectBatchTask}
	}
	if r.readErr != nil {
		return nil, unknown(r.readErr.Error())
	}
	var w wireTask
	if err := decodeObject(r.body, &w); err != nil {
		return nil, unknown("the HTTP " + http.StatusText(r.status) + " answer is not a valid JSON object: " +
			excerpt(r.body, c.secrets))
	}
	task := w.task(c.secrets)
	if task.TaskID == "" {
		return nil, unknown("the HTTP " + http.StatusText(r.status) + " answer has no task_id: " + excerpt(r.body, c.secrets))
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

// ShowBatchTask reads a task and every one of its subtasks: GET
// {endpoint}/v5/iot/{project_id}/batchtasks/{task_id}, 50 subtasks a page, each next page asked
// for with the previous page's marker (offset stays 0, so tasks of any size are read; the
// platform refuses offsets above 500, facts §4). The task is the one the last page reported.
//
// GETs are retried on more failures than POSTs (see do). Errors: *APIError (errors.Is
// ErrNotFound for an unknown task), *NotSentError, *DeliveryUnknownError (no usable answer), or
// an error saying the pages did not add up.
func (c *Client) ShowBatchTask(ctx context.Context, taskID string) (*BatchTaskDetails, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	out := &BatchTaskDetails{}
	marker := ""
	for {
		page, err := c.showPage(ctx, taskID, detailPageLimit, marker)
		if err != nil {
			return nil, err
		}
		out.Task, out.Count, out.RequestID = page.task, page.count, page.requestID
		out.Subtasks = append(out.Subtasks, page.details...)
		if len(page.details) < detailPageLimit {
			return out, nil
		}
		switch {
		case page.marker == "" || page.marker == marker:
			return nil, fmt.Errorf("iotda: reading the subtasks of batch task %s: page %d did not advance the "+
				"marker (%q), so the remaining subtasks cannot be read", taskID, len(out.Subtasks)/detailPageLimit, page.marker)
		case len(out.Subtasks) >= maxSubtasks:
			return nil, fmt.Errorf("iotda: batch task %s reports more than %d subtasks", taskID, maxSubtasks)
		}
		marker = page.marker
	}
}

// ShowBatchTaskSummary reads a task's status and progress with one request (a page of a
// single subtask, which it ignores). It is what a poll needs. Errors as ShowBatchTask.
func (c *Client) ShowBatchTaskSummary(ctx context.Context, taskID string) (*BatchTask, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	page, err := c.showPage(ctx, taskID, 1, "")
	if err != nil {
		return nil, err
	}
	return &page.task, nil
}

type showPage struct {
	task      BatchTask
	details   []Subtask
	count     int64
	marker    string
	requestID string
}

func (c *Client) showPage(ctx context.Context, taskID string, limit int, marker string) (*showPage, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if marker != "" {
		q.Set("marker", marker)
	}
	u := c.apiURL("batchtasks", taskID)
	u.RawQuery = q.Encode()
	r, err := c.do(ctx, request{method: http.MethodGet, target: u.String(), maxBody: maxBatchPageBytes, effect: effectNone})
	if err != nil {
		return nil, err
	}
	var w struct {
		Batchtask   *wireTask    `json:"batchtask"`
		TaskDetails []wireDetail `json:"task_details"`
		Page        wirePage     `json:"page"`
	}
	if err := decodeObject(r.body, &w); err != nil || w.Batchtask == nil {
		return nil, &DeliveryUnknownError{Err: errors.New("the answer to reading batch task " + taskID +
			" is not a task: " + excerpt(r.body, c.secrets)), RequestID: r.requestID, host: c.host, effect: effectNone}
	}
	p := &showPage{task: w.Batchtask.task(c.secrets), count: w.Page.Count, marker: w.Page.Marker, requestID: r.requestID}
	p.details = make([]Subtask, 0, len(w.TaskDetails))
	for _, d := range w.TaskDetails {
		p.details = append(p.details, d.subtask(c.secrets))
	}
	return p, nil
}

// ListBatchTasks reads one page of tasks, newest first: GET
// {endpoint}/v5/iot/{project_id}/batchtasks?task_type=... Errors as ShowBatchTask.
func (c *Client) ListBatchTasks(ctx context.Context, opts ListBatchTasksOptions) (*BatchTaskList, error) {
	q := url.Values{"task_type": {opts.TaskType}}
	if opts.TaskType == "" {
		q.Set("task_type", TaskTypeCreateCommands)
	}
	for k, v := range map[string]string{"app_id": opts.AppID, "status": opts.Status, "marker": opts.Marker} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	u := c.apiURL("batchtasks")
	u.RawQuery = q.Encode()
	r, err := c.do(ctx, request{method: http.MethodGet, target: u.String(), maxBody: maxBatchPageBytes, effect: effectNone})
	if err != nil {
		return nil, err
	}
	var w struct {
		Batchtasks []wireTask `json:"batchtasks"`
		Page       wirePage   `json:"page"`
	}
	if err := decodeObject(r.body, &w); err != nil {
		return nil, &DeliveryUnknownError{Err: errors.New("the answer to listing batch tasks is not valid: " +
			excerpt(r.body, c.secrets)), RequestID: r.requestID, host: c.host, effect: effectNone}
	}
	out := &BatchTaskList{Count: w.Page.Count, Marker: w.Page.Marker, Tasks: make([]BatchTask, 0, len(w.Batchtasks))}
	for _, t := range w.Batchtasks {
		out.Tasks = append(out.Tasks, t.task(c.secrets))
	}
	return out, nil
}

// FindBatchTask looks for the task of type taskType named name among the tasks created at or
// after since (by the platform's create_time), newest first, and returns it, or nil when there
// is none. It is how a caller whose CreateBatchTask ended without an answer learns whether the
// task exists: give every task a unique name and look for it. More than one match is an error,
// since the caller cannot tell which task is its own.
func (c *Client) FindBatchTask(ctx context.Context, taskType, name string, since time.Time) (*BatchTask, error) {
	var found *BatchTask
	opts := ListBatchTasksOptions{TaskType: taskType, Limit: detailPageLimit}
	for read := 0; read < maxListedTasks; {
		page, err := c.ListBatchTasks(ctx, opts)
		if err != nil {
			return nil, err
		}
		read += len(page.Tasks)
		for i := range page.Tasks {
			t := page.Tasks[i]
			if !t.CreatedAt.IsZero() && t.CreatedAt.Before(since) {
				return found, nil // Newest first: the rest are older still.
			}
			if t.TaskName != name {
				continue
			}
			if found != nil {
				return nil, fmt.Errorf("iotda: more than one batch task is named %q (%s and %s)", name, found.TaskID, t.TaskID)
			}
			found = &t
		}
		if len(page.Tasks) < detailPageLimit || page.Marker == "" || page.Marker == opts.Marker {
			return found, nil
		}
		opts.Marker = page.Marker
	}
	return found, nil
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

// decodeObject decodes a JSON object body into v, keeping numbers exact.
func decodeObject(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	return dec.Decode(v)
}

// wireTask is the Task model as it travels. Every field is optional on the wire.
type wireTask struct {
	TaskID        string                     `json:"task_id"`
	TaskName      string                     `json:"task_name"`
	TaskType      string                     `json:"task_type"`
	Targets       []string                   `json:"targets"`
	TargetsFilter map[string]json.RawMessage `json:"targets_filter"`
	Document      json.RawMessage            `json:"document"`
	TaskPolicy    *TaskPolicy                `json:"task_policy"`
	Status        string                     `json:"status"`
	StatusDesc    json.RawMessage            `json:"status_desc"`
	TaskProgress  *TaskProgress              `json:"task_progress"`
	CreateTime    string                     `json:"create_time"`
}

func (w wireTask) task(secrets []string) BatchTask {
	t := BatchTask{TaskID: w.TaskID, TaskName: w.TaskName, TaskType: w.TaskType, Targets: w.Targets,
		Policy: w.TaskPolicy, Status: w.Status, CreateTime: w.CreateTime,
		StatusDesc: sanitize(renderJSONText(w.StatusDesc), secrets)}
	if len(w.Document) > 0 && !bytes.Equal(w.Document, []byte("null")) {
		t.Document = w.Document
	}
	if raw, ok := w.TargetsFilter["group_ids"]; ok {
		_ = json.Unmarshal(raw, &t.GroupIDs) // Anything but a list of strings names no group.
	}
	if w.TaskProgress != nil {
		t.Progress = *w.TaskProgress
	}
	if at, err := time.Parse(createTimeLayout, w.CreateTime); err == nil {
		t.CreatedAt = at
	}
	return t
}

// wireDetail is a TaskDetail as it travels. Output is a string on the platform; anything else
// is kept as its JSON text, so that an unexpected shape is still shown rather than lost.
type wireDetail struct {
	Target string          `json:"target"`
	Status string          `json:"status"`
	Output json.RawMessage `json:"output"`
	Error  *struct {
		ErrorCode string          `json:"error_code"`
		ErrorMsg  json.RawMessage `json:"error_msg"`
	} `json:"error"`
}

func (w wireDetail) subtask(secrets []string) Subtask {
	s := Subtask{Target: w.Target, Status: w.Status, Output: renderJSONText(w.Output)}
	if w.Error != nil {
		s.ErrorCode, s.ErrorMsg = sanitize(w.Error.ErrorCode, secrets), sanitize(renderJSONText(w.Error.ErrorMsg), secrets)
	}
	return s
}

// wirePage is the Page model.
type wirePage struct {
	Count  int64  `json:"count"`
	Marker string `json:"marker"`
}

// renderJSONText returns a JSON string's text, "" for absent or null, and the JSON text of any
// other value.
func renderJSONText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}
