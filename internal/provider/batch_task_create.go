package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Creating a task once. CreateBatchTask is sent once per resource; when its answer does not
// say what became of it (iotda.DeliveryUnknownError: a 5xx, a gateway's error page, a
// connection lost or a timeout after the request was sent, a 2xx without a usable task), the
// task is looked for by its name, never sent again. A task that does not appear at once is
// looked for again and again, because a request held in transit may create it later, until
// taskAppearWithin after the send; only then is the request taken not to have created one.

const (
	// taskAppearWithin is how long after its send a task created by a request may first be
	// listed. IoTDA does not document how long its gateway may hold a request before passing
	// it on (UNCONFIRMED); two minutes is well beyond an API gateway's usual time limit for a
	// backend (60 s), so a request held longer is taken not to have been acted on.
	taskAppearWithin = 2 * time.Minute
	// lookupFirstInterval and lookupMaxInterval pace repeated lookups: soon, then less often.
	lookupFirstInterval = 500 * time.Millisecond
	lookupMaxInterval   = 5 * time.Second
	// lookupGrace is what one lookup may take when the create timeout cut the creating request
	// itself, so that a task created by then is found in the same apply.
	lookupGrace = 10 * time.Second
)

// createOutcome is what became of the one create of an apply.
type createOutcome int

const (
	// notCreated: no task was created (refused, never sent, or not created after all); the
	// error is in the diagnostics and nothing is saved.
	notCreated createOutcome = iota
	// created: the task is known.
	created
	// unresolved: the task may exist but has not been found yet; the state saves the create
	// (fleetPrivate.Sent) for the next plan to look again, with a warning.
	unresolved
)

// createTask sends the one CreateBatchTask of this apply and returns the task, finding it by
// its name when the answer is lost. fp.Sent is set when the outcome is unresolved.
func createTask(ctx context.Context, pd *providerData, client *iotda.Client, w fleetWork, fp *fleetPrivate,
	diags *diag.Diagnostics,
) (*iotda.BatchTask, createOutcome) {
	f := w.fleet()
	doc, d := w.document()
	diags.Append(d...)
	if diags.HasError() {
		return nil, notCreated
	}
	derived := f.TaskName.IsNull() || f.TaskName.IsUnknown()
	req := f.newTask(w.taskType(), doc)
	// Where the task list stands now tells the tasks created by this request from older ones.
	mark, err := client.MarkBatchTasks(ctx, w.taskType())
	if err != nil {
		logWarn(ctx, "could not mark the task list before the create; a lookup would rely on the name and this "+
			"machine's clock: "+err.Error())
	}
	logInfo(ctx, "creating batch task "+req.TaskName+" for "+f.describeTargets())
	sent := sentTask{Name: req.TaskName, At: time.Now().UTC(), Mark: mark, Derived: derived}
	task, err := client.CreateBatchTask(ctx, req)
	if err == nil {
		logInfo(ctx, "batch task "+task.TaskID+" created ("+task.Status+")")
		return task, created
	}
	var unknown *iotda.DeliveryUnknownError
	if !errors.As(err, &unknown) {
		diagnoseCreateError(ctx, pd, w, err, diags)
		return nil, notCreated
	}
	logWarn(ctx, "the answer creating batch task "+req.TaskName+" was lost, looking it up by its name: "+err.Error())
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
	switch {
	case look.task != nil:
		warnFoundByName(look, err, diags)
		return look.task, created
	case look.windowOver && look.err == nil && len(look.ambiguous) == 0:
		addNotCreated(w, sent, err, false, diags)
		return nil, notCreated
	}
	fp.Sent = &sent
	addNotFoundYet(ctx, w, sent, err, look, diags)
	return nil, unresolved
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
	// windowOver says a task created by the request could no longer appear when the last
	// lookup began (taskAppearWithin after the send).
	windowOver bool
	// err is why the last lookup failed, if it did.
	err error
}

// lookForTask looks for the task sent until it is found, ctx ends, or a task could no longer
// appear; with once, it looks once.
func lookForTask(ctx context.Context, client *iotda.Client, w fleetWork, sent sentTask, once bool) lookup {
	interval := lookupFirstInterval
	for {
		windowOver := time.Since(sent.At) > taskAppearWithin
		look := lookOnce(ctx, client, w, sent)
		look.windowOver = windowOver
		if look.task != nil || len(look.ambiguous) > 0 || windowOver || once || permanentReadError(look.err) {
			return look
		}
		wait := min(interval, time.Until(sent.At.Add(taskAppearWithin))+time.Millisecond)
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
		if !sameTask(w, task) {
			logInfo(ctx, "task "+ref.TaskID+" has the name sent but not its targets or document")
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

// sameTask reports whether a task IoTDA holds is the one w would send: its type, targets and
// document (compared as JSON values: IoTDA may answer with another member order).
func sameTask(w fleetWork, t *iotda.BatchTask) bool {
	f := w.fleet()
	if t.TaskType != "" && t.TaskType != w.taskType() {
		return false
	}
	if ids := f.targets(); ids != nil {
		if !sameSet(ids, t.Targets) {
			return false
		}
	} else if !sameSet(listStrings(f.GroupIDs), t.GroupIDs) {
		return false
	}
	return t.Document == nil || w.sameDocument(t.Document)
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
