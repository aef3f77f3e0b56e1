package journal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestJournal_AddStampsAndSanitizes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := New(func() time.Time { return at }, 0)
	j.Add(Entry{Kind: EntryRequest, Body: json.RawMessage(`{"a":1.0}`)})
	j.Add(Entry{Kind: EntryReply, Body: json.RawMessage(`not json`)})
	got := j.Entries()
	if len(got) != 2 || !got[0].Time.Equal(at) {
		t.Fatalf("entries = %+v", got)
	}
	if string(got[0].Body) != `{"a":1.0}` || string(got[1].Body) != `"not json"` {
		t.Errorf("bodies = %s, %s", got[0].Body, got[1].Body)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("journal does not encode: %v", err)
	}
	got[0].Kind = "changed"
	if j.Entries()[0].Kind != EntryRequest {
		t.Error("entries() returned the journal's own slice")
	}
	j.Clear()
	if n := len(j.Entries()); n != 0 {
		t.Errorf("%d entries after clear", n)
	}
}

func TestJournal_Bounded(t *testing.T) {
	j := New(nil, 0)
	for i := range maxEntries + 5 {
		j.Add(Entry{Kind: EntryRequest, RequestID: strconv.Itoa(i)})
	}
	got := j.Entries()
	last := strconv.Itoa(maxEntries + 4)
	if len(got) > maxEntries || got[0].RequestID == "0" || got[len(got)-1].RequestID != last {
		t.Errorf("len %d, first %s, last %s", len(got), got[0].RequestID, got[len(got)-1].RequestID)
	}
}

func TestJournal_WaitFor(t *testing.T) {
	j := New(nil, 0)
	j.Add(Entry{Kind: EntryConnect, DeviceID: "old"})
	if e, err := j.WaitFor(t.Context(), func(e Entry) bool { return e.DeviceID == "old" }); err != nil || e.Kind != EntryConnect {
		t.Errorf("existing entry: %+v, %v", e, err)
	}
	got := make(chan Entry, 1)
	go func() {
		e, err := j.WaitFor(t.Context(), func(e Entry) bool { return e.Kind == EntryReply })
		if err == nil {
			got <- e
		}
		close(got)
	}()
	j.Clear() // a cleared journal must not make the waiter skip what comes next
	j.Add(Entry{Kind: EntryDelivery})
	j.Add(Entry{Kind: EntryReply, CommandID: "c1"})
	if e := <-got; e.CommandID != "c1" {
		t.Errorf("waited entry = %+v", e)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := j.WaitFor(ctx, func(Entry) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waitFor without a match = %v", err)
	}
}

func TestMaskHeader(t *testing.T) {
	h := http.Header{
		"Authorization":    {"SDK-HMAC-SHA256 Access=AK, SignedHeaders=x-sdk-date, Signature=abc"},
		"X-Auth-Token":     {"tok"},
		"X-Security-Token": {"sts"},
		"User-Agent":       {"ua"},
	}
	got := http.Header(MaskHeader(h))
	want := http.Header{
		"Authorization":    {"SDK-HMAC-SHA256 ***"},
		"X-Auth-Token":     {"***"},
		"X-Security-Token": {"***"},
		"User-Agent":       {"ua"},
	}
	for name := range want {
		if got.Get(name) != want.Get(name) {
			t.Errorf("%s = %q, want %q", name, got.Get(name), want.Get(name))
		}
	}
	if h.Get("X-Auth-Token") != "tok" {
		t.Error("maskHeader changed its input")
	}
}

func TestJournal_BodyExcerpt(t *testing.T) {
	j := New(nil, 0)
	small := `{"paras":{"v":1}}`
	long := `{"paras":{"pad":"` + strings.Repeat("x", 10_000) + `"}}`
	// "é" is two bytes; placed so that the 4 KiB cut would split it.
	split := strings.Repeat("a", 4095) + "é" + strings.Repeat("b", 100)
	j.Add(Entry{Kind: EntryRequest, Body: []byte(small)})
	j.Add(Entry{Kind: EntryRequest, Body: []byte(long)})
	j.Add(Entry{Kind: EntryReply, Body: []byte(split)})
	got := j.Entries()

	if string(got[0].Body) != small || got[0].BodySize != 0 || got[0].BodySHA256 != "" {
		t.Errorf("a small body must be kept whole: %+v", got[0])
	}
	var excerpt string
	if err := json.Unmarshal(got[1].Body, &excerpt); err != nil {
		t.Fatalf("a long body's excerpt is not a JSON string: %s", got[1].Body)
	}
	sum := sha256.Sum256([]byte(long))
	if excerpt != long[:4096] || got[1].BodySize != len(long) || got[1].BodySHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("long body: excerpt of %d bytes, size %d, sha %s; want the first 4096 bytes, %d, %x",
			len(excerpt), got[1].BodySize, got[1].BodySHA256, len(long), sum)
	}
	if err := json.Unmarshal(got[2].Body, &excerpt); err != nil {
		t.Fatal(err)
	}
	if excerpt != strings.Repeat("a", 4095) || !utf8.ValidString(excerpt) || got[2].BodySize != len(split) {
		t.Errorf("a cut inside a character must end before it: %q... (%d bytes), size %d", excerpt[:8], len(excerpt), got[2].BodySize)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("the journal does not encode: %v", err)
	}
}

func TestJournal_MemoryBound(t *testing.T) {
	const limit = 64 << 10
	j := New(nil, limit)
	const total = 1000
	for i := range total {
		j.Add(Entry{Kind: EntryRequest, RequestID: strconv.Itoa(i), Body: []byte(`"` + strings.Repeat("x", 1000) + `"`)})
	}
	entries, dropped := j.Snapshot()
	if j.bytes > limit || len(entries) == 0 || len(entries)*1000 > limit {
		t.Errorf("journal holds %d bytes in %d entries, want at most %d bytes", j.bytes, len(entries), limit)
	}
	if dropped+len(entries) != total {
		t.Errorf("dropped %d + kept %d != %d added", dropped, len(entries), total)
	}
	if last := entries[len(entries)-1].RequestID; last != strconv.Itoa(total-1) {
		t.Errorf("newest entry %s, want %d: the oldest must go first", last, total-1)
	}
	if first := entries[0].RequestID; first != strconv.Itoa(dropped) {
		t.Errorf("oldest kept entry %s, want %d", first, dropped)
	}

	// One entry larger than the whole bound is still kept, alone.
	j.Add(Entry{Kind: EntryRequest, RequestID: "huge", Header: map[string][]string{"X-Big": {strings.Repeat("h", 2*limit)}}})
	if entries, _ := j.Snapshot(); len(entries) != 1 || entries[0].RequestID != "huge" {
		t.Errorf("after an oversized entry the journal holds %d entries", len(entries))
	}
	j.Clear()
	if entries, dropped := j.Snapshot(); len(entries) != 0 || dropped != 0 || j.bytes != 0 {
		t.Errorf("after clear: %d entries, %d dropped, %d bytes", len(entries), dropped, j.bytes)
	}
}

// TestEntrySize_CountsEveryStringField: the journal's memory bound counts what each entry
// holds, so a field added to Entry must be counted too.
func TestEntrySize_CountsEveryStringField(t *testing.T) {
	const n = 1000
	base := entrySize(Entry{})
	typ := reflect.TypeFor[Entry]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var e Entry
		v := reflect.ValueOf(&e).Elem().Field(i)
		switch {
		case f.Type.Kind() == reflect.String:
			v.SetString(strings.Repeat("x", n))
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Uint8:
			v.SetBytes([]byte(strings.Repeat("x", n)))
		default:
			continue
		}
		if got := entrySize(e) - base; got < n {
			t.Errorf("an Entry whose %s holds %d bytes counts %d more bytes, want at least %d", f.Name, n, got, n)
		}
	}
}

func TestMaskHeaderValue_UnknownAuthorizationSchemeFullyMasked(t *testing.T) {
	if got := maskHeaderValue("authorization", "Bearer abc"); got != "***" {
		t.Errorf("masked = %q", got)
	}
	if got := maskHeaderValue("authorization", "secret-without-space"); got != "***" {
		t.Errorf("masked = %q", got)
	}
}
