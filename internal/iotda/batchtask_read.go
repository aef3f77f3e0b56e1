package iotda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Reading a task: ShowBatchTask, GET {endpoint}/v5/iot/{project_id}/batchtasks/{task_id}
// (facts §4). Every answer is checked against the task it was asked about: an answer without
// the task's id, or naming another task, is no answer, and pages of subtasks have bounds a
// broken or hostile server cannot blow up.

// BatchTaskDetails is a task read whole: the task and every subtask.
type BatchTaskDetails struct {
	Task     BatchTask
	Subtasks []Subtask
	// Count is the number of subtasks the platform said there are (page.count).
	Count int64
	// RequestID is the X-Request-Id of the last page.
	RequestID string
	// Requests is how many pages were read.
	Requests int
	// Rounds is how many of those reads were made one after the other: each round reads up
	// to eleven pages at once from one marker.
	Rounds int
}

// ReadOptions shapes ShowBatchTask.
type ReadOptions struct {
	// Expected is how many subtasks the task has: its targets, or for group targets its
	// task_progress.total; 0 when not known. It sizes the last round of pages and, with
	// ResultsSlack, bounds how many subtasks are read.
	Expected int
	// PagesAtOnce is how many pages are read at once from each marker, 1 to 11 (the default,
	// when 0): 1 pages by marker alone, one page after the other.
	PagesAtOnce int
}

const (
	// hopOffsets is how many pages are read at once from one marker: offsets 0, 50, ..., 500,
	// the platform's whole offset range (facts §4: offset 0-500, limit at most 50), so one
	// round trip reads 550 subtasks where paging by marker alone reads 50.
	hopOffsets = 11
	// ResultsSlack is how many subtasks beyond the expected number are read before the
	// read stops with an error: room for a task_progress.total that lags, no more.
	ResultsSlack = 100
	// maxTargets is the platform's bound on a task's targets (facts §2), which bounds the
	// subtasks read when their number is not known.
	maxTargets = 30000
)

// ShowBatchTaskSummary reads a task's status and progress with one request (a page of a
// single subtask, which it ignores). It is what a poll needs; the task's targets are counted
// (TargetCount), not kept, and its document is skipped.
//
// GETs are retried on more failures than POSTs (see do). Errors: *APIError (errors.Is
// ErrNotFound for an unknown task), *NotSentError, *DeliveryUnknownError (no usable answer:
// also an answer that is not this task's).
func (c *Client) ShowBatchTaskSummary(ctx context.Context, taskID string) (*BatchTask, error) {
	p, err := c.showPage(ctx, taskID, pageQuery{limit: 1}, false)
	if err != nil {
		return nil, err
	}
	return &p.task, nil
}

// ShowBatchTaskDefinition is ShowBatchTaskSummary keeping the task's targets and document:
// what an import, or a check that a task found by its name is the one sent, needs.
func (c *Client) ShowBatchTaskDefinition(ctx context.Context, taskID string) (*BatchTask, error) {
	p, err := c.showPage(ctx, taskID, pageQuery{limit: 1}, true)
	if err != nil {
		return nil, err
	}
	return &p.task, nil
}

// ShowBatchTask reads a task and every one of its subtasks, 50 a page (facts §4). From each
// marker it reads the pages at offsets 0 to 500 at once, and the next marker is the last
// page's: a task of 30,000 devices is 55 rounds of requests rather than 600 one after the
// other. Each page goes through the client's retries and throttling (429) handling alone.
//
// Bounds, each an error: a page holding more subtasks than asked for; a marker that does not
// go down (the platform pages by descending record id, so a repeated or larger marker is a
// cycle); more subtasks than opts.Expected + ResultsSlack (30,000 + ResultsSlack when not
// known), which ends a server that always answers a fresh marker; a page over
// maxBatchPageBytes. Every page must name taskID. The subtasks are returned in the
// platform's order; whether they cover the task's targets is CheckSubtasks' question.
func (c *Client) ShowBatchTask(ctx context.Context, taskID string, opts ReadOptions) (*BatchTaskDetails, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	bound := maxTargets + ResultsSlack
	if opts.Expected > 0 {
		bound = opts.Expected + ResultsSlack
	}
	atOnce := hopOffsets
	if opts.PagesAtOnce > 0 {
		atOnce = min(opts.PagesAtOnce, hopOffsets)
	}
	out := &BatchTaskDetails{}
	marker := ""
	for {
		n := atOnce
		if opts.Expected > 0 {
			// Enough pages for the subtasks still expected and one more, which shows the end.
			n = min(atOnce, max(1, (opts.Expected-len(out.Subtasks))/detailPageLimit+1))
		}
		pages, err := c.showPages(ctx, taskID, marker, n)
		if err != nil {
			return nil, err
		}
		out.Requests += len(pages)
		out.Rounds++
		ended := false
		for i, p := range pages {
			if ended && len(p.details) > 0 {
				return nil, malformed(fmt.Errorf("iotda: reading the subtasks of batch task %s: the page at offset "+
					"%d holds subtasks after a short page at a lower offset, so the pages do not add up", taskID,
					i*detailPageLimit))
			}
			out.Task, out.Count, out.RequestID = p.task, p.count, p.requestID
			out.Subtasks = append(out.Subtasks, p.details...)
			ended = ended || len(p.details) < detailPageLimit
		}
		if len(out.Subtasks) > bound {
			return nil, malformed(fmt.Errorf("iotda: batch task %s: more than %d subtasks were read (the task has "+
				"%s), so the pages do not end; the platform's answers are not consistent", taskID, bound,
				describeExpected(opts.Expected)))
		}
		if ended {
			return out, nil
		}
		next := pages[len(pages)-1].marker
		if !markerBelow(next, marker) {
			return nil, malformed(fmt.Errorf("iotda: reading the subtasks of batch task %s: after %d subtasks the "+
				"marker did not advance (%q after %q; markers go down as the platform pages by descending record "+
				"id), so the pages would go round in a cycle", taskID, len(out.Subtasks), next, marker))
		}
		marker = next
	}
}

func describeExpected(n int) string {
	if n > 0 {
		return strconv.Itoa(n)
	}
	return "an unknown number, at most " + strconv.Itoa(maxTargets)
}

// markerBelow reports whether next is a valid marker strictly below prev ("" stands for the
// platform's default, above every record).
func markerBelow(next, prev string) bool {
	if !markerPattern(next) {
		return false
	}
	return prev == "" || padHex(next) < padHex(prev)
}

func markerPattern(m string) bool {
	if m == "" || len(m) > 24 {
		return false
	}
	for _, r := range m {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// padHex left-pads a hexadecimal id to 24 lowercase digits, so that ids compare as numbers.
func padHex(id string) string {
	return strings.Repeat("0", max(0, 24-len(id))) + strings.ToLower(id)
}

// showPages reads n pages from marker at offsets 0, 50, ... at once; the first error ends
// them all.
func (c *Client) showPages(ctx context.Context, taskID, marker string, n int) ([]*showPage, error) {
	if n == 1 {
		p, err := c.showPage(ctx, taskID, pageQuery{limit: detailPageLimit, marker: marker}, false)
		return []*showPage{p}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make([]*showPage, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pages[i], errs[i] = c.showPage(ctx, taskID, pageQuery{limit: detailPageLimit, marker: marker,
				offset: i * detailPageLimit}, false)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// The first error by offset, preferring one that is not the cancellation it caused.
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || (errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled))) {
			first = err
		}
	}
	return pages, first
}

type pageQuery struct {
	limit  int
	marker string
	offset int
}

// showPage is one ShowBatchTask answer.
type showPage struct {
	task      BatchTask
	details   []Subtask
	count     int64
	marker    string
	requestID string
}

// showPage reads one page, streaming: the task's targets are counted (kept when whole),
// its document skipped (kept when whole), at most q.limit subtasks accepted.
func (c *Client) showPage(ctx context.Context, taskID string, q pageQuery, whole bool) (*showPage, error) {
	if err := checkTaskID(taskID); err != nil {
		return nil, err
	}
	v := url.Values{"limit": {strconv.Itoa(q.limit)}}
	if q.marker != "" {
		v.Set("marker", q.marker)
	}
	if q.offset > 0 {
		v.Set("offset", strconv.Itoa(q.offset))
	}
	u := c.apiURL("batchtasks", taskID)
	u.RawQuery = v.Encode()
	var p *showPage
	decode := func(r io.Reader) error {
		p = &showPage{}
		return malformed(p.decode(newPageScanner(r, maxBatchPageBytes), taskID, q.limit, whole, c.secrets, c.credentials))
	}
	r, err := c.do(ctx, request{method: http.MethodGet, target: u.String(), effect: effectNone, decode: decode})
	if err != nil {
		return nil, err
	}
	p.requestID = r.requestID
	return p, nil
}

// decode reads a page and checks that it is taskID's and holds at most limit subtasks. red
// hides the credentials a device echoed in a subtask's output.
func (p *showPage) decode(s *pageScanner, taskID string, limit int, whole bool, secrets []string, red *Redaction) error {
	sawTask := false
	err := s.object(func(key string) error {
		switch key {
		case "batchtask":
			sawTask = true
			return s.task(&p.task, whole, secrets)
		case "task_details":
			return s.array(func() error {
				if len(p.details) == limit {
					return fmt.Errorf("the page holds more than the %d subtasks asked for", limit)
				}
				d, err := s.subtask(secrets)
				if d.Output != "" {
					hidden := red.Apply([]byte(d.Output))
					d.Output, d.Redacted = string(hidden.Text), hidden.Attributes
				}
				p.details = append(p.details, d)
				return err
			})
		case "page":
			return s.page(&p.count, &p.marker)
		}
		return s.skip()
	})
	if err == nil {
		err = s.end()
	}
	switch {
	case err != nil:
		return err
	case !sawTask:
		return errors.New("the answer has no batchtask")
	case p.task.TaskID == "":
		return errors.New("the answer's batchtask has no task_id")
	case p.task.TaskID != taskID:
		return fmt.Errorf("the answer is about batch task %s, not %s", sanitize(p.task.TaskID, secrets), taskID)
	}
	return nil
}

// task reads a Task object into t.
func (s *pageScanner) task(t *BatchTask, whole bool, secrets []string) error {
	var desc string
	err := s.object(func(key string) error {
		var err error
		switch key {
		case "task_id":
			t.TaskID, err = s.text(maxNameText)
		case "task_name":
			t.TaskName, err = s.text(maxNameText)
		case "task_type":
			t.TaskType, err = s.text(maxNameText)
		case "status":
			t.Status, err = s.text(maxNameText)
		case "status_desc":
			desc, err = s.text(maxMessageText)
		case "create_time":
			t.CreateTime, err = s.text(maxNameText)
		case "targets":
			var keep func(string)
			if whole {
				keep = func(id string) { t.Targets = append(t.Targets, id) }
			}
			t.TargetCount, err = s.strings(maxNameText, keep)
		case "targets_filter":
			err = s.object(func(k string) error {
				if k != "group_ids" {
					return s.skip()
				}
				_, err := s.strings(maxNameText, func(g string) { t.GroupIDs = append(t.GroupIDs, g) })
				return err
			})
		case "document":
			if !whole {
				return s.skip()
			}
			raw, fits, err := s.raw(maxDocumentText)
			if err == nil && fits && string(raw) != "null" {
				t.Document = raw
			}
			return err
		case "task_policy":
			raw, fits, err := s.raw(maxMessageText)
			if err == nil && fits && string(raw) != "null" {
				var p TaskPolicy
				if json.Unmarshal(raw, &p) == nil {
					t.Policy = &p
				}
			}
			return err
		case "task_progress":
			err = s.progress(&t.Progress)
		default:
			err = s.skip()
		}
		return err
	})
	t.StatusDesc = sanitize(desc, secrets)
	if at, perr := time.Parse(createTimeLayout, t.CreateTime); perr == nil {
		t.CreatedAt = at
	}
	return err
}

// progress reads task_progress; a counter that is absent or null is 0.
func (s *pageScanner) progress(p *TaskProgress) error {
	return s.object(func(key string) error {
		counters := map[string]*int{"total": &p.Total, "processing": &p.Processing, "success": &p.Success,
			"fail": &p.Fail, "waitting": &p.Waitting, "fail_wait_retry": &p.FailWaitRetry, "stopped": &p.Stopped,
			"removed": &p.Removed}
		dst, ok := counters[key]
		if !ok {
			return s.skip()
		}
		n, err := s.int()
		if err == nil && (n < 0 || n > 1<<31) {
			err = fmt.Errorf("task_progress.%s is %d", key, n)
		}
		*dst = int(n)
		return err
	})
}

// subtask reads a TaskDetail. Output is a string on the platform; anything else is kept as
// its JSON text, so that an unexpected shape is still shown rather than lost.
func (s *pageScanner) subtask(secrets []string) (Subtask, error) {
	var d Subtask
	err := s.object(func(key string) error {
		var err error
		switch key {
		case "target":
			d.Target, err = s.text(maxNameText)
		case "status":
			d.Status, err = s.text(maxNameText)
		case "output":
			d.Output, err = s.text(maxOutputText)
		case "error":
			err = s.object(func(k string) error {
				var err error
				switch k {
				case "error_code":
					d.ErrorCode, err = s.text(maxNameText)
				case "error_msg":
					d.ErrorMsg, err = s.text(maxMessageText)
				default:
					err = s.skip()
				}
				return err
			})
		default:
			err = s.skip()
		}
		return err
	})
	d.ErrorCode, d.ErrorMsg = sanitize(d.ErrorCode, secrets), sanitize(d.ErrorMsg, secrets)
	return d, err
}

// page reads the Page model.
func (s *pageScanner) page(count *int64, marker *string) error {
	return s.object(func(key string) error {
		var err error
		switch key {
		case "count":
			*count, err = s.int()
		case "marker":
			*marker, err = s.text(maxNameText)
		default:
			err = s.skip()
		}
		return err
	})
}
