package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// sweepRecent is how many of a customer's newest runs the sweeper looks
// at: runs are time-ordered and a stalled one is among the latest.
const sweepRecent = 50

// Sweep marks failed every unfinished run of the customers whose last
// completed step is older than StallAfter: its messages were lost or its
// handler keeps dying before it can record anything. A run that keeps
// progressing, however long, is never touched. It returns the runs it
// ended.
func (p *Pipeline) Sweep(ctx context.Context, customers []tenant.Customer, now time.Time) ([]runs.Run, error) {
	var swept []runs.Run
	var errs []error
	for _, c := range customers {
		recent, err := p.store.ListRuns(ctx, c.ID, "", sweepRecent)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range recent {
			if r.Status.Done() || now.Sub(lastActivity(r)) < p.opts.StallAfter {
				continue
			}
			ended, err := p.endStalled(ctx, r, now)
			switch {
			case errors.Is(err, state.ErrConflict):
				// It moved while we looked: not stalled.
			case err != nil:
				errs = append(errs, err)
			default:
				swept = append(swept, ended)
			}
		}
	}
	return swept, errors.Join(errs...)
}

// lastActivity is when the run last did something the sweeper can see.
func lastActivity(r runs.Run) time.Time {
	last := r.CreatedAt
	for _, t := range []time.Time{r.StartedAt, r.ProgressAt} {
		if t.After(last) {
			last = t
		}
	}
	return last
}

func (p *Pipeline) endStalled(ctx context.Context, r runs.Run, now time.Time) (runs.Run, error) {
	why := fmt.Sprintf("no progress for %s (last at %s): marked failed by the sweeper", p.opts.StallAfter, lastActivity(r).UTC().Format(time.RFC3339))
	var log []runs.LogEntry
	for i := range r.Entities {
		er := &r.Entities[i]
		if er.Status.Done() {
			continue
		}
		er.Status, er.Error, er.EndedAt = runs.StatusFailed, why, now.UTC()
		log = append(log, runs.LogEntry{Level: "error", Entity: er.Entity, Message: why})
	}
	r.Finish(now)
	saved, err := p.store.SaveRun(ctx, r) // ETag-guarded: a step that lands first wins
	if err != nil {
		return r, err
	}
	if err := p.store.AppendRunLog(ctx, r.CustomerID, r.ID, log...); err != nil {
		p.log.WarnContext(ctx, "run log not written", "customer", r.CustomerID, "run", r.ID, "error", err)
	}
	for i, er := range saved.Entities {
		if er.Error == why {
			var out Outcome
			p.afterEntity(ctx, saved, i, &out)
		}
	}
	p.log.WarnContext(ctx, "stalled run failed", "customer", r.CustomerID, "profile", r.ProfileID, "run", r.ID)
	return saved, nil
}
