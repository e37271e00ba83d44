package apply

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// Finder finds the object a create may have made, by the create's
// deterministic key; found is false when no object has that key.
type Finder interface {
	FindCreated(ctx context.Context, kind plan.Kind, key string) (id string, found bool, err error)
}

// IntentStore is what resolving intents reads and writes; *state.Store has it.
type IntentStore interface {
	ListIntents(ctx context.Context, customerID, kind string) ([]state.Intent, error)
	DeleteIntents(ctx context.Context, customerID, kind string, sourceIDs ...string) error
	GetMapping(ctx context.Context, customerID, kind, sourceID string) (state.Mapping, error)
	PutMappings(ctx context.Context, ms ...state.Mapping) error
}

// HowFoundByIntent is the link's provenance when an interrupted create's
// object was found again by its key.
const HowFoundByIntent = "created (found again by its create intent)"

// ResolveIntents settles every open create intent of a kind before
// anything is planned: an object found by the intent's key becomes the
// source object's link; an intent whose object does not show is kept
// while it may still be replicating (within window of being sent) — the
// returned wait says when to look again — and dropped after, since the
// create never happened. A planner run after a zero wait never creates a
// second object for an interrupted create.
func ResolveIntents(ctx context.Context, st IntentStore, f Finder, customerID string, kind plan.Kind, now time.Time, window time.Duration) (time.Duration, error) {
	intents, err := st.ListIntents(ctx, customerID, string(kind))
	if err != nil || len(intents) == 0 {
		return 0, err
	}
	var wait time.Duration
	var settled []string
	for _, in := range intents {
		w, err := resolveIntent(ctx, st, f, in, kind, now, window)
		if err != nil {
			return 0, fmt.Errorf("resolve %s create intent for %s: %w", kind, in.SourceID, err)
		}
		if w > 0 {
			wait = max(wait, w)
			continue
		}
		settled = append(settled, in.SourceID)
	}
	if err := st.DeleteIntents(ctx, customerID, string(kind), settled...); err != nil {
		return 0, err
	}
	return wait, nil
}

// resolveIntent settles one intent, or says how long to wait for it.
func resolveIntent(ctx context.Context, st IntentStore, f Finder, in state.Intent, kind plan.Kind, now time.Time, window time.Duration) (time.Duration, error) {
	if _, err := st.GetMapping(ctx, in.CustomerID, in.Kind, in.SourceID); err == nil {
		return 0, nil // its outcome was recorded after all
	} else if !errors.Is(err, state.ErrNotFound) {
		return 0, err
	}
	id, found, err := f.FindCreated(ctx, kind, in.Key)
	if err != nil {
		return 0, err
	}
	if !found {
		if age := now.Sub(in.At); age < window {
			return window - age, nil
		}
		return 0, nil
	}
	m := state.Mapping{CustomerID: in.CustomerID, Kind: in.Kind, SourceID: in.SourceID, TargetID: id,
		How: HowFoundByIntent, Type: in.Type}
	return 0, st.PutMappings(ctx, m)
}
