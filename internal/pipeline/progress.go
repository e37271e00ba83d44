package pipeline

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
)

// stepReporter keeps a running step's progress in its run record: the
// entity reports as it goes (EntityInput.Report), and at most every
// Options.ProgressEvery the part not yet recorded becomes a sample and the
// run is saved. The step's end adds the rest (finish), so the samples of
// an entity add up to what its steps did.
type stepReporter struct {
	p   *Pipeline
	ctx context.Context
	idx int

	mu sync.Mutex
	// run is the record as last saved (its ETag the current one).
	run runs.Run
	// recorded is the part of the step's figures already in the samples.
	recorded StepProgress
	savedAt  time.Time
}

// reporter starts keeping progress for the step of run's entity idx. ctx
// is the job's, not the step's: a save after the step was stopped is
// harmless, and the end of the step uses the record either way.
func (p *Pipeline) reporter(ctx context.Context, run runs.Run, idx int) *stepReporter {
	return &stepReporter{p: p, ctx: ctx, idx: idx, run: run, savedAt: p.clock.Now()}
}

// report records sp when ProgressEvery has passed since the last save. A
// failed save is only logged: progress is for people, and the step's end
// records everything anyway (or meets the same conflict and is retried).
func (r *stepReporter) report(progress func() StepProgress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.p.clock.Now()
	if now.Sub(r.savedAt) < r.p.opts.ProgressEvery {
		return
	}
	r.savedAt = now
	sp := progress()
	saved, err := r.p.store.SaveRun(r.ctx, r.with(sp, now))
	if err != nil {
		r.p.log.DebugContext(r.ctx, "progress not saved", "customer", r.run.CustomerID, "run", r.run.ID,
			"entity", r.run.Entities[r.idx].Entity, "error", err)
		return
	}
	r.run, r.recorded = saved, sp
}

// finish returns the run as last saved with the step's final progress
// added, when the step reported one; the caller saves it.
func (r *stepReporter) finish(sp *StepProgress) runs.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sp == nil {
		return r.run
	}
	return r.with(*sp, r.p.clock.Now())
}

// latest is the run as last saved: what a step that failed carries on
// with (its ETag is the current one).
func (r *stepReporter) latest() runs.Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run
}

// with returns a copy of the run whose entity has the part of sp not yet
// recorded as a new sample. The copy shares nothing the sample changes
// (runs.EntityRun.Advance allocates), so a failed save leaves r.run whole.
func (r *stepReporter) with(sp StepProgress, now time.Time) runs.Run {
	run := r.run
	run.Entities = slices.Clone(run.Entities)
	// Milliseconds of each total, subtracted: the samples' waits then add
	// up to the step's whole wait, with no rounding lost on the way.
	s := runs.Sample{At: now.UTC(), Writes: sp.Writes - r.recorded.Writes, Throttled: sp.Throttled - r.recorded.Throttled,
		WaitMs: sp.ThrottledWait.Milliseconds() - r.recorded.ThrottledWait.Milliseconds(), Done: sp.Done}
	run.Entities[r.idx].Advance(s, sp.Total, sp.Held)
	return run
}
