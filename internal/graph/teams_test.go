package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
)

// newClasses makes n education classes, each with a teacher (a team needs
// an owner), through ex, and returns their ids in the order they were made.
func newClasses(t *testing.T, ex *Executor, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		// One at a time: the order the classes were made is the order
		// their team creates come in.
		nick := fmt.Sprintf("class%02d", i)
		res := executeAll(t, ex, []apply.Op{{ID: nick + "#create", Kind: apply.OpCreateClass, Key: nick,
			Props: map[string]string{"displayName": "Class " + nick, "mailNickname": nick}}})
		ids[i] = res[nick+"#create"].TargetID
		if ids[i] == "" {
			t.Fatalf("class %s not made: %+v", nick, res)
		}
	}
	var teachers []apply.Op
	for i, id := range ids {
		teachers = append(teachers, apply.Op{ID: fmt.Sprintf("t%02d", i), Kind: apply.OpAddClassTeacher, Ref: id, TargetID: simExisting})
	}
	for id, r := range executeAll(t, ex, teachers) {
		if r.Status != apply.Done {
			t.Fatalf("teacher %s: %+v", id, r)
		}
	}
	return ids
}

func teamCreates(classes []string) []apply.Op {
	ops := make([]apply.Op, len(classes))
	for i, c := range classes {
		ops[i] = apply.Op{ID: fmt.Sprintf("c%02d#team", i), Kind: apply.OpCreateClassTeam, TargetID: c}
	}
	return ops
}

// TestTeamCreatesProbeReplication: team creates for classes whose groups
// have not reached Teams yet (404 for up to 15 minutes, graph.md §5) send
// one POST /teams, the oldest class's, and hand the others back unsent,
// each to come back when its class is as old as the lag learnt from the
// probe; once the groups have replicated every class gets its team. Before,
// every class's team create was sent every round to meet the same 404 (and
// spend Teams' 10 requests a second): 32,000-48,000 POST /teams for 641
// teams in BenchmarkUsersAndClassrooms.
func TestTeamCreatesProbeReplication(t *testing.T) {
	const scale = 600
	env := newSimEnv(t, graphsim.Options{TimeScale: scale, TeamReplicationDelay: time.Minute, TeamProvisioningDelay: -1}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: scale})
	classes := newClasses(t, ex, 6)
	ops := teamCreates(classes)

	before := env.stats(t).Requests["POST teams"]
	res := ex.Execute(t.Context(), ops)
	checkOneEach(t, ops, res)
	if n := env.stats(t).Requests["POST teams"] - before; n != 1 {
		t.Errorf("%d POST /teams for %d classes made moments ago, want 1: the oldest class's, as a probe", n, len(classes))
	}
	handedBack := 0
	for _, r := range res {
		if r.Status != apply.Retry || r.RetryAfter <= 0 {
			t.Errorf("%s: %s after %v, want Retry after a wait", r.ID, r.Status, r.RetryAfter)
		}
		if r.Code == codeNotReplicated {
			handedBack++
		}
	}
	if handedBack != len(classes)-1 {
		t.Errorf("%d team creates handed back unsent, want %d", handedBack, len(classes)-1)
	}

	for id, r := range executeAll(t, ex, ops) {
		if r.Status != apply.Done || r.Handle == "" {
			t.Errorf("%s: %+v, want done with an operation to poll", id, r)
		}
	}
	ts, _ := env.sim.ExportTenant(tenantA)
	teams := 0
	for _, g := range ts.Groups {
		if g["team"] != nil {
			teams++
		}
	}
	if teams != len(classes) {
		t.Errorf("%d classes have a team, want %d", teams, len(classes))
	}
	// One probe per call while the lag is being learnt (it doubles), not
	// one request per class per call.
	if n := env.stats(t).Requests["POST teams"] - before; n > int64(len(classes))+12 {
		t.Errorf("%d POST /teams in all for %d teams", n, len(classes))
	}
}

// TestTeamsPacedAtTheirRate: a wave of team creates goes at Teams'
// documented 10 POST /teams a second per app and tenant (throttling-limits
// .md, graph.md §1.3), so Teams takes every one; before, two batches of 20
// left together and Teams refused all but its one second's worth (10) with
// 429s, over and over.
func TestTeamsPacedAtTheirRate(t *testing.T) {
	const scale = 20
	env := newSimEnv(t, graphsim.Options{TimeScale: scale, TeamReplicationDelay: -1, TeamProvisioningDelay: -1}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: scale})
	classes := newClasses(t, ex, 30)
	ops := teamCreates(classes)
	start := time.Now()
	for id, r := range executeAll(t, ex, ops) {
		if r.Status != apply.Done {
			t.Errorf("%s: %+v", id, r)
		}
	}
	elapsed := time.Since(start)
	st := env.stats(t)
	// A few may still meet the edge of Teams' bucket when the machine is
	// busy; a wave sent unpaced meets 20 at least.
	if n := st.ThrottledByKind["POST teams"]; n > 2 {
		t.Errorf("%d POST /teams throttled, want Teams to take them as paced", n)
	}
	// Half a second's worth goes at once, the rest at 95% of the rate.
	if want := time.Duration(float64(len(classes)-5) / (10 * paceTarget) / scale * float64(time.Second)); elapsed < want*9/10 {
		t.Errorf("%d team creates in %v, want about %v at Teams' rate", len(classes), elapsed, want)
	}
}

// TestTeamsPaceReserve pins the local bucket: half a second's worth at
// once, then one request per 1/(0.95 × rate) s, the clock scaled; each
// Teams operation has a bucket of its own.
func TestTeamsPaceReserve(t *testing.T) {
	var p teamsPace
	now := time.Unix(0, 0)
	for i := range 5 {
		if d := p.reserve(teamsCreate, now, 1); d != 0 {
			t.Fatalf("request %d of the burst waits %v", i+1, d)
		}
	}
	rate := 10 * paceTarget
	gap := time.Duration(float64(time.Second) / rate)
	if d := p.reserve(teamsCreate, now, 1); d < gap-time.Millisecond || d > gap+time.Millisecond {
		t.Errorf("after the burst: wait %v, want %v", d, gap)
	}
	if d := p.reserve(teamsGet, now, 1); d != 0 {
		t.Errorf("a poll waits %v behind team creates, want its own bucket", d)
	}
	if d := p.reserve(teamsCreate, now.Add(gap), 1); d != 0 {
		t.Errorf("after the gap: wait %v, want none", d)
	}
	// At ×60 the same gap is 60 times shorter.
	var q teamsPace
	for range 5 {
		q.reserve(teamsCreate, now, 60)
	}
	if d := q.reserve(teamsCreate, now, 60); d > gap/60+time.Millisecond {
		t.Errorf("at ×60: wait %v, want %v", d, gap/60)
	}
	// Idle, the bucket fills to half a second's worth, no more.
	later := now.Add(time.Hour)
	n := 0
	for p.reserve(teamsCreate, later, 1) == 0 {
		n++
	}
	if n != 5 {
		t.Errorf("after an idle hour %d requests go at once, want 5", n)
	}
}

// TestClassroomsSnapshotPacesTeamReads: the snapshot reads each class's
// team (List teams leaves isArchived null) at Teams' rate for GET
// /teams/{id}, so a school's worth of reads draws no 429s; unpaced, the
// reads outrun Teams' bucket.
func TestClassroomsSnapshotPacesTeamReads(t *testing.T) {
	const scale, n = 5, 90
	env := newSimEnv(t, graphsim.Options{TimeScale: scale, TeamReplicationDelay: -1, TeamProvisioningDelay: -1}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: scale})
	classes := newClasses(t, ex, n)
	for id, r := range executeAll(t, ex, teamCreates(classes)) {
		if r.Status != apply.Done {
			t.Fatalf("%s: %+v", id, r)
		}
	}
	before := env.stats(t).ThrottledByKind
	dir, err := env.client.ClassroomsSnapshotAt(context.Background(), scale)
	if err != nil {
		t.Fatal(err)
	}
	teams := 0
	for _, c := range dir.Classes {
		if c.Team {
			teams++
		}
	}
	if teams != n {
		t.Errorf("snapshot saw %d teams, want %d", teams, n)
	}
	after := env.stats(t).ThrottledByKind
	for kind, v := range after {
		if strings.HasPrefix(kind, "GET teams") && v-before[kind] > 2 {
			t.Errorf("%d %s reads throttled, want them paced at Teams' rate", v-before[kind], kind)
		}
	}
}
