package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRegistry_AddRemoveAndHolds(t *testing.T) {
	r := New(Limits{})
	b := Behavior{Kind: BehaviorEcho}
	got, seq, err := r.Add(Device{ID: "d1", Simulated: &b})
	if err != nil || got.Secret != "secret-d1" || got.Simulated == &b || got.Simulated.Kind != BehaviorEcho {
		t.Fatalf("Add = %+v, %v; want the default secret and a copy of the behaviour", got, err)
	}
	b.Kind = BehaviorSilent
	if d := r.Devices(); len(d) != 1 || d[0].Simulated.Kind != BehaviorEcho {
		t.Errorf("the caller's behaviour changed the registry's: %+v", d)
	}
	if _, _, err := r.Add(Device{ID: "d1"}); !errors.Is(err, ErrExists) {
		t.Errorf("a second d1 = %v, want ErrExists", err)
	}
	for _, bad := range []Device{{ID: ""}, {ID: "a/b"}, {ID: strings.Repeat("x", 129)},
		{ID: "k", Simulated: &Behavior{Kind: "dance"}}} {
		if _, _, err := r.Add(bad); err == nil || errors.Is(err, ErrExists) {
			t.Errorf("Add(%+v) = %v, want a validation error", bad, err)
		}
	}
	if secret, ok := r.Secret("d1"); !ok || secret != "secret-d1" || !r.Registered("d1") || !r.Holds("d1", seq) {
		t.Errorf("d1: secret %q %v, registered %v, holds %v", secret, ok, r.Registered("d1"), r.Holds("d1", seq))
	}
	if !r.Remove("d1") || r.Remove("d1") || r.Registered("d1") || r.Holds("d1", seq) {
		t.Error("Remove does not unregister d1 exactly once")
	}
	if _, again, err := r.Add(Device{ID: "d1", Secret: "s"}); err != nil || again == seq || r.Holds("d1", seq) {
		t.Errorf("d1 registered again: %v, number %d (was %d); the old number must not hold", err, again, seq)
	}
}

func TestRegistry_FleetsAreWholeAndOwnTheirDevices(t *testing.T) {
	r := New(Limits{})
	if _, _, err := r.Add(Device{ID: "f-3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddFleet(Fleet{Prefix: "f-", Count: 5}); !errors.Is(err, ErrExists) {
		t.Fatalf("a fleet over a registered id = %v, want ErrExists", err)
	}
	if n := len(r.Devices()); n != 1 {
		t.Fatalf("a refused fleet left %d devices, want the 1 there was", n)
	}
	ids, err := r.AddFleet(Fleet{Prefix: "g-", Count: 3, Secret: "shared", Behavior: Behavior{Kind: BehaviorEcho}})
	if err != nil || !slices.Equal(ids, []string{"g-1", "g-2", "g-3"}) {
		t.Fatalf("AddFleet = %v, %v", ids, err)
	}
	if _, err := r.AddFleet(Fleet{Prefix: "g-", Count: 1}); !errors.Is(err, ErrExists) {
		t.Errorf("a second fleet g- = %v, want ErrExists", err)
	}
	if secret, _ := r.Secret("g-2"); secret != "shared" {
		t.Errorf("g-2's secret %q, want the fleet's", secret)
	}
	// g-2 is removed on its own and registered again: the fleet no longer owns it.
	r.Remove("g-2")
	if _, _, err := r.Add(Device{ID: "g-2"}); err != nil {
		t.Fatal(err)
	}
	ids, err = r.RemoveFleet("g-")
	if err != nil || !slices.Equal(ids, []string{"g-1", "g-3"}) {
		t.Errorf("RemoveFleet = %v, %v; want g-1 and g-3", ids, err)
	}
	if !r.Registered("g-2") || len(r.Fleets()) != 0 {
		t.Errorf("g-2 registered %v, fleets %+v", r.Registered("g-2"), r.Fleets())
	}
	if _, err := r.RemoveFleet("g-"); !errors.Is(err, ErrFleetNotFound) {
		t.Errorf("removing g- twice = %v, want ErrFleetNotFound", err)
	}
}

func TestRegistry_Groups(t *testing.T) {
	r := New(Limits{})
	members := []string{"a", "b"}
	if err := r.AddGroup(Group{ID: "0a1b", DeviceIDs: members}); err != nil {
		t.Fatal(err)
	}
	members[0] = "changed"
	if got, ok := r.Members("0a1b"); !ok || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Members = %v, %v; the caller's slice must not change the group", got, ok)
	}
	for _, bad := range []Group{{ID: "0a1b"}, {ID: "not-hex!"}, {ID: "c", DeviceIDs: []string{"x", "x"}}, {ID: "d", DeviceIDs: []string{"a/b"}}} {
		if err := r.AddGroup(bad); err == nil {
			t.Errorf("AddGroup(%+v) accepted", bad)
		}
	}
	if err := r.AddGroup(Group{ID: "0a1b", DeviceIDs: []string{"bad/id"}}); !errors.Is(err, ErrExists) {
		t.Errorf("a taken id with bad members = %v, want ErrExists first", err)
	}
	if !r.RemoveGroup("0a1b") || r.RemoveGroup("0a1b") || len(r.Groups()) != 0 {
		t.Error("RemoveGroup does not remove the group exactly once")
	}
	if _, ok := r.Members("0a1b"); ok {
		t.Error("a removed group still has members")
	}
}

// TestRegistry_Limits: devices and fleets count toward MaxDevices together, a fleet is
// refused whole when it would not fit, MaxFleets counts fleets, and room freed by a removal
// is usable again.
func TestRegistry_Limits(t *testing.T) {
	r := New(Limits{MaxDevices: 10, MaxFleets: 2})
	if _, err := r.AddFleet(Fleet{Prefix: "a-", Count: 8}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Add(Device{ID: "d1"}); err != nil {
		t.Fatal(err)
	}
	_, err := r.AddFleet(Fleet{Prefix: "b-", Count: 2})
	if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), `fleet "b-" (2 devices) would bring the mock to 11 devices, over its limit of 10 devices`) {
		t.Fatalf("a fleet past MaxDevices = %v", err)
	}
	if n := len(r.Devices()); n != 9 {
		t.Fatalf("a refused fleet left %d devices, want 9", n)
	}
	if _, err := r.AddFleet(Fleet{Prefix: "b-", Count: 1}); err != nil {
		t.Fatalf("a fleet that fits: %v", err)
	}
	if _, _, err := r.Add(Device{ID: "d2"}); !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), `device "d2"`) {
		t.Errorf("a device past MaxDevices = %v", err)
	}
	if !r.Remove("d1") {
		t.Fatal("d1 was not registered")
	}
	if _, _, err := r.Add(Device{ID: "d2"}); err != nil {
		t.Errorf("a device in the room a removal freed: %v", err)
	}
	if _, err := r.RemoveFleet("a-"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AddFleet(Fleet{Prefix: "c-", Count: 1}); err != nil {
		t.Fatalf("a second fleet: %v", err)
	}
	if _, err := r.AddFleet(Fleet{Prefix: "e-", Count: 1}); !errors.Is(err, ErrLimit) ||
		!strings.Contains(err.Error(), `fleet "e-" would be the mock's fleet number 3, over its limit of 2 fleets`) {
		t.Errorf("a third fleet = %v", err)
	}
}
