package batchtask

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The responses layer: routes of /v5/iot/{project_id}/batchtasks..., already authenticated,
// turned into Backend calls, and Backend results into the platform's bodies (facts §1-§4).

// Response is an HTTP answer.
type Response struct {
	Status int
	// Body is the JSON body; nil for 204.
	Body []byte
	// Allow is set on 405 answers.
	Allow string
}

// Route reports whether the path segments after /v5/iot/{project_id}/ name a batch task route:
// batchtasks, batchtasks/{task_id} or batchtasks/{task_id}/{stop|retry|confirm}.
func Route(rest []string) bool {
	switch {
	case len(rest) == 0 || rest[0] != "batchtasks":
		return false
	case len(rest) <= 2:
		return true
	case len(rest) == 3:
		return rest[2] == "stop" || rest[2] == "retry" || rest[2] == "confirm"
	}
	return false
}

// Allow returns the methods a route answers, comma-separated, as in an Allow header:
// "GET, POST" for batchtasks, "GET, DELETE" for a task, "POST" for its actions. Callers check
// the method before authenticating, as the platform's gateway does for the command API.
func Allow(rest []string) string {
	switch len(rest) {
	case 1:
		return "GET, POST"
	case 2:
		return "GET, DELETE"
	}
	return http.MethodPost
}

// Page limits (facts §4).
const (
	defaultLimit = 10
	maxLimit     = 50
	maxOffset    = 500
)

var (
	taskIDPattern = regexp.MustCompile(`^[a-f0-9]{1,24}$`)
	markerPattern = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)
	// detailStatuses are the task_detail_status filter values (facts §4).
	detailStatuses = []string{StatusSuccess, StatusFail, StatusProcessing, StatusFailWaitRetry, StatusStopped,
		StatusWaitting, StatusRemoved}
	taskStatuses = []string{StatusInitializing, StatusWaitting, StatusProcessing, StatusSuccess, StatusFail,
		StatusPartialSuccess, StatusStopping, StatusStopped}
)

// Respond answers one request to a route for which Route is true. contentType and body matter
// for POSTs only.
func (b *Backend) Respond(method string, rest []string, query url.Values, contentType string, body []byte) Response {
	if len(rest) == 1 {
		switch method {
		case http.MethodPost:
			return b.respondCreate(contentType, body)
		case http.MethodGet:
			return b.respondList(query)
		}
		return notAllowed(Allow(rest))
	}
	id := rest[1]
	if !taskIDPattern.MatchString(id) {
		return errorResponse(invalid("task_id must be at most 24 characters: lowercase letters a to f and digits."))
	}
	if len(rest) == 3 {
		if method != http.MethodPost {
			return notAllowed(Allow(rest))
		}
		return b.respondAction(id, rest[2])
	}
	switch method {
	case http.MethodGet:
		return b.respondShow(id, query)
	case http.MethodDelete:
		if err := b.Delete(id); err != nil {
			return errorResponse(err)
		}
		return Response{Status: http.StatusNoContent}
	}
	return notAllowed(Allow(rest))
}

// respondCreate answers 201 with the task's fields at the top level (facts §3). The status
// code is not documented; 201 is what a creation answers, and clients accept any 2xx.
func (b *Backend) respondCreate(contentType string, body []byte) Response {
	if mt, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(strings.ToLower(mt)) != "application/json" {
		return errorResponse(&Error{Status: 400, Code: CodeBadRequest,
			Msg: "Invalid input. Bad request, for more detail, refer to the error message. The Content-Type must be application/json."})
	}
	t, err := b.Create(body)
	if err != nil {
		return errorResponse(err)
	}
	return jsonResponse(http.StatusCreated, toWireTask(t))
}

func (b *Backend) respondShow(id string, query url.Values) Response {
	q := DetailQuery{Status: query.Get("task_detail_status"), Target: query.Get("target"), Marker: query.Get("marker")}
	var err *Error
	if q.Limit, q.Offset, err = pageParams(query); err != nil {
		return errorResponse(err)
	}
	switch {
	case q.Status != "" && !slices.Contains(detailStatuses, q.Status):
		return errorResponse(invalid("task_detail_status must be one of %s.", strings.Join(detailStatuses, ", ")))
	case q.Target != "" && !DeviceIDPattern.MatchString(q.Target):
		return errorResponse(invalid("target must be a device id: 1 to 128 letters, digits, underscores or hyphens."))
	}
	t, subs, page, err := b.Show(id, q)
	if err != nil {
		return errorResponse(err)
	}
	details := make([]wireDetail, len(subs))
	for i, s := range subs {
		details[i] = toWireDetail(s)
	}
	return jsonResponse(http.StatusOK, struct {
		Batchtask   wireTask     `json:"batchtask"`
		TaskDetails []wireDetail `json:"task_details"`
		Page        wirePage     `json:"page"`
	}{toWireTask(t), details, toWirePage(page)})
}

func (b *Backend) respondList(query url.Values) Response {
	q := ListQuery{TaskType: query.Get("task_type"), AppID: query.Get("app_id"), Status: query.Get("status"),
		Marker: query.Get("marker")}
	var err *Error
	if q.Limit, q.Offset, err = pageParams(query); err != nil {
		return errorResponse(err)
	}
	switch {
	case q.TaskType == "":
		return errorResponse(invalid("task_type is required."))
	case !slices.Contains(TaskTypes, q.TaskType):
		return errorResponse(invalid("task_type %q is not a batch task type.", q.TaskType))
	case q.Status != "" && !slices.Contains(taskStatuses, q.Status):
		return errorResponse(invalid("status must be one of %s.", strings.Join(taskStatuses, ", ")))
	}
	tasks, page := b.List(q)
	out := make([]wireTask, len(tasks))
	for i, t := range tasks {
		out[i] = toWireTask(t)
	}
	return jsonResponse(http.StatusOK, struct {
		Batchtasks []wireTask `json:"batchtasks"`
		Page       wirePage   `json:"page"`
	}{out, toWirePage(page)})
}

// respondAction refuses stop, retry and confirm: they apply to upgrade tasks only (facts §1).
// The platform's error for a createCommands task is not documented.
func (b *Backend) respondAction(id, action string) Response {
	t, ok := b.Get(id)
	if !ok {
		return errorResponse(notFound(id))
	}
	return errorResponse(&Error{Status: 400, Code: CodeNotApplicable, Msg: "The batch task " + id + " is a " +
		t.TaskType + " task; " + action + " applies to firmwareUpgrade and softwareUpgrade tasks only."})
}

// pageParams reads limit (1-50, default 10), offset (0-500) and checks marker (24 hex).
func pageParams(query url.Values) (limit, offset int, err *Error) {
	limit = defaultLimit
	if v := query.Get("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > maxLimit {
			return 0, 0, &Error{Status: 400, Code: CodeLimitRange,
				Msg: "Invalid input. The specified parameter 'limit' is out of range."}
		}
		limit = n
	}
	if v := query.Get("offset"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 0 || n > maxOffset {
			return 0, 0, invalid("offset must be an integer from 0 to %d; page further with marker.", maxOffset)
		}
		offset = n
	}
	if m := query.Get("marker"); m != "" && !markerPattern.MatchString(m) {
		return 0, 0, invalid("marker must be a 24-character hexadecimal string.")
	}
	return limit, offset, nil
}

func notAllowed(allow string) Response {
	r := errorResponse(&Error{Status: http.StatusMethodNotAllowed, Code: "APIG.0101",
		Msg: "The API does not exist or has not been published in the environment."})
	r.Allow = allow
	return r
}

func errorResponse(e *Error) Response {
	return jsonResponse(e.Status, struct {
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}{e.Code, e.Msg})
}

// jsonResponse encodes v without HTML escaping, so documents come back as they were sent.
func jsonResponse(status int, v any) Response {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return Response{Status: http.StatusInternalServerError,
			Body: []byte(`{"error_code":"MOCK.000500","error_msg":"encoding the answer failed"}`)}
	}
	return Response{Status: status, Body: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}
}

// wireTask is the platform's Task model.
type wireTask struct {
	TaskID        string              `json:"task_id"`
	TaskName      string              `json:"task_name"`
	TaskType      string              `json:"task_type"`
	Targets       []string            `json:"targets,omitempty"`
	TargetsFilter map[string][]string `json:"targets_filter,omitempty"`
	Document      json.RawMessage     `json:"document,omitempty"`
	TaskPolicy    *Policy             `json:"task_policy,omitempty"`
	Status        string              `json:"status"`
	StatusDesc    string              `json:"status_desc,omitempty"`
	TaskProgress  Progress            `json:"task_progress"`
	CreateTime    string              `json:"create_time"`
}

func toWireTask(t Task) wireTask {
	w := wireTask{TaskID: t.TaskID, TaskName: t.TaskName, TaskType: t.TaskType, Targets: t.Targets,
		Document: t.Document, TaskPolicy: t.Policy, Status: t.Status, StatusDesc: t.StatusDesc,
		TaskProgress: t.Progress, CreateTime: t.CreatedAt.UTC().Format(ScheduleLayout)}
	if len(t.GroupIDs) > 0 {
		w.TargetsFilter = map[string][]string{"group_ids": t.GroupIDs}
	}
	return w
}

// wireDetail is the TaskDetail model; output is a string (facts §3).
type wireDetail struct {
	Target string     `json:"target"`
	Status string     `json:"status"`
	Output string     `json:"output,omitempty"`
	Error  *wireError `json:"error,omitempty"`
}

type wireError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
}

func toWireDetail(s Subtask) wireDetail {
	d := wireDetail{Target: s.Target, Status: s.Status, Output: s.Output}
	if s.ErrorCode != "" {
		d.Error = &wireError{ErrorCode: s.ErrorCode, ErrorMsg: s.ErrorMsg}
	}
	return d
}

type wirePage struct {
	Count  int64  `json:"count"`
	Marker string `json:"marker,omitempty"`
}

func toWirePage(p Page) wirePage { return wirePage(p) }
