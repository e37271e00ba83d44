package app

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/tenant"
)

// driftFinder is an entity that can report drift without writing
// anything: every reconcile.Engine is one, whatever its kind.
type driftFinder interface {
	Drift(ctx context.Context, c tenant.Customer, p tenant.Profile, entity string) ([]plan.Drift, error)
}

// driftStore is what the drift report reads of the store.
type driftStore interface {
	ListProfiles(ctx context.Context, customerID string) ([]tenant.Profile, error)
	GetProfile(ctx context.Context, customerID, profileID string) (tenant.Profile, error)
}

// driftReporter is the API's drift report over the registered entities:
// for each enabled profile (or the one asked for) and each entity it runs
// for the customer, the entity's own drift, in profile then registration
// order.
type driftReporter struct {
	store driftStore
	kinds []EntityKind
	log   *slog.Logger
}

var _ handlers.DriftReporter = driftReporter{}

func (d driftReporter) Drift(ctx context.Context, c tenant.Customer, profileID string) ([]plan.Drift, error) {
	var profiles []tenant.Profile
	if profileID != "" {
		p, err := d.store.GetProfile(ctx, c.ID, profileID)
		if err != nil {
			return nil, err
		}
		profiles = []tenant.Profile{p}
	} else {
		all, err := d.store.ListProfiles(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		for _, p := range all {
			if p.Enabled {
				profiles = append(profiles, p)
			}
		}
		slices.SortFunc(profiles, func(a, b tenant.Profile) int { return cmp.Compare(a.ID, b.ID) })
	}
	out := []plan.Drift{}
	for _, p := range profiles {
		for _, k := range d.kinds {
			f, ok := k.Handler.(driftFinder)
			if !ok || !slices.Contains(c.EnabledEntities(p), k.Name) {
				continue
			}
			ds, err := f.Drift(ctx, c, p, k.Name)
			if queue.IsTerminal(err) {
				return nil, fmt.Errorf("%w: profile %s, %s: %w", handlers.ErrCannotPlan, p.ID, k.Name, err)
			}
			if err != nil {
				return nil, fmt.Errorf("drift of profile %s, %s: %w", p.ID, k.Name, err)
			}
			d.log.InfoContext(ctx, "drift computed", "customer", c.ID, "profile", p.ID, "entity", k.Name, "drifted", len(ds))
			out = append(out, ds...)
		}
	}
	return out, nil
}
