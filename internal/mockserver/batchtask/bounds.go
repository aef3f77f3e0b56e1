package batchtask

import (
	"fmt"
	"slices"
)

// The backend's bounds (Config.MaxTasks, MaxSubtasks, MaxRunningTasks): finished tasks are
// dropped oldest first to stay within them, and unfinished tasks, which cannot be dropped, are
// admitted only within them.

// admitLocked refuses a new task of n subtasks when the unfinished tasks are as many as
// MaxRunningTasks, or would hold more than MaxSubtasks subtasks with it: they cannot be
// dropped to make room. b.mu must be held.
func (b *Backend) admitLocked(n int) *Error {
	running, held := 0, n
	for _, id := range b.order {
		t := b.tasks[id]
		t.mu.Lock()
		if !finished(t.status) {
			running++
			held += len(t.subtasks)
		}
		t.mu.Unlock()
	}
	switch {
	case running >= b.cfg.MaxRunningTasks:
		return &Error{Status: 403, Code: CodeTooManyTasks, Msg: fmt.Sprintf("The number of batch tasks in progress "+
			"has reached the upper limit (%d). Try again when some have finished.", b.cfg.MaxRunningTasks)}
	case held > b.cfg.MaxSubtasks:
		return &Error{Status: 403, Code: CodeTooManyTasks, Msg: fmt.Sprintf("The batch tasks in progress and this "+
			"one would target %d devices, more than the upper limit (%d). Try again when some have finished.", held,
			b.cfg.MaxSubtasks)}
	}
	return nil
}

// pruneLocked drops the oldest finished tasks while more than MaxTasks are kept or they hold
// more than MaxSubtasks subtasks. b.mu must be held.
func (b *Backend) pruneLocked() {
	for i := 0; (len(b.order) > b.cfg.MaxTasks || b.subtasks > b.cfg.MaxSubtasks) && i < len(b.order); {
		t := b.tasks[b.order[i]]
		t.mu.Lock()
		done := finished(t.status)
		n := len(t.subtasks)
		t.mu.Unlock()
		if !done {
			i++
			continue
		}
		delete(b.tasks, b.order[i])
		b.order = slices.Delete(b.order, i, i+1)
		b.subtasks -= n
	}
}
