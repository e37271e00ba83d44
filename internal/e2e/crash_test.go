package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
)

// A crash point names a moment the process can die at. The store's and
// the executor's calls are watched; at the nth time the point is reached
// the step panics with crashed, which the test catches as the end of the
// process: everything in memory is gone, the store is read back from disk
// and the simulated tenant keeps what it was told, as Microsoft 365 does.
type crashPoint string

const (
	crashPlanSave      crashPoint = "during plan save"
	crashAfterIntent   crashPoint = "between intent and create"
	crashAnswersLost   crashPoint = "after Graph answered, before anything was journalled"
	crashMidBatch      crashPoint = "mid-batch (some $batch requests reached Graph)"
	crashBeforeLinks   crashPoint = "before links are stored"
	crashLinksNoJourna crashPoint = "between links and journal"
	crashMidJournal    crashPoint = "during the journal write"
	crashSettleIntent  crashPoint = "while settling intents"
	crashCredentials   crashPoint = "while sealing initial credentials"
	crashThrottled     crashPoint = "during throttling waits"
)

type crashed struct{ at crashPoint }

// crasher counts hits per point and panics at the armed one.
type crasher struct {
	mu    sync.Mutex
	point crashPoint
	nth   int
	hits  map[crashPoint]int
	fired bool
}

func (c *crasher) hit(p crashPoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired || p != c.point {
		return
	}
	c.hits[p]++
	if c.hits[p] == c.nth {
		c.fired = true
		panic(crashed{p})
	}
}

func (c *crasher) disarm() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fired = true
}

// crashBackend watches the store's writes.
type crashBackend struct {
	state.Backend
	c *crasher
}

// PutBlob and GetBlob pass the embedded store's blobs through, so the
// plan body lands where the restarted process looks for it.
func (b crashBackend) PutBlob(ctx context.Context, name string, data []byte) error {
	b.c.hit(crashPlanSave)
	return b.Backend.(state.Blobs).PutBlob(ctx, name, data)
}

func (b crashBackend) GetBlob(ctx context.Context, name string) ([]byte, error) {
	return b.Backend.(state.Blobs).GetBlob(ctx, name)
}

func (b crashBackend) Table(ctx context.Context, name string) (state.Table, error) {
	t, err := b.Backend.Table(ctx, name)
	return crashTable{Table: t, name: name, c: b.c}, err
}

type crashTable struct {
	state.Table
	name string
	c    *crasher
}

func (t crashTable) Insert(ctx context.Context, e state.Entity) (state.Entity, error) {
	switch {
	case t.name == state.TablePlans && strings.HasPrefix(e.RowKey, "j|"):
		// A round's journal record: one row, inserted after the newest.
		t.c.hit(crashMidJournal)
	case t.name == state.TablePlans:
		t.c.hit(crashPlanSave)
	}
	return t.Table.Insert(ctx, e)
}

func (t crashTable) Delete(ctx context.Context, pk, rk, etag string) error {
	if t.name == state.TableMappings && strings.Contains(pk, "|intent|") {
		t.c.hit(crashSettleIntent)
	}
	return t.Table.Delete(ctx, pk, rk, etag)
}

func (t crashTable) Transact(ctx context.Context, ops []state.Op) error {
	intents := len(ops) > 0 && strings.Contains(ops[0].Entity.PartitionKey, "|intent|")
	switch {
	case t.name == state.TablePlans && ops[0].Kind == state.OpInsert:
		t.c.hit(crashPlanSave)
	case t.name == state.TablePlans:
		t.c.hit(crashMidJournal)
	case t.name == state.TableMappings && intents && ops[0].Kind == state.OpDelete:
		t.c.hit(crashSettleIntent)
	case t.name == state.TableMappings && !intents:
		t.c.hit(crashBeforeLinks)
	case t.name == state.TableCredentials:
		t.c.hit(crashCredentials)
	}
	if err := t.Table.Transact(ctx, ops); err != nil {
		return err
	}
	switch {
	case t.name == state.TableMappings && intents && ops[0].Kind != state.OpDelete:
		t.c.hit(crashAfterIntent)
	case t.name == state.TableMappings && !intents:
		t.c.hit(crashLinksNoJourna)
	}
	return nil
}

// crashDirectory watches the executor: the crash can come after Graph
// did the writes but before anyone heard back, or halfway through the
// $batch requests of a round.
type crashDirectory struct {
	usersDirectory
	c         *crasher
	requests  *atomic.Int64
	throttled func() int64
}

func (d crashDirectory) Execute(ctx context.Context, ops []apply.Op) []apply.Result {
	if d.c.point == crashMidBatch {
		start := d.requests.Load()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { // the process dies once one $batch request got through
			for cctx.Err() == nil {
				if d.requests.Load() > start {
					cancel()
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		}()
		d.usersDirectory.Execute(cctx, ops)
		d.c.hit(crashMidBatch)
		return nil
	}
	throttledBefore := d.throttled()
	res := d.usersDirectory.Execute(ctx, ops)
	d.c.hit(crashAnswersLost)
	if d.throttled() > throttledBefore { // Graph said 429 during this round
		d.c.hit(crashThrottled)
	}
	return res
}

type crashCase struct {
	point crashPoint
	nth   int
	// nextRun: after the crash a new run starts (the crashed one is
	// abandoned, e.g. failed by the sweeper) instead of the step being
	// delivered again.
	nextRun bool
}

// crashCases are the kill points of the test: each point at a few depths,
// resumed by redelivery and by a later run. There are at least twenty.
func crashCases() []crashCase {
	var out []crashCase
	for _, p := range []struct {
		point crashPoint
		nths  []int
	}{
		{crashPlanSave, []int{1, 2}}, // before the body, between body and header
		{crashAfterIntent, []int{1, 3}},
		{crashAnswersLost, []int{1, 2}},
		{crashMidBatch, []int{1}},
		{crashBeforeLinks, []int{2}},
		{crashLinksNoJourna, []int{1, 2}},
		{crashMidJournal, []int{1, 3}},
		{crashSettleIntent, []int{1}},
		{crashCredentials, []int{2}},
	} {
		for _, n := range p.nths {
			out = append(out, crashCase{point: p.point, nth: n}, crashCase{point: p.point, nth: n, nextRun: true})
		}
	}
	return out
}

// TestKilledAnywhereNoDuplicates kills a users apply at every crash point
// against a tenant that keeps its state, restarts, and checks that every
// person ends with exactly one account, linked, and that nothing planned
// was lost. ROSTERSYNC_SOAK=1 (make soak) runs it on a 1,650-person school.
func TestKilledAnywhereNoDuplicates(t *testing.T) {
	students, staff := 110, 12
	if os.Getenv("ROSTERSYNC_SOAK") != "" {
		students, staff = 1500, 150
	}
	day1 := school(students, staff)
	view, _ := roster.NewView(day1, day1.Sessions[0].SourcedID, 0)
	people := len(view.ActivePeople())
	for _, cc := range crashCases() {
		name := fmt.Sprintf("%s#%d", cc.point, cc.nth)
		if cc.nextRun {
			name += "/next run"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 60, nil)
			e.roundSize = 40 // several rounds, so a crash can land in a later one
			runCrashCase(t, e, day1, people, cc)
		})
	}
}

// TestKilledWhileThrottled crashes while Graph is answering 429s.
func TestKilledWhileThrottled(t *testing.T) {
	limits := graphsim.DefaultLimits()
	limits.AppTenantWrites = 40
	day1 := school(110, 12)
	view, _ := roster.NewView(day1, day1.Sessions[0].SourcedID, 0)
	for _, cc := range []crashCase{{point: crashThrottled, nth: 1}, {point: crashThrottled, nth: 2, nextRun: true}} {
		t.Run(fmt.Sprintf("#%d next=%t", cc.nth, cc.nextRun), func(t *testing.T) {
			e := newEnv(t, 600, &limits)
			e.roundSize = 40
			runCrashCase(t, e, day1, len(view.ActivePeople()), cc)
		})
	}
}

func runCrashCase(t *testing.T, e *env, r *roster.Roster, people int, cc crashCase) {
	c := &crasher{point: cc.point, nth: cc.nth, hits: map[crashPoint]int{}}
	e.wrapBackend = func(b state.Backend) state.Backend { return crashBackend{Backend: b, c: c} }
	e.wrap = func(d reconcile.Directory) reconcile.Directory {
		return crashDirectory{usersDirectory: d.(usersDirectory), c: c, requests: &e.requests, throttled: func() int64 { return e.stats().Throttled }}
	}
	e.backend.Close()
	e.open()
	in := e.input(runs.ModeApply)
	in, died := e.stepsUntilCrash(t, r, in)
	if !died {
		t.Fatalf("the run finished without reaching %q #%d (hits %v): the case proves nothing", cc.point, cc.nth, c.hits)
	}
	// The process restarts: the store is read back from disk.
	c.disarm()
	e.wrapBackend, e.wrap = nil, nil
	e.backend.Close()
	e.open()
	if cc.nextRun {
		in = e.input(runs.ModeApply)
	}
	_, counts, done, err := e.steps(context.Background(), e.users(r), in, 200)
	if err != nil || !done {
		t.Fatalf("after the restart: done %t, %v", done, err)
	}
	if counts["failed.create"] != 0 {
		t.Errorf("after the restart %d creates failed: %v", counts["failed.create"], counts)
	}
	e.checkOneAccountEach(r, people)
	// A night later nothing is left to do: no change was lost on the way.
	time.Sleep(50 * time.Millisecond) // the simulator's scaled replication delay
	before := e.stats().Writes
	counts = e.sync(r, runs.ModeApply)
	if w := e.stats().Writes - before; w != 0 || counts["plan.create"] != 0 {
		t.Errorf("the next night wrote %d times and planned %d creates, want nothing (counts %v)", w, counts["plan.create"], counts)
	}
	e.checkOneAccountEach(r, people)
}

// stepsUntilCrash runs steps until the armed crash fires (died) or the
// entity ends; it returns the input of the step that was running.
func (e *env) stepsUntilCrash(t *testing.T, r *roster.Roster, in pipeline.EntityInput) (pipeline.EntityInput, bool) {
	t.Helper()
	return stepsUntilCrash(t, e.users(r), in)
}

// stepsUntilCrash runs an entity's steps until the armed crash fires.
func stepsUntilCrash(t *testing.T, u pipeline.Entity, in pipeline.EntityInput) (pipeline.EntityInput, bool) {
	t.Helper()
	for range 200 {
		out, died, err := syncOrCrash(u, in)
		switch {
		case died:
			return in, true
		case err != nil:
			t.Fatalf("step %d before the crash: %v", in.Job.Step, err)
		case !out.More:
			return in, false
		}
		time.Sleep(min(out.RequeueAfter, 2*time.Second))
		in.Job.Step++
		in.Job.Cursor = out.Cursor
	}
	return in, false
}

func syncOrCrash(u pipeline.Entity, in pipeline.EntityInput) (out pipeline.EntityOutcome, died bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crashed); !ok {
				panic(r)
			}
			died = true
		}
	}()
	out, err = u.Sync(context.Background(), in)
	return out, false, err
}

// checkOneAccountEach asserts that each active person has exactly one
// account in the tenant (by the MIS identifier the account carries as
// employeeId), that the tenant has no other account, and that each is
// linked to its person.
func (e *env) checkOneAccountEach(r *roster.Roster, people int) {
	e.t.Helper()
	ts, _ := e.sim.ExportTenant(tenantID)
	perPerson := map[string]int{}
	for _, u := range ts.Users {
		perPerson[fmt.Sprint(u["employeeId"])]++
	}
	dups := 0
	for id, n := range perPerson {
		if n > 1 {
			dups += n - 1
			e.t.Errorf("person %s has %d accounts", id, n)
		}
	}
	if len(ts.Users) != people || dups != 0 {
		e.t.Errorf("tenant has %d accounts (%d duplicates) for %d people", len(ts.Users), dups, people)
	}
	e.checkEveryoneOnce(r, people)
}
