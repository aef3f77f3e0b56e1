package mockserver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestJournal_BodyExcerpt(t *testing.T) {
	j := newJournal(nil, 0)
	small := `{"paras":{"v":1}}`
	long := `{"paras":{"pad":"` + strings.Repeat("x", 10_000) + `"}}`
	// "é" is two bytes; placed so that the 4 KiB cut would split it.
	split := strings.Repeat("a", 4095) + "é" + strings.Repeat("b", 100)
	j.add(Entry{Kind: EntryRequest, Body: []byte(small)})
	j.add(Entry{Kind: EntryRequest, Body: []byte(long)})
	j.add(Entry{Kind: EntryReply, Body: []byte(split)})
	got := j.entries()

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
	j := newJournal(nil, limit)
	const total = 1000
	for i := range total {
		j.add(Entry{Kind: EntryRequest, RequestID: strconv.Itoa(i), Body: []byte(`"` + strings.Repeat("x", 1000) + `"`)})
	}
	entries, dropped := j.snapshot()
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
	j.add(Entry{Kind: EntryRequest, RequestID: "huge", Header: map[string][]string{"X-Big": {strings.Repeat("h", 2*limit)}}})
	if entries, _ := j.snapshot(); len(entries) != 1 || entries[0].RequestID != "huge" {
		t.Errorf("after an oversized entry the journal holds %d entries", len(entries))
	}
	j.clear()
	if entries, dropped := j.snapshot(); len(entries) != 0 || dropped != 0 || j.bytes != 0 {
		t.Errorf("after clear: %d entries, %d dropped, %d bytes", len(entries), dropped, j.bytes)
	}
}

// TestJournal_UnauthenticatedRequestsKeepNoBody: the attack, 1 MiB POSTs without
// credentials, leaves only their (masked) headers in the journal.
func TestJournal_UnauthenticatedRequestsKeepNoBody(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: testToken, Credentials: map[string]string{testAK: testSK},
		Now: func() time.Time { return authClock }, Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	big := `{"paras":{"pad":"` + strings.Repeat("x", 1<<20-64) + `"}}`
	const attempts = 20
	for i := range attempts {
		req := newCommandRequest(t, commandURL(s, "echo"), big)
		switch i % 3 {
		case 1:
			req.Header.Set("X-Auth-Token", "guess")
		case 2:
			// A known access key and a fresh date: the body is read, and the signature fails.
			req.Header.Set("Authorization", "SDK-HMAC-SHA256 Access="+testAK+", SignedHeaders=x-sdk-date, Signature="+
				strings.Repeat("0", 64))
			req.Header.Set("X-Sdk-Date", authClock.Format("20060102T150405Z"))
		}
		resp, body := do(t, nil, req)
		wantError(t, resp, body, http.StatusUnauthorized, codeUnauthorized)
	}
	var requests int
	for _, e := range s.Journal() {
		if e.Kind != EntryRequest {
			continue
		}
		requests++
		if len(e.Body) != 0 || e.BodySize != 0 || e.BodySHA256 != "" {
			t.Errorf("request %s journaled %d body bytes (size %d)", e.RequestID, len(e.Body), e.BodySize)
		}
		if e.Header["Content-Type"] == nil {
			t.Errorf("request %s lost its headers: %v", e.RequestID, e.Header)
		}
	}
	if requests != attempts {
		t.Errorf("%d requests journaled, want %d", requests, attempts)
	}
	if s.journal.bytes > attempts*4096 {
		t.Errorf("the journal holds %d bytes after %d rejected requests", s.journal.bytes, attempts)
	}
}

// TestJournal_AuthenticatedLongBodyExcerpt: an accepted command's long body is journaled as an
// excerpt with its size and hash, in the request and in the delivery.
func TestJournal_AuthenticatedLongBodyExcerpt(t *testing.T) {
	s := NewForTest(t, Options{AuthToken: testToken, Devices: []Device{{ID: "echo", Simulated: &Behavior{Kind: BehaviorEcho}}}})
	body := `{"paras":{"pad":"` + strings.Repeat("y", 20_000) + `"}}`
	req := newCommandRequest(t, commandURL(s, "echo"), body)
	req.Header.Set("X-Auth-Token", testToken)
	if resp, b := do(t, nil, req); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %.200s", resp.StatusCode, b)
	}
	e := lastRequest(t, s)
	if e.BodySize != len(body) || e.BodySHA256 != sha256Hex(body) || excerptLen(t, e) != 4096 {
		t.Errorf("request entry: %d body bytes, size %d, sha %s", len(e.Body), e.BodySize, e.BodySHA256)
	}
	d := s.Deliveries("echo")
	if len(d) != 1 || d[0].BodySize <= 20_000 || excerptLen(t, d[0]) != 4096 {
		t.Errorf("%d deliveries; want one with an excerpt of a body over 20,000 bytes", len(d))
	}
}

// excerptLen is the length of an entry's body excerpt, a JSON string.
func excerptLen(t *testing.T, e Entry) int {
	t.Helper()
	var s string
	if err := json.Unmarshal(e.Body, &s); err != nil {
		t.Fatalf("%s entry body is not a JSON string: %.100s", e.Kind, e.Body)
	}
	return len(s)
}

func TestAdmin_JournalReportsDropped(t *testing.T) {
	s := NewForTest(t, Options{Limits: Limits{JournalMaxBytes: 16 << 10}})
	const requests = 100
	for i := range requests {
		resp, body := postCommand(t, s, fmt.Sprintf("ghost-%d", i), `{"paras":{}}`)
		wantError(t, resp, body, http.StatusNotFound, codeDeviceNotFound)
	}
	resp, body := admin(t, s, http.MethodGet, "/_mock/journal", "")
	wantStatus(t, resp, body, http.StatusOK)
	var entries []Entry
	if err := json.Unmarshal(body, &entries); err != nil {
		t.Fatalf("journal answer is not a JSON array: %v", err)
	}
	dropped, err := strconv.Atoi(resp.Header.Get("X-Mock-Journal-Dropped"))
	if err != nil || dropped == 0 || dropped+len(entries) != requests || dropped != s.JournalDropped() {
		t.Errorf("X-Mock-Journal-Dropped = %q with %d entries of %d requests (JournalDropped %d)",
			resp.Header.Get("X-Mock-Journal-Dropped"), len(entries), requests, s.JournalDropped())
	}
	if last := entries[len(entries)-1]; last.DeviceID != fmt.Sprintf("ghost-%d", requests-1) {
		t.Errorf("newest entry is for %s", last.DeviceID)
	}

	resp, body = admin(t, s, http.MethodDelete, "/_mock/journal", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	resp, body = admin(t, s, http.MethodGet, "/_mock/journal", "")
	if string(body) != "[]" || resp.Header.Get("X-Mock-Journal-Dropped") != "0" {
		t.Errorf("after DELETE: %s, dropped %q", body, resp.Header.Get("X-Mock-Journal-Dropped"))
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
