package pipeline

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Disposition tells the trigger adapter how to settle a delivery.
type Disposition int

const (
	// Done: complete the message (success, or a failure that was recorded
	// and that retrying cannot fix).
	Done Disposition = iota
	// Retry: fail the invocation so Service Bus redelivers, and in the end
	// dead-letters, the message.
	Retry
)

// Outcome of handling one delivery.
type Outcome struct {
	Disposition Disposition
	// Err is the failure behind Retry, or the recorded terminal failure.
	Err error
	// Log lines for the invocation log.
	Log []string
}

// ProfileEntity is the SyncState entity holding a profile's last run.
const ProfileEntity = "_profile"

// Handle runs one delivered job. It never blocks on a wait: a step that asks
// for time, or a job whose turn has not come, becomes a scheduled follow-up
// message and the delivery completes.
func (p *Pipeline) Handle(ctx context.Context, d queue.Delivery) Outcome {
	job, err := queue.DecodeJob(d.Body)
	if err != nil {
		// A body this runner cannot read will never get better, but a
		// custom handler cannot dead-letter: fail every delivery, with the
		// reason recorded, until Service Bus dead-letters it.
		return p.retry(ctx, d, fmt.Errorf("message %s: %w", d.MessageID, err))
	}
	out := p.handleJob(ctx, d, job)
	if out.Disposition == Retry {
		return p.retry(ctx, d, out.Err)
	}
	return out
}

// retry records why a delivery failed, so that the reason is on file when
// Service Bus dead-letters the message after its last delivery.
func (p *Pipeline) retry(ctx context.Context, d queue.Delivery, cause error) Outcome {
	final := d.DeliveryCount >= p.opts.MaxDeliveryCount
	f := state.Failure{Queue: p.opts.QueueName, MessageID: d.MessageID, DeliveryCount: d.DeliveryCount,
		Reason: cause.Error(), Final: final, Body: string(d.Body)}
	if err := p.store.RecordFailure(ctx, f); err != nil {
		cause = errors.Join(cause, err)
	}
	p.log.WarnContext(ctx, "job failed, will be retried", "message", d.MessageID, "delivery", d.DeliveryCount, "final", final, "error", cause)
	return Outcome{Disposition: Retry, Err: cause,
		Log: []string{fmt.Sprintf("message %s delivery %d failed (final=%t): %v", d.MessageID, d.DeliveryCount, final, cause)}}
}

func (p *Pipeline) handleJob(ctx context.Context, d queue.Delivery, job queue.Job) Outcome {
	run, err := p.store.GetRun(ctx, job.CustomerID, job.RunID)
	if errors.Is(err, state.ErrNotFound) {
		return p.orphan(ctx, d, fmt.Errorf("run %s of customer %s does not exist", job.RunID, job.CustomerID))
	}
	if err != nil {
		return p.failed(ctx, d, job, nil, -1, fmt.Errorf("read run %s: %w", job.RunID, err))
	}
	idx := run.Entity(job.Entity)
	if idx < 0 {
		return p.orphan(ctx, d, fmt.Errorf("run %s has no entity %q", run.ID, job.Entity))
	}
	er := run.Entities[idx]
	if er.Status.Done() || er.Steps > job.Step {
		return Outcome{Log: []string{fmt.Sprintf("run %s entity %s step %d already handled", run.ID, job.Entity, job.Step)}}
	}
	if out, waiting := p.awaitTurn(ctx, &run, idx, job); waiting {
		return out
	}
	handler, known := p.entities[job.Entity]
	if !known {
		return p.failEntity(ctx, run, idx, fmt.Errorf("unknown entity type %q", job.Entity))
	}
	if job.Step >= p.opts.MaxSteps {
		return p.failEntity(ctx, run, idx, fmt.Errorf("stopped after %d steps, the cap on one entity's steps: it kept asking for more without finishing", job.Step))
	}
	c, prof, err := p.loadTarget(ctx, job)
	if errors.Is(err, ErrDisconnected) {
		return p.cancelRun(ctx, run, err.Error())
	}
	if err != nil {
		return p.failed(ctx, d, job, &run, idx, err)
	}
	if run, err = p.markRunning(ctx, run, idx); err != nil {
		return p.failed(ctx, d, job, &run, idx, err)
	}
	stepCtx, stop := context.WithCancelCause(ctx)
	watched := p.watchCustomer(stepCtx, c.ID, stop)
	progress := p.reporter(ctx, run, idx)
	res, err := p.sync(stepCtx, handler, EntityInput{Job: job, Run: run, Customer: c, Profile: prof, Now: p.clock.Now(), Report: progress.report})
	stop(nil)
	<-watched
	run = progress.latest()
	if cause := context.Cause(stepCtx); errors.Is(cause, ErrDisconnected) {
		// Removed while the step ran: it was stopped between two writes
		// (a crash, as far as the apply's journal goes) and the run ends.
		if fresh, rerr := p.store.GetRun(ctx, run.CustomerID, run.ID); rerr == nil {
			return p.cancelRun(ctx, fresh, cause.Error())
		}
	}
	if err != nil {
		return p.failed(ctx, d, job, &run, idx, fmt.Errorf("run %s entity %s step %d: %w", run.ID, job.Entity, job.Step, err))
	}
	return p.record(ctx, progress.finish(res.Progress), idx, job, res)
}

// sync runs one step, turning a panic into an error: a step that panics
// is poison, retried by Service Bus and recorded as the entity's failure
// on the last delivery, never a run left "running" for ever.
func (p *Pipeline) sync(ctx context.Context, h Entity, in EntityInput) (out EntityOutcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.ErrorContext(ctx, "entity step panicked", "customer", in.Customer.ID, "run", in.Run.ID,
				"entity", in.Job.Entity, "step", in.Job.Step, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("entity %s panicked: %v", in.Job.Entity, r)
		}
	}()
	return h.Sync(ctx, in)
}

// failed settles a delivery whose step failed. Terminal failures end the
// entity. Transient ones (storage, network, Graph 5xx, timeouts) complete
// the delivery and schedule a copy with backoff under a new MessageId, so
// a blip burns no Service Bus delivery; after MaxAttempts copies the entity
// fails with the reason. Anything else goes back to Service Bus, and on
// the last delivery the entity fails with the reason before the message
// is dead-lettered.
func (p *Pipeline) failed(ctx context.Context, d queue.Delivery, job queue.Job, run *runs.Run, idx int, cause error) Outcome {
	switch {
	case queue.IsTerminal(cause) && run != nil:
		return p.failEntity(ctx, *run, idx, cause)
	case queue.IsTransient(cause) && job.Attempt < p.opts.MaxAttempts:
		return p.retryLater(ctx, d, job, cause)
	case queue.IsTransient(cause) && run != nil:
		return p.failEntity(ctx, *run, idx, fmt.Errorf("gave up after %d attempts: %w", job.Attempt+1, cause))
	case run != nil && d.DeliveryCount >= p.opts.MaxDeliveryCount:
		// The last delivery: Service Bus dead-letters the message next, so
		// the run must not wait for it forever.
		out := p.failEntity(ctx, *run, idx, fmt.Errorf("gave up after %d deliveries: %w", d.DeliveryCount, cause))
		return Outcome{Disposition: Retry, Err: cause, Log: out.Log}
	}
	return Outcome{Disposition: Retry, Err: cause}
}

// retryLater completes the delivery and schedules the step again.
func (p *Pipeline) retryLater(ctx context.Context, d queue.Delivery, job queue.Job, cause error) Outcome {
	next := job
	next.Attempt++
	wait := p.backoff(next)
	if err := p.send(ctx, next, wait); err != nil {
		return Outcome{Disposition: Retry, Err: errors.Join(cause, fmt.Errorf("schedule retry: %w", err))}
	}
	f := state.Failure{Queue: p.opts.QueueName, MessageID: d.MessageID, DeliveryCount: d.DeliveryCount,
		Reason: "transient, retried as attempt " + strconv.Itoa(next.Attempt) + ": " + cause.Error(), Body: string(d.Body)}
	line := fmt.Sprintf("run %s entity %s step %d failed transiently; attempt %d in %s: %v", job.RunID, job.Entity, job.Step, next.Attempt, wait.Round(time.Millisecond), cause)
	p.log.WarnContext(ctx, "transient failure, retrying on schedule", "customer", job.CustomerID, "run", job.RunID,
		"entity", job.Entity, "step", job.Step, "attempt", next.Attempt, "after", wait, "error", cause)
	if err := p.store.RecordFailure(ctx, f); err != nil {
		line += "; failure record not written: " + err.Error()
	}
	return Outcome{Log: []string{line}}
}

// backoff is RetryBase doubled per attempt, capped at RetryMax, with up to
// 25% jitter drawn from the message id, so copies of many customers' jobs
// spread out yet a given retry is reproducible.
func (p *Pipeline) backoff(job queue.Job) time.Duration {
	d := p.opts.RetryBase << min(job.Attempt-1, 20)
	if d <= 0 || d > p.opts.RetryMax {
		d = p.opts.RetryMax
	}
	h := fnv.New64a()
	h.Write([]byte(job.MessageID()))
	jitter := time.Duration(h.Sum64() % uint64(d/4+1))
	return d - d/8 + jitter
}

// orphan records a job that points at nothing and completes it: retrying
// cannot create the run it names.
func (p *Pipeline) orphan(ctx context.Context, d queue.Delivery, cause error) Outcome {
	f := state.Failure{Queue: p.opts.QueueName, MessageID: d.MessageID, DeliveryCount: d.DeliveryCount,
		Reason: cause.Error(), Final: true, Body: string(d.Body)}
	if err := p.store.RecordFailure(ctx, f); err != nil {
		return Outcome{Disposition: Retry, Err: errors.Join(cause, err)}
	}
	return Outcome{Err: queue.Terminal(cause), Log: []string{"dropped orphan job: " + cause.Error()}}
}

func (p *Pipeline) loadTarget(ctx context.Context, job queue.Job) (tenant.Customer, tenant.Profile, error) {
	c, err := p.store.GetCustomer(ctx, job.CustomerID)
	if errors.Is(err, state.ErrNotFound) {
		return c, tenant.Profile{}, queue.Terminal(err)
	}
	if err != nil {
		return c, tenant.Profile{}, err
	}
	if c.Disconnected {
		return c, tenant.Profile{}, queue.Terminal(fmt.Errorf("customer %s: %w", c.ID, ErrDisconnected))
	}
	prof, err := p.store.GetProfile(ctx, job.CustomerID, job.ProfileID)
	if errors.Is(err, state.ErrNotFound) {
		return c, prof, queue.Terminal(err)
	}
	return c, prof, err
}

// awaitTurn keeps a run's entities in order: a job whose predecessors are
// still going is put back for later; one whose predecessor failed is
// skipped, since e.g. groups built on a failed users sync would be wrong.
func (p *Pipeline) awaitTurn(ctx context.Context, run *runs.Run, idx int, job queue.Job) (Outcome, bool) {
	for _, before := range run.Entities[:idx] {
		switch {
		case before.Status.Settled():
			continue
		case before.Status.Done():
			return p.skipEntity(ctx, *run, idx, fmt.Sprintf("skipped: %s ended %s", before.Entity, before.Status)), true
		}
		if job.Wait >= p.opts.MaxWaits {
			return p.failEntity(ctx, *run, idx, fmt.Errorf("waited %d times for %s to finish", job.Wait, before.Entity)), true
		}
		next := job
		next.Wait++
		if err := p.send(ctx, next, p.opts.WaitTurn); err != nil {
			return Outcome{Disposition: Retry, Err: err}, true
		}
		return Outcome{Log: []string{fmt.Sprintf("run %s entity %s waits for %s", run.ID, job.Entity, before.Entity)}}, true
	}
	return Outcome{}, false
}

func (p *Pipeline) send(ctx context.Context, job queue.Job, after time.Duration) error {
	var at time.Time
	if after > 0 {
		at = p.clock.Now().Add(after)
	}
	m, err := job.Message(at)
	if err != nil {
		return err
	}
	return p.sender.Send(ctx, m)
}

func (p *Pipeline) markRunning(ctx context.Context, run runs.Run, idx int) (runs.Run, error) {
	if run.Entities[idx].Status == runs.StatusRunning {
		return run, nil
	}
	now := p.clock.Now().UTC()
	run.Entities[idx].Status = runs.StatusRunning
	run.Entities[idx].StartedAt = now
	if run.StartedAt.IsZero() {
		run.StartedAt = now
	}
	run.Status = runs.StatusRunning
	return p.store.SaveRun(ctx, run)
}

// record stores one successful step: a follow-up is sent before the run is
// saved, so a crash in between re-runs the step (idempotent) rather than
// losing the rest of the entity.
func (p *Pipeline) record(ctx context.Context, run runs.Run, idx int, job queue.Job, res EntityOutcome) Outcome {
	er := &run.Entities[idx]
	er.Counts = runs.MergeCounts(er.Counts, res.Counts)
	er.Steps = job.Step + 1
	more := res.More || res.RequeueAfter > 0
	if more {
		next := job
		next.Step, next.Wait, next.Cursor = job.Step+1, 0, res.Cursor
		if err := p.send(ctx, next, res.RequeueAfter); err != nil {
			return Outcome{Disposition: Retry, Err: err}
		}
	} else {
		er.Status = runs.StatusSucceeded
		if res.Held != "" {
			er.Status, er.Held = runs.StatusHeld, res.Held
		}
		er.EndedAt = p.clock.Now().UTC()
	}
	run.ProgressAt = p.clock.Now().UTC()
	run.Finish(p.clock.Now())
	saved, err := p.store.SaveRun(ctx, run)
	if err != nil {
		return Outcome{Disposition: Retry, Err: err}
	}
	entries := make([]runs.LogEntry, 0, len(res.Log)+1)
	for _, line := range res.Log {
		entries = append(entries, runs.LogEntry{Level: "info", Entity: job.Entity, Message: line})
	}
	switch {
	case !more && res.Held != "":
		entries = append(entries, runs.LogEntry{Level: "warn", Entity: job.Entity, Message: fmt.Sprintf("%s held after %d step(s): %s", job.Entity, er.Steps, res.Held)})
	case !more:
		entries = append(entries, runs.LogEntry{Level: "info", Entity: job.Entity, Message: fmt.Sprintf("%s finished in %d step(s)", job.Entity, er.Steps)})
	}
	out := Outcome{Log: []string{fmt.Sprintf("run %s entity %s step %d done (more=%t)", run.ID, job.Entity, job.Step, more)}}
	if err := p.store.AppendRunLog(ctx, run.CustomerID, run.ID, entries...); err != nil {
		out.Log = append(out.Log, "run log not written: "+err.Error())
	}
	if !more {
		p.afterEntity(ctx, saved, idx, &out)
	}
	return out
}

// watchCustomer re-reads the customer every WatchEvery while a step
// runs and stops the step (cause ErrDisconnected) once its configuration
// is removed, so a long step writes nothing more to the tenant. The
// channel closes when the watch ends (ctx done).
func (p *Pipeline) watchCustomer(ctx context.Context, customerID string, stop context.CancelCauseFunc) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(p.opts.WatchEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			c, err := p.store.GetCustomer(ctx, customerID)
			if err == nil && c.Disconnected {
				stop(fmt.Errorf("customer %s: %w", customerID, ErrDisconnected))
				return
			}
		}
	}()
	return done
}

// ErrDisconnected: the customer's configuration was removed; its runs end
// cancelled at their next step.
var ErrDisconnected = errors.New("configuration removed: the customer is disconnected")

// cancelRun ends every unfinished entity of run cancelled. The message is
// then complete and nothing more of the run reaches the tenant.
func (p *Pipeline) cancelRun(ctx context.Context, run runs.Run, why string) Outcome {
	saved, err := CancelRun(ctx, p.store, run, why, p.clock.Now())
	if err != nil {
		return Outcome{Disposition: Retry, Err: err}
	}
	out := Outcome{Log: []string{fmt.Sprintf("run %s cancelled: %s", run.ID, why)}}
	for i, er := range saved.Entities {
		if er.Status == runs.StatusCancelled {
			p.afterEntity(ctx, saved, i, &out)
		}
	}
	return out
}

// CancelRun marks every unfinished entity of run cancelled and saves it
// (ETag-guarded: ErrConflict when it moved since it was read) with a log
// line per entity. A finished run is returned as it is.
func CancelRun(ctx context.Context, store interface {
	SaveRun(ctx context.Context, r runs.Run) (runs.Run, error)
	AppendRunLog(ctx context.Context, customerID, runID string, entries ...runs.LogEntry) error
}, run runs.Run, why string, now time.Time) (runs.Run, error) {
	if run.Status.Done() {
		return run, nil
	}
	var log []runs.LogEntry
	for i := range run.Entities {
		er := &run.Entities[i]
		if er.Status.Done() {
			continue
		}
		er.Status, er.Error, er.EndedAt = runs.StatusCancelled, why, now.UTC()
		if er.StartedAt.IsZero() {
			er.StartedAt = now.UTC()
		}
		log = append(log, runs.LogEntry{Level: "warn", Entity: er.Entity, Message: why})
	}
	run.Finish(now)
	saved, err := store.SaveRun(ctx, run)
	if err != nil {
		return run, fmt.Errorf("cancel run %s: %w", run.ID, err)
	}
	if err := store.AppendRunLog(ctx, run.CustomerID, run.ID, log...); err != nil {
		return saved, fmt.Errorf("cancel run %s: run log: %w", run.ID, err)
	}
	return saved, nil
}

func (p *Pipeline) failEntity(ctx context.Context, run runs.Run, idx int, cause error) Outcome {
	return p.endEntity(ctx, run, idx, runs.StatusFailed, cause.Error(), cause)
}

func (p *Pipeline) skipEntity(ctx context.Context, run runs.Run, idx int, why string) Outcome {
	return p.endEntity(ctx, run, idx, runs.StatusSkipped, why, nil)
}

// endEntity records an entity that ends without success. The message is
// then complete: the reason is on the run, where the admin looks.
func (p *Pipeline) endEntity(ctx context.Context, run runs.Run, idx int, status runs.Status, why string, cause error) Outcome {
	now := p.clock.Now().UTC()
	er := &run.Entities[idx]
	er.Status, er.Error, er.EndedAt = status, why, now
	if er.StartedAt.IsZero() {
		er.StartedAt = now
	}
	run.Finish(now)
	saved, err := p.store.SaveRun(ctx, run)
	if err != nil {
		return Outcome{Disposition: Retry, Err: errors.Join(cause, err)}
	}
	level := "error"
	if status == runs.StatusSkipped {
		level = "warn"
	}
	out := Outcome{Err: cause, Log: []string{fmt.Sprintf("run %s entity %s %s: %s", run.ID, er.Entity, status, why)}}
	if err := p.store.AppendRunLog(ctx, run.CustomerID, run.ID, runs.LogEntry{Level: level, Entity: er.Entity, Message: why}); err != nil {
		out.Log = append(out.Log, "run log not written: "+err.Error())
	}
	p.afterEntity(ctx, saved, idx, &out)
	return out
}

// afterEntity writes the last-sync state of an entity that ended, and of the
// profile once the whole run has.
func (p *Pipeline) afterEntity(ctx context.Context, run runs.Run, idx int, out *Outcome) {
	er := run.Entities[idx]
	if err := p.saveLastSync(ctx, run, er.Entity, er.Status, er.EndedAt); err != nil {
		out.Log = append(out.Log, "last-sync state not written: "+err.Error())
	}
	if !run.Status.Done() {
		p.wakeNext(ctx, run, idx, out)
		return
	}
	if err := p.saveLastSync(ctx, run, ProfileEntity, run.Status, run.EndedAt); err != nil {
		out.Log = append(out.Log, "profile last-run state not written: "+err.Error())
	}
	out.Log = append(out.Log, fmt.Sprintf("run %s %s", run.ID, run.Status))
	p.log.InfoContext(ctx, "run ended", "customer", run.CustomerID, "profile", run.ProfileID, "run", run.ID, "status", run.Status)
}

// wakeNext sends the next entity's step the moment one ends, rather than
// leaving it to its next look a WaitTurn later: a night's entities follow
// each other without a gap. The woken copy has its own id, so duplicate
// detection keeps it apart from the waiting copies; the session delivers
// them one by one and whichever comes second finds the step handled. A
// failed send loses nothing: the waiting copy still looks again.
func (p *Pipeline) wakeNext(ctx context.Context, run runs.Run, idx int, out *Outcome) {
	if idx+1 >= len(run.Entities) || run.Entities[idx+1].Status != runs.StatusQueued {
		return
	}
	next := run.Entities[idx+1]
	job := queue.Job{Version: queue.JobFormatVersion, CustomerID: run.CustomerID, ProfileID: run.ProfileID, RunID: run.ID,
		Entity: next.Entity, Window: run.Window, Step: next.Steps, Woken: true}
	if err := p.send(ctx, job, 0); err != nil {
		out.Log = append(out.Log, fmt.Sprintf("entity %s not woken (it looks again in %s): %v", next.Entity, p.opts.WaitTurn, err))
	}
}

// saveLastSync advances a sync-state row; LastSync moves only on success, so
// "last sync" always means the last good one. Conflicts are retried: two
// jobs of one customer may finish at once on different instances.
func (p *Pipeline) saveLastSync(ctx context.Context, run runs.Run, entity string, status runs.Status, at time.Time) error {
	if run.Mode == runs.ModeSimulate {
		return nil // a simulation syncs nothing
	}
	var err error
	for range 5 {
		var st state.SyncState
		st, err = p.store.GetSyncState(ctx, run.CustomerID, run.ProfileID, entity)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return err
		}
		st.LastRunID, st.LastStatus, st.LastRunAt = run.ID, string(status), at
		if status == runs.StatusSucceeded {
			st.LastSync, st.LastWindow = at, run.Window
		}
		if _, err = p.store.SaveSyncState(ctx, st); !errors.Is(err, state.ErrConflict) {
			return err
		}
	}
	return err
}
