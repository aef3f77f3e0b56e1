package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda"
)

// Following a fleet message past its task. A createMessages subtask succeeds when IoTDA has
// accepted the message for its device (the best guess of iotda-messages-facts.md §5, which
// the mock follows: the subtask mirrors CreateMessage), whether the device had it at once
// (DELIVERED) or it waits, asleep or offline (PENDING). Each device's message is then known
// by its id, the one the provider sent in the document, and read with ShowDeviceMessage,
// never sent again: once when the task ends, for what its output does not say, and at every
// refresh for the devices still pending, until their status is final.

const (
	summaryFleetMessagePending  = "Message Not Yet Delivered to Every Device"
	summaryMessageStatusUnread  = "Message Status Not Read"
	summaryFleetMessageGone     = "Message No Longer on IoTDA"
	summaryFleetMessageNotFound = "Message Not Found"
	// maxListedPending is how many pending devices a diagnostic names before it counts them.
	maxListedPending = 10
)

// fillResults builds every device's entry from its subtask, reads the messages the outputs
// do not describe (within ctx), and renders the results.
func (m *batchMessageModel) fillResults(ctx context.Context, client *iotda.Client, subtasks []iotda.Subtask) []deviceFailure {
	entries := make(map[string]messageEntry, len(subtasks))
	for _, st := range subtasks {
		entries[st.Target] = entryOf(st, m.MessageID.ValueString())
	}
	var ids []string
	for id, e := range entries {
		if e.needsRead() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	res := readEntries(ctx, client, entries, ids)
	if res.asked > 0 {
		logInfo(ctx, fmt.Sprintf("read the message of %s whose subtask output did not say what became of it: %d "+
			"read, %d not found, %d failed", plural(res.asked, "device"), res.asked-len(res.gone)-res.failed,
			len(res.gone), res.failed))
	}
	return m.setEntries(entries)
}

// entryReads is what readEntries did.
type entryReads struct {
	asked  int
	gone   []string // IoTDA has no such message, or no such device
	found  []string // read, whatever their status
	failed int      // reads that failed otherwise
	last   error    // the last of those failures
	// notReached counts the reads not made, or cut, because ctx ended; lastRead is the last
	// device of ids whose read was made.
	notReached int
	lastRead   string
}

// readEntries reads the messages of the entries of ids, in that order, a few at a time, and
// records what each read shows. A message IoTDA no longer has keeps its entry as it was.
func readEntries(ctx context.Context, client *iotda.Client, entries map[string]messageEntry, ids []string) entryReads {
	var refs []iotda.MessageRef
	for _, id := range ids {
		if e := entries[id]; e.MessageID != nil {
			refs = append(refs, iotda.MessageRef{DeviceID: id, MessageID: *e.MessageID})
		}
	}
	res := entryReads{asked: len(refs)}
	for _, r := range client.ShowDeviceMessages(ctx, refs, 0) {
		switch {
		case r.Err == nil:
			e := entries[r.Ref.DeviceID]
			e.record(r.Message)
			entries[r.Ref.DeviceID] = e
			res.found = append(res.found, r.Ref.DeviceID)
		case errors.Is(r.Err, context.DeadlineExceeded), errors.Is(r.Err, context.Canceled):
			res.notReached++
			continue
		case noSuchMessage(r.Err):
			res.gone = append(res.gone, r.Ref.DeviceID)
		default:
			res.failed++
			res.last = r.Err
		}
		res.lastRead = r.Ref.DeviceID
	}
	return res
}

// goneAfterReads is how many reads in a row must not find a device's pending message before
// it is taken as gone (replaced by 20 newer ones, expired, or its device deleted) and no
// longer read: one answer without it may be a broken proxy's or a moment's.
const goneAfterReads = 3

// countNotFound records which devices' messages were found and which were not, and returns
// the devices whose message is now taken as gone (goneAfterReads reads in a row without it)
// and those not found this time but not yet taken as gone.
func (fp *fleetPrivate) countNotFound(found, notFound []string) (gone, notYet []string) {
	for _, id := range found {
		delete(fp.NotFound, id)
	}
	for _, id := range notFound {
		if fp.NotFound == nil {
			fp.NotFound = map[string]int{}
		}
		fp.NotFound[id]++
		if fp.NotFound[id] >= goneAfterReads {
			delete(fp.NotFound, id)
			gone = append(gone, id)
		} else {
			notYet = append(notYet, id)
		}
	}
	if len(fp.NotFound) == 0 {
		fp.NotFound = nil
	}
	return gone, notYet
}

// maxPendingReads bounds how many pending devices one refresh reads, so that a plan of a
// large sleeping fleet stays short: 10,000 reads, 8 at a time, take about two minutes when
// IoTDA is 100 ms away. Successive refreshes go on from where the last one stopped.
const maxPendingReads = 10000

// pendingOrder lists the pending devices to read, at most limit of them: the devices after
// cursor (the last device the previous refresh read) first, in device id order, then from the
// first device again, so that successive refreshes read every pending device in turn however
// few each can read.
func pendingOrder(pending []string, cursor string, limit int) []string {
	i, _ := slices.BinarySearch(pending, cursor)
	if i < len(pending) && pending[i] == cursor {
		i++
	}
	order := append(slices.Clone(pending[i:]), pending[:i]...)
	return order[:min(len(order), limit)]
}

// refreshPending reads the status of the devices whose message is still pending, never
// sending anything, and records what changed: a final status is never read again. A message
// IoTDA no longer has keeps its last known status and joins fp.Unreadable. Devices whose
// message ended FAILED or TIMEOUT join failed_device_ids, with a warning (reportEnded). It
// reports whether m changed.
func (m *batchMessageModel) refreshPending(ctx context.Context, client *iotda.Client, fp *fleetPrivate,
	diags *diag.Diagnostics,
) bool {
	entries, err := decodeMessageEntries(m.Results.ValueString())
	if err != nil {
		diags.AddWarning(summaryMessageStatusUnread, fmt.Sprintf("The results of batch task %s cannot be read back: "+
			"%v. The pending devices' status is not refreshed.", m.TaskID.ValueString(), err))
		return false
	}
	pendingBefore := pendingDevices(entries)
	var readable []string
	for _, id := range pendingBefore {
		if !slices.Contains(fp.Unreadable, id) {
			readable = append(readable, id)
		}
	}
	res := readEntries(ctx, client, entries, pendingOrder(readable, fp.PendingCursor, maxPendingReads))
	if res.lastRead != "" {
		fp.PendingCursor = res.lastRead
	}
	if res.asked < len(readable) || res.notReached > 0 {
		logInfo(ctx, fmt.Sprintf("batch task %s: read %d of %d pending devices (at most %d a refresh, within "+
			"timeouts.read); the next refresh goes on after %s", m.TaskID.ValueString(), res.asked-res.notReached,
			len(readable), maxPendingReads, firstNonEmpty(fp.PendingCursor, "the first")))
	}
	if res.notReached > 0 {
		diags.AddWarning(summaryMessageStatusUnread, fmt.Sprintf("timeouts.read ended before the status of every "+
			"device with %s pending was read: %d of %d were read. The others keep their last known status; the next "+
			"refresh reads them first, going on from where this one stopped. Nothing was sent.", m.describeWork(),
			res.asked-res.notReached, len(readable)))
	}
	if res.asked == res.notReached {
		return false
	}
	failures := m.setEntries(entries)
	var delivered, ended []string
	for _, id := range pendingBefore {
		e := entries[id]
		switch {
		case e.pending():
		case e.failure(id) != nil:
			ended = append(ended, id)
		default:
			delivered = append(delivered, id)
		}
	}
	logInfo(ctx, fmt.Sprintf("batch task %s: read %s pending: %d delivered, %d failed, %d still pending, %d gone, "+
		"%d not read", m.TaskID.ValueString(), plural(res.asked, "device"), len(delivered), len(ended),
		res.asked-len(delivered)-len(ended)-len(res.gone)-res.failed-res.notReached, len(res.gone),
		res.failed+res.notReached))
	gone, notYet := fp.countNotFound(res.found, res.gone)
	if len(notYet) > 0 {
		diags.AddWarning(summaryFleetMessageNotFound, fmt.Sprintf("IoTDA did not find %s for %s that had not "+
			"received it yet: %s. They keep their last known status, and the next refresh reads them again: a "+
			"message counts as gone only when %d reads in a row do not find it. Nothing was sent.", m.describeWork(),
			plural(len(notYet), "device"), iotda.ListSome(notYet, maxListedPending), goneAfterReads))
	}
	if len(gone) > 0 {
		fp.Unreadable = slices.Compact(slices.Sorted(slices.Values(append(fp.Unreadable, gone...))))
		diags.AddWarning(summaryFleetMessageGone, fmt.Sprintf("IoTDA no longer has %s for %s that had not received "+
			"it yet (%d reads in a row did not find it): %s. It keeps the last 20 messages of a device, for at most "+
			"their ttl, and forgets those of a deleted device.\n\nThose devices keep their last known status in "+
			"results and stay in pending_device_ids; they are not read again, and nothing is sent again because of "+
			"this. To send the message again, replace the resource (terraform apply -replace=<address>), or give "+
			"pending_device_ids to another resource.", m.describeWork(), plural(len(gone), "device"),
			goneAfterReads, iotda.ListSome(gone, maxListedPending)))
	}
	if res.failed > 0 {
		diags.AddWarning(summaryMessageStatusUnread, withRequestID(fmt.Sprintf("Reading the status of %s of "+
			"%s pending failed: %v\n\nThey keep their last known status; the next refresh reads them again. "+
			"Nothing was sent.", plural(res.failed, "device"), m.describeWork(), res.last), requestIDOf(res.last)))
	}
	if len(ended) > 0 {
		m.reportEnded(ended, failures, entries, diags)
	}
	return true
}

// reportEnded warns of devices whose pending message a refresh found FAILED or TIMEOUT. It
// never makes a plan replace the resource, whatever max_failed_devices says: that judges the
// failures the apply saw. A message that ends later (a device asleep past ttl) sent to the
// fleet again would reach every device that has it a second time, and a device that stays
// asleep would make every apply send it once more. failed_device_ids lists them to retry.
func (m *batchMessageModel) reportEnded(ended []string, failures []deviceFailure, entries map[string]messageEntry,
	diags *diag.Diagnostics,
) {
	var b strings.Builder
	fmt.Fprintf(&b, "Batch task %s (%q): %s did not reach %s after all:\n", m.TaskID.ValueString(),
		m.TaskName.ValueString(), m.describeWork(), plural(len(ended), "more device"))
	for i, id := range ended {
		if i == maxListedFailures {
			fmt.Fprintf(&b, "  ... and %d more (see failed_device_ids and results)\n", len(ended)-maxListedFailures)
			break
		}
		e := entries[id]
		b.WriteString("  - " + describeFailure(*e.failure(id)) + "\n")
	}
	fmt.Fprintf(&b, "\n%s failed in all (failed_device_ids). The apply had left these devices pending, and a "+
		"message that ends after the apply is not sent to the fleet again on its own, whatever max_failed_devices "+
		"(%d) says: every device that has it would get it a second time. To retry only the failed devices, give "+
		"failed_device_ids to another resource; to send the message again to every device, run terraform apply "+
		"-replace=<address>.", plural(len(failures), "device"), m.MaxFailedDevices.ValueInt64())
	diags.AddWarning(m.kindTitle()+" Failed on Some Devices", b.String())
}

// addPendingWarning says, after an apply that read the task's results, which devices have
// not received the message yet; it is not an error.
func (m *batchMessageModel) addPendingWarning(diags *diag.Diagnostics) {
	if m.PendingDeviceIDs.IsNull() || m.PendingDeviceIDs.IsUnknown() || len(m.PendingDeviceIDs.Elements()) == 0 {
		return
	}
	ids := listStrings(m.PendingDeviceIDs)
	ttl := "1440 minutes, the platform's default"
	if !m.TTL.IsNull() {
		ttl = plural(int(m.TTL.ValueInt64()), "minute")
	}
	diags.AddWarning(summaryFleetMessagePending, fmt.Sprintf("IoTDA accepted %s for every device of batch task %s, but "+
		"the message was still pending for %s when the task ran: %s (pending_device_ids). They are asleep or offline: IoTDA keeps the message "+
		"for up to ttl (%s) and delivers it when they connect.\n\nThis is not an error. Every refresh (terraform "+
		"plan, terraform refresh) reads their status again without sending anything; devices whose message ends "+
		"FAILED or TIMEOUT move to failed_device_ids.", m.describeWork(), m.TaskID.ValueString(),
		plural(len(ids), "device"), iotda.ListSome(ids, maxListedPending), ttl))
}
