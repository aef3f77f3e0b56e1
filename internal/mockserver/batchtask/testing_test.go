package batchtask

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDevices answers deliveries from a table and records them. A device not in answers
// is offline.
type fakeDevices struct {
	mu        sync.Mutex
	answers   map[string]func(attempt int) Outcome
	attempts  map[string]int
	groups    map[string][]string
	delivered []Command

	// block, when set, holds every delivery until it is closed or the context ends.
	block chan struct{}
	// entered, when set, receives a signal as each delivery begins (it must have room).
	entered chan struct{}
	// inFlight and maxInFlight count concurrent deliveries.
	inFlight, maxInFlight atomic.Int32
}

func newFakeDevices() *fakeDevices {
	return &fakeDevices{answers: map[string]func(int) Outcome{}, attempts: map[string]int{}, groups: map[string][]string{}}
}

// online makes ids answer with an echo of the command id.
func (f *fakeDevices) online(ids ...string) *fakeDevices {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, id := range ids {
		f.answers[id] = nil
	}
	return f
}

func (f *fakeDevices) set(id string, answer func(attempt int) Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[id] = answer
}

func (f *fakeDevices) Deliver(ctx context.Context, cmd Command) Outcome {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxInFlight.Load()
		if n <= m || f.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	f.attempts[cmd.DeviceID]++
	attempt := f.attempts[cmd.DeviceID]
	answer, ok := f.answers[cmd.DeviceID]
	f.delivered = append(f.delivered, cmd)
	block := f.block
	f.mu.Unlock()
	if f.entered != nil {
		f.entered <- struct{}{}
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return Outcome{ErrorCode: "IOTDA.014111", ErrorMsg: "timed out"}
		}
	}
	switch {
	case !ok:
		return Outcome{ErrorCode: "IOTDA.014016", ErrorMsg: "offline"}
	case answer == nil:
		return Outcome{Output: `{"command_id":"` + cmd.CommandID + `","response":{"result_code":0}}`}
	}
	return answer(attempt)
}

func (f *fakeDevices) GroupMembers(id string) ([]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ids, ok := f.groups[id]
	return ids, ok
}

func (f *fakeDevices) attemptsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[id]
}

// eventLog records events.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) of(kind string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// newBackend returns a Backend over devs, closed when the test ends.
func newBackend(t *testing.T, devs *fakeDevices, mutate func(*Config)) (*Backend, *eventLog) {
	t.Helper()
	var seq atomic.Int64
	log := &eventLog{}
	cfg := Config{Devices: devs, PlatformTimeout: 5 * time.Second, OnEvent: log.add,
		NewCommandID: func() string { return fmt.Sprintf("cmd-%d", seq.Add(1)) }}
	if mutate != nil {
		mutate(&cfg)
	}
	b := New(cfg)
	t.Cleanup(b.Close)
	return b, log
}

// body renders a createCommands body for targets with the given extra members.
func body(targets []string, extra map[string]any) []byte {
	m := map[string]any{"task_name": "t_1", "task_type": "createCommands",
		"document": map[string]any{"service_id": "S", "command_name": "C", "paras": map[string]any{"v": 1}}}
	if targets != nil {
		m["targets"] = targets
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

// create creates a task through the responses layer and returns its id.
func create(t *testing.T, b *Backend, raw []byte) string {
	t.Helper()
	r := b.Respond(http.MethodPost, []string{"batchtasks"}, nil, "application/json", raw)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var w struct {
		TaskID string `json:"task_id"`
	}
	if err := json.Unmarshal(r.Body, &w); err != nil || w.TaskID == "" {
		t.Fatalf("create answer %s", r.Body)
	}
	return w.TaskID
}

// wait waits for the task to finish.
func wait(t *testing.T, b *Backend, id string) Task {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	task, err := b.Wait(ctx, id)
	if err != nil {
		t.Fatalf("task %s did not finish: %v (status %s, progress %+v)", id, err, task.Status, task.Progress)
	}
	return task
}

// show answers GET batchtasks/{id} with the query.
func show(b *Backend, id, query string) Response {
	q, _ := url.ParseQuery(query)
	return b.Respond(http.MethodGet, []string{"batchtasks", id}, q, "", nil)
}

// errorCode returns the error_code of an error answer.
func errorCode(t *testing.T, r Response) string {
	t.Helper()
	var e struct {
		ErrorCode string `json:"error_code"`
		ErrorMsg  string `json:"error_msg"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body %s: %v", r.Body, err)
	}
	return e.ErrorCode
}

// deviceIDs returns d1 .. dn.
func deviceIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("d%d", i+1)
	}
	return out
}

func mustContain(t *testing.T, r Response, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(string(r.Body), p) {
			t.Errorf("answer %d %s lacks %q", r.Status, r.Body, p)
		}
	}
}
