package provider

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Creating a task once. CreateBatchTask is sent once per resource, and from the moment it may
// have reached IoTDA the state keeps it (fleetPrivate.Sent) until the task it made is known
// for certain (batch_task_settle.go): the task its answer names, once read back and checked,
// or the task found by its name when the answer is lost or does not hold up. It is never sent
// again on a guess: a request held on its way may create its task long after the apply gave
// up on it, so only the user, once they have checked, sends it again (-replace).

const (
	// markAttempts is how many times the task list is read before a create, to mark where it
	// stands (a GET, safe to repeat), before the create goes on without the mark.
	markAttempts = 3
)

// createTask sends the one CreateBatchTask of this apply. It returns the task its answer
// names (not yet read back: settleTask checks it), or the error that says its answer was
// lost (*iotda.DeliveryUnknownError; the task may exist); sent is what the state keeps of the
// request either way. ok is false when no task was created: the request was refused or never
// sent, or the arguments cannot be sent; the diagnostics say why and nothing is saved.
func createTask(ctx context.Context, pd *providerData, client *iotda.Client, w fleetWork, diags *diag.Diagnostics,
) (task *iotda.BatchTask, sent sentTask, lost error, ok bool) {
	f := w.fleet()
	doc, d := w.document()
	diags.Append(d...)
	if diags.HasError() {
		return nil, sent, nil, false
	}
	derived := f.TaskName.IsNull() || f.TaskName.IsUnknown()
	req := f.newTask(w.taskType(), doc)
	// Where the task list stands now tells the tasks created by this request from older ones.
	mark := markTaskList(ctx, client, w.taskType())
	logInfo(ctx, "creating batch task "+req.TaskName+" for "+f.describeTargets())
	sent = sentTask{Name: req.TaskName, At: time.Now().UTC(), Mark: mark, Derived: derived}
	task, err := client.CreateBatchTask(ctx, req)
	if err == nil {
		logInfo(ctx, "batch task "+task.TaskID+" created ("+task.Status+")")
		return task, sent, nil, true
	}
	var unknown *iotda.DeliveryUnknownError
	if !errors.As(err, &unknown) {
		diagnoseCreateError(ctx, pd, w, err, diags)
		return nil, sent, nil, false
	}
	logWarn(ctx, "the answer creating batch task "+req.TaskName+" was lost, looking it up by its name: "+err.Error())
	return nil, sent, err, true
}

// markTaskList reads where the task list stands before a create (iotda.MarkBatchTasks),
// trying again a few times when the read fails: without the mark, a lookup by a name chosen
// in the configuration cannot tell this create's task from the tasks of that name created
// in the hour before it. The mark it returns is usable either way.
func markTaskList(ctx context.Context, client *iotda.Client, taskType string) iotda.TaskMark {
	for attempt := 1; ; attempt++ {
		mark, err := client.MarkBatchTasks(ctx, taskType)
		if err == nil {
			return mark
		}
		if attempt == markAttempts || permanentReadError(err) || !sleepCtx(ctx, time.Duration(attempt)*time.Second) {
			logWarn(ctx, "could not mark the task list before the create; a lookup would rely on the name and this "+
				"machine's clock: "+err.Error())
			return mark
		}
	}
}
