package batchtask

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
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
	// Refused is set, with no Status, when the Reserve of RespondWithin refused the bytes
	// of the answer: it was not built.
	Refused bool
}

// Reserve is asked for the bytes of a large answer before it is built: a page of
// ListBatchTasks or ShowBatchTask echoes every target of its tasks (a list page of 50 tasks
// of 30,000 targets weighs 4.5 MB). It reports whether the answer may be built; the HTTP
// side counts the bytes until the answer has been written (httpapi.Exchange.ReserveAnswer).
type Reserve func(size int) bool

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
	return b.RespondWithin(method, rest, query, contentType, body, nil)
}

// RespondWithin is Respond with the list and show answers built only once reserve (nil for
// no bound) has granted their size; otherwise it returns a Response with Refused set.
func (b *Backend) RespondWithin(method string, rest []string, query url.Values, contentType string, body []byte,
	reserve Reserve) Response {
	if reserve == nil {
		reserve = func(int) bool { return true }
	}
	if len(rest) == 1 {
		switch method {
		case http.MethodPost:
			return b.respondCreate(contentType, body)
		case http.MethodGet:
			return b.respondList(query, reserve)
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
		return b.respondShow(id, query, reserve)
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
	return Response{Status: http.StatusCreated, Body: appendTask(make([]byte, 0, taskSize(t)), t)}
}

func (b *Backend) respondShow(id string, query url.Values, reserve Reserve) Response {
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
	size := taskSize(t) + 128
	for _, st := range subs {
		size += detailSize(st)
	}
	if !reserve(size) {
		return Response{Refused: true}
	}
	out := make([]byte, 0, size)
	out = append(out, `{"batchtask":`...)
	out = appendTask(out, t)
	out = append(out, `,"task_details":[`...)
	for i, st := range subs {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendDetail(out, st)
	}
	out = append(out, `],"page":`...)
	out = appendPage(out, page)
	return Response{Status: http.StatusOK, Body: append(out, '}')}
}

func (b *Backend) respondList(query url.Values, reserve Reserve) Response {
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
	size := 128
	for _, t := range tasks {
		size += taskSize(t) + 1
	}
	if !reserve(size) {
		return Response{Refused: true}
	}
	out := make([]byte, 0, size)
	out = append(out, `{"batchtasks":[`...)
	for i, t := range tasks {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendTask(out, t)
	}
	out = append(out, `],"page":`...)
	out = appendPage(out, page)
	return Response{Status: http.StatusOK, Body: append(out, '}')}
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

// The answers of create, show and list are written by hand into a buffer of their size: they
// echo every target of a task (up to 30,000 device ids), and encoding/json would grow its
// buffer by doubling, holding up to twice the answer and more while it encodes. The members and
// their order are the platform's Task, TaskDetail and Page models (facts §3, §4).

// taskSize is an upper bound of the encoded size of t.
func taskSize(t Task) int {
	n := 512 + len(t.TaskID) + 2*len(t.TaskName) + len(t.TaskType) + len(t.Document) + 2*len(t.StatusDesc)
	for _, id := range t.Targets {
		n += len(id) + 3
	}
	for _, g := range t.GroupIDs {
		n += len(g) + 3
	}
	return n
}

// appendTask appends the Task model of t.
func appendTask(b []byte, t Task) []byte {
	b = append(b, `{"task_id":`...)
	b = appendString(b, t.TaskID)
	b = append(b, `,"task_name":`...)
	b = appendString(b, t.TaskName)
	b = append(b, `,"task_type":`...)
	b = appendString(b, t.TaskType)
	if len(t.Targets) > 0 {
		b = append(b, `,"targets":`...)
		b = appendStrings(b, t.Targets)
	}
	if len(t.GroupIDs) > 0 {
		b = append(b, `,"targets_filter":{"group_ids":`...)
		b = appendStrings(b, t.GroupIDs)
		b = append(b, '}')
	}
	if len(t.Document) > 0 {
		b = append(b, `,"document":`...)
		b = append(b, t.Document...)
	}
	if t.Policy != nil {
		if p, err := json.Marshal(t.Policy); err == nil {
			b = append(b, `,"task_policy":`...)
			b = append(b, p...)
		}
	}
	b = append(b, `,"status":`...)
	b = appendString(b, t.Status)
	if t.StatusDesc != "" {
		b = append(b, `,"status_desc":`...)
		b = appendString(b, t.StatusDesc)
	}
	p := t.Progress
	b = fmt.Appendf(b, `,"task_progress":{"total":%d,"processing":%d,"success":%d,"fail":%d,"waitting":%d,`+
		`"fail_wait_retry":%d,"stopped":%d,"removed":%d}`, p.Total, p.Processing, p.Success, p.Fail, p.Waitting,
		p.FailWaitRetry, p.Stopped, p.Removed)
	b = append(b, `,"create_time":`...)
	b = appendString(b, t.CreatedAt.UTC().Format(ScheduleLayout))
	return append(b, '}')
}

// detailSize is an upper bound of the encoded size of a subtask.
func detailSize(st Subtask) int {
	return 128 + len(st.Target) + 2*len(st.Status) + 2*len(st.Output) + 2*len(st.ErrorCode) + 2*len(st.ErrorMsg)
}

// appendDetail appends the TaskDetail model of st; output is a string (facts §3).
func appendDetail(b []byte, st Subtask) []byte {
	b = append(b, `{"target":`...)
	b = appendString(b, st.Target)
	b = append(b, `,"status":`...)
	b = appendString(b, st.Status)
	if st.Output != "" {
		b = append(b, `,"output":`...)
		b = appendString(b, st.Output)
	}
	if st.ErrorCode != "" {
		b = append(b, `,"error":{"error_code":`...)
		b = appendString(b, st.ErrorCode)
		b = append(b, `,"error_msg":`...)
		b = appendString(b, st.ErrorMsg)
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendPage appends the Page model.
func appendPage(b []byte, p Page) []byte {
	b = fmt.Appendf(b, `{"count":%d`, p.Count)
	if p.Marker != "" {
		b = append(b, `,"marker":`...)
		b = appendString(b, p.Marker)
	}
	return append(b, '}')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString appends s as a JSON string as encoding/json writes it without HTML escaping:
// quotes, backslashes and control characters escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = fmt.Appendf(b, `\u%04x`, c)
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = fmt.Appendf(b, `\u%04x`, r)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
