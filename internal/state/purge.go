package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Purging: a removed customer's links, runs, logs, sync state and plans
// are kept for a retention and then deleted (PurgeCustomer); every
// customer's plans, which hold pupils' names, are deleted once older than
// the same retention (PurgePlans). Both are idempotent, so a purge cut
// short is finished by the next one.

// customerTables are the tables whose partitions start with the customer's
// id: every row in them belongs to exactly one customer.
var customerTables = []string{TableMappings, TableExclusions, TableRuns, TableRunIndex, TableRunLog, TableSyncState, TablePlans}

// BlobDeleter is a Blobs that can delete; plan bodies are deleted through
// it when no remaining plan names them.
type BlobDeleter interface {
	DeleteBlob(ctx context.Context, name string) error
}

// PurgeCustomer deletes every link, intent, exclusion, run, run log, sync
// state, plan and audit row of the customer, and the plan bodies no other plan
// names. The customer record and its profiles stay. It returns the rows
// deleted per table.
func (s *Store) PurgeCustomer(ctx context.Context, customerID string) (map[string]int, error) {
	out := map[string]int{}
	// Snapshot caches' bodies go first: only their sync state rows name
	// them.
	snaps, err := s.snapshotBlobs(ctx, customerID)
	if err != nil {
		return out, fmt.Errorf("purge customer %s: %w", customerID, err)
	}
	for _, b := range snaps {
		if err := s.deleteBlob(ctx, b); err != nil {
			return out, fmt.Errorf("purge customer %s: %w", customerID, err)
		}
	}
	var digests []string
	for _, name := range customerTables {
		n, ds, err := s.purgeRows(ctx, name, func(parts []string) bool { return len(parts) > 0 && parts[0] == customerID })
		out[name] = n
		digests = append(digests, ds...)
		if err != nil {
			return out, fmt.Errorf("purge customer %s: %w", customerID, err)
		}
	}
	n, err := s.deleteOrphanBodies(ctx, digests)
	out[TableBlobs] = n + len(snaps)
	if err != nil {
		return out, fmt.Errorf("purge customer %s: %w", customerID, err)
	}
	// The audit trail names pupils' sourcedIds and admins' ids: it goes
	// with the rest of the customer's data, read by partition.
	if out[TableAudit], err = s.PurgeAudit(ctx, customerID, time.Time{}); err != nil {
		return out, fmt.Errorf("purge customer %s: %w", customerID, err)
	}
	return out, nil
}

// PurgePlans deletes the plans (header, journal, confirmation and the body
// when no remaining plan names it) of every customer's runs started before
// cutoff, as told by the run id's time prefix. It returns the number of
// plans deleted.
func (s *Store) PurgePlans(ctx context.Context, cutoff time.Time) (int, error) {
	old := func(parts []string) bool {
		if len(parts) != 3 {
			return false
		}
		at, ok := RunIDTime(parts[1])
		return ok && at.Before(cutoff)
	}
	_, digests, err := s.purgeRows(ctx, TablePlans, old)
	if err != nil {
		return 0, fmt.Errorf("purge plans before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	if _, err := s.deleteOrphanBodies(ctx, digests); err != nil {
		return len(digests), fmt.Errorf("purge plans before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return len(digests), nil
}

// RunIDTime reads the instant a run id starts with (runs.ScheduledID and
// runs.ManualID: 20060102T150405Z-…).
func RunIDTime(id string) (time.Time, bool) {
	const layout = "20060102T150405Z"
	if len(id) < len(layout) {
		return time.Time{}, false
	}
	at, err := time.Parse(layout, id[:len(layout)])
	return at, err == nil
}

// purgeRows deletes the rows of a table whose decoded partition key
// matches, one transaction per partition and hundred, and returns how many
// it deleted and the plan body digests named by deleted plan headers.
func (s *Store) purgeRows(ctx context.Context, name string, match func(parts []string) bool) (int, []string, error) {
	t, err := s.table(ctx, name)
	if err != nil {
		return 0, nil, err
	}
	rows, err := t.List(ctx, Query{})
	if err != nil {
		return 0, nil, fmt.Errorf("list %s: %w", name, err)
	}
	var ops []Op
	var digests []string
	for _, e := range rows {
		parts, err := DecodeKey(e.PartitionKey)
		if err != nil || !match(parts) {
			continue
		}
		if name == TablePlans && e.RowKey == planHeaderRow {
			var h planHeader
			if decodeData(e, &h) == nil && h.Digest != "" {
				digests = append(digests, h.Digest)
			}
		}
		ops = append(ops, Op{Kind: OpDelete, Entity: Entity{PartitionKey: e.PartitionKey, RowKey: e.RowKey, ETag: ETagAny}})
	}
	for _, chunk := range Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil && !errors.Is(err, ErrNotFound) {
			return 0, digests, fmt.Errorf("delete %d rows of %s: %w", len(chunk), name, err)
		}
	}
	return len(ops), digests, nil
}

// deleteOrphanBodies deletes the plan bodies among digests that no
// remaining plan header names: bodies are content-addressed, so two runs
// with the same plan share one.
func (s *Store) deleteOrphanBodies(ctx context.Context, digests []string) (int, error) {
	if len(digests) == 0 {
		return 0, nil
	}
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return 0, err
	}
	rows, err := t.List(ctx, Query{})
	if err != nil {
		return 0, fmt.Errorf("list plans: %w", err)
	}
	named := map[string]bool{}
	for _, e := range rows {
		if e.RowKey != planHeaderRow {
			continue
		}
		var h planHeader
		if decodeData(e, &h) == nil {
			named[h.Digest] = true
		}
	}
	n := 0
	for _, d := range digests {
		if named[d] {
			continue
		}
		named[d] = true // once per digest
		if err := s.deleteBlob(ctx, planBlobPfx+d); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Store) deleteBlob(ctx context.Context, name string) error {
	if d, ok := s.blobs.(BlobDeleter); ok {
		if err := d.DeleteBlob(ctx, name); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("delete blob %s: %w", name, err)
		}
	}
	return nil
}

// DeleteBlob removes a blob kept in the blobs table.
func (b tableBlobs) DeleteBlob(ctx context.Context, name string) error {
	t, err := b.s.table(ctx, TableBlobs)
	if err != nil {
		return err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(name)})
	if err != nil {
		return fmt.Errorf("delete blob %s: %w", name, err)
	}
	ops := make([]Op, 0, len(rows))
	for _, e := range rows {
		ops = append(ops, Op{Kind: OpDelete, Entity: Entity{PartitionKey: e.PartitionKey, RowKey: e.RowKey, ETag: ETagAny}})
	}
	return transactAll(ctx, t, ops, "delete blob "+name)
}

// DeleteBlob deletes through the wrapped blobs when they can.
func (b backendWithBlobs) DeleteBlob(ctx context.Context, name string) error {
	if d, ok := b.blobs.(BlobDeleter); ok {
		return d.DeleteBlob(ctx, name)
	}
	return nil
}
