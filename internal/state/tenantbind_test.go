package state_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

const tenantA = "11111111-1111-4111-8111-111111111111"

// Customers racing to bind one tenant: exactly one wins, the others get
// ErrTenantTaken; a tenant released by a change can be bound again.
func TestTenantBindsToOneCustomer(t *testing.T) {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	s := state.NewStore(b, nil)
	ctx := context.Background()
	const racers = 6
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			errs[i] = s.PutCustomer(ctx, tenant.Customer{ID: fmt.Sprintf("c%d", i), TenantID: tenantA})
		})
	}
	wg.Wait()
	won := 0
	var winner string
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			winner = fmt.Sprintf("c%d", i)
		case !errors.Is(err, state.ErrTenantTaken) || !errors.Is(err, state.ErrConflict):
			t.Errorf("racer %d: %v, want ErrTenantTaken", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d customers bound tenant %s, want exactly 1", won, tenantA)
	}
	cs, _ := s.ListCustomers(ctx)
	if len(cs) != 1 || cs[0].ID != winner {
		t.Errorf("customers stored = %+v, want only %s", cs, winner)
	}
	// Saving the winner again (same tenant, any case) is fine; moving it to
	// another tenant frees the first for someone else.
	if err := s.PutCustomer(ctx, tenant.Customer{ID: winner, TenantID: "11111111-1111-4111-8111-111111111111", Name: "renamed"}); err != nil {
		t.Fatalf("re-save of the bound customer: %v", err)
	}
	if err := s.PutCustomer(ctx, tenant.Customer{ID: winner, TenantID: "22222222-2222-4222-8222-222222222222"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCustomer(ctx, tenant.Customer{ID: "late", TenantID: tenantA}); err != nil {
		t.Errorf("tenant released by a move cannot be bound again: %v", err)
	}
}
