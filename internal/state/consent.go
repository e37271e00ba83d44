package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Admin consent keeps two kinds of rows in the customers table, in
// partitions of their own: the nonce of every consent state issued (so a
// state is accepted once), and an audit row for every callback refused.

const (
	consentNoncePK = "consentnonce"
	consentAuditPK = "consentaudit"
	propUsed       = "Used"
)

// ErrNonceUsed is returned (wrapped) when a consent nonce was consumed
// before: a replayed state. ErrNotFound means it was never issued here.
var ErrNonceUsed = errors.New("consent state already used")

// ErrNonceOtherCustomer is returned (wrapped) when the nonce was issued
// for another customer than the state names.
var ErrNonceOtherCustomer = errors.New("consent state issued for another customer")

// ConsentNonce is one issued admin-consent state's nonce.
type ConsentNonce struct {
	Nonce      string    `json:"nonce"`
	CustomerID string    `json:"customerId"`
	IssuedAt   time.Time `json:"issuedAt"`
	Expires    time.Time `json:"expires"`
}

// PutConsentNonce records an issued nonce; a nonce is written once.
func (s *Store) PutConsentNonce(ctx context.Context, n ConsentNonce) error {
	if err := ValidateKey("nonce", n.Nonce); err != nil {
		return err
	}
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return err
	}
	if n.IssuedAt.IsZero() {
		n.IssuedAt = s.now().UTC()
	}
	e, err := encodeData(consentNoncePK, EncodeKey(n.Nonce), n, map[string]string{propUsed: "false"})
	if err != nil {
		return err
	}
	if _, err := t.Insert(ctx, e); err != nil {
		return fmt.Errorf("record consent nonce of customer %s: %w", n.CustomerID, err)
	}
	return nil
}

// ConsumeConsentNonce marks a nonce used, exactly once: of any number of
// concurrent callers, one succeeds (the update is conditional on the ETag
// read) and the others get ErrNonceUsed. A nonce never issued is
// ErrNotFound; one issued for another customer ErrNonceOtherCustomer, and
// it is left unused.
func (s *Store) ConsumeConsentNonce(ctx context.Context, customerID, nonce string) (ConsentNonce, error) {
	var n ConsentNonce
	if err := ValidateKey("nonce", nonce); err != nil {
		return n, fmt.Errorf("consent nonce: %w", ErrNotFound)
	}
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return n, err
	}
	e, err := t.Get(ctx, consentNoncePK, EncodeKey(nonce))
	if err != nil {
		return n, fmt.Errorf("consent nonce: %w", err)
	}
	if err := decodeData(e, &n); err != nil {
		return n, err
	}
	if n.CustomerID != customerID {
		return n, fmt.Errorf("consent nonce: %w", ErrNonceOtherCustomer)
	}
	if e.Props[propUsed] == "true" {
		return n, fmt.Errorf("consent nonce: %w", ErrNonceUsed)
	}
	e.Props[propUsed] = "true"
	if _, err := t.Update(ctx, e); err != nil {
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			return n, fmt.Errorf("consent nonce: %w", ErrNonceUsed)
		}
		return n, fmt.Errorf("consume consent nonce: %w", err)
	}
	return n, nil
}

// ConsentEvent is an audit row of a consent callback that was refused
// (forged, expired, replayed or cross-customer state, a tenant already
// bound elsewhere). It never holds the state value itself.
type ConsentEvent struct {
	At time.Time `json:"at"`
	// CustomerID is the customer the state named, when it could be read
	// and its signature was good; empty otherwise.
	CustomerID string `json:"customerId,omitempty"`
	TenantID   string `json:"tenantId,omitempty"`
	// Reason is a stable code (e.g. state-forged, state-expired).
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
}

// RecordConsentEvent appends an audit row; rows sort newest first.
func (s *Store) RecordConsentEvent(ctx context.Context, ev ConsentEvent) error {
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return err
	}
	if ev.At.IsZero() {
		ev.At = s.now().UTC()
	}
	ev.Detail = truncate(ev.Detail, 1024)
	var r [4]byte
	_, _ = rand.Read(r[:])
	// Newest first: the key counts down with time.
	rk := fmt.Sprintf("%019d-%s", math.MaxInt64-ev.At.UnixNano(), hex.EncodeToString(r[:]))
	e, err := encodeData(consentAuditPK, rk, ev, map[string]string{"Reason": ev.Reason, "At": strconv.FormatInt(ev.At.Unix(), 10)})
	if err != nil {
		return err
	}
	if _, err := t.Insert(ctx, e); err != nil {
		return fmt.Errorf("record consent event %s: %w", ev.Reason, err)
	}
	return nil
}

// ConsentEvents lists audit rows, newest first, at most limit (0: all).
func (s *Store) ConsentEvents(ctx context.Context, limit int) ([]ConsentEvent, error) {
	t, err := s.table(ctx, TableCustomers)
	if err != nil {
		return nil, err
	}
	rows, err := t.List(ctx, Query{PartitionKey: consentAuditPK, Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("list consent events: %w", err)
	}
	out := make([]ConsentEvent, 0, len(rows))
	for _, e := range rows {
		var ev ConsentEvent
		if err := decodeData(e, &ev); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}
