package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
)

// drain hands every sent message to the pipeline until none is left or
// limit deliveries were made, advancing the clock to each message's
// scheduled time; it returns the deliveries made.
func (h harness) drain(t *testing.T, limit int) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for n < limit {
		msgs := h.out.take()
		if len(msgs) == 0 {
			return n
		}
		for _, m := range msgs {
			if m.ScheduledEnqueueTime.After(h.clock.Now()) {
				h.clock.Set(m.ScheduledEnqueueTime)
			}
			h.p.Handle(ctx, delivery(m, 1))
			n++
		}
	}
	return n
}

func TestStepCapEndsARunThatNeverFinishes(t *testing.T) {
	forever := EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
		return EntityOutcome{More: true}, nil
	})
	h := newHarness(t, Registry{"users": forever}, "users")
	h.p.opts.MaxSteps = 25
	h.p.Tick(context.Background(), start)
	if n := h.drain(t, 1000); n > 30 {
		t.Fatalf("%d deliveries for a 25-step cap", n)
	}
	run := h.run(t)
	if run.Status != runs.StatusFailed || !strings.Contains(run.Entities[0].Error, "stopped after 25 steps") {
		t.Fatalf("run %s, entity error %q; want failed with the step cap named", run.Status, run.Entities[0].Error)
	}
}

func TestTransientFailuresRetryWithBackoffThenGiveUp(t *testing.T) {
	calls := 0
	flaky := EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
		calls++
		return EntityOutcome{}, queue.Transient(errors.New("table storage 503"))
	})
	h := newHarness(t, Registry{"users": flaky}, "users")
	h.p.opts.MaxAttempts, h.p.opts.RetryBase, h.p.opts.RetryMax = 4, time.Second, time.Minute
	ctx := context.Background()
	h.p.Tick(ctx, start)
	first := h.out.take()[0]
	if out := h.p.Handle(ctx, delivery(first, 1)); out.Disposition != Done {
		t.Fatalf("transient failure answered %v: it would burn a delivery", out.Disposition)
	}
	copies := h.out.take()
	if len(copies) != 1 {
		t.Fatalf("scheduled %d copies, want 1", len(copies))
	}
	c := copies[0]
	if c.MessageID == first.MessageID {
		t.Fatal("the retry reuses the failed message's id: duplicate detection would drop it")
	}
	if wait := c.ScheduledEnqueueTime.Sub(start); wait < 875*time.Millisecond || wait > 1250*time.Millisecond {
		t.Fatalf("first retry after %v, want about RetryBase (1 s) with jitter", wait)
	}
	h.out.msgs = append(h.out.msgs, c)
	h.drain(t, 100)
	if calls != 5 {
		t.Fatalf("step ran %d times, want 1 + 4 attempts", calls)
	}
	run := h.run(t)
	if run.Status != runs.StatusFailed || !strings.Contains(run.Entities[0].Error, "gave up after 5 attempts") {
		t.Fatalf("run %s, error %q; want failed after 5 attempts", run.Status, run.Entities[0].Error)
	}
}

func TestTransientFailureThenSuccess(t *testing.T) {
	calls := 0
	once := EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
		calls++
		if calls == 1 {
			return EntityOutcome{}, queue.Transient(errors.New("graph 504"))
		}
		return EntityOutcome{Counts: map[string]int{"ok": 1}}, nil
	})
	h := newHarness(t, Registry{"users": once}, "users")
	h.p.Tick(context.Background(), start)
	h.drain(t, 10)
	if run := h.run(t); run.Status != runs.StatusSucceeded {
		t.Fatalf("run %s after one transient failure, want succeeded", run.Status)
	}
}

func TestSweeperFailsStalledRunsOnly(t *testing.T) {
	steps := 0
	slow := EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
		steps++
		return EntityOutcome{More: true, RequeueAfter: 90 * time.Minute}, nil
	})
	h := newHarness(t, Registry{"users": slow}, "users")
	h.p.opts.StallAfter = 2 * time.Hour
	ctx := context.Background()
	h.p.Tick(ctx, start)
	// A run that completes a step every 90 minutes for 6 hours is alive.
	for range 4 {
		h.drain(t, 1)
		rep, _ := h.p.Tick(ctx, h.clock.Now())
		if len(rep.Swept) != 0 {
			t.Fatalf("a progressing run was swept after %d steps", steps)
		}
	}
	// Its messages are lost: after StallAfter without progress it fails.
	h.out.take()
	h.clock.Set(h.clock.Now().Add(2*time.Hour + time.Second))
	rep, _ := h.p.Tick(ctx, h.clock.Now())
	if len(rep.Swept) != 1 {
		t.Fatalf("swept %d runs, want the stalled one", len(rep.Swept))
	}
	run := h.run(t)
	if run.Status != runs.StatusFailed || !strings.Contains(run.Entities[0].Error, "no progress") {
		t.Fatalf("run %s, error %q", run.Status, run.Entities[0].Error)
	}
}

func TestHeldEntityEndsHeldAndKeepsLastSync(t *testing.T) {
	held := EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
		return EntityOutcome{Held: "12 suspensions await confirmation"}, nil
	})
	h := newHarness(t, Registry{"users": held, "groups": Noop}, "users", "groups")
	ctx := context.Background()
	h.p.Tick(ctx, start)
	h.drain(t, 10)
	run := h.run(t)
	if run.Status != runs.StatusHeld || run.Entities[0].Status != runs.StatusHeld || run.Entities[0].Held == "" {
		t.Fatalf("run %s, users %s (%q); want held", run.Status, run.Entities[0].Status, run.Entities[0].Held)
	}
	if run.Entities[1].Status != runs.StatusSucceeded {
		t.Fatalf("groups after a held users entity = %s, want it to run", run.Entities[1].Status)
	}
	st, err := h.store.GetSyncState(ctx, "oak", "nightly", "users")
	if err != nil || !st.LastSync.IsZero() || st.LastStatus != string(runs.StatusHeld) {
		t.Fatalf("users sync state = %+v, %v; want status held and last sync unmoved", st, err)
	}
}
