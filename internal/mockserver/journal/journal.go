// Package journal is the IoTDA mock's record of everything it saw or did: every platform API
// request (with credentials masked and bodies cut to excerpts), every delivery, redelivery
// and reply on the device side, device sessions, the messages simulated devices received,
// and the batch task and message engines' events. Every part of the mock appends to one
// Journal; tests read it (or wait on it) to assert what the devices received, and the admin
// API serves it.
//
// The journal is bounded: it keeps each body whole up to 4 KiB and an excerpt beyond, and
// drops its oldest entries once it holds more than its byte bound or 10,000 entries.
package journal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultMaxBytes is the memory bound of a journal made with a bound that is not positive.
const DefaultMaxBytes = 32 << 20

// maxEntries bounds the number of entries, whatever their size; the oldest entries are
// dropped first. The byte bound given to New bounds their memory.
const maxEntries = 10000

// bodyExcerptBytes is how much of a body the journal keeps; see Entry.Body.
const bodyExcerptBytes = 4 << 10

// entryOverhead approximates what an entry costs beyond its strings and bodies: the Entry
// itself, its header map and the journal's slices.
const entryOverhead = 256

// Journal is the mock's record. It is safe for concurrent use.
type Journal struct {
	now      func() time.Time
	maxBytes int64

	mu    sync.Mutex
	list  []Entry
	sizes []int64 // sizes[i] is entrySize(list[i])
	bytes int64   // the sum of sizes
	// dropped counts the entries dropped to keep within the bounds since the journal was
	// last cleared: the list is missing that many older entries.
	dropped int
	// added counts every entry ever added, so that WaitFor can tell new entries from old
	// ones after the list was trimmed or cleared.
	added int
	// changed is closed and replaced on every add, waking WaitFor callers without polling.
	changed chan struct{}
}

// New returns an empty journal that stamps entries with now (time.Now when nil) and holds
// at most about maxBytes (DefaultMaxBytes when not positive).
func New(now func() time.Time, maxBytes int64) *Journal {
	if now == nil {
		now = time.Now
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Journal{now: now, maxBytes: maxBytes, changed: make(chan struct{})}
}

// Add appends e, stamping its Time and cutting its Body to an excerpt (see Entry.Body), then
// drops the oldest entries if the journal has outgrown its bounds.
func (j *Journal) Add(e Entry) {
	e.Time = j.now()
	e.Body, e.BodySize, e.BodySHA256 = bodyExcerpt(e.Body)
	size := entrySize(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.list = append(j.list, e)
	j.sizes = append(j.sizes, size)
	j.bytes += size
	if len(j.list) > maxEntries || j.bytes > j.maxBytes {
		j.trimLocked()
	}
	j.added++
	close(j.changed)
	j.changed = make(chan struct{})
}

// trimLocked drops the oldest entries until the journal is within nine tenths of both
// bounds, so that trimming is rare, always keeping the newest entry. It copies what is left
// rather than reslicing, so that the dropped entries can be garbage collected. j.mu must be
// held.
func (j *Journal) trimLocked() {
	keepEntries, keepBytes := maxEntries*9/10, j.maxBytes*9/10
	n, left := 0, j.bytes
	for n < len(j.list)-1 && (len(j.list)-n > keepEntries || left > keepBytes) {
		left -= j.sizes[n]
		n++
	}
	j.list = append(j.list[:0:0], j.list[n:]...)
	j.sizes = append(j.sizes[:0:0], j.sizes[n:]...)
	j.bytes = left
	j.dropped += n
}

// entrySize approximates the memory an entry holds.
func entrySize(e Entry) int64 {
	n := entryOverhead + len(e.Kind) + len(e.RequestID) + len(e.Method) + len(e.Path) + len(e.ErrorCode) +
		len(e.Fault) + len(e.DeviceID) + len(e.CommandID) + len(e.MessageID) + len(e.MessageStatus) + len(e.Topic) +
		len(e.TaskID) + len(e.TaskStatus) + len(e.ClientID) + len(e.Body) + len(e.BodySHA256)
	for name, values := range e.Header {
		n += len(name) + 64 // the map entry and the slice header
		for _, v := range values {
			n += len(v) + 16
		}
	}
	return int64(n)
}

// bodyExcerpt returns what the journal keeps of a body: the body itself when it is at most
// bodyExcerptBytes long, as JSON (a body that is not JSON becomes a JSON string); otherwise
// a JSON string of its first bodyExcerptBytes (cut at a UTF-8 character boundary), with the
// whole body's size and lowercase hex SHA-256.
func bodyExcerpt(b []byte) (excerpt json.RawMessage, size int, sha string) {
	if len(b) <= bodyExcerptBytes {
		return jsonOrString(bytes.Clone(b)), 0, ""
	}
	sum := sha256.Sum256(b)
	cut := bodyExcerptBytes
	for cut > bodyExcerptBytes-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut-- // b[cut] is the first byte left out: do not split the character before it
	}
	s, err := json.Marshal(string(b[:cut])) // a string always encodes
	if err != nil {
		s = nil
	}
	return s, len(b), hex.EncodeToString(sum[:])
}

// jsonOrString returns b unchanged when it is empty or valid JSON, and b as a JSON string
// otherwise.
func jsonOrString(b []byte) json.RawMessage {
	if len(b) == 0 || json.Valid(b) {
		return b
	}
	s, err := json.Marshal(string(b))
	if err != nil {
		return nil
	}
	return s
}

// WaitFor returns the first entry, already there or yet to come, for which match is true.
// It waits until ctx ends, then returns ctx.Err(). Tests use it to wait for a delivery or a
// connection without sleeping.
func (j *Journal) WaitFor(ctx context.Context, match func(Entry) bool) (Entry, error) {
	seen := 0 // in j.added terms: entries before it have been looked at
	for {
		j.mu.Lock()
		list, added, changed := j.list, j.added, j.changed
		j.mu.Unlock()
		// Entries are never modified once added, so the slice can be read unlocked.
		first := added - len(list)
		for _, e := range list[max(seen-first, 0):] {
			if match(e) {
				return e, nil
			}
		}
		seen = added
		select {
		case <-changed:
		case <-ctx.Done():
			return Entry{}, ctx.Err()
		}
	}
}

// Entries returns a copy of the journal, oldest first.
func (j *Journal) Entries() []Entry {
	out, _ := j.Snapshot()
	return out
}

// Snapshot returns a copy of the journal, oldest first, and how many older entries it has
// dropped, oldest first, to stay within its bounds since it was last cleared.
func (j *Journal) Snapshot() ([]Entry, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, len(j.list))
	copy(out, j.list)
	return out, j.dropped
}

// Size is about how many bytes the journal's entries hold (what its byte bound counts).
func (j *Journal) Size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes
}

// Clear empties the journal.
func (j *Journal) Clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.list, j.sizes, j.bytes, j.dropped = nil, nil, 0, 0
}
