package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Intent is a create that may have reached the tenant without its outcome
// being recorded: it is written before the create is sent and removed once
// the object's link is stored. Key is the create's deterministic key (a
// user's userPrincipalName, a group's mailNickname), by which the object
// can be found again after a crash.
type Intent struct {
	CustomerID string `json:"customerId"`
	Kind       string `json:"kind"`
	SourceID   string `json:"sourceId"`
	Key        string `json:"key"`
	// Type is carried onto the link an intent settles into.
	Type  string    `json:"userType,omitempty"`
	RunID string    `json:"runId"`
	At    time.Time `json:"at"`
}

// intentPK keeps a kind's intents in a partition of their own beside its
// links, so listing links never meets them.
func intentPK(customerID, kind string) string { return EncodeKey(customerID, "intent", kind) }

// PutIntents records intents; an intent already on file for the same
// source object is replaced (the newest create is the one that may exist).
func (s *Store) PutIntents(ctx context.Context, in ...Intent) error {
	if len(in) == 0 {
		return nil
	}
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return err
	}
	ops := make([]Op, 0, len(in))
	for _, x := range in {
		e, err := encodeData(intentPK(x.CustomerID, x.Kind), EncodeKey(x.SourceID), x, nil)
		if err != nil {
			return err
		}
		ops = append(ops, Op{Kind: OpUpsert, Entity: e})
	}
	return transactAll(ctx, t, ops, "record create intents")
}

// ListIntents returns a customer's open intents of one kind.
func (s *Store) ListIntents(ctx context.Context, customerID, kind string) ([]Intent, error) {
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: intentPK(customerID, kind)})
	if err != nil {
		return nil, fmt.Errorf("list %s intents of customer %s: %w", kind, customerID, err)
	}
	out := make([]Intent, 0, len(rows))
	for _, e := range rows {
		var x Intent
		if err := decodeData(e, &x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// DeleteIntents removes settled intents; missing ones are ignored.
func (s *Store) DeleteIntents(ctx context.Context, customerID, kind string, sourceIDs ...string) error {
	if len(sourceIDs) == 0 {
		return nil
	}
	t, err := s.table(ctx, TableMappings)
	if err != nil {
		return err
	}
	ops := make([]Op, 0, len(sourceIDs))
	for _, id := range sourceIDs {
		ops = append(ops, Op{Kind: OpDelete, Entity: Entity{PartitionKey: intentPK(customerID, kind), RowKey: EncodeKey(id), ETag: ETagAny}})
	}
	err = transactAll(ctx, t, ops, "settle create intents")
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	// A transaction fails whole on a row already gone (an earlier
	// delivery settled it): settle the rest one by one.
	for _, op := range ops {
		if err := t.Delete(ctx, op.Entity.PartitionKey, op.Entity.RowKey, ETagAny); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("settle create intent: %w", err)
		}
	}
	return nil
}
