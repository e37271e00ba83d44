// Package reconcile holds the entity handlers that make a tenant match its
// school's roster, and the interfaces they need from the outside: the
// roster Source and the tenant Directory. Handlers are level-based: each
// step re-reads what it needs, so a redelivered job repeats nothing.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
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

// Directory is one customer's tenant: what the users sync reads and does.
type Directory interface {
	Snapshot(ctx context.Context) (userplan.Directory, error)
	apply.Executor
	apply.Finder
}

// Tenants opens customers' tenants.
type Tenants interface {
	Directory(ctx context.Context, c tenant.Customer) (Directory, error)
}

// UsersStore is the state the users sync reads and writes; *state.Store
// has it.
type UsersStore interface {
	ListMappings(ctx context.Context, customerID, kind string) ([]state.Mapping, error)
	PutMappings(ctx context.Context, ms ...state.Mapping) error
	ListExclusions(ctx context.Context, customerID, kind string) ([]state.Exclusion, error)
	SavePlan(ctx context.Context, p *plan.Plan) error
	LoadPlan(ctx context.Context, customerID, runID, entity string) (*plan.Plan, []state.Entry, error)
	apply.Journal
	apply.IntentStore
	GetConfirmation(ctx context.Context, customerID, runID, entity string) (state.Confirmation, error)
	GetSyncState(ctx context.Context, customerID, profileID, entity string) (state.SyncState, error)
	SaveSyncState(ctx context.Context, st state.SyncState) (state.SyncState, error)
}

var _ UsersStore = (*state.Store)(nil)

// MappingUser is the mapping kind of person↔account links.
const MappingUser = "user"

// feedStateEntity keeps the last accepted feed's size for the shrink guard.
const feedStateEntity = "users.feed"

// Users is the users entity handler.
type Users struct {
	Source      Source
	Tenants     Tenants
	Store       UsersStore
	Credentials apply.Credentials
	Passwords   apply.PasswordFunc
	Clock       clock.Clock
	Apply       apply.Options
	// IntentWindow is how long an interrupted create's object may take to
	// show in reads before it is taken never to have been made. Default 5
	// minutes, well past Graph's usual replication delay.
	IntentWindow time.Duration
}

func (u *Users) intentWindow() time.Duration {
	if u.IntentWindow <= 0 {
		return 5 * time.Minute
	}
	return u.IntentWindow
}

// clock returns the injected clock or the wall clock. Sync never writes to
// the handler: the runner calls it from many goroutines at once.
func (u *Users) clock() clock.Clock {
	if u.Clock == nil {
		return clock.Real{}
	}
	return u.Clock
}

var _ pipeline.Entity = (*Users)(nil)

const cursorApply = "apply"

// Sync plans on the first step and applies on the following ones.
func (u *Users) Sync(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
	if in.Job.Cursor == cursorApply {
		return u.apply(ctx, in)
	}
	return u.plan(ctx, in)
}

func (u *Users) plan(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
	p, err := u.existingPlan(ctx, in)
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	if p == nil {
		wait, err := u.resolveIntents(ctx, in)
		if err != nil {
			return pipeline.EntityOutcome{}, err
		}
		if wait > 0 {
			return pipeline.EntityOutcome{More: true, RequeueAfter: wait,
				Log: []string{"an interrupted create is not visible yet: planning waits for it"}}, nil
		}
		if p, err = u.computePlan(ctx, in); err != nil {
			return pipeline.EntityOutcome{}, err
		}
	}
	out := pipeline.EntityOutcome{Counts: planCounts(p), Log: planLog(p)}
	switch {
	case in.Run.Mode == runs.ModeSimulate:
		out.Log = append(out.Log, "simulation: nothing applied")
	case len(p.Changes) == 0:
	default:
		// Held changes wait in the apply step, which applies the rest
		// and ends the entity held.
		out.More, out.Cursor = true, cursorApply
	}
	return out, nil
}

// existingPlan returns the plan an earlier delivery of this step saved.
func (u *Users) existingPlan(ctx context.Context, in pipeline.EntityInput) (*plan.Plan, error) {
	p, _, err := u.Store.LoadPlan(ctx, in.Customer.ID, in.Run.ID, in.Job.Entity)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// resolveIntents finds the accounts of creates an earlier step or run sent
// without recording their outcome, so nobody is planned a second account.
func (u *Users) resolveIntents(ctx context.Context, in pipeline.EntityInput) (time.Duration, error) {
	dir, err := u.Tenants.Directory(ctx, in.Customer)
	if err != nil {
		return 0, err
	}
	return apply.ResolveIntents(ctx, u.Store, dir, in.Customer.ID, plan.KindUser, u.clock().Now(), u.intentWindow())
}

func (u *Users) computePlan(ctx context.Context, in pipeline.EntityInput) (*plan.Plan, error) {
	feed, err := u.Source.Load(ctx, in.Customer, in.Profile)
	if err != nil {
		if errors.Is(err, ErrBadFeed) {
			return nil, queue.Terminal(err)
		}
		return nil, fmt.Errorf("load roster: %w", err)
	}
	today, err := roster.ParseDate(in.Now.UTC().Format("2006-01-02"))
	if err != nil {
		return nil, err
	}
	view, err := roster.NewView(feed.Roster, feed.Session, today)
	if err != nil {
		return nil, queue.Terminal(fmt.Errorf("%w: %w", ErrBadFeed, err))
	}
	dir, err := u.Tenants.Directory(ctx, in.Customer)
	if err != nil {
		return nil, err
	}
	snap, err := dir.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("read tenant users: %w", err)
	}
	links, excluded, err := u.linksAndExclusions(ctx, in.Customer.ID)
	if err != nil {
		return nil, err
	}
	rules := in.Profile.UsersConfig()
	shrank, err := u.shrinkGuard(ctx, in, view, rules)
	if err != nil {
		return nil, err
	}
	var only map[string]bool
	if len(in.Run.Only) > 0 {
		only = map[string]bool{}
		for _, k := range in.Run.Only {
			only[k] = true
		}
	}
	p := userplan.Compute(userplan.Input{View: view, Dir: snap, Links: links, Excluded: excluded, Rules: rules,
		Domains: in.Customer.Domains, RosterShrank: shrank, Only: only, Now: u.clock().Now()})
	p.CustomerID, p.TenantID, p.ProfileID, p.RunID, p.CreatedAt = in.Customer.ID, in.Customer.TenantID, in.Profile.ID, in.Run.ID, in.Now.UTC()
	p.Quarantined = feed.PlanQuarantined()
	if reason, ok := p.AllUnsyncedForOneReason(); ok && only == nil {
		return nil, queue.Terminal(fmt.Errorf("%w: all %d people in session %s would be left unsynced, every one %s (is it the right session and date?)", ErrBadFeed, len(p.Unsynced), feed.Session, reason))
	}
	p.Entity = in.Job.Entity
	if err := u.Store.SavePlan(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (u *Users) linksAndExclusions(ctx context.Context, customerID string) ([]userplan.Link, map[string]bool, error) {
	ms, err := u.Store.ListMappings(ctx, customerID, MappingUser)
	if err != nil {
		return nil, nil, err
	}
	links := make([]userplan.Link, 0, len(ms))
	for _, m := range ms {
		links = append(links, userplan.Link{SourceID: m.SourceID, TargetID: m.TargetID, UserType: m.UserType, Suspended: m.Suspended, Since: m.UpdatedAt})
	}
	xs, err := u.Store.ListExclusions(ctx, customerID, MappingUser)
	if err != nil {
		return nil, nil, err
	}
	excluded := make(map[string]bool, len(xs))
	for _, x := range xs {
		excluded[x.SourceID] = true
	}
	return links, excluded, nil
}

type feedSize struct {
	People int `json:"people"`
}

// shrinkGuard compares the number of people synced with the last accepted
// feed's; a drop beyond the profile's limit means a truncated export is
// likelier than a mass exodus, so nobody is suspended this run. A real run
// whose feed is fine records its size for the next comparison.
func (u *Users) shrinkGuard(ctx context.Context, in pipeline.EntityInput, v *roster.View, rules tenant.UsersConfig) (bool, error) {
	people := len(v.ActivePeople())
	if rules.SyncWithoutEnrolments {
		people += len(v.Unenrolled())
	}
	st, err := u.Store.GetSyncState(ctx, in.Customer.ID, in.Profile.ID, feedStateEntity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return false, err
	}
	var prev feedSize
	if st.Cursor != "" {
		_ = json.Unmarshal([]byte(st.Cursor), &prev)
	}
	limit := in.Profile.Source.MaxShrinkPercent
	if limit <= 0 {
		limit = 20
	}
	shrank := prev.People > 0 && float64(people) < float64(prev.People)*(1-limit/100)
	if shrank || in.Run.Mode == runs.ModeSimulate {
		return shrank, nil
	}
	b, _ := json.Marshal(feedSize{People: people})
	st.Cursor = string(b)
	if _, err := u.Store.SaveSyncState(ctx, st); err != nil && !errors.Is(err, state.ErrConflict) {
		return false, err
	}
	return false, nil
}

func (u *Users) apply(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
	p, entries, err := u.Store.LoadPlan(ctx, in.Customer.ID, in.Run.ID, in.Job.Entity)
	if err != nil {
		return pipeline.EntityOutcome{}, fmt.Errorf("load plan: %w", err)
	}
	dir, err := u.Tenants.Directory(ctx, in.Customer)
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	confirmed, err := u.confirmed(ctx, in)
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	a := apply.New(dir, u.Store, userplan.Expand, userLink, u.Credentials, u.Passwords, u.clock(), u.Apply)
	pr, err := a.Apply(ctx, p, in.Customer.TenantID, entries, confirmed)
	if errors.Is(err, apply.ErrNotApplyable) || errors.Is(err, apply.ErrWrongTenant) {
		return pipeline.EntityOutcome{}, queue.Terminal(err)
	}
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	out := pipeline.EntityOutcome{Counts: applyCounts(pr)}
	out.Log = append(out.Log, fmt.Sprintf("applied: %d done, %d failed, %d pending; %d operations sent, %d retried", pr.Done, pr.Failed, pr.Pending, pr.Ops, pr.Retried))
	switch {
	case !pr.Complete():
		out.More, out.Cursor, out.RequeueAfter = true, cursorApply, pr.RequeueAfter
	case pr.Held > 0:
		out.Counts["held"] = pr.Held
		out.Held = fmt.Sprintf("%d change(s) await confirmation: %s", pr.Held, p.Guard.Detail)
	}
	return out, nil
}

// confirmed reports whether someone confirmed the held part of this run's
// users plan.
func (u *Users) confirmed(ctx context.Context, in pipeline.EntityInput) (bool, error) {
	_, err := u.Store.GetConfirmation(ctx, in.Customer.ID, in.Run.ID, in.Job.Entity)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, state.ErrNotFound):
		return false, nil
	}
	return false, err
}

// userLink is the link an entry's progress makes: created and matched
// accounts become links, and suspensions are remembered so only
// rostersync's own suspensions are ever undone. A create's link exists as
// soon as its account does, before its licence and groups are done.
func userLink(e state.Entry) (state.Mapping, bool) {
	m := state.Mapping{Kind: MappingUser, SourceID: e.Key, UserType: e.UserType}
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

func planCounts(p *plan.Plan) map[string]int {
	s := p.Summarize()
	out := map[string]int{"matched": s.Matched}
	for a, n := range s.Actions {
		out["plan."+string(a)] = n
	}
	unsynced := 0
	for _, n := range s.Unsynced {
		unsynced += n
	}
	if unsynced > 0 {
		out["unsynced"] = unsynced
	}
	if n := len(p.Quarantined); n > 0 {
		out["quarantined"] = n
	}
	return out
}

func planLog(p *plan.Plan) []string {
	s := p.Summarize()
	line := fmt.Sprintf("plan: %d matched, %d create, %d update, %d link, %d suspend, %d reactivate, %d unsynced; about %d writes",
		s.Matched, s.Actions[plan.Create], s.Actions[plan.Update], s.Actions[plan.Link], s.Actions[plan.Suspend], s.Actions[plan.Reactivate], len(p.Unsynced), s.Writes)
	out := []string{line}
	if n := len(p.Quarantined); n > 0 {
		out = append(out, fmt.Sprintf("feed: %d problem(s) in quarantined rows left out, first %s:%d (see the plan's quarantined list)", n, p.Quarantined[0].File, p.Quarantined[0].Line))
	}
	if p.Guard.Detail != "" {
		out = append(out, p.Guard.Detail)
	}
	return out
}

func applyCounts(pr apply.Progress) map[string]int {
	out := map[string]int{"ops": pr.Ops, "retried": pr.Retried}
	for _, e := range pr.Changed {
		switch e.Status {
		case state.EntryDone:
			out["applied."+string(e.Action)]++
		case state.EntryFailed:
			out["failed."+string(e.Action)]++
		}
	}
	return out
}
