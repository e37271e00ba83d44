package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// TickReport says what one timer tick did, profile by profile.
type TickReport struct {
	At       time.Time
	Profiles int
	// Enqueued lists the runs whose jobs this tick sent.
	Enqueued []runs.Run
	// AlreadyEnqueued counts due profiles whose window was sent before.
	AlreadyEnqueued int
	// Swept lists unfinished runs this tick marked failed for making no
	// progress.
	Swept []runs.Run
	// Jobs are the lines of the tick's other jobs (purge, summaries).
	Jobs   []string
	Errors []error
}

// Lines renders the report for the invocation log: ids and counts only.
func (r TickReport) Lines() []string {
	out := []string{fmt.Sprintf("tick %s: %d profiles, %d runs enqueued, %d already enqueued, %d errors",
		r.At.UTC().Format(time.RFC3339), r.Profiles, len(r.Enqueued), r.AlreadyEnqueued, len(r.Errors))}
	for _, run := range r.Enqueued {
		out = append(out, fmt.Sprintf("enqueued run %s customer %s profile %s window %s entities %d",
			run.ID, run.CustomerID, run.ProfileID, run.Window, len(run.Entities)))
	}
	for _, run := range r.Swept {
		out = append(out, fmt.Sprintf("run %s customer %s failed: no progress", run.ID, run.CustomerID))
	}
	out = append(out, r.Jobs...)
	for _, err := range r.Errors {
		out = append(out, "error: "+err.Error())
	}
	return out
}

// Tick finds every profile whose nightly window has come and that has not
// been enqueued for it yet, and enqueues its run. One profile's failure does
// not stop the others; their errors come back joined and in the report.
//
// Re-firing is safe at three levels: the per-profile schedule marker skips
// a window already sent, the run id is deterministic in the window, and
// every job's MessageID is too, so Service Bus drops a repeated send.
func (p *Pipeline) Tick(ctx context.Context, now time.Time) (TickReport, error) {
	rep := TickReport{At: now}
	customers, err := p.store.ListCustomers(ctx)
	if err != nil {
		return rep, fmt.Errorf("tick: %w", err)
	}
	for _, c := range customers {
		if c.Disconnected {
			continue
		}
		profiles, err := p.store.ListProfiles(ctx, c.ID)
		if err != nil {
			rep.Errors = append(rep.Errors, err)
			continue
		}
		for _, prof := range profiles {
			rep.Profiles++
			run, sent, err := p.tickProfile(ctx, c, prof, now)
			switch {
			case err != nil:
				rep.Errors = append(rep.Errors, fmt.Errorf("customer %s profile %s: %w", c.ID, prof.ID, err))
			case sent:
				rep.Enqueued = append(rep.Enqueued, run)
			case run.ID != "":
				rep.AlreadyEnqueued++
			}
		}
	}
	swept, err := p.Sweep(ctx, customers, now)
	rep.Swept = swept
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Errorf("sweep stalled runs: %w", err))
	}
	for _, job := range p.tickJobs {
		lines, err := job.Run(ctx, now)
		rep.Jobs = append(rep.Jobs, lines...)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("%s: %w", job.Name, err))
		}
	}
	for _, run := range rep.Enqueued {
		p.log.InfoContext(ctx, "run enqueued", "customer", run.CustomerID, "profile", run.ProfileID, "run", run.ID, "window", run.Window)
	}
	return rep, errors.Join(rep.Errors...)
}

// TickJob is other work the timer's tick does after scheduling: purging
// what is past retention, sending daily summaries. One job's failure does
// not stop the others.
type TickJob struct {
	Name string
	// Run returns lines for the invocation log (ids and counts only).
	Run func(ctx context.Context, now time.Time) ([]string, error)
}

// AddTickJob adds a job to every tick, in order. Call it before serving.
func (p *Pipeline) AddTickJob(j TickJob) { p.tickJobs = append(p.tickJobs, j) }

// tickProfile enqueues prof's due window if needed. It returns the run and
// whether this call sent it; a zero run means the profile was not due.
func (p *Pipeline) tickProfile(ctx context.Context, c tenant.Customer, prof tenant.Profile, now time.Time) (runs.Run, bool, error) {
	w, due, err := prof.DueWindow(now)
	if err != nil || !due {
		return runs.Run{}, false, err
	}
	marker, err := p.store.GetSyncState(ctx, c.ID, prof.ID, state.ScheduleEntity)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return runs.Run{}, false, err
	}
	id := runs.ScheduledID(c.ID, prof.ID, w.ID, w.At)
	if marker.LastWindow >= w.ID {
		return runs.Run{ID: id}, false, nil
	}
	entities := c.EnabledEntities(prof)
	if len(entities) == 0 {
		return runs.Run{}, false, fmt.Errorf("window %s: every entity of the profile is switched off for the customer", w.ID)
	}
	run := runs.New(id, c.ID, prof.ID, runs.TriggerTimer, runs.ModeApply, w.ID, entities, now)
	if _, err := p.store.CreateRun(ctx, run); err != nil {
		if !errors.Is(err, state.ErrExists) {
			return runs.Run{}, false, err
		}
		// An earlier tick created the run and stopped before marking the
		// window; send again, duplicate detection drops what arrived.
		if run, err = p.store.GetRun(ctx, c.ID, id); err != nil {
			return runs.Run{}, false, err
		}
	}
	if err := p.enqueue(ctx, run); err != nil {
		return runs.Run{}, false, err
	}
	marker.LastWindow, marker.LastRunID = w.ID, run.ID
	if _, err := p.store.SaveSyncState(ctx, marker); err != nil && !errors.Is(err, state.ErrConflict) {
		// A conflict means a concurrent tick marked it: nothing is lost.
		return run, true, err
	}
	return run, true, nil
}

// ErrNotRunnable is returned when a manual run is asked for something that
// cannot run (disconnected customer, disabled profile, nothing switched on).
var ErrNotRunnable = errors.New("not runnable")

// RunRequest asks for a manual run.
type RunRequest struct {
	CustomerID, ProfileID string
	// Mode is runs.ModeApply or runs.ModeSimulate.
	Mode string
	// Entities narrows the run to some of the profile's entities (e.g.
	// "sync users now"); empty means all that are switched on.
	Entities []string
	// Only narrows it to some people ("create selected people now").
	Only []string
	// Action is the per-object button that asked for the run ("resync",
	// "create", "delete"), empty for a sync; the run record carries it.
	Action string
}

// StartRun starts a manual run (sync now, simulate, create selected) and
// returns its queued record. It never syncs inline: the HTTP trigger
// answers within the host's 230 s limit whatever the school's size.
func (p *Pipeline) StartRun(ctx context.Context, req RunRequest) (runs.Run, error) {
	if req.Mode != runs.ModeApply && req.Mode != runs.ModeSimulate {
		return runs.Run{}, fmt.Errorf("%w: mode %q: want %s or %s", ErrNotRunnable, req.Mode, runs.ModeApply, runs.ModeSimulate)
	}
	c, err := p.store.GetCustomer(ctx, req.CustomerID)
	if err != nil {
		return runs.Run{}, err
	}
	if c.Disconnected {
		return runs.Run{}, fmt.Errorf("%w: customer %s is disconnected", ErrNotRunnable, req.CustomerID)
	}
	prof, err := p.store.GetProfile(ctx, req.CustomerID, req.ProfileID)
	if err != nil {
		return runs.Run{}, err
	}
	entities := c.EnabledEntities(prof)
	if len(req.Entities) > 0 {
		for _, e := range req.Entities {
			if !slices.Contains(entities, e) {
				return runs.Run{}, fmt.Errorf("%w: entity %q is not switched on in profile %s", ErrNotRunnable, e, req.ProfileID)
			}
		}
		entities = slices.DeleteFunc(slices.Clone(entities), func(e string) bool { return !slices.Contains(req.Entities, e) })
	}
	if len(entities) == 0 {
		return runs.Run{}, fmt.Errorf("%w: profile %s has no entity switched on (%s)", ErrNotRunnable, req.ProfileID, strings.Join(prof.Entities, ", "))
	}
	now := p.clock.Now()
	id := runs.ManualID(now)
	if err := p.claimRun(ctx, req.CustomerID, req.ProfileID, id); err != nil {
		return runs.Run{}, err
	}
	run := runs.New(id, req.CustomerID, req.ProfileID, runs.TriggerManual, req.Mode, id, entities, now)
	run.Only = slices.Clone(req.Only)
	run.Action = req.Action
	if run, err = p.store.CreateRun(ctx, run); err != nil {
		return runs.Run{}, err
	}
	if err := p.enqueue(ctx, run); err != nil {
		return runs.Run{}, err
	}
	p.log.InfoContext(ctx, "manual run enqueued", "customer", req.CustomerID, "profile", req.ProfileID, "run", run.ID, "mode", req.Mode)
	return run, nil
}

// Resume reopens an entity of a finished run and sends it one more step
// with the given cursor, e.g. applying a plan the deletion guard held once
// someone has confirmed it.
func (p *Pipeline) Resume(ctx context.Context, customerID, runID, entity, cursor string) (runs.Run, error) {
	run, err := p.store.GetRun(ctx, customerID, runID)
	if err != nil {
		return runs.Run{}, err
	}
	idx := run.Entity(entity)
	if idx < 0 {
		return runs.Run{}, fmt.Errorf("%w: run %s has no entity %s", ErrNotRunnable, runID, entity)
	}
	if run.Mode != runs.ModeApply {
		return runs.Run{}, fmt.Errorf("%w: run %s is a %s run", ErrNotRunnable, runID, run.Mode)
	}
	er := &run.Entities[idx]
	if !er.Status.Done() {
		return runs.Run{}, fmt.Errorf("%w: %s of run %s is still %s", ErrNotRunnable, entity, runID, er.Status)
	}
	before := run
	before.Entities = slices.Clone(run.Entities)
	er.Status, er.EndedAt, er.Error, er.Held = runs.StatusQueued, time.Time{}, "", ""
	run.Status, run.EndedAt = runs.StatusRunning, time.Time{}
	if run, err = p.store.SaveRun(ctx, run); err != nil {
		return runs.Run{}, err
	}
	job := queue.Job{Version: queue.JobFormatVersion, CustomerID: customerID, ProfileID: run.ProfileID, RunID: runID,
		Entity: entity, Window: run.Window, Step: run.Entities[idx].Steps, Cursor: cursor}
	if err := p.send(ctx, job, 0); err != nil {
		// Nothing will run it: put the entity back as it was, so the run
		// does not read queued for ever.
		before.ETag = run.ETag
		if _, rerr := p.store.SaveRun(ctx, before); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore run %s: %w", runID, rerr))
		}
		return runs.Run{}, err
	}
	return run, nil
}
