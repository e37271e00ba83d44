package state

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/rostersync/rostersync/internal/runs"
)

// TableRunIndex lists each customer's runs newest first: one small row per
// run whose row key is the run id inverted, since Table Storage reads a
// partition's keys in ascending order only and run ids ascend with time.
// The run itself stays in TableRuns; a row here points at it.
const TableRunIndex = "runindex"

// Index row properties.
const (
	propRunID   = "RunID"
	propProfile = "ProfileID"
)

// runIndexKey inverts id's order: each byte as 255 minus it, in hex, then
// "ff" (the inversion of an end below every byte), so an id that is a
// prefix of another still sorts after it.
func runIndexKey(id string) string {
	b := make([]byte, len(id)+1)
	for i := range len(id) {
		b[i] = 255 - id[i]
	}
	b[len(id)] = 255
	return hex.EncodeToString(b)
}

// indexRun adds r's index row; one already there is kept.
func (s *Store) indexRun(ctx context.Context, r runs.Run) error {
	t, err := s.table(ctx, TableRunIndex)
	if err != nil {
		return err
	}
	e := Entity{PartitionKey: EncodeKey(r.CustomerID), RowKey: runIndexKey(r.ID), Props: map[string]string{propRunID: r.ID, propProfile: r.ProfileID}}
	if _, err := t.Insert(ctx, e); err != nil && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("index run %s of customer %s: %w", r.ID, r.CustomerID, err)
	}
	return nil
}

// ListRunsPage returns at most top of a customer's runs, newest first,
// optionally of one profile, reading only this page's index rows and
// runs: after is the continuation a previous page returned ("" for the
// first). The continuation answered is "" when there is nothing more; a
// page of one profile may come short, since other profiles' index rows are
// read and skipped.
func (s *Store) ListRunsPage(ctx context.Context, customerID, profileID string, top int, after string) ([]runs.Run, string, error) {
	if top < 1 {
		return nil, "", fmt.Errorf("list runs of customer %s: page size %d: %w", customerID, top, ErrInvalidKey)
	}
	t, err := s.table(ctx, TableRunIndex)
	if err != nil {
		return nil, "", err
	}
	q := Query{PartitionKey: EncodeKey(customerID), RowKeyAfter: after, Limit: top}
	rows, err := t.List(ctx, q)
	if err == nil && len(rows) == 0 && after == "" {
		// An empty index may be a history from before it: index that,
		// once, and look again.
		var indexed bool
		if indexed, err = s.backfillRunIndex(ctx, customerID); err == nil && indexed {
			rows, err = t.List(ctx, q)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("list runs of customer %s: %w", customerID, err)
	}
	out := make([]runs.Run, 0, len(rows))
	for _, e := range rows {
		if profileID != "" && e.Props[propProfile] != profileID {
			continue
		}
		r, err := s.GetRun(ctx, customerID, e.Props[propRunID])
		if errors.Is(err, ErrNotFound) {
			continue // indexed, but its create never finished
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, nextAfter(rows, top), nil
}

// ListRuns returns a customer's runs, newest first, optionally of one
// profile, at most limit (0: all). A limit reads the index a page at a
// time, so the few newest cost a few reads however long the history; all
// of them is one scan of the partition.
func (s *Store) ListRuns(ctx context.Context, customerID, profileID string, limit int) ([]runs.Run, error) {
	if limit <= 0 {
		return s.allRuns(ctx, customerID, profileID)
	}
	var out []runs.Run
	after := ""
	for {
		rs, next, err := s.ListRunsPage(ctx, customerID, profileID, min(100, limit-len(out)), after)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
		if next == "" || len(out) >= limit {
			return out, nil
		}
		after = next
	}
}

// allRuns reads every run of the customer, newest first.
func (s *Store) allRuns(ctx context.Context, customerID, profileID string) ([]runs.Run, error) {
	t, err := s.table(ctx, TableRuns)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID)})
	if err != nil {
		return nil, fmt.Errorf("list runs of customer %s: %w", customerID, err)
	}
	slices.Reverse(rows) // run ids are time-ordered
	var out []runs.Run
	for _, e := range rows {
		var r runs.Run
		if err := decodeData(e, &r); err != nil {
			return nil, err
		}
		if profileID != "" && r.ProfileID != profileID {
			continue
		}
		r.ETag = e.ETag
		out = append(out, r)
	}
	return out, nil
}

// backfillRunIndex indexes the runs of a customer whose history predates
// the index (called when its index partition is empty), reporting whether
// there were any.
func (s *Store) backfillRunIndex(ctx context.Context, customerID string) (bool, error) {
	t, err := s.table(ctx, TableRuns)
	if err != nil {
		return false, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID)})
	if err != nil {
		return false, err
	}
	for _, e := range rows {
		var r runs.Run
		if err := decodeData(e, &r); err != nil {
			return false, err
		}
		if err := s.indexRun(ctx, r); err != nil {
			return false, err
		}
	}
	return len(rows) > 0, nil
}
