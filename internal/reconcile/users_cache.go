package reconcile

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rostersync/rostersync/internal/userplan"
)

// UsersDeltaReader is a UsersReader that can read only the changes since
// an earlier read: from that read's directory and cursor (empty: read
// everything) to the new directory and the cursor of the next read.
type UsersDeltaReader interface {
	UsersSnapshotSince(ctx context.Context, prev userplan.Directory, cursor string) (userplan.Directory, string, error)
}

// usersCacheFormat versions the cached accounts: a cache in another
// format is not read, and the tenant is read in full.
const usersCacheFormat = 1

type usersCache struct {
	Format   int                `json:"format"`
	Accounts []userplan.Account `json:"accounts"`
}

// readUsers reads the tenant's accounts: from the cached ones and the
// changes since when the tenant can (a night with no change is a request
// for users and one for domains instead of a page per 999 accounts), in
// full otherwise. The accounts are cached as a blob (state.SnapshotCache:
// a trust's tenant is megabytes); domains are read every time and never
// cached. The new read is cached at once, as readGroups does.
func readUsers(ctx context.Context, d Directory, cache SnapshotCache) (userplan.Directory, error) {
	dr, ok := d.(UsersDeltaReader)
	if !ok || cache == nil {
		r, ok := d.(UsersReader)
		if !ok {
			return userplan.Directory{}, fmt.Errorf("tenant %T offers no users snapshot", d)
		}
		return r.Snapshot(ctx)
	}
	data, cursor, found, err := cache.Load(ctx)
	if err != nil {
		return userplan.Directory{}, fmt.Errorf("load cached users: %w", err)
	}
	var prev userplan.Directory
	var c usersCache
	if found && json.Unmarshal(data, &c) == nil && c.Format == usersCacheFormat {
		prev.Accounts = c.Accounts
	} else {
		cursor = "" // nothing usable cached: read everything
	}
	dir, next, err := dr.UsersSnapshotSince(ctx, prev, cursor)
	if err != nil {
		return dir, err
	}
	if next == "" {
		return dir, nil
	}
	body, err := json.Marshal(usersCache{Format: usersCacheFormat, Accounts: dir.Accounts})
	if err != nil {
		return dir, err
	}
	if err := cache.Save(ctx, body, next); err != nil {
		return dir, fmt.Errorf("cache users: %w", err)
	}
	return dir, nil
}
