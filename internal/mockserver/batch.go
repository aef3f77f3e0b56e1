package mockserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/batchtask"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/messages"
)

// This file joins the batch task engine (package batchtask) to the rest of the mock: the
// platform API's prelude (package httpapi) authenticates and journals batch task requests
// and hands them to the engine's responses layer; the engine's executor delivers each
// createCommands subtask through the commands backend, over the same delivery path as the
// synchronous command API (the same prelude, journal and outcomes), creates each
// createMessages subtask's message through the messages backend, as the message API does,
// and resolves device groups in the registry.

// Journal entry kinds of batch tasks. Their TaskID names the task; TaskStatus is a task's
// status (batch_task, batch_task_done, batch_task_deleted) or a subtask's (batch_subtask:
// Success, Fail, or FailWaitRetry when a retry follows).
const (
	EntryBatchTask        EntryKind = batchtask.EventTaskCreated
	EntryBatchSubtask     EntryKind = batchtask.EventSubtask
	EntryBatchTaskDone    EntryKind = batchtask.EventTaskFinished
	EntryBatchTaskDeleted EntryKind = batchtask.EventTaskDeleted
)

// maxBatchBodyBytes bounds a batch task request body: 30,000 targets of up to 128
// characters need about 4 MB.
const maxBatchBodyBytes = 8 << 20

// newBatchBackend builds the engine over this server's commands backend, registry and
// journal.
func (s *Server) newBatchBackend() *batchtask.Backend {
	return batchtask.New(batchtask.Config{
		Devices:         batchDevices{s},
		Messages:        batchMessages{s},
		PlatformTimeout: s.opts.PlatformTimeout,
		Concurrency:     s.opts.BatchConcurrency,
		TimeScale:       s.opts.BatchTimeScale,
		Now:             s.opts.Now,
		NewCommandID:    httpapi.NewUUID,
		OnEvent:         s.batchEvent,
	})
}

// batchEvent journals an engine event, and logs the tasks' beginnings and ends (one line per
// task, not per subtask, so a fleet does not flood the log).
func (s *Server) batchEvent(ev batchtask.Event) {
	s.journal.Add(Entry{Kind: EntryKind(ev.Kind), TaskID: ev.TaskID, TaskStatus: ev.Status, DeviceID: ev.DeviceID,
		CommandID: ev.CommandID, MessageID: ev.MessageID, ErrorCode: ev.ErrorCode, Body: ev.Detail})
	switch ev.Kind {
	case batchtask.EventTaskCreated:
		s.opts.Logger.Info("batch task created", "task_id", ev.TaskID, "status", ev.Status)
	case batchtask.EventTaskFinished:
		s.opts.Logger.Info("batch task finished", "task_id", ev.TaskID, "status", ev.Status)
	}
}

// batchDevices is the engine's seam to the devices (batchtask.Devices).
type batchDevices struct{ s *Server }

// Deliver delivers one subtask's command through the commands backend and renders the
// outcome as the synchronous API would: the 200 body as the output, or the error code and
// message of its error answer.
func (d batchDevices) Deliver(ctx context.Context, cmd batchtask.Command) batchtask.Outcome {
	reply, err := d.s.commands.Deliver(ctx, commands.Command{DeviceID: cmd.DeviceID, CommandID: cmd.CommandID,
		ServiceID: cmd.ServiceID, CommandName: cmd.CommandName, Paras: cmd.Paras})
	if err != nil {
		code, msg := commands.Failure(cmd.DeviceID, err)
		return batchtask.Outcome{ErrorCode: code, ErrorMsg: msg}
	}
	return batchtask.Outcome{Output: string(commands.ReplyBody(cmd.CommandID, reply))}
}

// batchMessages is the engine's seam to the device message service (batchtask.Messages).
type batchMessages struct{ s *Server }

// CheckMessage checks a createMessages document with the message API's rules.
func (m batchMessages) CheckMessage(document json.RawMessage) error {
	if e := messages.Check(document); e != nil {
		return errors.New(strings.TrimPrefix(e.Msg, "Invalid input data. "))
	}
	return nil
}

// SendMessage creates one subtask's message as the message API does, delivered at once to a
// device online and kept for one asleep or offline, and renders the outcome as that API
// would: the 201 body as the output, or the error code and message of its error answer.
func (m batchMessages) SendMessage(_ context.Context, deviceID string, document json.RawMessage) batchtask.Outcome {
	msg, err := m.s.messages.Create(deviceID, document)
	if err != nil {
		return batchtask.Outcome{ErrorCode: err.Code, ErrorMsg: err.Msg}
	}
	return batchtask.Outcome{Output: string(messages.CreatedBody(msg)), MessageID: msg.MessageID}
}

// GroupMembers resolves a device group.
func (d batchDevices) GroupMembers(groupID string) ([]string, bool) {
	return d.s.registry.Members(groupID)
}

// batchRoute splits /v5/iot/{project_id}/batchtasks[/...] into the project and the segments
// from "batchtasks" on; ok is false for any other path.
func batchRoute(escaped string) (project string, rest []string, ok bool) {
	segs := strings.Split(escaped, "/")
	if len(segs) < 5 || segs[0] != "" || segs[1] != "v5" || segs[2] != "iot" {
		return "", nil, false
	}
	rest = segs[4:]
	if !batchtask.Route(rest) {
		return "", nil, false
	}
	project, err := url.PathUnescape(segs[3])
	if err != nil {
		return "", nil, false
	}
	for i, s := range rest {
		if rest[i], err = url.PathUnescape(s); err != nil {
			return "", nil, false
		}
	}
	return project, rest, true
}

// batchAPI serves /v5/iot/{project_id}/batchtasks[/...]: the HTTP side of the batch task
// engine, whose own responses layer answers once the request has passed the platform API's
// checks.
type batchAPI struct {
	api *httpapi.API
	s   *Server
	// maxBody bounds a batch task request body.
	maxBody int64
}

// Route reports whether a request goes to the batch task API.
func (b *batchAPI) Route(escaped string) bool {
	_, _, ok := batchRoute(escaped)
	return ok
}

// ServeHTTP answers a batch task request: faults, authentication, project and instance
// checks as for the command API, then the engine's responses layer. The request is journaled
// with its status and error code; its body is not (a task's targets can fill megabytes), the
// batch_task entry summarises a created task instead.
func (b *batchAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := b.api.Begin(w, r)
	defer x.Finish()
	project, rest, _ := batchRoute(r.URL.EscapedPath())
	if len(rest) > 1 {
		x.Entry.TaskID = rest[1]
	}
	if allow := batchtask.Allow(rest); !slices.Contains(strings.Split(allow, ", "), r.Method) {
		x.NotAllowed(allow)
		return
	}
	if x.TakeFault("") {
		return
	}
	x.Respond(b.respond(x, project, rest))
}

func (b *batchAPI) respond(x *httpapi.Exchange, project string, rest []string) httpapi.Answer {
	body, bad := x.Body(b.maxBody)
	if bad != nil {
		return *bad
	}
	if a := x.CheckTenant(project); a != nil {
		return *a
	}
	backend := b.s.batch
	if backend == nil {
		return httpapi.ErrorAnswer(http.StatusServiceUnavailable, httpapi.CodeShuttingDown, "The mock is not running.")
	}
	resp := backend.RespondWithin(x.R.Method, rest, x.R.URL.Query(), x.R.Header.Get("Content-Type"), body,
		func(size int) bool { return x.ReserveAnswer(int64(size)) })
	if resp.Refused {
		return x.Throttled()
	}
	if resp.Allow != "" {
		x.W.Header().Set("Allow", resp.Allow)
	}
	if resp.Status == http.StatusCreated {
		var created struct {
			TaskID string `json:"task_id"`
		}
		if json.Unmarshal(resp.Body, &created) == nil {
			x.Entry.TaskID = created.TaskID
		}
	}
	if resp.Status == http.StatusNoContent {
		x.W.Header().Del("Content-Type")
	}
	return httpapi.Answer{Status: resp.Status, Body: resp.Body}
}

// BatchTasks returns every batch task the mock holds, oldest first.
func (s *Server) BatchTasks() []batchtask.Task {
	if s.batch == nil {
		return nil
	}
	return s.batch.Tasks()
}

// BatchSubtasks returns the subtasks of a batch task in target order; ok is false when there
// is no such task.
func (s *Server) BatchSubtasks(taskID string) ([]batchtask.Subtask, bool) {
	if s.batch == nil {
		return nil, false
	}
	return s.batch.Subtasks(taskID)
}

// WaitBatchTask blocks until the batch task has finished, or ctx ends.
func (s *Server) WaitBatchTask(ctx context.Context, taskID string) (batchtask.Task, error) {
	if s.batch == nil {
		return batchtask.Task{}, errNotStarted
	}
	return s.batch.Wait(ctx, taskID)
}
