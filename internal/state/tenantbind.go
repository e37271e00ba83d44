package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/tenant"
)

// ErrTenantTaken is returned (wrapped with ErrConflict) when a customer is
// saved with an Entra tenant another customer is bound to: two customers
// syncing into one tenant would overwrite each other's accounts.
var ErrTenantTaken = errors.New("tenant is bound to another customer")

// tenantsPK is the partition of the customers table holding one row per
// bound tenant (RowKey: the lower-cased tenant id), naming its customer.
// Inserting that row is what makes a binding exclusive under concurrency.
const (
	tenantsPK     = "tenant"
	propCustomer  = "Customer"
	staleClaimAge = 5 * time.Minute
	claimAttempts = 5
)

func tenantRK(tenantID string) string { return EncodeKey(strings.ToLower(tenantID)) }

func tenantTaken(tenantID, owner string) error {
	return fmt.Errorf("%w: %w: tenant %s is bound to customer %s", ErrConflict, ErrTenantTaken, tenantID, owner)
}

// bindTenant claims c's tenant for c. It refuses a tenant held by another
// customer, whether through its claim row or, for customers saved before
// claims existed, through its record. A claim whose customer does not hold
// the tenant and that is older than staleClaimAge (a save that stopped
// between claiming and writing) is taken over.
func (s *Store) bindTenant(ctx context.Context, t Table, c tenant.Customer) error {
	if c.TenantID == "" {
		return nil
	}
	rows, err := t.List(ctx, Query{PartitionKey: customersPK})
	if err != nil {
		return fmt.Errorf("list customers: %w", err)
	}
	for _, e := range rows {
		var o tenant.Customer
		if err := decodeData(e, &o); err != nil {
			return err
		}
		if o.ID != c.ID && strings.EqualFold(o.TenantID, c.TenantID) {
			return tenantTaken(c.TenantID, o.ID)
		}
	}
	rk := tenantRK(c.TenantID)
	for range claimAttempts {
		_, err := t.Insert(ctx, Entity{PartitionKey: tenantsPK, RowKey: rk, Props: map[string]string{propCustomer: c.ID}})
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrExists) {
			return fmt.Errorf("bind tenant %s to customer %s: %w", c.TenantID, c.ID, err)
		}
		claim, err := t.Get(ctx, tenantsPK, rk)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("bind tenant %s: %w", c.TenantID, err)
		}
		owner := claim.Props[propCustomer]
		if owner == c.ID {
			return nil
		}
		held, err := s.GetCustomer(ctx, owner)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if (err == nil && strings.EqualFold(held.TenantID, c.TenantID)) || s.now().Sub(claim.Timestamp) < staleClaimAge {
			return tenantTaken(c.TenantID, owner)
		}
		claim.Props = map[string]string{propCustomer: c.ID}
		if _, err := t.Update(ctx, claim); err == nil {
			return nil
		} else if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("bind tenant %s to customer %s: %w", c.TenantID, c.ID, err)
		}
	}
	return fmt.Errorf("bind tenant %s to customer %s: %w: the binding kept changing", c.TenantID, c.ID, ErrConflict)
}

// releaseTenant drops c's claim on a tenant it no longer holds.
func (s *Store) releaseTenant(ctx context.Context, t Table, customerID, tenantID string) error {
	claim, err := t.Get(ctx, tenantsPK, tenantRK(tenantID))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if claim.Props[propCustomer] != customerID {
		return nil
	}
	if err := t.Delete(ctx, tenantsPK, claim.RowKey, claim.ETag); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("release tenant %s of customer %s: %w", tenantID, customerID, err)
	}
	return nil
}
