package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// A snapshot cache keeps what an entity's tenant read ended with (the
// groups and their members, say) and the cursor to read only the changes
// since (a delta link), so a quiet night reads a page of changes instead
// of the whole tenant. The data is a gzipped blob named by a digest of its
// owner and content, written first; the sync state row of the entity's
// snapshot name (SnapshotEntity) names the blob and holds the cursor,
// written last and guarded by its ETag. A crash between the two leaves
// the old row naming the old blob, which is still there.

// SnapshotEntity is the sync state entity name of an entity's snapshot
// cache.
func SnapshotEntity(entity string) string { return entity + ".snapshot" }

const snapshotBlobPfx = "snapshot/"

// snapshotCursor is what the sync state row's Cursor holds.
type snapshotCursor struct {
	Blob   string `json:"blob"`
	Cursor string `json:"cursor"`
}

// SnapshotCache is one (customer, profile, entity)'s snapshot cache. Load
// before Save: Save writes only if nobody saved since the Load.
type SnapshotCache struct {
	s                             *Store
	customerID, profileID, entity string
	etag                          string
	blob                          string
}

// SnapshotCache returns the snapshot cache of a customer's profile's
// entity.
func (s *Store) SnapshotCache(customerID, profileID, entity string) *SnapshotCache {
	return &SnapshotCache{s: s, customerID: customerID, profileID: profileID, entity: SnapshotEntity(entity)}
}

// Load returns the cached data and cursor; ok is false when nothing (or
// nothing whole) is cached.
func (c *SnapshotCache) Load(ctx context.Context) (data []byte, cursor string, ok bool, err error) {
	st, err := c.s.GetSyncState(ctx, c.customerID, c.profileID, c.entity)
	if errors.Is(err, ErrNotFound) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	c.etag = st.ETag
	var sc snapshotCursor
	if json.Unmarshal([]byte(st.Cursor), &sc) != nil || !strings.HasPrefix(sc.Blob, snapshotBlobPfx) {
		return nil, "", false, nil
	}
	c.blob = sc.Blob
	body, err := c.s.blobs.GetBlob(ctx, sc.Blob)
	if errors.Is(err, ErrNotFound) {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, fmt.Errorf("load snapshot of %s/%s/%s: %w", c.customerID, c.profileID, c.entity, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, "", false, nil // a torn or foreign blob: read the tenant afresh
	}
	if data, err = io.ReadAll(zr); err != nil {
		return nil, "", false, nil
	}
	return data, sc.Cursor, true, nil
}

// Save stores data and cursor. When another run saved since the Load, its
// save stands and this one is dropped: both describe the tenant as read.
func (c *SnapshotCache) Save(ctx context.Context, data []byte, cursor string) error {
	sum := sha256.New()
	fmt.Fprintf(sum, "%s|%s|%s|", c.customerID, c.profileID, c.entity)
	sum.Write(data)
	name := snapshotBlobPfx + hex.EncodeToString(sum.Sum(nil))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if name != c.blob {
		if err := c.s.blobs.PutBlob(ctx, name, buf.Bytes()); err != nil {
			return fmt.Errorf("save snapshot of %s/%s/%s: %w", c.customerID, c.profileID, c.entity, err)
		}
	}
	b, err := json.Marshal(snapshotCursor{Blob: name, Cursor: cursor})
	if err != nil {
		return err
	}
	st := SyncState{CustomerID: c.customerID, ProfileID: c.profileID, Entity: c.entity, Cursor: string(b), ETag: c.etag}
	saved, err := c.s.SaveSyncState(ctx, st)
	if errors.Is(err, ErrConflict) {
		// The other save stands; ours is named by no row unless it read
		// the same.
		if cur, err := c.s.GetSyncState(ctx, c.customerID, c.profileID, c.entity); err == nil && name != c.blob && !strings.Contains(cur.Cursor, name) {
			return c.s.deleteBlob(ctx, name)
		}
		return nil
	}
	if err != nil {
		return err
	}
	old := c.blob
	c.etag, c.blob = saved.ETag, name
	if old != "" && old != name {
		// The old body is named by no row now; its name is owned by this
		// cache alone (the digest covers the owner).
		return c.s.deleteBlob(ctx, old)
	}
	return nil
}

// snapshotBlobs lists the snapshot blobs the customer's sync state rows
// name, for the customer's purge.
func (s *Store) snapshotBlobs(ctx context.Context, customerID string) ([]string, error) {
	t, err := s.table(ctx, TableSyncState)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID)})
	if err != nil {
		return nil, fmt.Errorf("list sync state of %s: %w", customerID, err)
	}
	var out []string
	for _, e := range rows {
		var st SyncState
		if decodeData(e, &st) != nil || !strings.HasSuffix(st.Entity, ".snapshot") {
			continue
		}
		var sc snapshotCursor
		if json.Unmarshal([]byte(st.Cursor), &sc) == nil && strings.HasPrefix(sc.Blob, snapshotBlobPfx) {
			out = append(out, sc.Blob)
		}
	}
	return out, nil
}
