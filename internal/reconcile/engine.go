package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Kind is what one entity kind brings to the engine; everything else —
// the plan and apply steps, intents, links, the journal, guards,
// confirmation, counts — is the Engine's, the same for every kind. S is
// the tenant snapshot the kind's planner reads.
type Kind[S any] struct {
	// LinkKind names the kind's links, exclusions and create intents
	// ("user", "group"); it is also the plan.Kind of its changes.
	LinkKind string
	// Snapshot reads what the planner needs to know about the tenant
	// (paged $select, delta), through the reader the tenant offers; the
	// profile says what to look up (e.g. groups' admins by UPN). The cache
	// keeps what the last read ended with, for a kind that can read only
	// the changes since (groups' deltaLink); others ignore it.
	Snapshot func(ctx context.Context, d Directory, p tenant.Profile, cache SnapshotCache) (S, error)
	// Plan is pure: (roster view, tenant snapshot, links, exclusions,
	// profile) → changes, each with a reason.
	Plan func(in PlanInput[S]) *plan.Plan
	// Expand turns a change into operations; Link says which link an
	// entry's progress makes.
	Expand apply.ExpandFunc
	Link   apply.LinkFunc
	// FeedSize is what the shrink guard compares between feeds; nil
	// counts the view's active people.
	FeedSize func(v *roster.View, p tenant.Profile) int
	// RelatedLinks are other kinds' links the planner reads (groups read
	// the users links to turn people into account ids); they reach it in
	// PlanInput.Related.
	RelatedLinks []string
	// Refuse, when set, says before anything is read why this customer
	// cannot have the entity at all (classrooms on a tenant recorded as
	// not an education tenant): a terminal error, the same on every run;
	// nil goes on.
	Refuse func(c tenant.Customer) error
	// Learn, when set, reads a snapshot's failure for a finding about the
	// tenant worth keeping on the customer (classrooms: the education API
	// refused); it records it in c and reports whether it did. The engine
	// saves the customer, then answers with Refuse, so the first run and
	// every later one end with the same reason.
	Learn func(c *tenant.Customer, snapshotErr error, now time.Time) bool
	// Drift, when set, lists the linked objects that differ in the tenant
	// from what rostersync keeps them at, read from the planner's input
	// and the plan it made of it (Engine.Drift). Each needs Kind, Key,
	// TargetID and Differences; the engine fills the rest (Next from the
	// plan unless set). nil: the kind reports no drift.
	Drift func(in PlanInput[S], p *plan.Plan) []plan.Drift
}

// PlanInput is everything a kind's planner may read.
type PlanInput[S any] struct {
	View     *roster.View
	Snapshot S
	Links    []state.Mapping
	// Related holds the links of Kind.RelatedLinks, by link kind.
	Related  map[string][]state.Mapping
	Excluded map[string]bool
	Customer tenant.Customer
	Profile  tenant.Profile
	// Only narrows the plan to these sourcedIds ("create selected now").
	Only map[string]bool
	// Action is the per-object button that started the run (runs.Run.Action:
	// "resync", "create", "delete"); empty for a sync of everything.
	Action string
	// RosterShrank: the feed is suspiciously smaller than the last one;
	// removals are planned held.
	RosterShrank bool
	Now          time.Time
}

// SnapshotCache keeps a kind's last tenant read per customer, profile and
// entity: the data as the kind encodes it and the reader's cursor (a
// deltaLink). Load before Save; a Save racing another run's is dropped.
type SnapshotCache interface {
	Load(ctx context.Context) (data []byte, cursor string, ok bool, err error)
	Save(ctx context.Context, data []byte, cursor string) error
}

var _ SnapshotCache = (*state.SnapshotCache)(nil)

// EngineStore is the state the engine reads and writes; *state.Store has it.
type EngineStore interface {
	ListMappings(ctx context.Context, customerID, kind string) ([]state.Mapping, error)
	ListExclusions(ctx context.Context, customerID, kind string) ([]state.Exclusion, error)
	SavePlan(ctx context.Context, p *plan.Plan) error
	LoadPlan(ctx context.Context, customerID, runID, entity string) (*plan.Plan, []state.Entry, error)
	apply.Journal
	apply.IntentStore
	GetConfirmation(ctx context.Context, customerID, runID, entity string) (state.Confirmation, error)
	GetSyncState(ctx context.Context, customerID, profileID, entity string) (state.SyncState, error)
	SaveSyncState(ctx context.Context, st state.SyncState) (state.SyncState, error)
	SnapshotCache(customerID, profileID, entity string) *state.SnapshotCache
	// GetCustomer and PutCustomer keep what a kind learns of the tenant
	// (Kind.Learn).
	GetCustomer(ctx context.Context, id string) (tenant.Customer, error)
	PutCustomer(ctx context.Context, c tenant.Customer) error
}

var _ EngineStore = (*state.Store)(nil)

// Engine is the plan→apply machine for one entity kind: a pipeline.Entity
// that plans on its first step and applies the stored plan, in journalled
// rounds, on the following ones.
type Engine[S any] struct {
	Kind        Kind[S]
	Source      Source
	Tenants     Tenants
	Store       EngineStore
	Credentials apply.Credentials
	Passwords   apply.PasswordFunc
	Clock       clock.Clock
	Apply       apply.Options
	// IntentWindow is how long an interrupted create's object may take to
	// show in reads before it is taken never to have been made. Default 5
	// minutes, well past Graph's usual replication delay.
	IntentWindow time.Duration
}

var _ pipeline.Entity = (*Engine[struct{}])(nil)

const cursorApply = "apply"

// DefaultIntentWindow is the engine's IntentWindow when none is set: well
// past Graph's usual replication delay.
const DefaultIntentWindow = 5 * time.Minute

func (e *Engine[S]) intentWindow() time.Duration {
	if e.IntentWindow <= 0 {
		return DefaultIntentWindow
	}
	return e.IntentWindow
}

// clock returns the injected clock or the wall clock. Sync never writes to
// the engine: the runner calls it from many goroutines at once.
func (e *Engine[S]) clock() clock.Clock {
	if e.Clock == nil {
		return clock.Real{}
	}
	return e.Clock
}

// Sync plans on the first step and applies on the following ones.
func (e *Engine[S]) Sync(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
	if in.Job.Cursor == cursorApply {
		return e.apply(ctx, in)
	}
	return e.plan(ctx, in)
}

func (e *Engine[S]) plan(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
	p, err := e.existingPlan(ctx, in)
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	if p == nil {
		if e.Kind.Refuse != nil {
			if err := e.Kind.Refuse(in.Customer); err != nil {
				return pipeline.EntityOutcome{}, err
			}
		}
		dir, err := e.Tenants.Directory(ctx, in.Customer)
		if err != nil {
			return pipeline.EntityOutcome{}, err
		}
		// Creates an earlier step or run sent without recording their
		// outcome are found first, so nothing is planned twice.
		wait, err := apply.ResolveIntents(ctx, e.Store, dir, in.Customer.ID, plan.Kind(e.Kind.LinkKind), e.clock().Now(), e.intentWindow())
		if err != nil {
			return pipeline.EntityOutcome{}, err
		}
		if wait > 0 {
			return pipeline.EntityOutcome{More: true, RequeueAfter: wait,
				Log: []string{"an interrupted create is not visible yet: planning waits for it"}}, nil
		}
		if p, err = e.computePlan(ctx, in, dir); err != nil {
			return pipeline.EntityOutcome{}, err
		}
	}
	out := pipeline.EntityOutcome{Counts: planCounts(p), Log: planLog(p), Progress: e.planProgress(p)}
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
func (e *Engine[S]) existingPlan(ctx context.Context, in pipeline.EntityInput) (*plan.Plan, error) {
	p, _, err := e.Store.LoadPlan(ctx, in.Customer.ID, in.Run.ID, in.Job.Entity)
	if errors.Is(err, state.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

func (e *Engine[S]) computePlan(ctx context.Context, in pipeline.EntityInput, dir Directory) (*plan.Plan, error) {
	p, _, err := e.makePlan(ctx, in, dir, e.Store.SnapshotCache(in.Customer.ID, in.Profile.ID, in.Job.Entity), true)
	if err != nil {
		return nil, err
	}
	if err := e.Store.SavePlan(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// makePlan reads what the kind's planner needs (the feed, the tenant
// through cache, links, exclusions, the shrink guard's verdict) and runs
// it, returning the plan and what it was made from. It saves no plan; a
// run that applies records the feed's size for the shrink guard, and
// learn keeps what a failed snapshot taught on the customer.
func (e *Engine[S]) makePlan(ctx context.Context, in pipeline.EntityInput, dir Directory, cache SnapshotCache, learn bool) (*plan.Plan, PlanInput[S], error) {
	var pin PlanInput[S]
	feed, err := e.Source.Load(ctx, in.Customer, in.Profile)
	if err != nil {
		if errors.Is(err, ErrBadFeed) {
			return nil, pin, queue.Terminal(err)
		}
		return nil, pin, fmt.Errorf("load roster: %w", err)
	}
	today, err := roster.ParseDate(in.Now.UTC().Format("2006-01-02"))
	if err != nil {
		return nil, pin, err
	}
	view, err := roster.NewView(feed.Roster, feed.Session, today)
	if err != nil {
		return nil, pin, queue.Terminal(fmt.Errorf("%w: %w", ErrBadFeed, err))
	}
	snap, err := e.Kind.Snapshot(ctx, dir, in.Profile, cache)
	if err != nil {
		if !learn {
			return nil, pin, fmt.Errorf("read tenant %ss: %w", e.Kind.LinkKind, err)
		}
		if learned, lerr := e.learn(ctx, in.Customer.ID, err); learned || lerr != nil {
			return nil, pin, lerr
		}
		return nil, pin, fmt.Errorf("read tenant %ss: %w", e.Kind.LinkKind, err)
	}
	links, err := e.Store.ListMappings(ctx, in.Customer.ID, e.Kind.LinkKind)
	if err != nil {
		return nil, pin, err
	}
	related := make(map[string][]state.Mapping, len(e.Kind.RelatedLinks))
	for _, k := range e.Kind.RelatedLinks {
		if related[k], err = e.Store.ListMappings(ctx, in.Customer.ID, k); err != nil {
			return nil, pin, err
		}
	}
	excluded, err := e.excluded(ctx, in.Customer.ID)
	if err != nil {
		return nil, pin, err
	}
	shrank, err := e.shrinkGuard(ctx, in, view)
	if err != nil {
		return nil, pin, err
	}
	var only map[string]bool
	if len(in.Run.Only) > 0 {
		only = map[string]bool{}
		for _, k := range in.Run.Only {
			only[k] = true
		}
	}
	pin = PlanInput[S]{View: view, Snapshot: snap, Links: links, Related: related, Excluded: excluded, Customer: in.Customer,
		Profile: in.Profile, Only: only, Action: in.Run.Action, RosterShrank: shrank, Now: e.clock().Now()}
	p := e.Kind.Plan(pin)
	p.CustomerID, p.TenantID, p.ProfileID, p.RunID, p.Entity, p.CreatedAt = in.Customer.ID, in.Customer.TenantID, in.Profile.ID, in.Run.ID, in.Job.Entity, in.Now.UTC()
	p.Quarantined = feed.PlanQuarantined()
	if reason, ok := p.AllUnsyncedForOneReason(); ok && only == nil {
		return nil, pin, queue.Terminal(fmt.Errorf("%w: all %d people in session %s would be left unsynced, every one %s (is it the right session and date?)", ErrBadFeed, len(p.Unsynced), feed.Session, reason))
	}
	return p, pin, nil
}

// learn keeps what the kind learns from a snapshot's failure on the
// customer (read again, so nothing saved since is lost) and answers with
// the kind's refusal of the customer as now recorded. learned is false
// when there was nothing to learn.
func (e *Engine[S]) learn(ctx context.Context, customerID string, snapErr error) (learned bool, err error) {
	if e.Kind.Learn == nil {
		return false, nil
	}
	c, err := e.Store.GetCustomer(ctx, customerID)
	if err != nil {
		return true, fmt.Errorf("record what the %s snapshot found (%v): %w", e.Kind.LinkKind, snapErr, err)
	}
	if !e.Kind.Learn(&c, snapErr, e.clock().Now()) {
		return false, nil
	}
	if err := e.Store.PutCustomer(ctx, c); err != nil {
		return true, fmt.Errorf("record what the %s snapshot found (%v): %w", e.Kind.LinkKind, snapErr, err)
	}
	if e.Kind.Refuse != nil {
		if err := e.Kind.Refuse(c); err != nil {
			return true, err
		}
	}
	return true, queue.Terminal(snapErr)
}

func (e *Engine[S]) excluded(ctx context.Context, customerID string) (map[string]bool, error) {
	xs, err := e.Store.ListExclusions(ctx, customerID, e.Kind.LinkKind)
	if err != nil {
		return nil, err
	}
	excluded := make(map[string]bool, len(xs))
	for _, x := range xs {
		excluded[x.SourceID] = true
	}
	return excluded, nil
}

type feedSize struct {
	People int `json:"people"`
}

// shrinkGuard compares the feed's size with the last accepted feed's; a
// drop beyond the profile's limit means a truncated export is likelier
// than a mass exodus, so the kind plans its removals held. A real run
// whose feed is fine records its size for the next comparison.
func (e *Engine[S]) shrinkGuard(ctx context.Context, in pipeline.EntityInput, v *roster.View) (bool, error) {
	size := len(v.ActivePeople())
	if e.Kind.FeedSize != nil {
		size = e.Kind.FeedSize(v, in.Profile)
	}
	st, err := e.Store.GetSyncState(ctx, in.Customer.ID, in.Profile.ID, in.Job.Entity+".feed")
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
	shrank := prev.People > 0 && float64(size) < float64(prev.People)*(1-limit/100)
	if shrank || in.Run.Mode == runs.ModeSimulate {
		return shrank, nil
	}
	b, _ := json.Marshal(feedSize{People: size})
	st.Cursor = string(b)
	if _, err := e.Store.SaveSyncState(ctx, st); err != nil && !errors.Is(err, state.ErrConflict) {
		return false, err
	}
	return false, nil
}

func (e *Engine[S]) apply(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
	p, entries, err := e.Store.LoadPlan(ctx, in.Customer.ID, in.Run.ID, in.Job.Entity)
	if err != nil {
		return pipeline.EntityOutcome{}, fmt.Errorf("load plan: %w", err)
	}
	dir, err := e.Tenants.Directory(ctx, in.Customer)
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	confirmed, err := e.confirmed(ctx, in)
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	opts := e.Apply
	opts.Report = func(pr func() apply.Progress) {
		in.ReportProgress(func() pipeline.StepProgress { return stepProgress(pr()) })
	}
	a := apply.New(dir, e.Store, e.Kind.Expand, e.Kind.Link, e.Credentials, e.Passwords, e.clock(), opts)
	pr, err := a.Apply(ctx, p, in.Customer.TenantID, entries, confirmed)
	if errors.Is(err, apply.ErrNotApplyable) || errors.Is(err, apply.ErrWrongTenant) {
		return pipeline.EntityOutcome{}, queue.Terminal(err)
	}
	if err != nil {
		return pipeline.EntityOutcome{}, err
	}
	sp := stepProgress(pr)
	out := pipeline.EntityOutcome{Counts: applyCounts(pr), Progress: &sp}
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

// planProgress is where the entity stands once planned: its plan's
// operations, none done (a simulation ends there), and none written.
func (e *Engine[S]) planProgress(p *plan.Plan) *pipeline.StepProgress {
	var sp pipeline.StepProgress
	for _, c := range p.Changes {
		n := len(e.Kind.Expand(c, ""))
		sp.Total += n
		if c.Held {
			sp.Held += n
		}
	}
	return &sp
}

// stepProgress is where an apply call stands, in the runner's terms.
func stepProgress(pr apply.Progress) pipeline.StepProgress {
	return pipeline.StepProgress{Total: pr.Operations, Done: pr.Finished, Held: pr.HeldOps,
		Writes: pr.Ops, Throttled: pr.Throttled, ThrottledWait: pr.ThrottledWait}
}

// confirmed reports whether someone confirmed the held part of this run's
// plan of the entity.
func (e *Engine[S]) confirmed(ctx context.Context, in pipeline.EntityInput) (bool, error) {
	_, err := e.Store.GetConfirmation(ctx, in.Customer.ID, in.Run.ID, in.Job.Entity)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, state.ErrNotFound):
		return false, nil
	}
	return false, err
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
	var actions []string
	for _, a := range slices.Sorted(maps.Keys(s.Actions)) {
		actions = append(actions, fmt.Sprintf("%d %s", s.Actions[a], a))
	}
	if len(actions) == 0 {
		actions = []string{"no change"}
	}
	line := fmt.Sprintf("plan: %d matched, %s, %d unsynced; about %d writes", s.Matched, strings.Join(actions, ", "), len(p.Unsynced), s.Writes)
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
