package mockserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// maxJournalEntries bounds the number of journal entries, whatever their size; the oldest
// entries are dropped first. Options.Limits.JournalMaxBytes bounds their memory.
const maxJournalEntries = 10000

// bodyExcerptBytes is how much of a body the journal keeps; see Entry.Body.
const bodyExcerptBytes = 4 << 10

// entryOverhead approximates what an entry costs beyond its strings and bodies: the Entry
// itself, its header map and the journal's slices.
const entryOverhead = 256

// maskedValue replaces credential header values in the journal.
const maskedValue = "***"

// journal is the mock's record of everything it saw or did. Both halves append to it.
type journal struct {
	now      func() time.Time
	maxBytes int64

	mu    sync.Mutex
	list  []Entry
	sizes []int64 // sizes[i] is entrySize(list[i])
	bytes int64   // the sum of sizes
	// dropped counts the entries dropped to keep within the bounds since the journal was
	// last cleared: the list is missing that many older entries.
	dropped int
	// added counts every entry ever added, so that waitFor can tell new entries from old
	// ones after the list was trimmed or cleared.
	added int
	// changed is closed and replaced on every add, waking waitFor callers without polling.
	changed chan struct{}
}

// newJournal returns an empty journal holding at most about maxBytes (a default when not
// positive).
func newJournal(now func() time.Time, maxBytes int64) *journal {
	if now == nil {
		now = time.Now
	}
	if maxBytes <= 0 {
		maxBytes = defaultJournalMaxBytes
	}
	return &journal{now: now, maxBytes: maxBytes, changed: make(chan struct{})}
}

// add appends e, stamping its Time and cutting its Body to an excerpt (see Entry.Body), then
// drops the oldest entries if the journal has outgrown its bounds.
func (j *journal) add(e Entry) {
	e.Time = j.now()
	e.Body, e.BodySize, e.BodySHA256 = bodyExcerpt(e.Body)
	size := entrySize(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.list = append(j.list, e)
	j.sizes = append(j.sizes, size)
	j.bytes += size
	if len(j.list) > maxJournalEntries || j.bytes > j.maxBytes {
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
func (j *journal) trimLocked() {
	maxEntries, maxBytes := maxJournalEntries*9/10, j.maxBytes*9/10
	n, left := 0, j.bytes
	for n < len(j.list)-1 && (len(j.list)-n > maxEntries || left > maxBytes) {
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
		len(e.Fault) + len(e.DeviceID) + len(e.CommandID) + len(e.TaskID) + len(e.TaskStatus) + len(e.ClientID) +
		len(e.Body) + len(e.BodySHA256)
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

// waitFor returns the first entry, old or new, for which match is true, waiting for it
// until ctx ends.
func (j *journal) waitFor(ctx context.Context, match func(Entry) bool) (Entry, error) {
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

// WaitJournal returns the first journal entry, already there or yet to come, for which
// match is true. It waits until ctx ends, then returns ctx.Err(). Tests use it to wait for
// a delivery or a connection without sleeping.
func (s *Server) WaitJournal(ctx context.Context, match func(Entry) bool) (Entry, error) {
	return s.journal.waitFor(ctx, match)
}

// JournalDropped is how many entries the journal has dropped, oldest first, to stay within
// its bounds (Options.Limits.JournalMaxBytes, and 10,000 entries) since it was last cleared.
func (s *Server) JournalDropped() int {
	_, dropped := s.journal.snapshot()
	return dropped
}

// entries returns a copy of the journal, oldest first.
func (j *journal) entries() []Entry {
	out, _ := j.snapshot()
	return out
}

// snapshot returns a copy of the journal, oldest first, and how many older entries it has
// dropped.
func (j *journal) snapshot() ([]Entry, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, len(j.list))
	copy(out, j.list)
	return out, j.dropped
}

// clear empties the journal.
func (j *journal) clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.list, j.sizes, j.bytes, j.dropped = nil, nil, 0, 0
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

// maskHeader copies h with the values of credential headers masked. For Authorization the
// algorithm is kept, so that tests can tell which signing algorithm a client used.
func maskHeader(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for name, values := range h {
		vs := make([]string, len(values))
		for i, v := range values {
			vs[i] = maskHeaderValue(name, v)
		}
		out[name] = vs
	}
	return out
}

func maskHeaderValue(name, value string) string {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization":
		// Only a known algorithm name is kept: anything else might be a credential.
		if alg, _, _ := strings.Cut(value, " "); alg == signer.AlgorithmSDK || alg == signer.AlgorithmV11 {
			return alg + " " + maskedValue
		}
		return maskedValue
	case "X-Auth-Token", "X-Security-Token":
		return maskedValue
	}
	return value
}
