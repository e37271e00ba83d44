// Package pipeline is the nightly fan-out and the job runner: the scheduler
// finds profiles that are due and enqueues one job per (profile, entity) in
// the customer's session; the runner executes a job through the registry of
// entity handlers, records the run, and turns waits into scheduled
// follow-up messages.
package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Store is the state the pipeline reads and writes; *state.Store has it.
type Store interface {
	ListCustomers(ctx context.Context) ([]tenant.Customer, error)
	GetCustomer(ctx context.Context, id string) (tenant.Customer, error)
	ListProfiles(ctx context.Context, customerID string) ([]tenant.Profile, error)
	GetProfile(ctx context.Context, customerID, profileID string) (tenant.Profile, error)
	GetSyncState(ctx context.Context, customerID, profileID, entity string) (state.SyncState, error)
	SaveSyncState(ctx context.Context, st state.SyncState) (state.SyncState, error)
	CreateRun(ctx context.Context, r runs.Run) (runs.Run, error)
	GetRun(ctx context.Context, customerID, runID string) (runs.Run, error)
	SaveRun(ctx context.Context, r runs.Run) (runs.Run, error)
	ListRuns(ctx context.Context, customerID, profileID string, limit int) ([]runs.Run, error)
	AppendRunLog(ctx context.Context, customerID, runID string, entries ...runs.LogEntry) error
	RecordFailure(ctx context.Context, f state.Failure) error
}

var _ Store = (*state.Store)(nil)

// Entity syncs one entity type of one run. It must be level-based and
// idempotent: a step may run again after a crash or a redelivery.
type Entity interface {
	Sync(ctx context.Context, in EntityInput) (EntityOutcome, error)
}

// EntityFunc adapts a function to Entity.
type EntityFunc func(ctx context.Context, in EntityInput) (EntityOutcome, error)

func (f EntityFunc) Sync(ctx context.Context, in EntityInput) (EntityOutcome, error) {
	return f(ctx, in)
}

var _ Entity = EntityFunc(nil)

// EntityInput is what an entity handler gets: the job's keys and the
// records they point at, freshly read.
type EntityInput struct {
	Job      queue.Job
	Run      runs.Run
	Customer tenant.Customer
	Profile  tenant.Profile
	Now      time.Time
	// Report, when set, takes a way to tell where the step stands while
	// it runs, so a long step shows progress before it ends (see
	// ReportProgress).
	Report func(func() StepProgress)
}

// ReportProgress tells the runner how to find where the step stands;
// nothing when no one listens. The runner stores where it stands in the
// run record now and then, never more than once per
// Options.ProgressEvery, and calls sp only then: finding out may walk a
// whole plan, which a step that reports every round of a 100,000-change
// plan cannot afford each time.
func (in EntityInput) ReportProgress(sp func() StepProgress) {
	if in.Report != nil {
		in.Report(sp)
	}
}

// StepProgress is where an entity stands in its plan during or after a
// step, and what the step has done to the tenant since it began.
type StepProgress struct {
	// Total is the operations the entity's plan holds, Done those
	// finished so far (over all steps), Held those waiting for a
	// confirmation: no pace finishes them.
	Total, Done, Held int
	// Writes are the operations the step sent, Throttled the requests
	// Graph throttled and ThrottledWait how long that held writes back,
	// all since the step began.
	Writes, Throttled int
	ThrottledWait     time.Duration
}

// EntityOutcome is what one step achieved and whether more steps follow.
type EntityOutcome struct {
	// Counts are added to the entity's totals in the run record.
	Counts map[string]int
	// More asks for another step, carrying Cursor, after RequeueAfter.
	More   bool
	Cursor string
	// RequeueAfter delays the next step (e.g. Graph's Retry-After). A
	// positive value implies More.
	RequeueAfter time.Duration
	// Log lines are appended to the run log (ids and counts only).
	Log []string
	// Held, on a last step, ends the entity held rather than succeeded:
	// what was safe is applied and the rest waits for a confirmation. It
	// says what waits, for people.
	Held string
	// Progress is where the entity stands after the step (nil: the step
	// neither planned nor applied). The runner adds it to the entity's
	// samples and works out pace and estimate.
	Progress *StepProgress
}

// Registry maps entity type names to handlers.
type Registry map[string]Entity

// Noop is the entity that does nothing but be counted; it proves the
// wiring before real entities exist, and stays useful for smoke tests.
var Noop Entity = EntityFunc(func(ctx context.Context, in EntityInput) (EntityOutcome, error) {
	return EntityOutcome{Counts: map[string]int{"checked": 1}, Log: []string{"noop entity ran"}}, nil
})

// DefaultRegistry returns the entity handlers that exist today.
func DefaultRegistry() Registry {
	return Registry{tenant.EntityNoop: Noop}
}

// Options configure the scheduler and runner; zero values take defaults.
type Options struct {
	// QueueName is recorded with failures so they can be found by queue.
	QueueName string
	// MaxDeliveryCount must equal the queue's: on that delivery the runner
	// records the failure as final, since Service Bus dead-letters next.
	// Default 10, Service Bus's own default.
	MaxDeliveryCount int
	// WaitTurn is how long a job waits before looking again when an
	// earlier entity of its run has not finished. Default 30 s.
	WaitTurn time.Duration
	// MaxWaits bounds those looks; then the job fails. Default 240 (2 h).
	MaxWaits int
	// MaxSteps caps one entity's steps in a run; a handler that keeps
	// asking for more ends failed with the reason. Default 1000.
	MaxSteps int
	// MaxAttempts caps the scheduled retries of one step after transient
	// failures. Default 8.
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff of those retries: RetryBase
	// doubled per attempt, at most RetryMax. Defaults 5 s and 10 min.
	RetryBase, RetryMax time.Duration
	// StallAfter is how long a run may go without a step completing before
	// the sweeper marks it failed. Default 2 h.
	StallAfter time.Duration
	// WatchEvery is how often a running step re-reads its customer, to
	// stop when the configuration is removed. Default 250 ms: a read of
	// one row, and at most that long of writes after a removal.
	WatchEvery time.Duration
	// ProgressEvery is how often a running step's reported progress is
	// saved to the run record. Default 2 s: a write of one row, and a
	// progress bar that moves.
	ProgressEvery time.Duration
}

func (o Options) withDefaults() Options {
	if o.QueueName == "" {
		o.QueueName = "sync-jobs"
	}
	if o.MaxDeliveryCount <= 0 {
		o.MaxDeliveryCount = 10
	}
	if o.WaitTurn <= 0 {
		o.WaitTurn = 30 * time.Second
	}
	if o.MaxWaits <= 0 {
		o.MaxWaits = 240
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 1000
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 5 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 10 * time.Minute
	}
	if o.StallAfter <= 0 {
		o.StallAfter = 2 * time.Hour
	}
	if o.WatchEvery <= 0 {
		o.WatchEvery = 250 * time.Millisecond
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 2 * time.Second
	}
	return o
}

// Pipeline holds the dependencies shared by the scheduler, the runner and
// the manual-run starter.
type Pipeline struct {
	store    Store
	sender   queue.Sender
	clock    clock.Clock
	entities Registry
	opts     Options
	log      *slog.Logger
	tickJobs []TickJob
}

// New returns a pipeline; a nil logger discards, a nil registry means
// DefaultRegistry.
func New(store Store, sender queue.Sender, clk clock.Clock, entities Registry, log *slog.Logger, opts Options) *Pipeline {
	if entities == nil {
		entities = DefaultRegistry()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.Real{}
	}
	return &Pipeline{store: store, sender: sender, clock: clk, entities: entities, opts: opts.withDefaults(), log: log}
}

// enqueue sends the first job of every entity of run, in run order, so the
// customer's session delivers them in that order.
func (p *Pipeline) enqueue(ctx context.Context, r runs.Run) error {
	msgs := make([]queue.Message, 0, len(r.Entities))
	for _, e := range r.Entities {
		job := queue.Job{Version: queue.JobFormatVersion, CustomerID: r.CustomerID, ProfileID: r.ProfileID,
			RunID: r.ID, Entity: e.Entity, Window: r.Window}
		m, err := job.Message(time.Time{})
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	if err := p.sender.Send(ctx, msgs...); err != nil {
		return fmt.Errorf("enqueue run %s: %w", r.ID, err)
	}
	return nil
}
