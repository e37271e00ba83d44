package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// groupsCrashCases are the kill points of a groups apply: the plan save,
// between a create's intent and the POST, after Graph made groups and
// added members but before anyone heard back, halfway through a round's
// $batch requests, and between the links and the journal.
func groupsCrashCases() []crashCase {
	var out []crashCase
	for _, p := range []struct {
		point crashPoint
		nths  []int
	}{
		{crashPlanSave, []int{1, 2}},
		{crashAfterIntent, []int{1, 2}},
		{crashAnswersLost, []int{1, 3}},
		{crashMidBatch, []int{1}},
		{crashLinksNoJourna, []int{1, 2}},
	} {
		for i, n := range p.nths {
			// Each point is resumed once by redelivery and once by a
			// later run; a single depth gets both.
			out = append(out, crashCase{point: p.point, nth: n, nextRun: i%2 == 1})
			if len(p.nths) == 1 {
				out = append(out, crashCase{point: p.point, nth: n, nextRun: true})
			}
		}
	}
	return out
}

// TestGroupsKilledAnywhereNoDuplicates syncs the users, then kills the
// groups apply at each crash point against a tenant that keeps its state,
// restarts, and checks that no group was made twice and every group has
// exactly its planned owners and members; a night later nothing is left to
// write.
func TestGroupsKilledAnywhereNoDuplicates(t *testing.T) {
	day1 := school(60, 8)
	prof := groupsProfile()
	// The whole-school group has more members than a POST binds, so
	// its members also arrive in PATCH chunks a crash can interrupt.
	prof.Groups.Types[tenant.GroupAllStudents] = prof.Groups.Types[tenant.GroupTeaching]
	for _, cc := range groupsCrashCases() {
		name := fmt.Sprintf("%s#%d", cc.point, cc.nth)
		if cc.nextRun {
			name += "/next run"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, 60, nil)
			e.roundSize = 8 // several rounds, so a crash can land in a later one
			runGroupsCrashCase(t, e, day1, prof, cc)
		})
	}
}

func (e *env) groupsInput(prof tenant.Profile) pipeline.EntityInput {
	in := e.input(runs.ModeApply)
	in.Profile = prof
	in.Job.Entity = tenant.EntityGroups
	return in
}

func runGroupsCrashCase(t *testing.T, e *env, r *roster.Roster, prof tenant.Profile, cc crashCase) {
	in := e.input(runs.ModeApply)
	in.Profile = prof
	e.syncEntity(e.users(r), in)

	c := &crasher{point: cc.point, nth: cc.nth, hits: map[crashPoint]int{}}
	e.wrapBackend = func(b state.Backend) state.Backend { return crashBackend{Backend: b, c: c} }
	e.wrap = func(d reconcile.Directory) reconcile.Directory {
		return crashDirectory{usersDirectory: d.(usersDirectory), c: c, requests: &e.requests, throttled: func() int64 { return e.stats().Throttled }}
	}
	e.backend.Close()
	e.open()
	gin := e.groupsInput(prof)
	gin, died := stepsUntilCrash(t, e.groups(r), gin)
	if !died {
		t.Fatalf("the groups run finished without reaching %q #%d (hits %v): the case proves nothing", cc.point, cc.nth, c.hits)
	}
	// The process restarts: the store is read back from disk.
	c.disarm()
	e.wrapBackend, e.wrap = nil, nil
	e.backend.Close()
	e.open()
	if cc.nextRun {
		gin = e.groupsInput(prof)
	}
	counts := e.syncEntity(e.groups(r), gin)
	if n := counts["failed.create"] + counts["failed.update"]; n != 0 {
		t.Errorf("after the restart %d group changes failed: %v", n, counts)
	}
	e.checkGroupsOnce(r, prof)

	// A night later nothing is left to do: no membership was lost.
	time.Sleep(100 * time.Millisecond) // the simulator's scaled replication delay
	before := e.stats().Writes
	counts = e.syncEntity(e.groups(r), e.groupsInput(prof))
	if w := e.stats().Writes - before; w != 0 || counts["plan.create"]+counts["plan.update"] != 0 {
		t.Errorf("the next night wrote %d times and planned %d creates, %d updates; want nothing (counts %v)", w, counts["plan.create"], counts["plan.update"], counts)
	}
	e.checkGroupsOnce(r, prof)
}

// checkGroupsOnce asserts that the tenant holds exactly one group per
// planned group (no duplicate under its nickname or a suffixed one) and
// that each has exactly its planned owners and members.
func (e *env) checkGroupsOnce(r *roster.Roster, prof tenant.Profile) {
	e.t.Helper()
	want := wantGroups(r)
	if prof.Groups.Types[tenant.GroupAllStudents].Enabled {
		v, _ := roster.NewView(r, r.Sessions[0].SourcedID, 0)
		for _, sc := range v.Schools() {
			var g groupState
			for _, p := range v.ActivePeople() {
				if p.Role == roster.RoleStudent && slices.Contains(p.Orgs, sc.SourcedID) {
					g.members = append(g.members, p.SourcedID)
				}
			}
			slices.Sort(g.members)
			want["students:"+sc.SourcedID] = g
		}
	}
	ts, _ := e.sim.ExportTenant(tenantID)
	perNick := map[string]int{}
	for _, g := range ts.Groups {
		perNick[fmt.Sprint(g["mailNickname"])]++
	}
	for nick, n := range perNick {
		if n > 1 {
			e.t.Errorf("%d groups have mailNickname %s", n, nick)
		}
	}
	if len(ts.Groups) != len(want) {
		e.t.Errorf("tenant has %d groups, want %d", len(ts.Groups), len(want))
	}
	e.checkGroupsWant(want)
}

// TestGroupsHeavyThrottlingLosesNothing runs users then groups against a
// tiny write quota: most writes meet a 429 first, and every group still
// ends with exactly its owners and members.
func TestGroupsHeavyThrottlingLosesNothing(t *testing.T) {
	limits := graphsim.DefaultLimits()
	limits.AppTenantWrites = 60
	e := newEnv(t, 600, &limits)
	day1 := school(120, 12)
	in := e.input(runs.ModeApply)
	in.Profile = groupsProfile()
	e.syncEntity(e.users(day1), in)
	throttled := e.stats().Throttled
	counts := e.syncEntity(e.groups(day1), e.groupsInput(groupsProfile()))
	if want := len(wantGroups(day1)); counts["applied.create"] != want {
		t.Errorf("created %d groups under throttling, want %d (counts %v)", counts["applied.create"], want, counts)
	}
	if e.stats().Throttled == throttled {
		t.Error("the groups run was never throttled; the test proves nothing")
	}
	e.checkGroupsOnce(day1, groupsProfile())
}
