package reconcile

import (
	"context"
	"testing"

	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/tenant"
)

// deltaTenant is a tenant that reads groups from a cursor: it records what
// each read was given and answers the next directory and cursor.
type deltaTenant struct {
	Directory
	gotPrev   []groupplan.Directory
	gotCursor []string
	answers   []groupplan.Directory
}

func (d *deltaTenant) GroupsSnapshotSince(_ context.Context, prev groupplan.Directory, cursor string) (groupplan.Directory, string, error) {
	d.gotPrev, d.gotCursor = append(d.gotPrev, prev), append(d.gotCursor, cursor)
	n := len(d.gotCursor)
	return d.answers[n-1], "cursor-" + string(rune('0'+n)), nil
}

type memCache struct {
	data   []byte
	cursor string
	saves  int
}

func (m *memCache) Load(context.Context) ([]byte, string, bool, error) {
	return m.data, m.cursor, m.data != nil, nil
}

func (m *memCache) Save(_ context.Context, data []byte, cursor string) error {
	m.data, m.cursor = data, cursor
	m.saves++
	return nil
}

// The groups snapshot reads from what the last read cached and caches the
// new read and cursor; a cache it cannot decode reads everything (no
// cursor), and the profile's admins are never cached.
func TestGroupsSnapshotCache(t *testing.T) {
	ctx := context.Background()
	g1 := groupplan.Group{ID: "g1", DisplayName: "10A", Members: []string{"u1"}}
	g2 := groupplan.Group{ID: "g2", DisplayName: "10B", Owners: []string{"u2"}}
	d := &deltaTenant{answers: []groupplan.Directory{{Groups: []groupplan.Group{g1}}, {Groups: []groupplan.Group{g1, g2}}, {Groups: []groupplan.Group{g2}}}}
	cache := &memCache{}
	prof := tenant.Profile{Groups: &tenant.GroupsConfig{Admins: []string{"b2b2b2b2-0000-4000-8000-000000000009"}}}

	if _, err := groupsSnapshot(ctx, d, prof, cache); err != nil {
		t.Fatal(err)
	}
	got, err := groupsSnapshot(ctx, d, prof, cache)
	if err != nil {
		t.Fatal(err)
	}
	if d.gotCursor[0] != "" || d.gotCursor[1] != "cursor-1" {
		t.Errorf("cursors given %q, want none then the first read's", d.gotCursor)
	}
	if p := d.gotPrev[1].Groups; len(p) != 1 || p[0].ID != "g1" || len(p[0].Members) != 1 || d.gotPrev[1].Admins != nil {
		t.Errorf("second read started from %+v, want the first read's groups only", d.gotPrev[1])
	}
	if len(got.Groups) != 2 || cache.cursor != "cursor-2" || cache.saves != 2 {
		t.Errorf("second read %+v, cache cursor %q after %d saves", got, cache.cursor, cache.saves)
	}

	cache.data = []byte("{not json")
	if _, err := groupsSnapshot(ctx, d, prof, cache); err != nil {
		t.Fatal(err)
	}
	if d.gotCursor[2] != "" || len(d.gotPrev[2].Groups) != 0 {
		t.Errorf("an unreadable cache gave cursor %q and %d groups, want a full read", d.gotCursor[2], len(d.gotPrev[2].Groups))
	}

	// The layout before the kinds shared one: read as the new layout it
	// would be an empty cache with a cursor, and the delta would drop
	// every group it does not mention.
	d.answers = append(d.answers, groupplan.Directory{Groups: []groupplan.Group{g1}})
	cache.data, cache.cursor = []byte(`{"format":1,"groups":[{"id":"g1"}]}`), "cursor-old"
	if _, err := groupsSnapshot(ctx, d, prof, cache); err != nil {
		t.Fatal(err)
	}
	if d.gotCursor[3] != "" || len(d.gotPrev[3].Groups) != 0 {
		t.Errorf("a cache of the old layout gave cursor %q and %d groups, want a full read", d.gotCursor[3], len(d.gotPrev[3].Groups))
	}
}
