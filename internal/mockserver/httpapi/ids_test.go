package httpapi

import (
	"regexp"
	"testing"
)

// uuidV4Pattern is a lowercase version 4 UUID.
var uuidV4Pattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewUUID()
		if !uuidV4Pattern.MatchString(id) || seen[id] {
			t.Fatalf("NewUUID() = %q (duplicate: %v)", id, seen[id])
		}
		seen[id] = true
	}
}
