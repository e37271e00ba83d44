package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// classroomsScale runs the simulated Graph 600 times faster than real
// time, with Teams' documented delays left as they are in Graph time: a
// new class's group answers 404 to team creation for 15 minutes (1.5 s
// here), a team takes 20 s to provision (33 ms) and an application polls
// its teamsAsyncOperation every 31 s (52 ms).
const classroomsScale = 600

// classroomsOptions is an education tenant with Teams' replication and
// provisioning delays and Graph's limits, at classroomsScale.
func classroomsOptions() graphsim.Options {
	return graphsim.Options{TimeScale: classroomsScale,
		TeamReplicationDelay: graphsim.DefaultTeamReplicationDelay, TeamProvisioningDelay: graphsim.DefaultTeamProvisioningDelay}
}

func (e *env) classrooms(r *roster.Roster) *reconcile.Classrooms {
	return &reconcile.Classrooms{Kind: reconcile.ClassroomsKind(), Source: source{r}, Tenants: e, Store: e.store,
		Apply: apply.Options{MaxWait: time.Second, Budget: 10 * time.Second, RoundSize: e.roundSize}, IntentWindow: 2 * time.Second}
}

func (e *env) classroomsInput(prof tenant.Profile) pipeline.EntityInput {
	in := e.input(runs.ModeApply)
	in.Profile = prof
	in.Job.Entity = tenant.EntityClassrooms
	return in
}

// classroomsProfile syncs users and every class (scheduled classes and
// registration groups) as a Teams class, with the default names.
func classroomsProfile() tenant.Profile {
	return tenant.Profile{ID: "nightly", CustomerID: customer.ID, Entities: []string{tenant.EntityUsers, tenant.EntityClassrooms},
		Classrooms: &tenant.ClassroomsConfig{}}
}

// usersThenClassrooms runs users then classrooms as one night would and
// fails the test on any failed change.
func (e *env) usersThenClassrooms(r *roster.Roster, prof tenant.Profile) (users, classes map[string]int) {
	e.t.Helper()
	in := e.input(runs.ModeApply)
	in.Profile = prof
	users = e.syncEntity(e.users(r), in)
	classes = e.syncEntity(e.classrooms(r), e.classroomsInput(prof))
	noFailures(e.t, "users", users)
	noFailures(e.t, "classrooms", classes)
	return users, classes
}

func noFailures(t testing.TB, entity string, counts map[string]int) {
	t.Helper()
	for k, n := range counts {
		if strings.HasPrefix(k, "failed.") && n > 0 {
			t.Errorf("%s failed %d changes (%s): %v", entity, n, k, counts)
		}
	}
}

// classState is a class of the simulated tenant as the tests compare it:
// teachers (the group's owners) and members as people's sourcedIds.
type classState struct {
	id, name, nick    string
	teachers, members []string
	team, archived    bool
}

// tenantClasses returns the tenant's education classes by link key. It
// flags a class whose mailNickname another class has (a duplicate), a
// class not linked, and a linked group that is not an education class.
func (e *env) tenantClasses() map[string]classState {
	e.t.Helper()
	people, key := e.linkedSources(reconcile.MappingUser), e.linkedSources(reconcile.MappingClass)
	ts, _ := e.sim.ExportTenant(tenantID)
	out := map[string]classState{}
	nicks := map[string]bool{}
	for _, g := range ts.Groups {
		id := strings.ToLower(fmt.Sprint(g["id"]))
		if g["educationClass"] == nil {
			if _, linked := key[id]; linked {
				e.t.Errorf("linked group %s is not an education class", id)
			}
			continue
		}
		nick := strings.ToLower(fmt.Sprint(g["mailNickname"]))
		if nicks[nick] {
			e.t.Errorf("two classes have mailNickname %s", nick)
		}
		nicks[nick] = true
		k, ok := key[id]
		if !ok {
			e.t.Errorf("class %s (%s) is in the tenant but not linked", id, nick)
			continue
		}
		c := classState{id: id, name: fmt.Sprint(g["displayName"]), nick: nick, teachers: sourcedIDs(people, g["owners"]), members: sourcedIDs(people, g["members"])}
		if tm, ok := g["team"].(map[string]any); ok {
			c.team, c.archived = true, tm["isArchived"] == true
		}
		out[k] = c
	}
	return out
}

// wantClasses is what the roster asks of every class of the session under
// the default profile: its teachers as teachers (owners), and its
// teachers, pupils and other staff (aides, proctors: members by default)
// as members, each with a team.
func wantClasses(r *roster.Roster) map[string]classState {
	v, _ := roster.NewView(r, r.Sessions[0].SourcedID, 0)
	out := map[string]classState{}
	for _, c := range v.Classes() {
		cs := classState{team: true}
		for _, m := range v.Members(c.SourcedID) {
			if !m.Person.Enabled {
				continue
			}
			switch m.Enrollment.Role {
			case roster.RoleTeacher:
				cs.teachers = append(cs.teachers, m.Person.SourcedID)
				cs.members = append(cs.members, m.Person.SourcedID)
			case roster.RoleGuardian, roster.RoleParent, roster.RoleRelative:
			default:
				cs.members = append(cs.members, m.Person.SourcedID)
			}
		}
		cs.teachers = slices.Compact(slices.Sorted(slices.Values(cs.teachers)))
		cs.members = slices.Compact(slices.Sorted(slices.Values(cs.members)))
		out[c.SourcedID] = cs
	}
	return out
}

// checkClasses asserts that the tenant's linked classes are want, by key:
// the same teachers and members, a team, and archived only where want
// says so. It returns the tenant's classes.
func (e *env) checkClasses(want map[string]classState) map[string]classState {
	e.t.Helper()
	have := e.tenantClasses()
	bad := 0
	for k, w := range want {
		h, ok := have[k]
		switch {
		case !ok:
			e.t.Errorf("class %s has no education class in the tenant", k)
		case !slices.Equal(h.teachers, w.teachers) || !slices.Equal(h.members, w.members) || h.team != w.team || h.archived != w.archived:
			if bad++; bad <= 3 {
				e.t.Errorf("class %s: teachers %v members %v team %t archived %t; want teachers %v members %v team %t archived %t",
					k, h.teachers, h.members, h.team, h.archived, w.teachers, w.members, w.team, w.archived)
			}
		}
	}
	if bad > 3 {
		e.t.Errorf("… %d classes differ in all", bad)
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			e.t.Errorf("the tenant has a class for %s, which the roster does not ask for", k)
		}
	}
	return have
}

// quiet waits out the simulator's replication delay (2 s of Graph time),
// as the next night would, and returns the write count so far.
func (e *env) quiet() int64 {
	time.Sleep(2 * graphsim.DefaultConsistencyDelay / time.Duration(e.scale))
	return e.stats().Writes
}

// TestClassroomsEndToEnd: users then classrooms on an education tenant
// with Teams' delays. Day 1 makes every class with its team, teachers as
// owners and everyone as members; a rerun writes nothing; day 2 moves a
// pupil and swaps a teacher, and exactly those enrolments change; a class
// that leaves the session has its team archived under its name, and is
// unarchived when it comes back.
func TestClassroomsEndToEnd(t *testing.T) {
	e := newEnvOpts(t, classroomsOptions())
	day1 := school(60, 8)
	prof := classroomsProfile()
	want := wantClasses(day1)

	_, counts := e.usersThenClassrooms(day1, prof)
	if counts["applied.create"] != len(want) {
		t.Fatalf("day 1 created %d classes, want %d (counts %v)", counts["applied.create"], len(want), counts)
	}
	have := e.checkClasses(want)
	for k, c := range have {
		if !strings.HasPrefix(c.name, "2026-") {
			t.Errorf("class %s is named %q, want the academic year prefix 2026-", k, c.name)
			break
		}
	}
	st := e.stats()
	if st.Requests["POST teams"] < int64(len(want)) {
		t.Errorf("POST /teams %d times for %d classes", st.Requests["POST teams"], len(want))
	}
	t.Logf("day 1: %d classes, %d writes, %d throttled; requests %v", len(want), st.Writes, st.Throttled, st.Requests)

	before := e.quiet()
	_, counts = e.usersThenClassrooms(day1, prof)
	if w := e.stats().Writes - before; w != 0 {
		t.Errorf("no-change rerun wrote %d times (classrooms counts %v)", w, counts)
	}
	if counts["matched"] != len(want) {
		t.Errorf("no-change rerun matched %d classes, want %d (counts %v)", counts["matched"], len(want), counts)
	}

	day2, moved := classroomsNextDay(day1)
	before = e.quiet()
	_, counts = e.usersThenClassrooms(day2, prof)
	// The pupil leaves one class and joins another (2 writes); the old
	// teacher leaves the teachers and the members, the new one joins both
	// (4 writes): three classes change, six writes, nothing else.
	if counts["applied.update"] != 3 || counts["plan.create"]+counts["plan.suspend"] != 0 {
		t.Errorf("day 2: counts %v, want exactly 3 classes updated", counts)
	}
	if w := e.stats().Writes - before; w != 6 {
		t.Errorf("day 2 made %d writes, want exactly 6", w)
	}
	e.checkClasses(wantClasses(day2))

	// The moved pupil's old class ends: it leaves the session, and its
	// team is archived, name kept.
	day3 := endClass(day2, moved)
	names := map[string]string{}
	for k, c := range e.tenantClasses() {
		names[k] = c.name
	}
	before = e.quiet()
	_, counts = e.usersThenClassrooms(day3, prof)
	if counts["applied.suspend"] != 1 || counts["applied.update"]+counts["plan.create"] != 0 {
		t.Errorf("day 3: counts %v, want the ended class's team archived and nothing else", counts)
	}
	want3 := wantClasses(day3)
	ended := want[moved]
	ended.teachers, ended.members, ended.archived = wantClasses(day2)[moved].teachers, wantClasses(day2)[moved].members, true
	want3[moved] = ended
	have = e.checkClasses(want3)
	if have[moved].name != names[moved] {
		t.Errorf("the archived class is named %q, was %q", have[moved].name, names[moved])
	}
	t.Logf("day 3: %d writes", e.stats().Writes-before)

	// The class is back in the session: its team is unarchived, not
	// made again.
	e.quiet()
	_, counts = e.usersThenClassrooms(day2, prof)
	if counts["applied.update"] != 1 || counts["plan.create"]+counts["plan.suspend"] != 0 {
		t.Errorf("day 4: counts %v, want the returning class's team unarchived", counts)
	}
	archivedID := have[moved].id
	have = e.checkClasses(wantClasses(day2))
	if have[moved].id != archivedID || have[moved].name != names[moved] {
		t.Errorf("the returning class is %s %q, want %s under its old name %q (not made again)", have[moved].id, have[moved].name, archivedID, names[moved])
	}
}

// classroomsNextDay is r a day later: a pupil moves from one scheduled
// class to another, and a third class's teacher is replaced by a teacher
// who does not teach it. It returns the roster and the class the pupil
// left.
func classroomsNextDay(r *roster.Roster) (*roster.Roster, string) {
	next := *r
	next.Enrollments = slices.Clone(r.Enrollments)
	v, _ := roster.NewView(r, r.Sessions[0].SourcedID, 0)
	var scheduled []*roster.Class
	for _, c := range v.Classes() {
		if c.Type == roster.ClassScheduled {
			scheduled = append(scheduled, c)
		}
	}
	in := func(class string) map[string]bool {
		out := map[string]bool{}
		for _, en := range next.Enrollments {
			if en.Class == class {
				out[en.Person] = true
			}
		}
		return out
	}
	from, to, taught := scheduled[1].SourcedID, scheduled[2].SourcedID, scheduled[3].SourcedID
	inTo, inTaught := in(to), in(taught)
	pupil, swapped := -1, -1
	for i, en := range next.Enrollments {
		if pupil < 0 && en.Class == from && en.Role == roster.RoleStudent && !inTo[en.Person] && !inTaught[en.Person] {
			pupil = i
		}
		if swapped < 0 && en.Class == taught && en.Role == roster.RoleTeacher {
			swapped = i
		}
	}
	var newTeacher string
	for _, en := range next.Enrollments {
		if en.Role == roster.RoleTeacher && !inTaught[en.Person] && !in(from)[en.Person] && !inTo[en.Person] {
			newTeacher = en.Person
			break
		}
	}
	if pupil < 0 || swapped < 0 || newTeacher == "" {
		panic("classroomsNextDay: the sample school has no pupil to move or teacher to swap")
	}
	next.Enrollments[pupil].Class = to
	next.Enrollments[swapped].Person = newTeacher
	return &next, from
}

// endClass is r with class moved to last year's session: it is no longer
// in the session the profile syncs.
func endClass(r *roster.Roster, class string) *roster.Roster {
	next := *r
	next.Sessions = slices.Clone(r.Sessions)
	next.Classes = slices.Clone(r.Classes)
	last := r.Sessions[0]
	last.SourcedID, last.Title, last.Parent, last.SchoolYear = "sy-previous", "Last year", "", "2026"
	last.Start, last.End = roster.NewDate(2025, 9, 1), roster.NewDate(2026, 7, 22)
	next.Sessions = append(next.Sessions, last)
	for i := range next.Classes {
		if next.Classes[i].SourcedID == class {
			next.Classes[i].Terms = []string{last.SourcedID}
		}
	}
	next.Sort()
	return &next
}
