package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/classplan"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
	"time"
)

// EntityKind is one registered entity kind.
type EntityKind struct {
	// Name is what profiles list and jobs carry ("users").
	Name    string
	Handler pipeline.Entity
	// LinkKind is the state.Mapping kind the entity keeps its links
	// (sourcedId ↔ object id) and exclusions under; empty for a kind that
	// links nothing.
	LinkKind string
	// Buttons are the per-object actions the API offers for it.
	Buttons []handlers.Button
	// Find looks its tenant objects up for manual links and match files;
	// nil: they cannot be looked up (the API answers 501).
	Find FindFunc
	// MatchKeys, when set, lets it be matched from a CSV file: what the
	// file may name for a profile.
	MatchKeys handlers.MatchKeysFunc
	// Memberships, for a kind whose objects hold people, says what one of
	// its changes does to an account (the API's person status).
	Memberships func(c plan.Change, account string) []plan.Membership
}

// Deps are what entity kinds are built from: the world Build assembles.
type Deps struct {
	Store       *state.Store
	Source      reconcile.Source
	Tenants     reconcile.Tenants
	Credentials apply.Credentials
	Clock       clock.Clock
	// Apply bounds each apply step (attempt caps, budgets).
	Apply apply.Options
	// IntentWindow is how long an interrupted create's object may take to
	// show before it is taken never to have been made (0: the engine's
	// default, in Graph's time; shorter against a faster simulator).
	IntentWindow time.Duration
}

// Entities lists every registered entity kind. It is the one place a new
// entity plugs in: serve, dev, demo, sync and the tests all get their
// registry from here, and nothing else in the binary names entity kinds.
func Entities(d Deps) []EntityKind {
	return []EntityKind{
		{Name: tenant.EntityUsers, LinkKind: reconcile.MappingUser, Buttons: []handlers.Button{handlers.ButtonCreate, handlers.ButtonResync}, Find: findUser, Handler: &reconcile.Users{Kind: reconcile.UsersKind(),
			Source: d.Source, Tenants: d.Tenants, Store: d.Store,
			Credentials: d.Credentials, Passwords: credentials.Generate, Clock: d.Clock, Apply: d.Apply, IntentWindow: d.IntentWindow,
		}},
		{Name: tenant.EntityGroups, LinkKind: reconcile.MappingGroup, Buttons: []handlers.Button{handlers.ButtonResync, handlers.ButtonCreate, handlers.ButtonDelete},
			Memberships: groupplan.Memberships, Handler: &reconcile.Groups{Kind: reconcile.GroupsKind(),
				Source: d.Source, Tenants: d.Tenants, Store: d.Store, Clock: d.Clock, Apply: d.Apply, IntentWindow: d.IntentWindow,
			}},
		{Name: tenant.EntityClassrooms, LinkKind: reconcile.MappingClass, Buttons: []handlers.Button{handlers.ButtonCreate, handlers.ButtonResync},
			Find: findClass, Memberships: classplan.Memberships, MatchKeys: matchKeys(reconcile.ClassroomKeys(d.Source, now(d.Clock))), Handler: &reconcile.Classrooms{Kind: reconcile.ClassroomsKind(),
				Source: d.Source, Tenants: d.Tenants, Store: d.Store, Clock: d.Clock, Apply: d.Apply, IntentWindow: d.IntentWindow,
			}},
		{Name: tenant.EntityNoop, Handler: pipeline.Noop},
	}
}

// now is the clock's time, the wall clock's without one.
func now(c clock.Clock) func() time.Time {
	if c == nil {
		return time.Now
	}
	return c.Now
}

// matchKeys makes a roster that cannot be read the API's
// ErrRosterUnreadable.
func matchKeys(list handlers.MatchKeysFunc) handlers.MatchKeysFunc {
	return func(ctx context.Context, c tenant.Customer, p tenant.Profile) (map[string]string, error) {
		keys, err := list(ctx, c, p)
		if errors.Is(err, reconcile.ErrBadFeed) {
			return nil, fmt.Errorf("%w: %w", handlers.ErrRosterUnreadable, err)
		}
		return keys, err
	}
}

// MatchKeys is the catalog's handlers.MatchCatalog: the entity's match
// file keys, nil when it cannot be matched from a file.
func (c catalog) MatchKeys(name string) handlers.MatchKeysFunc {
	for _, k := range c {
		if k.Name == name {
			return k.MatchKeys
		}
	}
	return nil
}

// Registry is the pipeline's view of kinds: handler by name.
func Registry(kinds []EntityKind) pipeline.Registry {
	r := make(pipeline.Registry, len(kinds))
	for _, k := range kinds {
		r[k.Name] = k.Handler
	}
	return r
}

// catalog is the API's view of kinds (handlers.EntityCatalog).
type catalog []EntityKind

func (c catalog) Entity(name string) (handlers.EntityInfo, bool) {
	for _, k := range c {
		if k.Name == name {
			return k.info(), true
		}
	}
	return handlers.EntityInfo{}, false
}

// Entities lists every kind in registration order.
func (c catalog) Entities() []handlers.EntityInfo {
	out := make([]handlers.EntityInfo, 0, len(c))
	for _, k := range c {
		out = append(out, k.info())
	}
	return out
}

func (k EntityKind) info() handlers.EntityInfo {
	return handlers.EntityInfo{Name: k.Name, LinkKind: k.LinkKind, Buttons: k.Buttons, Memberships: k.Memberships}
}

// EntityNames lists the registered kinds' names in registration order,
// for checking flags and settings before anything is opened.
func EntityNames() []string {
	var names []string
	for _, k := range Entities(Deps{}) {
		names = append(names, k.Name)
	}
	return names
}

// LookupEntity returns the registered kind called name.
func LookupEntity(name string) (EntityKind, bool) {
	for _, k := range Entities(Deps{}) {
		if k.Name == name {
			return k, true
		}
	}
	return EntityKind{}, false
}
