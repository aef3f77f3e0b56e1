package batchtask

import (
	"context"
	"sync"
	"time"
)

// executor runs subtasks: a fixed pool of Config.Concurrency workers takes jobs from one
// FIFO queue shared by every task, so a large task cannot hold more deliveries in flight than
// the pool, and tasks created later are not starved. A subtask that fails with retries left
// waits retry_interval (scaled) on a timer, off the pool, then joins the queue again.
type executor struct {
	b      *Backend
	ctx    context.Context // cancelled by close; ends every delivery
	cancel context.CancelFunc

	mu     sync.Mutex
	cond   *sync.Cond // signalled when a job is queued or the executor closes
	queue  []job
	head   int
	closed bool
	timers map[*time.Timer]struct{} // pending retries and schedules

	workers sync.WaitGroup
}

// job is one delivery attempt of subtask i of t.
type job struct {
	t *task
	i int
}

func newExecutor(b *Backend) *executor {
	e := &executor{b: b, timers: make(map[*time.Timer]struct{})}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.cond = sync.NewCond(&e.mu)
	for range b.cfg.Concurrency {
		e.workers.Go(e.work)
	}
	return e
}

// close stops the timers, wakes the workers, cancels deliveries in flight and waits for the
// workers to return.
func (e *executor) close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	for tm := range e.timers {
		tm.Stop()
	}
	e.timers = nil
	e.queue, e.head = nil, 0
	e.cond.Broadcast()
	e.mu.Unlock()
	e.cancel()
	e.workers.Wait()
}

// start runs a new task: at once, or at its schedule_time.
func (e *executor) start(t *task) {
	if p := t.policy; p != nil && p.ScheduleTime != "" {
		at, _ := time.Parse(ScheduleLayout, p.ScheduleTime) // checked at creation
		if d := at.Sub(e.b.cfg.Now()); d > 0 {
			t.mu.Lock()
			t.status = StatusWaitting
			t.mu.Unlock()
			e.after(d, func() { e.enqueueAll(t) })
			return
		}
	}
	e.enqueueAll(t)
}

func (e *executor) enqueueAll(t *task) {
	t.mu.Lock()
	t.status = StatusProcessing
	n := len(t.subtasks)
	t.mu.Unlock()
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = job{t: t, i: i}
	}
	e.push(jobs...)
}

func (e *executor) push(jobs ...job) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.queue = append(e.queue, jobs...)
	e.cond.Broadcast()
}

// pop waits for the next job; ok is false once the executor is closed.
func (e *executor) pop() (job, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for e.head == len(e.queue) && !e.closed {
		e.cond.Wait()
	}
	if e.closed {
		return job{}, false
	}
	j := e.queue[e.head]
	e.queue[e.head] = job{}
	e.head++
	if e.head == len(e.queue) {
		e.queue, e.head = e.queue[:0], 0
	} else if e.head > 4096 && e.head*2 > len(e.queue) {
		// Drop the consumed front now and then, so a long queue does not keep its memory.
		e.queue, e.head = append([]job(nil), e.queue[e.head:]...), 0
	}
	return j, true
}

// after runs f after d unless the executor closes first.
func (e *executor) after(d time.Duration, f func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	var tm *time.Timer
	tm = time.AfterFunc(d, func() {
		e.mu.Lock()
		_, pending := e.timers[tm]
		delete(e.timers, tm)
		e.mu.Unlock()
		if pending {
			f()
		}
	})
	e.timers[tm] = struct{}{}
}

func (e *executor) work() {
	for {
		j, ok := e.pop()
		if !ok {
			return
		}
		e.run(j)
	}
}

// run makes one delivery attempt and records its outcome.
func (e *executor) run(j job) {
	t := j.t
	t.mu.Lock()
	st := &t.subtasks[j.i]
	st.attempts++
	target := st.target
	cmd := t.command
	if t.taskType == TaskTypeCreateCommands {
		cmd.DeviceID = target
		cmd.CommandID = e.b.cfg.NewCommandID()
		st.commandID = cmd.CommandID
	}
	t.setStatusLocked(j.i, StatusProcessing)
	t.mu.Unlock()

	ctx, cancel := context.WithTimeout(e.ctx, e.b.cfg.PlatformTimeout)
	var out Outcome
	if t.taskType == TaskTypeCreateMessages {
		out = e.b.cfg.Messages.SendMessage(ctx, target, t.document)
	} else {
		out = e.b.cfg.Devices.Deliver(ctx, cmd)
	}
	cancel()
	if e.ctx.Err() != nil {
		return // Closing: the task stays unfinished, as on a platform that went away.
	}

	t.mu.Lock()
	st = &t.subtasks[j.i]
	if out.MessageID != "" {
		st.messageID = out.MessageID
	}
	var status string
	retry := time.Duration(0)
	switch {
	case out.ErrorCode == "":
		status, st.output, st.errCode, st.errMsg = StatusSuccess, out.Output, "", ""
	case st.attempts <= t.retryCount():
		status, st.errCode, st.errMsg = StatusFailWaitRetry, out.ErrorCode, out.ErrorMsg
		retry = t.retryInterval(e.b.cfg.TimeScale)
	default:
		status, st.errCode, st.errMsg = StatusFail, out.ErrorCode, out.ErrorMsg
	}
	t.setStatusLocked(j.i, status)
	done := false
	if status != StatusFailWaitRetry {
		t.remaining--
		if t.remaining == 0 {
			t.status, done = t.finalStatusLocked(), true
		}
	}
	taskStatus := t.status
	t.mu.Unlock()

	e.b.cfg.OnEvent(Event{Kind: EventSubtask, TaskID: t.id, DeviceID: target, CommandID: cmd.CommandID,
		MessageID: out.MessageID, Status: status, ErrorCode: out.ErrorCode})
	if status == StatusFailWaitRetry {
		e.after(retry, func() { e.push(j) })
	}
	if done {
		e.b.cfg.OnEvent(Event{Kind: EventTaskFinished, TaskID: t.id, Status: taskStatus})
		e.b.notifyFinished()
	}
}

// retryCount is how many times a failed subtask is retried.
func (t *task) retryCount() int {
	if t.policy == nil || t.policy.RetryCount == nil {
		return 0
	}
	return *t.policy.RetryCount
}

// retryInterval is the wait before a retry: retry_interval minutes, scaled.
func (t *task) retryInterval(scale float64) time.Duration {
	if t.policy == nil || t.policy.RetryInterval == nil {
		return 0
	}
	return time.Duration(float64(*t.policy.RetryInterval) * float64(time.Minute) * scale)
}

// finalStatusLocked derives the task's status from its finished subtasks (facts §8: all
// Success, all Fail, or mixed). t.mu must be held.
func (t *task) finalStatusLocked() string {
	switch p := t.progress; p.Success {
	case p.Total:
		return StatusSuccess
	case 0:
		return StatusFail
	default:
		return StatusPartialSuccess
	}
}
