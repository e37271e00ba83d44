package state

import (
	"context"
	"fmt"
	"strings"

	"github.com/rostersync/rostersync/internal/plan"
)

// Journal status of one change.
const (
	EntryPending = "pending"
	EntryDone    = "done"
	EntryFailed  = "failed"
)

// Entry is one change of a stored plan with its apply progress.
type Entry struct {
	plan.Change
	Status string `json:"status"`
	// OpsDone lists the ids of the change's operations that took effect,
	// so a resumed apply never repeats a write.
	OpsDone []string `json:"opsDone,omitempty"`
	// Created is the id of an account this change created (or found, when
	// a retried create met its own earlier success).
	Created  string `json:"created,omitempty"`
	Existing bool   `json:"existing,omitempty"`
	// Linked is set once the link this change makes (a created or matched
	// object, a suspension) is stored: apply writes links before it
	// journals the entry, and relinks any done entry without it.
	Linked bool `json:"linked,omitempty"`
	// Attempts counts the answers of "not now" (throttling, transient
	// errors, replication) its operations met, across steps; at the
	// applier's cap the change fails with the last reason.
	Attempts int    `json:"attempts,omitempty"`
	Error    string `json:"error,omitempty"`
	// ETag is the row's concurrency token.
	ETag string `json:"-"`
}

const (
	planHeaderRow = "_header"
	changeRowPfx  = "c|"
	unsyncedPfx   = "u|"
)

func planPK(customerID, runID string) string { return EncodeKey(customerID, runID) }

func changeRK(c plan.Change) string {
	return changeRowPfx + EncodeKey(string(c.Kind), c.Key, string(c.Action))
}

// SavePlan stores a new plan: header, changes (pending) and unsynced rows.
// It refuses to overwrite a stored plan, which may hold apply progress.
func (s *Store) SavePlan(ctx context.Context, customerID string, p *plan.Plan) error {
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return err
	}
	pk := planPK(customerID, p.RunID)
	header := *p
	header.Changes, header.Unsynced = nil, nil
	h, err := encodeData(pk, planHeaderRow, header, nil)
	if err != nil {
		return err
	}
	if _, err := t.Insert(ctx, h); err != nil {
		return fmt.Errorf("save plan of run %s: %w", p.RunID, err)
	}
	ops := make([]Op, 0, len(p.Changes)+len(p.Unsynced))
	for _, c := range p.Changes {
		e, err := encodeData(pk, changeRK(c), Entry{Change: c, Status: EntryPending}, map[string]string{propStatus: EntryPending})
		if err != nil {
			return err
		}
		ops = append(ops, Op{Kind: OpInsert, Entity: e})
	}
	for _, u := range p.Unsynced {
		e, err := encodeData(pk, unsyncedPfx+EncodeKey(u.Key), u, nil)
		if err != nil {
			return err
		}
		ops = append(ops, Op{Kind: OpUpsert, Entity: e})
	}
	return transactAll(ctx, t, ops, "save plan of run "+p.RunID)
}

// LoadPlan returns a stored plan with its journal entries, in plan order.
func (s *Store) LoadPlan(ctx context.Context, customerID, runID string) (*plan.Plan, []Entry, error) {
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return nil, nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: planPK(customerID, runID)})
	if err != nil {
		return nil, nil, fmt.Errorf("load plan of run %s: %w", runID, err)
	}
	var p *plan.Plan
	var entries []Entry
	for _, r := range rows {
		switch {
		case r.RowKey == planHeaderRow:
			p = &plan.Plan{}
			if err := decodeData(r, p); err != nil {
				return nil, nil, err
			}
		case strings.HasPrefix(r.RowKey, changeRowPfx):
			var e Entry
			if err := decodeData(r, &e); err != nil {
				return nil, nil, err
			}
			e.ETag = r.ETag
			entries = append(entries, e)
		case strings.HasPrefix(r.RowKey, unsyncedPfx):
			var u plan.Unsynced
			if err := decodeData(r, &u); err != nil {
				return nil, nil, err
			}
			if p != nil {
				p.Unsynced = append(p.Unsynced, u)
			}
		}
	}
	if p == nil {
		return nil, nil, fmt.Errorf("load plan of run %s: %w", runID, ErrNotFound)
	}
	for _, e := range entries {
		p.Changes = append(p.Changes, e.Change)
	}
	p.Sort()
	return p, entries, nil
}

// SaveEntries records apply progress; entries are written whole (the
// change is part of the row), one transaction per hundred.
func (s *Store) SaveEntries(ctx context.Context, customerID, runID string, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return err
	}
	pk := planPK(customerID, runID)
	ops := make([]Op, 0, len(entries))
	for _, en := range entries {
		e, err := encodeData(pk, changeRK(en.Change), en, map[string]string{propStatus: en.Status})
		if err != nil {
			return err
		}
		ops = append(ops, Op{Kind: OpUpsert, Entity: e})
	}
	return transactAll(ctx, t, ops, "save apply progress of run "+runID)
}
