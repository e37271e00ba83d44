package reconcile

import (
	"context"
	"testing"

	"github.com/rostersync/rostersync/internal/tenant"
	"github.com/rostersync/rostersync/internal/userplan"
)

// usersDeltaTenant is a tenant that reads users from a cursor: it records
// what each read was given and answers the next directory and cursor.
type usersDeltaTenant struct {
	Directory
	gotPrev   []userplan.Directory
	gotCursor []string
	answers   []userplan.Directory
}

func (d *usersDeltaTenant) UsersSnapshotSince(_ context.Context, prev userplan.Directory, cursor string) (userplan.Directory, string, error) {
	d.gotPrev, d.gotCursor = append(d.gotPrev, prev), append(d.gotCursor, cursor)
	n := len(d.gotCursor)
	return d.answers[n-1], "cursor-" + string(rune('0'+n)), nil
}

// The users snapshot reads from what the last read cached and caches the
// new read's accounts (not its domains) and cursor; a cache it cannot
// decode reads everything (no cursor).
func TestUsersSnapshotCache(t *testing.T) {
	ctx := context.Background()
	a1 := userplan.Account{ID: "u1", UserPrincipalName: "a@x.example", AccountEnabled: true, Props: map[string]string{"displayName": "A"}}
	a2 := userplan.Account{ID: "u2", UserPrincipalName: "b@x.example"}
	doms := []string{"x.example"}
	d := &usersDeltaTenant{answers: []userplan.Directory{{Accounts: []userplan.Account{a1}, Domains: doms},
		{Accounts: []userplan.Account{a1, a2}, Domains: doms}, {Accounts: []userplan.Account{a2}, Domains: doms}}}
	cache := &memCache{}
	snap := UsersKind().Snapshot

	if _, err := snap(ctx, d, tenant.Profile{}, cache); err != nil {
		t.Fatal(err)
	}
	got, err := snap(ctx, d, tenant.Profile{}, cache)
	if err != nil {
		t.Fatal(err)
	}
	if d.gotCursor[0] != "" || d.gotCursor[1] != "cursor-1" {
		t.Errorf("cursors given %q, want none then the first read's", d.gotCursor)
	}
	if p := d.gotPrev[1]; len(p.Accounts) != 1 || p.Accounts[0].ID != "u1" || p.Accounts[0].Props["displayName"] != "A" || p.Domains != nil {
		t.Errorf("second read started from %+v, want the first read's accounts only", p)
	}
	if len(got.Accounts) != 2 || len(got.Domains) != 1 || cache.cursor != "cursor-2" || cache.saves != 2 {
		t.Errorf("second read %+v, cache cursor %q after %d saves", got, cache.cursor, cache.saves)
	}

	cache.data = []byte("{not json")
	if _, err := snap(ctx, d, tenant.Profile{}, cache); err != nil {
		t.Fatal(err)
	}
	if d.gotCursor[2] != "" || len(d.gotPrev[2].Accounts) != 0 {
		t.Errorf("an unreadable cache gave cursor %q and %d accounts, want a full read", d.gotCursor[2], len(d.gotPrev[2].Accounts))
	}
}
