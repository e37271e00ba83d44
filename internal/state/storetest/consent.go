package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// testConsent: a consent nonce is consumed once (also under a race), never
// for another customer, and neither nonces nor audit rows read as
// customers.
func testConsent(t *testing.T, s *state.Store) {
	ctx := t.Context()
	if err := s.PutCustomer(ctx, tenant.Customer{ID: "oak", Name: "Oak"}); err != nil {
		t.Fatal(err)
	}
	n := state.ConsentNonce{Nonce: "n1", CustomerID: "oak", Expires: time.Now().Add(time.Hour)}
	if err := s.PutConsentNonce(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.PutConsentNonce(ctx, n); !errors.Is(err, state.ErrExists) {
		t.Fatalf("recording a nonce twice = %v, want ErrExists", err)
	}
	if _, err := s.ConsumeConsentNonce(ctx, "elm", "n1"); !errors.Is(err, state.ErrNonceOtherCustomer) {
		t.Fatalf("consuming for another customer = %v, want ErrNonceOtherCustomer", err)
	}
	if _, err := s.ConsumeConsentNonce(ctx, "oak", "never-issued"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("consuming an unknown nonce = %v, want ErrNotFound", err)
	}
	const racers = 5
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() { _, errs[i] = s.ConsumeConsentNonce(ctx, "oak", "n1") })
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, state.ErrNonceUsed):
			t.Errorf("a losing consumer got %v, want ErrNonceUsed", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d consumers of one nonce succeeded, want exactly 1", won)
	}
	if _, err := s.ConsumeConsentNonce(ctx, "oak", "n1"); !errors.Is(err, state.ErrNonceUsed) {
		t.Fatalf("replay = %v, want ErrNonceUsed", err)
	}
	for i, reason := range []string{"state-forged", "state-replayed"} {
		if err := s.RecordConsentEvent(ctx, state.ConsentEvent{Reason: reason, CustomerID: "oak", At: time.Date(2025, 1, 1, 0, i, 0, 0, time.UTC)}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ConsentEvents(ctx, 0)
	if err != nil || len(evs) != 2 || evs[0].Reason != "state-replayed" || evs[1].Reason != "state-forged" {
		t.Fatalf("ConsentEvents = %+v, %v; want both, newest first", evs, err)
	}
	cs, err := s.ListCustomers(ctx)
	if err != nil || len(cs) != 1 || cs[0].ID != "oak" {
		t.Fatalf("ListCustomers = %+v, %v; want only oak", cs, err)
	}
}
