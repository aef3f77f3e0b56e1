package mockserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/httpapi"
)

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
		wantError(t, resp, body, http.StatusUnauthorized, httpapi.CodeUnauthorized)
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
	if s.journal.Size() > attempts*4096 {
		t.Errorf("the journal holds %d bytes after %d rejected requests", s.journal.Size(), attempts)
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
		wantError(t, resp, body, http.StatusNotFound, httpapi.CodeDeviceNotFound)
	}
	resp, body := adminCall(t, s, http.MethodGet, "/_mock/journal", "")
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

	resp, body = adminCall(t, s, http.MethodDelete, "/_mock/journal", "")
	wantStatus(t, resp, body, http.StatusNoContent)
	resp, body = adminCall(t, s, http.MethodGet, "/_mock/journal", "")
	if string(body) != "[]" || resp.Header.Get("X-Mock-Journal-Dropped") != "0" {
		t.Errorf("after DELETE: %s, dropped %q", body, resp.Header.Get("X-Mock-Journal-Dropped"))
	}
}
