package iotda

import (
	"bytes"
	"context"
	"errors"
	"sync"
)

// What a createMessages batch task needs beyond the task API: reading a subtask's output as
// the message it created, and reading many devices' messages at once to follow them.

// MessageOutput reads a createMessages subtask's output. What the platform puts there is
// UNCONFIRMED (iotda-messages-facts.md §5: "whether output carries the per-device message_id
// or CreateMessage result"); the best guess, which the mock follows, is the CreateMessage
// answer as text, {"message_id":...,"result":{"status":...,"created_time":...}}. ok is false
// for an output that is not such an answer (empty, not JSON, or naming neither a message nor
// a status): the message must then be read by its id.
func MessageOutput(output string) (m *DeviceMessage, ok bool) {
	raw := bytes.TrimSpace([]byte(output))
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var w wireMessage
	if err := decodeObject(raw, &w); err != nil {
		return nil, false
	}
	m = w.message(nil, false)
	if m.MessageID == "" && m.Status == "" {
		return nil, false
	}
	return m, true
}

// DefaultMessageReads is how many ShowDeviceMessage requests ShowDeviceMessages makes at once
// by default: a fleet's statuses are read a few at a time, within the platform's throttling
// (a 429 is waited out and retried, as for every request).
const DefaultMessageReads = 8

// MessageReading is one message read by ShowDeviceMessages: the message, or why it was not
// read (as ShowDeviceMessage reports it; ctx's error for a read that never began).
type MessageReading struct {
	Ref     MessageRef
	Message *DeviceMessage
	Err     error
}

// ShowDeviceMessages reads many messages with ShowDeviceMessage, at most parallel at once
// (DefaultMessageReads when 0), and returns one reading per ref, in the order of refs. Once
// a read is refused for good (authentication, permissions: every other read would be too)
// or ctx ends, the reads not begun yet are not made, and carry that error.
func (c *Client) ShowDeviceMessages(ctx context.Context, refs []MessageRef, parallel int) []MessageReading {
	if parallel <= 0 {
		parallel = DefaultMessageReads
	}
	out := make([]MessageReading, len(refs))
	var (
		mu      sync.Mutex
		stopped error
		wg      sync.WaitGroup
	)
	slots := make(chan struct{}, parallel)
	for i, ref := range refs {
		out[i].Ref = ref
		acquired := false
		select {
		case slots <- struct{}{}:
			acquired = true
		case <-ctx.Done():
		}
		mu.Lock()
		if stopped == nil && ctx.Err() != nil {
			stopped = ctx.Err()
		}
		stop := stopped
		mu.Unlock()
		if stop != nil {
			if acquired {
				<-slots
			}
			out[i].Err = stop
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			m, err := c.ShowDeviceMessage(ctx, ref)
			out[i].Message, out[i].Err = m, err
			if err != nil && refusedForGood(err) {
				mu.Lock()
				if stopped == nil {
					stopped = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// refusedForGood reports an answer every other request would get as well: authentication or
// permissions (401, or a 403 that is not throttling). An unknown device (404) or message is
// one device's.
func refusedForGood(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && (apiErr.StatusCode == 401 || (apiErr.StatusCode == 403 && !apiErr.throttled()))
}
