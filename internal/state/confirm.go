package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Confirmation is someone's go-ahead for the changes a guard held in one
// entity's plan of a run. It is a record of its own, beside the plan: the
// stored plan never changes once saved, and apply reads this record to
// decide whether held changes may go.
type Confirmation struct {
	CustomerID string    `json:"customerId"`
	RunID      string    `json:"runId"`
	Entity     string    `json:"entity"`
	At         time.Time `json:"at"`
	// Actor is who confirmed, as the vendor's UI names them.
	Actor string `json:"actor,omitempty"`
}

// confirmationRow sits in the partition of the plan it confirms.
const confirmationRow = "_confirmation"

// SaveConfirmation records a confirmation; confirming twice keeps the first.
func (s *Store) SaveConfirmation(ctx context.Context, c Confirmation) error {
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return err
	}
	if c.At.IsZero() {
		c.At = s.now().UTC()
	}
	e, err := encodeData(planPK(c.CustomerID, c.RunID, c.Entity), confirmationRow, c, nil)
	if err != nil {
		return err
	}
	if _, err := t.Insert(ctx, e); err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("confirm %s of run %s: %w", c.Entity, c.RunID, err)
	}
	return nil
}

// GetConfirmation returns ErrNotFound when the entity's plan of the run was
// not confirmed.
func (s *Store) GetConfirmation(ctx context.Context, customerID, runID, entity string) (Confirmation, error) {
	var c Confirmation
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return c, err
	}
	e, err := t.Get(ctx, planPK(customerID, runID, entity), confirmationRow)
	if err != nil {
		return c, fmt.Errorf("confirmation of %s in run %s: %w", entity, runID, err)
	}
	return c, decodeData(e, &c)
}

// DeleteConfirmation withdraws a confirmation whose resume could not be
// started, so the plan reads held again; a missing one is ignored.
func (s *Store) DeleteConfirmation(ctx context.Context, customerID, runID, entity string) error {
	t, err := s.table(ctx, TablePlans)
	if err != nil {
		return err
	}
	if err := t.Delete(ctx, planPK(customerID, runID, entity), confirmationRow, ETagAny); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("withdraw confirmation of %s in run %s: %w", entity, runID, err)
	}
	return nil
}
