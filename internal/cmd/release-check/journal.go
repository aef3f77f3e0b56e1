package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// journalEntry is the part of a mock journal entry this check reads.
type journalEntry struct {
	Kind     string              `json:"kind"`
	DeviceID string              `json:"device_id"`
	Header   map[string][]string `json:"header"`
}

// checkJournal requires one delivery to device, requested by the provider of version.
func checkJournal(api, version, device string, out io.Writer) error {
	requests, err := journal(api, "request", device)
	if err != nil {
		return err
	}
	deliveries, err := journal(api, "delivery", device)
	if err != nil {
		return err
	}
	want := "terraform-provider-iotda/" + version
	var byRelease int
	for _, e := range requests {
		for _, ua := range e.Header["User-Agent"] {
			if strings.Contains(ua, want) {
				byRelease++
				fmt.Fprintf(out, "mock journal: command request for %s, User-Agent %q\n", device, ua)
			}
		}
	}
	fmt.Fprintf(out, "mock journal: %d command request(s) and %d delivery(ies) to %s\n", len(requests), len(deliveries), device)
	if len(requests) != 1 || byRelease != 1 || len(deliveries) != 1 {
		return fmt.Errorf("want one command request from %s and one delivery to %s", want, device)
	}
	return nil
}

// journal fetches the mock's journal entries of a kind for a device.
func journal(api, kind, device string) ([]journalEntry, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := strings.TrimSuffix(api, "/") + "/_mock/journal?" + url.Values{"kind": {kind}, "device_id": {device}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var entries []journalEntry
	if err := json.NewDecoder(resp.Body).Decode(&entries); err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	return entries, nil
}
