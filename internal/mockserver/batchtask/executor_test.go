package batchtask

import (
	"context"
	"testing"
	"time"
)

func TestExecutor_BoundedConcurrency(t *testing.T) {
	targets := deviceIDs(40)
	devs := newFakeDevices().online(targets...)
	devs.block = make(chan struct{})
	devs.entered = make(chan struct{}, len(targets))
	b, _ := newBackend(t, devs, func(c *Config) { c.Concurrency = 3 })
	first := create(t, b, body(targets[:20], nil))
	second := create(t, b, body(targets[20:], nil))
	// Wait until the pool is full, then let everything through.
	for range 3 {
		<-devs.entered
	}
	select {
	case <-devs.entered:
		t.Fatal("a fourth delivery began while three were blocked")
	case <-time.After(50 * time.Millisecond):
	}
	close(devs.block)
	wait(t, b, first)
	wait(t, b, second)
	if got := devs.maxInFlight.Load(); got != 3 {
		t.Fatalf("at most %d deliveries were in flight at once, want exactly Concurrency (3)", got)
	}
	if len(devs.delivered) != 40 {
		t.Fatalf("%d deliveries, want one per target", len(devs.delivered))
	}
}

func TestExecutor_StatusFollowsSubtasks(t *testing.T) {
	devs := newFakeDevices().online("up1", "up2")
	b, events := newBackend(t, devs, nil)
	for name, c := range map[string]struct {
		targets []string
		status  string
	}{
		"all succeed": {[]string{"up1", "up2"}, StatusSuccess},
		"all fail":    {[]string{"down1", "down2"}, StatusFail},
		"mixed":       {[]string{"up1", "down1"}, StatusPartialSuccess},
	} {
		id := create(t, b, body(c.targets, nil))
		task := wait(t, b, id)
		if task.Status != c.status || task.Progress.Success+task.Progress.Fail != len(c.targets) ||
			task.Progress.Processing+task.Progress.Waitting+task.Progress.FailWaitRetry != 0 {
			t.Errorf("%s: status %s, progress %+v; want %s", name, task.Status, task.Progress, c.status)
		}
	}
	if n := len(events.of(EventTaskFinished)); n != 3 {
		t.Errorf("%d finished events, want 3", n)
	}
	for _, e := range events.of(EventSubtask) {
		if e.TaskID == "" || e.DeviceID == "" || e.CommandID == "" || (e.Status == StatusFail) != (e.ErrorCode != "") {
			t.Errorf("subtask event %+v", e)
		}
	}
}

func TestExecutor_RetriesAfterTheScaledInterval(t *testing.T) {
	devs := newFakeDevices()
	devs.set("flaky", func(attempt int) Outcome {
		if attempt < 3 {
			return Outcome{ErrorCode: "IOTDA.014016", ErrorMsg: "offline"}
		}
		return Outcome{Output: `{"command_id":"x","response":{"result_code":0}}`}
	})
	// A minute lasts 20 ms: retry_interval 2 waits 40 ms.
	b, events := newBackend(t, devs, func(c *Config) { c.TimeScale = 20.0 / 60000 })
	start := time.Now()
	id := create(t, b, body([]string{"flaky", "never"}, map[string]any{
		"task_policy": map[string]int{"retry_count": 2, "retry_interval": 2}}))
	task := wait(t, b, id)
	if elapsed := time.Since(start); elapsed < 80*time.Millisecond {
		t.Errorf("two retries took %v, less than 2 x retry_interval (scaled: 40 ms)", elapsed)
	}
	if task.Status != StatusPartialSuccess || devs.attemptsOf("flaky") != 3 || devs.attemptsOf("never") != 3 {
		t.Fatalf("status %s; attempts flaky %d, never %d; want PartialSuccess after 1 + 2 attempts each",
			task.Status, devs.attemptsOf("flaky"), devs.attemptsOf("never"))
	}
	subs, _ := b.Subtasks(id)
	if subs[0].Status != StatusSuccess || subs[0].ErrorCode != "" || subs[1].Status != StatusFail || subs[1].ErrorCode != "IOTDA.014016" {
		t.Fatalf("subtasks %+v: a recovered subtask keeps no error, an exhausted one its last", subs)
	}
	waits := 0
	for _, e := range events.of(EventSubtask) {
		if e.Status == StatusFailWaitRetry {
			waits++
		}
	}
	if waits != 4 {
		t.Errorf("%d FailWaitRetry events, want 4 (two per device)", waits)
	}
}

func TestExecutor_NoRetryWithoutPolicy(t *testing.T) {
	devs := newFakeDevices()
	b, _ := newBackend(t, devs, nil)
	task := wait(t, b, create(t, b, body([]string{"gone"}, nil)))
	if task.Status != StatusFail || devs.attemptsOf("gone") != 1 {
		t.Fatalf("status %s after %d attempts, want Fail after 1", task.Status, devs.attemptsOf("gone"))
	}
}

func TestExecutor_ScheduledTaskWaits(t *testing.T) {
	devs := newFakeDevices().online("d1")
	schedule := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	// The clock says the schedule is 50 ms away.
	b, _ := newBackend(t, devs, func(c *Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Until(schedule) - 50*time.Millisecond) }
	})
	id := create(t, b, body([]string{"d1"}, map[string]any{
		"task_policy": map[string]string{"schedule_time": schedule.Format(ScheduleLayout)}}))
	if task, _ := b.Get(id); task.Status != StatusWaitting || devs.attemptsOf("d1") != 0 {
		t.Fatalf("status %s, %d deliveries: a scheduled task waits", task.Status, devs.attemptsOf("d1"))
	}
	if task := wait(t, b, id); task.Status != StatusSuccess {
		t.Fatalf("status %s", task.Status)
	}
}

func TestExecutor_PlatformTimeout(t *testing.T) {
	devs := newFakeDevices().online("slow")
	devs.block = make(chan struct{}) // never closed: the device never answers
	b, _ := newBackend(t, devs, func(c *Config) { c.PlatformTimeout = 30 * time.Millisecond })
	task := wait(t, b, create(t, b, body([]string{"slow"}, nil)))
	subs, _ := b.Subtasks(task.TaskID)
	if task.Status != StatusFail || subs[0].ErrorCode != "IOTDA.014111" {
		t.Fatalf("task %s, subtask %+v", task.Status, subs[0])
	}
}

func TestExecutor_CloseAbandonsRunningTasks(t *testing.T) {
	devs := newFakeDevices().online(deviceIDs(10)...)
	devs.block = make(chan struct{})
	b, _ := newBackend(t, devs, func(c *Config) {
		c.TimeScale = 1
		c.PlatformTimeout = time.Hour
	})
	id := create(t, b, body(deviceIDs(10), map[string]any{"task_policy": map[string]int{"retry_count": 5, "retry_interval": 60}}))
	done := make(chan struct{})
	go func() { b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while deliveries were in flight")
	}
	if task, _ := b.Get(id); task.Status != StatusProcessing {
		t.Fatalf("status %s: a task cut short by Close stays unfinished", task.Status)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Wait(ctx, id); err == nil {
		t.Fatal("Wait returned a finished task")
	}
}

func TestBackend_KeepsAtMostMaxTasks(t *testing.T) {
	b, _ := newBackend(t, newFakeDevices().online("d1"), func(c *Config) { c.MaxTasks = 3 })
	var created []string
	for range 5 {
		id := create(t, b, body([]string{"d1"}, nil))
		wait(t, b, id)
		created = append(created, id)
	}
	tasks := b.Tasks()
	if len(tasks) != 3 || tasks[0].TaskID != created[2] {
		t.Fatalf("%d tasks kept, oldest %s; want the newest 3", len(tasks), tasks[0].TaskID)
	}
}
