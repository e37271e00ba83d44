package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// outbox records what the pipeline sends instead of delivering it, so a
// test can hand messages to Handle one by one.
type outbox struct {
	mu   sync.Mutex
	msgs []queue.Message
	err  error
}

func (o *outbox) Send(ctx context.Context, msgs ...queue.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	o.msgs = append(o.msgs, msgs...)
	return nil
}

func (o *outbox) take() []queue.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.msgs
	o.msgs = nil
	return out
}

type harness struct {
	p     *Pipeline
	store *state.Store
	out   *outbox
	clock *clock.Fake
}

var start = time.Date(2026, 11, 21, 2, 5, 0, 0, time.UTC)

func newHarness(t *testing.T, entities Registry, entityNames ...string) harness {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(start)
	store := state.NewStore(b, clk.Now)
	ctx := context.Background()
	if err := store.PutCustomer(ctx, tenant.Customer{ID: "oak", Features: tenant.Features{Users: true, Groups: true}}); err != nil {
		t.Fatal(err)
	}
	prof := tenant.Profile{CustomerID: "oak", ID: "nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London",
		Entities: entityNames, CreatedAt: start.AddDate(0, -1, 0)}
	if err := store.SaveProfile(ctx, prof); err != nil {
		t.Fatal(err)
	}
	out := &outbox{}
	return harness{p: New(store, out, clk, entities, nil, Options{MaxDeliveryCount: 3, WaitTurn: time.Minute, MaxWaits: 2}), store: store, out: out, clock: clk}
}

func delivery(m queue.Message, count int) queue.Delivery {
	return queue.Delivery{Message: m, DeliveryCount: count}
}

func (h harness) run(t *testing.T) runs.Run {
	t.Helper()
	rs, err := h.store.ListRuns(context.Background(), "oak", "", 1)
	if err != nil || len(rs) != 1 {
		t.Fatalf("ListRuns = %v, %v", rs, err)
	}
	return rs[0]
}

func TestTickEnqueuesOnePerEntityInOrder(t *testing.T) {
	h := newHarness(t, nil, "users", "groups")
	rep, err := h.p.Tick(context.Background(), start)
	if err != nil || len(rep.Enqueued) != 1 {
		t.Fatalf("Tick = %+v, %v", rep, err)
	}
	msgs := h.out.take()
	if len(msgs) != 2 {
		t.Fatalf("sent %d messages, want 2", len(msgs))
	}
	for i, want := range []string{"users", "groups"} {
		job, err := queue.DecodeJob(msgs[i].Body)
		if err != nil || job.Entity != want || msgs[i].SessionID != "oak" {
			t.Errorf("message %d = %+v (%v), want entity %s in session oak", i, job, err, want)
		}
	}
	// Re-tick in the same window: nothing; the next morning: a new run.
	if rep, _ := h.p.Tick(context.Background(), start.Add(time.Hour)); len(rep.Enqueued) != 0 || rep.AlreadyEnqueued != 1 {
		t.Errorf("second tick = %+v, want nothing new", rep)
	}
	if rep, _ := h.p.Tick(context.Background(), start.Add(24*time.Hour)); len(rep.Enqueued) != 1 {
		t.Errorf("next night's tick = %+v, want one run", rep)
	}
}

func TestTickSendFailureIsRetriedNextTick(t *testing.T) {
	h := newHarness(t, nil, "noop")
	h.out.err = errors.New("service bus unavailable")
	if _, err := h.p.Tick(context.Background(), start); err == nil {
		t.Fatal("Tick with a failing sender returned no error")
	}
	h.out.err = nil
	rep, err := h.p.Tick(context.Background(), start.Add(5*time.Minute))
	if err != nil || len(rep.Enqueued) != 1 {
		t.Fatalf("retry tick = %+v, %v; want the same run enqueued", rep, err)
	}
	if n := len(h.out.take()); n != 1 {
		t.Errorf("sent %d messages, want 1", n)
	}
}

func TestFollowUpsAndWaits(t *testing.T) {
	steps := 0
	paged := EntityFunc(func(ctx context.Context, in EntityInput) (EntityOutcome, error) {
		steps++
		switch in.Job.Step {
		case 0:
			return EntityOutcome{Counts: map[string]int{"created": 20}, More: true, Cursor: "page2"}, nil
		case 1:
			if in.Job.Cursor != "page2" {
				t.Errorf("step 1 cursor = %q, want page2", in.Job.Cursor)
			}
			return EntityOutcome{Counts: map[string]int{"created": 5}, RequeueAfter: 90 * time.Second}, nil
		default:
			return EntityOutcome{Counts: map[string]int{"created": 1}}, nil
		}
	})
	h := newHarness(t, Registry{"users": paged, "groups": Noop}, "users", "groups")
	ctx := context.Background()
	if _, err := h.p.Tick(ctx, start); err != nil {
		t.Fatal(err)
	}
	first := h.out.take() // users step 0, groups step 0

	// groups arrives while users is unfinished: it waits its turn.
	if out := h.p.Handle(ctx, delivery(first[0], 1)); out.Disposition != Done {
		t.Fatalf("users step 0: %+v", out)
	}
	if out := h.p.Handle(ctx, delivery(first[1], 1)); out.Disposition != Done || !strings.Contains(strings.Join(out.Log, " "), "waits for users") {
		t.Fatalf("groups before users finished: %+v", out)
	}
	next := h.out.take() // users step 1, groups wait 1
	if len(next) != 2 {
		t.Fatalf("follow-ups = %d, want 2", len(next))
	}
	if !next[1].ScheduledEnqueueTime.Equal(start.Add(time.Minute)) {
		t.Errorf("wait scheduled at %v, want now+WaitTurn", next[1].ScheduledEnqueueTime)
	}
	if out := h.p.Handle(ctx, delivery(next[0], 1)); out.Disposition != Done {
		t.Fatalf("users step 1: %+v", out)
	}
	step2 := h.out.take()
	if len(step2) != 1 || !step2[0].ScheduledEnqueueTime.Equal(start.Add(90*time.Second)) {
		t.Fatalf("step 2 = %+v, want one message scheduled after Retry-After", step2)
	}
	// A redelivered old step is a no-op.
	if out := h.p.Handle(ctx, delivery(first[0], 2)); out.Disposition != Done || steps != 2 {
		t.Errorf("redelivered step 0 ran again (steps=%d): %+v", steps, out)
	}
	h.p.Handle(ctx, delivery(step2[0], 1))
	h.p.Handle(ctx, delivery(next[1], 1)) // groups, now its turn
	run := h.run(t)
	if run.Status != runs.StatusSucceeded || run.Entities[0].Steps != 3 || run.Entities[0].Counts["created"] != 26 {
		t.Errorf("run = %s, users steps %d counts %v; want succeeded, 3 steps, 26 created", run.Status, run.Entities[0].Steps, run.Entities[0].Counts)
	}
}

func TestEntityFailures(t *testing.T) {
	tests := []struct {
		name        string
		entity      Entity
		deliveries  int
		wantDisp    Disposition
		wantStatus  runs.Status
		wantFailure bool
	}{
		{"terminal error completes and fails the run", EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
			return EntityOutcome{}, queue.Terminal(errors.New("feed shrank by 40%"))
		}), 1, Done, runs.StatusFailed, false},
		{"unclassified error goes back to Service Bus", EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
			return EntityOutcome{}, errors.New("graph 503")
		}), 1, Retry, runs.StatusRunning, true},
		{"unclassified error on the last delivery fails the run", EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
			return EntityOutcome{}, errors.New("graph 503")
		}), 3, Retry, runs.StatusFailed, true},
		{"transient error completes the delivery and retries on schedule", EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
			return EntityOutcome{}, queue.Transient(errors.New("storage 503"))
		}), 1, Done, runs.StatusRunning, true},
		{"a panic on the last delivery fails the run with its reason", EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
			panic("nil map")
		}), 3, Retry, runs.StatusFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Registry{"users": tt.entity}, "users")
			ctx := context.Background()
			h.p.Tick(ctx, start)
			msgs := h.out.take()
			out := h.p.Handle(ctx, delivery(msgs[0], tt.deliveries))
			if out.Disposition != tt.wantDisp {
				t.Errorf("disposition = %v, want %v (%v)", out.Disposition, tt.wantDisp, out.Err)
			}
			if run := h.run(t); run.Status != tt.wantStatus {
				t.Errorf("run status = %s, want %s", run.Status, tt.wantStatus)
			}
			fails, _ := h.store.Failures(ctx, "sync-jobs")
			if (len(fails) > 0) != tt.wantFailure {
				t.Errorf("recorded failures = %+v, want recorded %t", fails, tt.wantFailure)
			}
		})
	}
}

func TestJobsThatPointAtNothing(t *testing.T) {
	h := newHarness(t, nil, "mystery")
	ctx := context.Background()
	h.p.Tick(ctx, start)
	msgs := h.out.take()
	out := h.p.Handle(ctx, delivery(msgs[0], 1))
	if out.Disposition != Done {
		t.Fatalf("unknown entity type: %+v, want completed", out)
	}
	run := h.run(t)
	if run.Status != runs.StatusFailed || !strings.Contains(run.Entities[0].Error, `unknown entity type "mystery"`) {
		t.Errorf("run = %s %q, want failed naming the entity type", run.Status, run.Entities[0].Error)
	}

	orphan := queue.Job{Version: 1, CustomerID: "oak", ProfileID: "nightly", RunID: "no-such-run", Entity: "noop", Window: "w"}
	m, _ := orphan.Message(time.Time{})
	if out := h.p.Handle(ctx, delivery(m, 1)); out.Disposition != Done || !queue.IsTerminal(out.Err) {
		t.Errorf("orphan job: %+v, want completed with a terminal error", out)
	}
	fails, _ := h.store.Failures(ctx, "sync-jobs")
	if len(fails) != 1 || !fails[0].Final {
		t.Errorf("failures = %+v, want the orphan recorded as final", fails)
	}
}

func TestDisconnectedCustomer(t *testing.T) {
	h := newHarness(t, nil, "noop")
	ctx := context.Background()
	h.p.Tick(ctx, start)
	msgs := h.out.take()
	if err := h.store.PutCustomer(ctx, tenant.Customer{ID: "oak", Features: tenant.Features{Users: true, Groups: true}, Disconnected: true}); err != nil {
		t.Fatal(err)
	}
	if out := h.p.Handle(ctx, delivery(msgs[0], 1)); out.Disposition != Done {
		t.Fatalf("job of a disconnected customer: %+v", out)
	}
	// Remove configuration: the run ends cancelled, not failed.
	if run := h.run(t); run.Status != runs.StatusCancelled || run.Entities[0].Status != runs.StatusCancelled || !strings.Contains(run.Entities[0].Error, "disconnected") {
		t.Errorf("run = %s %q", run.Status, run.Entities[0].Error)
	}
	if rep, _ := h.p.Tick(ctx, start.Add(24*time.Hour)); rep.Profiles != 0 {
		t.Errorf("tick looked at %d profiles of a disconnected customer", rep.Profiles)
	}
	if _, err := h.p.StartRun(ctx, RunRequest{CustomerID: "oak", ProfileID: "nightly", Mode: runs.ModeApply}); !errors.Is(err, ErrNotRunnable) {
		t.Errorf("StartRun for a disconnected customer = %v, want ErrNotRunnable", err)
	}
}

func TestWaitingTooLongFails(t *testing.T) {
	h := newHarness(t, Registry{"users": Noop, "groups": Noop}, "users", "groups")
	ctx := context.Background()
	h.p.Tick(ctx, start)
	msgs := h.out.take()
	groups := msgs[1]
	for i := 0; i < 2; i++ { // MaxWaits is 2
		h.p.Handle(ctx, delivery(groups, 1))
		groups = h.out.take()[0]
	}
	h.p.Handle(ctx, delivery(groups, 1))
	if run := h.run(t); run.Entities[1].Status != runs.StatusFailed {
		t.Errorf("groups after too many waits = %s, want failed", run.Entities[1].Status)
	}
}

func TestSimulationLeavesLastSyncAlone(t *testing.T) {
	h := newHarness(t, nil, "noop")
	ctx := context.Background()
	run, err := h.p.StartRun(ctx, RunRequest{CustomerID: "oak", ProfileID: "nightly", Mode: runs.ModeSimulate})
	if err != nil {
		t.Fatal(err)
	}
	h.p.Handle(ctx, delivery(h.out.take()[0], 1))
	got, _ := h.store.GetRun(ctx, "oak", run.ID)
	if got.Status != runs.StatusSucceeded {
		t.Fatalf("simulate run = %s", got.Status)
	}
	if _, err := h.store.GetSyncState(ctx, "oak", "nightly", ProfileEntity); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("a simulation wrote the profile's last sync: %v", err)
	}
	if _, err := h.p.StartRun(ctx, RunRequest{CustomerID: "oak", ProfileID: "nightly", Mode: "dry"}); !errors.Is(err, ErrNotRunnable) {
		t.Errorf("StartRun(mode dry) = %v, want ErrNotRunnable", err)
	}
}

// TestStepStoppedWhenRemoved: a step under way when the configuration is
// removed is stopped (its context cancelled) and the run ends cancelled.
func TestStepStoppedWhenRemoved(t *testing.T) {
	stopped := make(chan struct{})
	var h harness
	h = newHarness(t, Registry{"slow": EntityFunc(func(ctx context.Context, in EntityInput) (EntityOutcome, error) {
		c := in.Customer
		c.Disconnected = true
		if err := h.store.PutCustomer(ctx, c); err != nil {
			return EntityOutcome{}, err
		}
		select {
		case <-ctx.Done():
			close(stopped)
			return EntityOutcome{}, ctx.Err()
		case <-time.After(10 * time.Second):
			return EntityOutcome{Counts: map[string]int{"written": 1}}, nil
		}
	})}, "slow")
	ctx := context.Background()
	h.p.Tick(ctx, start)
	msgs := h.out.take()
	if out := h.p.Handle(ctx, delivery(msgs[0], 1)); out.Disposition != Done {
		t.Fatalf("step of a removed customer: %+v", out)
	}
	select {
	case <-stopped:
	default:
		t.Fatal("the step was not stopped: it ran to its end")
	}
	if run := h.run(t); run.Status != runs.StatusCancelled {
		t.Errorf("run = %s, want cancelled", run.Status)
	}
}

// TestProfileShowsLastRunTimeAndOutcome: the profile's last-run state
// holds the last run's end time and outcome whatever it was, and the time
// of the last good one apart.
func TestProfileShowsLastRunTimeAndOutcome(t *testing.T) {
	fail := false
	h := newHarness(t, Registry{"flaky": EntityFunc(func(ctx context.Context, in EntityInput) (EntityOutcome, error) {
		if fail {
			return EntityOutcome{}, queue.Terminal(errors.New("feed refused"))
		}
		return EntityOutcome{}, nil
	})}, "flaky")
	ctx := context.Background()
	runOnce := func() runs.Run {
		t.Helper()
		r, err := h.p.StartRun(ctx, RunRequest{CustomerID: "oak", ProfileID: "nightly", Mode: runs.ModeApply})
		if err != nil {
			t.Fatal(err)
		}
		h.p.Handle(ctx, delivery(h.out.take()[0], 1))
		r, _ = h.store.GetRun(ctx, "oak", r.ID)
		return r
	}
	good := runOnce()
	fail = true
	bad := runOnce()
	st, err := h.store.GetSyncState(ctx, "oak", "nightly", ProfileEntity)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastRunID != bad.ID || st.LastStatus != string(runs.StatusFailed) || !st.LastRunAt.Equal(bad.EndedAt) || !st.LastSync.Equal(good.EndedAt) {
		t.Errorf("profile state = %+v; want the failed run %s ended %v, last good sync %v", st, bad.ID, bad.EndedAt, good.EndedAt)
	}
}

// TestEndedEntityWakesTheNext: when users ends, groups' step is sent at
// once under its own id (not left to its waiting copy a WaitTurn later),
// and the waiting copy that arrives afterwards finds the step handled.
func TestEndedEntityWakesTheNext(t *testing.T) {
	groupSteps := 0
	groups := EntityFunc(func(context.Context, EntityInput) (EntityOutcome, error) {
		groupSteps++
		return EntityOutcome{Counts: map[string]int{"checked": 1}}, nil
	})
	h := newHarness(t, Registry{"users": Noop, "groups": groups, tenant.EntityNoop: Noop}, "users", "groups", tenant.EntityNoop)
	ctx := context.Background()
	if _, err := h.p.Tick(ctx, start); err != nil {
		t.Fatal(err)
	}
	first := h.out.take()                  // users, groups, noop: step 0 each
	h.p.Handle(ctx, delivery(first[1], 1)) // groups before users: waits
	waiting := h.out.take()
	if len(waiting) != 1 {
		t.Fatalf("groups' waiting copy: %d messages, want 1", len(waiting))
	}
	h.p.Handle(ctx, delivery(first[0], 1)) // users ends
	woken := h.out.take()
	if len(woken) != 1 || !woken[0].ScheduledEnqueueTime.IsZero() || woken[0].MessageID == waiting[0].MessageID || woken[0].MessageID == first[1].MessageID {
		t.Fatalf("after users ended: %+v; want one unscheduled groups message with its own id", woken)
	}
	if out := h.p.Handle(ctx, delivery(woken[0], 1)); out.Disposition != Done {
		t.Fatalf("woken groups: %+v", out)
	}
	if out := h.p.Handle(ctx, delivery(waiting[0], 1)); out.Disposition != Done || groupSteps != 1 {
		t.Fatalf("the late waiting copy ran groups again (steps %d): %+v", groupSteps, out)
	}
	if next := h.out.take(); len(next) != 1 || !strings.Contains(string(next[0].Body), `"`+tenant.EntityNoop+`"`) {
		t.Fatalf("after groups ended: %+v; want the noop entity woken", next)
	}
}
