package state_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// A snapshot cache round-trips its data and cursor, keeps one body per
// owner (the replaced one deleted), drops a save that lost the race to
// another, and is purged with its customer.
func TestSnapshotCache(t *testing.T) {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	blobs := &deletingBlobs{m: map[string][]byte{}}
	s := state.NewStoreWithBlobs(b, blobs, nil)
	ctx := context.Background()
	bodies := func() int {
		n := 0
		for name := range blobs.m {
			if strings.HasPrefix(name, "snapshot/") {
				n++
			}
		}
		return n
	}
	load := func(c *state.SnapshotCache) (string, string, bool) {
		t.Helper()
		data, cursor, ok, err := c.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(data), cursor, ok
	}

	first := s.SnapshotCache("c1", "p1", "groups")
	if _, _, ok := load(first); ok {
		t.Fatal("an empty cache loaded something")
	}
	if err := first.Save(ctx, []byte(`{"groups":1}`), "link-1"); err != nil {
		t.Fatal(err)
	}
	if data, cursor, ok := load(s.SnapshotCache("c1", "p1", "groups")); !ok || data != `{"groups":1}` || cursor != "link-1" {
		t.Fatalf("loaded %q %q %t, want the saved data and cursor", data, cursor, ok)
	}
	if _, _, ok := load(s.SnapshotCache("c1", "p2", "groups")); ok {
		t.Error("another profile's cache loaded this one's")
	}

	// Two runs load the same state; the first to save wins.
	a, stale := s.SnapshotCache("c1", "p1", "groups"), s.SnapshotCache("c1", "p1", "groups")
	load(a)
	load(stale)
	if err := a.Save(ctx, []byte(`{"groups":2}`), "link-2"); err != nil {
		t.Fatal(err)
	}
	if err := stale.Save(ctx, []byte(`{"groups":3}`), "link-3"); err != nil {
		t.Fatalf("a save that lost the race: %v, want it dropped quietly", err)
	}
	if data, cursor, _ := load(s.SnapshotCache("c1", "p1", "groups")); data != `{"groups":2}` || cursor != "link-2" {
		t.Errorf("after the race the cache holds %q %q, want the winner's", data, cursor)
	}
	if n := bodies(); n != 1 {
		t.Errorf("%d snapshot bodies kept, want 1 (the replaced and the losing one deleted)", n)
	}

	if _, err := s.PurgeCustomer(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := load(s.SnapshotCache("c1", "p1", "groups")); ok {
		t.Error("a purged customer's cache still loads")
	}
	if n := bodies(); n != 0 {
		t.Errorf("%d snapshot bodies left after the purge, want 0", n)
	}
}

// deletingBlobs are blobs in memory that can be deleted (as table blobs
// can).
type deletingBlobs struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (d *deletingBlobs) PutBlob(_ context.Context, name string, data []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[name] = append([]byte(nil), data...)
	return nil
}

func (d *deletingBlobs) GetBlob(_ context.Context, name string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	data, ok := d.m[name]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", name, state.ErrNotFound)
	}
	return data, nil
}

func (d *deletingBlobs) DeleteBlob(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, name)
	return nil
}
