package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Knowing which task a create made. The answer to CreateBatchTask names a task; the first read
// of that task checks that it is the one sent (its name, type, targets and document, and
// that it is newer than the request). An answer that does not hold up (another task, one IoTDA
// does not have a while after creating it), like an answer that was lost, leaves the outcome
// of the create unknown: the task is then looked for by its name among the tasks created
// since the request, never sent again.

const (
	// lookupWindow is how long after its send the provider keeps looking for a task by
	// itself: every apply within it looks again, following the task once it appears. IoTDA
	// does not document how long its gateway may hold a request before passing it on
	// (UNCONFIRMED); two minutes is well beyond an API gateway's usual time limit for a
	// backend (60 s). It is not a verdict: past it, plans stop looking but refreshes still do,
	// and the request is sent again only when the user asks (-replace).
	lookupWindow = 2 * time.Minute
	// lookupFirstInterval and lookupMaxInterval pace repeated lookups: soon, then less often.
	lookupFirstInterval = 500 * time.Millisecond
	lookupMaxInterval   = 5 * time.Second
	// lookupGrace is what one lookup may take when the create timeout cut the creating request
	// itself, so that a task created by then is found in the same apply.
	lookupGrace = 10 * time.Second
	// notFoundSettle is how long after a task was created a 404 for it is taken as IoTDA not
	// listing it yet (its task store may be eventually consistent; UNCONFIRMED) rather than
	// as the task being gone: reads are tried again until then.
	notFoundSettle = 15 * time.Second
	// malformedInARow is how many reads in a row may answer with something that does not
	// match the task (iotda.ErrMalformedAnswer, each already tried again by the client) before
	// the provider stops following: a proxy may garble one answer, not every one.
	malformedInARow = 3
)

// settleTask makes sure that the task the state names is the one its create sent (fp.Sent)
// before it is followed: a task named by the create's answer is read back and checked
// (confirmTask); a task not found yet, or one that did not hold up, is looked for by its name
// (lookForTask). since is when the task was created, as far as is known. It reports whether
// the task is known; otherwise the diagnostics say what became of it and fp.Sent keeps the
// create for the next plan. lost is the error that lost the create's answer, if it was lost.
func settleTask(ctx context.Context, client *iotda.Client, w fleetWork, fp *fleetPrivate, lost error,
	since time.Time, diags *diag.Diagnostics,
) bool {
	f := w.fleet()
	sent := *fp.Sent
	var doubt error
	if f.resolved() {
		id := f.TaskID.ValueString()
		task, problem, err := confirmTask(ctx, client, w, sent, id, since)
		switch {
		case task != nil:
			f.setTask(task)
			fp.Sent, fp.NeverFound, fp.Ambiguous = nil, false, nil
			return true
		case problem == "":
			addNotConfirmed(w, id, err, diags)
			return false
		}
		doubt = fmt.Errorf("IoTDA's answer to the request named task %s, but %s", id, problem)
		logWarn(ctx, doubt.Error()+"; looking the task up by its name")
		f.setUnresolved()
	}
	why := errors.Join(lost, doubt)
	var look lookup
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		// Interrupted: the state is saved at once, and the next plan looks for the task.
	case ctx.Err() != nil:
		// The create timeout cut the request: one look, with a little time of its own.
		graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookupGrace)
		look = lookForTask(graceCtx, client, w, sent, true)
		cancel()
	default:
		look = lookForTask(ctx, client, w, sent, false)
	}
	fp.Ambiguous = look.ambiguous
	switch {
	case look.task != nil:
		warnFoundByName(look, why, diags)
		f.setTask(look.task)
		fp.Sent, fp.NeverFound = nil, false
		return true
	case len(look.ambiguous) > 0:
		addAmbiguous(w, sent, why, look.ambiguous, diags)
	case look.windowOver && look.err == nil:
		fp.NeverFound = true
		addNeverFound(w, sent, why, diags)
	default:
		addNotFoundYet(ctx, w, sent, why, look, diags)
	}
	return false
}

// confirmTask reads the task id the create's answer named and checks it against what was
// sent. It returns the task when it is the one sent; problem when the read shows that it is
// not (another task, or none a while after the create: notFoundSettle after since); neither
// when it could not be read (err; ctx ended, the reads failed or were refused, or their
// answers did not match the request malformedInARow times in a row).
func confirmTask(ctx context.Context, client *iotda.Client, w fleetWork, sent sentTask, id string, since time.Time,
) (task *iotda.BatchTask, problem string, err error) {
	interval := lookupFirstInterval
	malformed := 0
	for {
		task, err = client.ShowBatchTaskDefinition(ctx, id)
		switch {
		case err == nil:
			if problem = taskMismatch(w, sent, task, true); problem != "" {
				return nil, problem, nil
			}
			return task, "", nil
		case ctx.Err() != nil || (permanentReadError(err) && !errors.Is(err, iotda.ErrNotFound)):
			return nil, "", err
		case errors.Is(err, iotda.ErrNotFound) && time.Since(since) >= notFoundSettle:
			return nil, fmt.Sprintf("IoTDA does not have it (%v)", err), nil
		case errors.Is(err, iotda.ErrMalformedAnswer):
			if malformed++; malformed == malformedInARow {
				return nil, "", err
			}
		}
		logWarn(ctx, "reading batch task "+id+" failed, trying again: "+err.Error())
		if !sleepCtx(ctx, interval) {
			return nil, "", err
		}
		interval = min(2*interval, lookupMaxInterval)
	}
}

// lookup is the outcome of looking for a sent task.
type lookup struct {
	// task is the task found, checked to be the one sent.
	task *iotda.BatchTask
	// others are the ids of further tasks that are the one sent as well: the request was
	// delivered more than once on its way (a proxy repeating it).
	others []string
	// ambiguous are the ids of tasks of a name chosen in the configuration that match what
	// was sent, when there is more than one: which one this create made cannot be told.
	ambiguous []string
	// windowOver says the last lookup began lookupWindow or more after the send.
	windowOver bool
	// err is why the last lookup failed, if it did.
	err error
}

// lookForTask looks for the task sent until it is found, ctx ends, the lookup window is over
// or the lookups fail for good; with once, it looks once.
func lookForTask(ctx context.Context, client *iotda.Client, w fleetWork, sent sentTask, once bool) lookup {
	interval := lookupFirstInterval
	malformed := 0
	for {
		windowOver := time.Since(sent.At) > lookupWindow
		look := lookOnce(ctx, client, w, sent)
		look.windowOver = windowOver
		if errors.Is(look.err, iotda.ErrMalformedAnswer) {
			malformed++
		} else {
			malformed = 0
		}
		if look.task != nil || len(look.ambiguous) > 0 || windowOver || once || permanentReadError(look.err) ||
			malformed == malformedInARow {
			return look
		}
		wait := min(interval, time.Until(sent.At.Add(lookupWindow))+time.Millisecond)
		if !sleepCtx(ctx, max(wait, 0)) {
			return look
		}
		interval = min(2*interval, lookupMaxInterval)
	}
}

// lookOnce lists the tasks created since the send and checks the ones named as sent.
func lookOnce(ctx context.Context, client *iotda.Client, w fleetWork, sent sentTask) lookup {
	refs, err := client.FindBatchTasks(ctx, w.taskType(), sent.Name, sent.Mark)
	if err != nil {
		return lookup{err: err}
	}
	// Oldest first: the first task a repeated request made is the one it made first.
	slices.SortFunc(refs, func(a, b iotda.TaskRef) int { return strings.Compare(padID(a.TaskID), padID(b.TaskID)) })
	var out lookup
	for _, ref := range refs {
		task, err := client.ShowBatchTaskDefinition(ctx, ref.TaskID)
		if err != nil {
			return lookup{err: err}
		}
		if problem := taskMismatch(w, sent, task, true); problem != "" {
			logInfo(ctx, "task "+ref.TaskID+" has the name sent, but "+problem)
			continue
		}
		switch {
		case out.task == nil:
			out.task = task
		case sent.Derived:
			out.others = append(out.others, task.TaskID)
		default:
			out.ambiguous = append(out.ambiguous, task.TaskID)
		}
	}
	if len(out.ambiguous) > 0 {
		out.ambiguous = append([]string{out.task.TaskID}, out.ambiguous...)
		out.task = nil
	}
	return out
}

// taskMismatch says how a task IoTDA answers with is not the one w sent, or "" when it is:
// its name, type, targets and document (compared as JSON values: IoTDA may answer with
// another member order), and, from a read, a task older than the request (sent.Mark). An
// answer that leaves a member out is not held against it, except, when read is set (a task
// read by its id, which holds its definition), the targets.
func taskMismatch(w fleetWork, sent sentTask, t *iotda.BatchTask, read bool) string {
	f := w.fleet()
	switch {
	case t.TaskName != "" && t.TaskName != sent.Name:
		return fmt.Sprintf("it is named %q, not %q", t.TaskName, sent.Name)
	case t.TaskType != "" && t.TaskType != w.taskType():
		return fmt.Sprintf("it is a %s task, not %s", t.TaskType, w.taskType())
	case read && sent.Mark.Older(t.TaskID, t.CreatedAt):
		return "it was created before the request"
	}
	if ids := f.targets(); ids != nil {
		echoed := len(t.Targets) > 0 || t.TargetCount > 0
		if (read || echoed) && !sameSet(ids, t.Targets) {
			return fmt.Sprintf("its targets are not the %s sent (%d listed)", plural(len(ids), "device"),
				max(len(t.Targets), t.TargetCount))
		}
	} else if groups := listStrings(f.GroupIDs); (read || len(t.GroupIDs) > 0) && !sameSet(groups, t.GroupIDs) {
		return fmt.Sprintf("its device groups are not the %s sent", plural(len(groups), "group"))
	}
	if t.Document != nil && !w.sameDocument(t.Document) {
		return "its document is not the " + w.describeWork() + " sent"
	}
	return ""
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// padID pads a task id for ordering.
func padID(id string) string { return strings.Repeat("0", max(0, 24-len(id))) + id }
