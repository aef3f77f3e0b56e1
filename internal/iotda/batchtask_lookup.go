package iotda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Listing tasks, and finding the one a create whose answer was lost may have made:
// ListBatchTasks, GET {endpoint}/v5/iot/{project_id}/batchtasks?task_type=... (facts §4).

// BatchTaskList is one page of ListBatchTasks.
type BatchTaskList struct {
	// Tasks hold what a summary holds: targets counted, not kept; documents skipped.
	Tasks []BatchTask
	// Count is the number of tasks matching the query; Marker the id of the page's last task,
	// to pass as ListBatchTasksOptions.Marker for the next page.
	Count  int64
	Marker string
	// Date is the platform's clock when it answered (the Date header); zero when absent.
	Date time.Time
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

// ListBatchTasks reads one page of tasks, newest first. The page is read as it arrives and
// only a summary of each task is kept, so its weight (every task echoes up to 30,000 targets
// and its document) costs no memory. A page holding more tasks than Limit is an error.
// Errors as ShowBatchTask.
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
	limit := detailPageLimit
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
		limit = opts.Limit
	}
	if opts.Offset > 0 {
		q.Set("offset", strconv.Itoa(opts.Offset))
	}
	u := c.apiURL("batchtasks")
	u.RawQuery = q.Encode()
	var out *BatchTaskList
	decode := func(r io.Reader) error {
		out = &BatchTaskList{}
		s := newPageScanner(r, maxBatchPageBytes)
		err := s.object(func(key string) error {
			switch key {
			case "batchtasks":
				return s.array(func() error {
					if len(out.Tasks) == limit {
						return fmt.Errorf("the page holds more than the %d tasks asked for", limit)
					}
					var t BatchTask
					err := s.task(&t, false, c.secrets)
					out.Tasks = append(out.Tasks, t)
					return err
				})
			case "page":
				return s.page(&out.Count, &out.Marker)
			}
			return s.skip()
		})
		if err != nil {
			return malformed(err)
		}
		return malformed(s.end())
	}
	r, err := c.do(ctx, request{method: http.MethodGet, target: u.String(), effect: effectNone, decode: decode})
	if err != nil {
		return nil, err
	}
	out.Date = r.date
	return out, nil
}

// TaskMark is where the task list stood just before a create: what FindBatchTasks needs to
// tell the tasks created after it from those created before.
type TaskMark struct {
	// NewestID is the id of the newest task of the type then; "" when there was none or the
	// list could not be read.
	NewestID string
	// At is the platform's clock then (the Date header of its answer) or, when Local is set,
	// this machine's.
	At    time.Time
	Local bool
}

// MarkBatchTasks reads the newest task of taskType (one task, with a limit of 1) and the
// platform's clock, just before a create. It relies on the platform's task ids growing with
// time ("newer records have larger IDs", the SDK's ListBatchTasksRequest.Marker; facts §3).
// When the list cannot be read the mark holds this machine's clock and the error says why;
// the mark is usable all the same.
func (c *Client) MarkBatchTasks(ctx context.Context, taskType string) (TaskMark, error) {
	local := TaskMark{At: time.Now().UTC(), Local: true}
	page, err := c.ListBatchTasks(ctx, ListBatchTasksOptions{TaskType: taskType, Limit: 1})
	if err != nil {
		return local, err
	}
	m := TaskMark{At: page.Date.UTC()}
	if page.Date.IsZero() {
		m = local
	}
	if len(page.Tasks) > 0 && taskIDPattern.MatchString(page.Tasks[0].TaskID) {
		m.NewestID = page.Tasks[0].TaskID
	}
	return m, nil
}

// Older reports whether the task of id taskID, created at createdAt (zero when not known),
// was created before the mark: the task the mark read (NewestID itself), or an id not above
// NewestID and a create time before At (less a slack for the clocks), of the two whichever
// are known. A task of which neither is known is not older.
func (m TaskMark) Older(taskID string, createdAt time.Time) bool {
	if m.NewestID != "" && taskID == m.NewestID {
		return true // Listed before the create was sent, whatever the clocks say.
	}
	slack := platformClockSlack
	if m.Local {
		slack = LocalClockSlack
	}
	byID := m.NewestID != "" && taskIDPattern.MatchString(taskID) && padHex(taskID) <= padHex(m.NewestID)
	byTime := !m.At.IsZero() && !createdAt.IsZero() && createdAt.Before(m.At.Add(-slack))
	switch {
	case m.NewestID != "" && !createdAt.IsZero():
		return byID && byTime
	case m.NewestID != "":
		return byID
	default:
		return byTime
	}
}

// LocalClockSlack is platformClockSlack when only this machine's clock is known (a mark
// read without the platform's clock, TaskMark.Local), whose skew from the platform's is not:
// tasks created up to that long before the mark count as newer.
const LocalClockSlack = time.Hour

// TaskRef is what a lookup keeps of a listed task.
type TaskRef struct {
	TaskID, TaskName, TaskType, Status string
	// CreatedAt is the platform's create_time; zero when absent or not in its format.
	CreatedAt time.Time
}

const (
	// lookupPageLimit is the page size of a lookup: the task sought is among the newest, and
	// every listed task echoes its targets, so small pages read little past it.
	lookupPageLimit = 10
	// maxLookupTasks bounds how many tasks one lookup reads before it gives up saying it
	// could not find where the tasks older than the mark begin.
	maxLookupTasks = 1000
	// platformClockSlack is how far a create_time may fall before the platform's own clock
	// read just before the create (both are whole seconds).
	platformClockSlack = 2 * time.Second
)

// FindBatchTasks lists the tasks of taskType newest first and returns those named name that
// were created after mark (usually one; none when the create made none, or not yet; more
// than one only when a name was used twice). It stops at the first task older than the mark:
// an id not above mark.NewestID and a create_time before mark.At (less a slack for the
// clocks), whichever of the two are known. Pages are small and read as they arrive, keeping
// four fields of each task, so a lookup costs little memory whatever the tasks echo.
//
// Bounds, each an error: a page holding more tasks than asked for, a task not below the page's
// marker (a cycle: tasks are listed by descending id), more than maxLookupTasks tasks read
// without reaching the mark. Errors from the list as ListBatchTasks.
func (c *Client) FindBatchTasks(ctx context.Context, taskType, name string, mark TaskMark) ([]TaskRef, error) {
	var found []TaskRef
	opts := ListBatchTasksOptions{TaskType: taskType, Limit: lookupPageLimit}
	for read := 0; ; {
		page, err := c.ListBatchTasks(ctx, opts)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tasks {
			if opts.Marker != "" && !markerBelow(t.TaskID, opts.Marker) {
				return nil, malformed(fmt.Errorf("iotda: listing batch tasks: task %q is not below the marker %s, so "+
					"the pages would go round in a cycle", sanitize(t.TaskID, c.secrets), opts.Marker))
			}
			if mark.Older(t.TaskID, t.CreatedAt) {
				return found, nil // Newest first: the rest are older still.
			}
			if t.TaskName == name {
				found = append(found, TaskRef{TaskID: t.TaskID, TaskName: t.TaskName, TaskType: t.TaskType,
					Status: t.Status, CreatedAt: t.CreatedAt})
			}
			opts.Marker = t.TaskID
		}
		read += len(page.Tasks)
		switch {
		case len(page.Tasks) < lookupPageLimit:
			return found, nil // The end of the list.
		case read >= maxLookupTasks:
			return nil, fmt.Errorf("iotda: listing batch tasks: %d tasks were read without reaching those created "+
				"before %s; the lookup gives up", read, mark.At.Format(time.RFC3339))
		case !markerPattern(opts.Marker):
			return nil, malformed(errors.New("iotda: listing batch tasks: a listed task has no valid task_id to page on"))
		}
	}
}
