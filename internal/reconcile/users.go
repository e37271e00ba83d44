package reconcile

import (
	"context"
	"errors"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
	"github.com/rostersync/rostersync/internal/userplan"
)

// Feed is a roster read and validated for one run.
type Feed struct {
	Roster  *roster.Roster
	Session string
	// Quarantined are the rows left out of Roster, each with its location
	// and reason; the plan records them.
	Quarantined []oneroster.Quarantined
}

// ErrBadFeed marks a feed that failed to read or validate: the run stops
// before touching the tenant, and retrying will not help.
var ErrBadFeed = errors.New("roster feed rejected")

// Source loads a customer's roster for a profile.
type Source interface {
	Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error)
}

// Directory is one customer's tenant as the engine needs it: writes, and
// finding a create's object again by its key. Each kind's snapshot reader
// asks it for the reads the kind needs (UsersReader, …).
type Directory interface {
	apply.Executor
	apply.Finder
}

// Tenants opens customers' tenants.
type Tenants interface {
	Directory(ctx context.Context, c tenant.Customer) (Directory, error)
}

// UsersReader is what the users planner reads of a tenant.
type UsersReader interface {
	Snapshot(ctx context.Context) (userplan.Directory, error)
}

// MappingUser is the mapping kind of person↔account links.
const MappingUser = "user"

// Users is the users entity: the engine with the users kind.
type Users = Engine[userplan.Directory]

// UsersKind is the users entity's part: its snapshot, planner, expander
// and links.
func UsersKind() Kind[userplan.Directory] {
	return Kind[userplan.Directory]{
		LinkKind: MappingUser,
		Snapshot: func(ctx context.Context, d Directory, _ tenant.Profile, cache SnapshotCache) (userplan.Directory, error) {
			return readUsers(ctx, d, cache)
		},
		Plan:     planUsers,
		Expand:   userplan.Expand,
		Link:     userLink,
		FeedSize: usersFeedSize,
		Drift:    usersDrift,
	}
}

func planUsers(in PlanInput[userplan.Directory]) *plan.Plan {
	links := make([]userplan.Link, 0, len(in.Links))
	for _, m := range in.Links {
		links = append(links, userplan.Link{SourceID: m.SourceID, TargetID: m.TargetID, UserType: m.Type, Suspended: m.Suspended, Since: m.UpdatedAt})
	}
	return userplan.Compute(userplan.Input{View: in.View, Dir: in.Snapshot, Links: links, Excluded: in.Excluded, Rules: in.Profile.UsersConfig(),
		Domains: in.Customer.Domains, WasVerified: wasVerified(in.Customer), RosterShrank: in.RosterShrank, Only: in.Only, Now: in.Now})
}

// wasVerified is the tenant's verified domains as the last tenant check
// recorded them (none before a check).
func wasVerified(c tenant.Customer) []string {
	if c.Tenant == nil {
		return nil
	}
	return c.Tenant.VerifiedDomains
}

// usersFeedSize counts the people the users sync would sync.
func usersFeedSize(v *roster.View, p tenant.Profile) int {
	n := len(v.ActivePeople())
	if p.UsersConfig().SyncWithoutEnrolments {
		n += len(v.Unenrolled())
	}
	return n
}

// userLink is the link an entry's progress makes: created and matched
// accounts become links, and suspensions are remembered so only
// rostersync's own suspensions are ever undone. A create's link exists as
// soon as its account does, before its licence and groups are done.
func userLink(e state.Entry) (state.Mapping, bool) {
	pl, _ := userplan.PayloadOf(e.Change)
	m := state.Mapping{Kind: MappingUser, SourceID: e.Key, Type: pl.UserType}
	switch {
	case e.Action == plan.Create && e.Created != "":
		m.TargetID, m.How = e.Created, "created"
		if e.Existing {
			m.How = "created (found after a retried create)"
		}
	case e.Status != state.EntryDone:
		return m, false
	case e.Action == plan.Link:
		m.TargetID, m.How = e.TargetID, "matched"
	case e.Action == plan.Suspend:
		m.TargetID, m.How, m.Suspended = e.TargetID, "suspended", true
	case e.Action == plan.Reactivate:
		m.TargetID, m.How = e.TargetID, "reactivated"
	default:
		return m, false
	}
	return m, true
}
