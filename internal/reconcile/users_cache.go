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

// readUsers reads the tenant's accounts: from the cached ones and the
// changes since when the tenant can (a night with no change is a request
// for users and one for domains instead of a page per 999 accounts), in
// full otherwise (readCached). Domains are read every time and never
// cached.
func readUsers(ctx context.Context, d Directory, cache SnapshotCache) (userplan.Directory, error) {
	dr, ok := d.(UsersDeltaReader)
	if !ok || cache == nil {
		r, ok := d.(UsersReader)
		if !ok {
			return userplan.Directory{}, fmt.Errorf("tenant %T offers no users snapshot", d)
		}
		return r.Snapshot(ctx)
	}
	return readCached(ctx, cache, "users",
		func(prev []userplan.Account, cursor string) (userplan.Directory, string, error) {
			return dr.UsersSnapshotSince(ctx, userplan.Directory{Accounts: prev}, cursor)
		},
		func(d userplan.Directory) []userplan.Account { return d.Accounts })
}

// snapshotCacheFormat versions cached snapshot items: a cache in another
// format is not read, and the tenant is read in full. 2: one layout for
// every kind ({format, items}).
const snapshotCacheFormat = 2

type cachedItems[T any] struct {
	Format int `json:"format"`
	Items  []T `json:"items"`
}

// readCached reads a snapshot through cache: since is given the cached
// items and the cursor of the read that made them when they are usable,
// nothing otherwise (read everything), and answers the directory and the
// cursor of the next read. The new read's items are cached at once (a
// blob: a trust's tenant is megabytes), so a run that fails after it
// reads on from there next time, its directory already holding the
// changes it saw. No cursor answered caches nothing.
func readCached[D, T any](ctx context.Context, cache SnapshotCache, what string,
	since func(prev []T, cursor string) (D, string, error), items func(D) []T) (D, error) {
	data, cursor, found, err := cache.Load(ctx)
	if err != nil {
		var zero D
		return zero, fmt.Errorf("load cached %s: %w", what, err)
	}
	var c cachedItems[T]
	if !found || json.Unmarshal(data, &c) != nil || c.Format != snapshotCacheFormat {
		c.Items, cursor = nil, "" // nothing usable cached: read everything
	}
	dir, next, err := since(c.Items, cursor)
	if err != nil || next == "" {
		return dir, err
	}
	body, err := json.Marshal(cachedItems[T]{Format: snapshotCacheFormat, Items: items(dir)})
	if err != nil {
		return dir, err
	}
	if err := cache.Save(ctx, body, next); err != nil {
		return dir, fmt.Errorf("cache %s: %w", what, err)
	}
	return dir, nil
}
