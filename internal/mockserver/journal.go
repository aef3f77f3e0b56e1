package mockserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/iotda/signer"
)

// maxJournalEntries bounds the journal so that a long-running standalone mock does not grow
// without limit; the oldest entries are dropped first, a tenth at a time.
const maxJournalEntries = 10000

// maskedValue replaces credential header values in the journal.
const maskedValue = "***"

// journal is the mock's record of everything it saw or did. Both halves append to it.
type journal struct {
	now func() time.Time

	mu   sync.Mutex
	list []Entry
	// added counts every entry ever added, so that waitFor can tell new entries from old
	// ones after the list was trimmed or cleared.
	added int
	// changed is closed and replaced on every add, waking waitFor callers without polling.
	changed chan struct{}
}

func newJournal(now func() time.Time) *journal {
	if now == nil {
		now = time.Now
	}
	return &journal{now: now, changed: make(chan struct{})}
}

// add appends e, stamping its Time. A Body that is not valid JSON is stored as a JSON
// string so that the journal can always be served as JSON.
func (j *journal) add(e Entry) {
	e.Time = j.now()
	e.Body = jsonOrString(e.Body)
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.list) >= maxJournalEntries {
		// Drop the oldest tenth at once, so that trimming is rare, and copy rather than
		// reslice so that the dropped entries can be garbage collected.
		j.list = append(j.list[:0:0], j.list[maxJournalEntries/10:]...)
	}
	j.list = append(j.list, e)
	j.added++
	close(j.changed)
	j.changed = make(chan struct{})
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

// entries returns a copy of the journal, oldest first.
func (j *journal) entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, len(j.list))
	copy(out, j.list)
	return out
}

// clear empties the journal.
func (j *journal) clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.list = nil
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
