package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
)

// TableAudit holds each customer's audit trail: who asked the API for
// what, and when (see handlers' audit). One partition per customer.
const TableAudit = "audit"

// AuditRecord is one action someone took through the API. It names ids
// only (customer, profile, run, entity, sourcedId, tenant object, export)
// and counts, never a person's name, email or password: the trail is kept
// longer than plans, and what it holds must be fit to keep.
type AuditRecord struct {
	// ID orders the customer's trail, newest first; opaque to callers.
	ID         string    `json:"id"`
	CustomerID string    `json:"customerId"`
	At         time.Time `json:"at"`
	// Actor is who asked, as the vendor's UI names them.
	Actor string `json:"actor"`
	// Action is what they asked for, e.g. "run.confirm".
	Action    string `json:"action"`
	ProfileID string `json:"profileId,omitempty"`
	RunID     string `json:"runId,omitempty"`
	Entity    string `json:"entity,omitempty"`
	SourcedID string `json:"sourcedId,omitempty"`
	// ObjectID is the tenant object a manual link points at.
	ObjectID string `json:"objectId,omitempty"`
	ExportID string `json:"exportId,omitempty"`
	// Count is what the action counted: credentials exported or
	// destroyed, runs cancelled.
	Count int `json:"count,omitempty"`
}

// auditRowKey orders a customer's trail newest first: Table Storage lists
// a partition in ascending row key order, so the key is the time inverted
// (MaxInt64 minus Unix nanoseconds, zero-padded to sort as text) and a
// random suffix, since two instances of the app may record in the same
// nanosecond. base comes from logBase, strictly increasing per Store, so
// a clock that does not move (a test's) still keeps one Store's records
// apart and in order.
func auditRowKey(base int64) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("audit row key: %w", err)
	}
	return auditTimeKey(base) + "-" + hex.EncodeToString(b[:]), nil
}

// auditTimeKey is the inverted-time part of an audit row key: every key
// of a record made at or after the instant sorts at or before it.
func auditTimeKey(unixNano int64) string {
	return fmt.Sprintf("%019d", math.MaxInt64-unixNano)
}

// maxAuditInsertRounds bounds retries of a row key that was taken.
const maxAuditInsertRounds = 5

// AppendAudit records rec in its customer's trail, stamping At (when
// zero) and ID, and returns it as stored.
func (s *Store) AppendAudit(ctx context.Context, rec AuditRecord) (AuditRecord, error) {
	if rec.CustomerID == "" || rec.Action == "" {
		return rec, fmt.Errorf("audit record without a customer or an action: %w", ErrInvalidKey)
	}
	t, err := s.table(ctx, TableAudit)
	if err != nil {
		return rec, err
	}
	if rec.At.IsZero() {
		rec.At = s.now().UTC()
	}
	for range maxAuditInsertRounds {
		if rec.ID, err = auditRowKey(s.logBase()); err != nil {
			return rec, err
		}
		e, err := encodeData(EncodeKey(rec.CustomerID), rec.ID, rec, nil)
		if err != nil {
			return rec, err
		}
		_, err = t.Insert(ctx, e)
		if errors.Is(err, ErrExists) {
			continue
		}
		if err != nil {
			return rec, fmt.Errorf("record %s of customer %s: %w", rec.Action, rec.CustomerID, err)
		}
		return rec, nil
	}
	return rec, fmt.Errorf("record %s of customer %s: %w", rec.Action, rec.CustomerID, ErrExists)
}

// AuditPage returns at most top records of a customer's trail, newest
// first, after the continuation a previous page returned ("" for the
// first); the continuation answered is "" when there is nothing more.
// It reads one partition, so another customer's trail is never read.
func (s *Store) AuditPage(ctx context.Context, customerID string, top int, after string) ([]AuditRecord, string, error) {
	if top < 1 {
		return nil, "", fmt.Errorf("read audit of customer %s: page size %d: %w", customerID, top, ErrInvalidKey)
	}
	t, err := s.table(ctx, TableAudit)
	if err != nil {
		return nil, "", err
	}
	rows, err := t.List(ctx, Query{PartitionKey: EncodeKey(customerID), RowKeyAfter: after, Limit: top})
	if err != nil {
		return nil, "", fmt.Errorf("read audit of customer %s: %w", customerID, err)
	}
	out := make([]AuditRecord, 0, len(rows))
	for _, e := range rows {
		var rec AuditRecord
		if err := decodeData(e, &rec); err != nil {
			return nil, "", err
		}
		rec.ID = e.RowKey
		out = append(out, rec)
	}
	return out, nextAfter(rows, top), nil
}

// PurgeAudit deletes a customer's audit records made before cutoff (all
// of them when cutoff is zero) and returns how many. Older records sort
// last, so it reads only the rows it deletes.
func (s *Store) PurgeAudit(ctx context.Context, customerID string, cutoff time.Time) (int, error) {
	t, err := s.table(ctx, TableAudit)
	if err != nil {
		return 0, err
	}
	q := Query{PartitionKey: EncodeKey(customerID)}
	if !cutoff.IsZero() {
		// Keys of records made at cutoff or later are at most
		// auditTimeKey(cutoff) plus a suffix; "~" sorts after the suffix.
		q.RowKeyAfter = auditTimeKey(cutoff.UnixNano()) + "~"
	}
	rows, err := t.List(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("purge audit of customer %s: %w", customerID, err)
	}
	ops := make([]Op, 0, len(rows))
	for _, e := range rows {
		ops = append(ops, Op{Kind: OpDelete, Entity: Entity{PartitionKey: e.PartitionKey, RowKey: e.RowKey, ETag: ETagAny}})
	}
	for _, chunk := range Chunk(ops) {
		if err := t.Transact(ctx, chunk); err != nil && !errors.Is(err, ErrNotFound) {
			return 0, fmt.Errorf("purge audit of customer %s: %w", customerID, err)
		}
	}
	return len(ops), nil
}
