package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

func (e *env) groups(r *roster.Roster) *reconcile.Groups {
	return &reconcile.Groups{Kind: reconcile.GroupsKind(), Source: source{r}, Tenants: e, Store: e.store,
		Apply: apply.Options{MaxWait: time.Second, Budget: 10 * time.Second, RoundSize: e.roundSize}, IntentWindow: 2 * time.Second}
}

// syncEntity runs one entity's steps to the end.
func (e *env) syncEntity(ent pipeline.Entity, in pipeline.EntityInput) map[string]int {
	e.t.Helper()
	counts := map[string]int{}
	for range 200 {
		out, err := ent.Sync(context.Background(), in)
		if err != nil {
			e.t.Fatalf("sync %s: %v", in.Job.Entity, err)
		}
		runs.MergeCounts(counts, out.Counts)
		if !out.More {
			return counts
		}
		time.Sleep(min(out.RequeueAfter, 2*time.Second))
		in.Job.Step++
		in.Job.Cursor = out.Cursor
	}
	e.t.Fatalf("sync %s did not finish", in.Job.Entity)
	return nil
}

// usersThenGroups runs users then groups as one night would.
func (e *env) usersThenGroups(r *roster.Roster, prof tenant.Profile) (users, groups map[string]int) {
	e.t.Helper()
	in := e.input(runs.ModeApply)
	in.Profile = prof
	users = e.syncEntity(e.users(r), in)
	in.Job.Entity, in.Job.Step, in.Job.Cursor = tenant.EntityGroups, 0, ""
	groups = e.syncEntity(e.groups(r), in)
	noFailures(e.t, "users", users)
	noFailures(e.t, "groups", groups)
	return users, groups
}

// tenantGroups returns the simulated tenant's live groups by link key,
// with their members and owners as sourcedIds.
type groupState struct {
	id, name        string
	owners, members []string
}

func (e *env) tenantGroups() map[string]groupState {
	e.t.Helper()
	people, key := e.linkedSources(reconcile.MappingUser), e.linkedSources(reconcile.MappingGroup)
	ts, _ := e.sim.ExportTenant(tenantID)
	out := map[string]groupState{}
	nicks := map[string]bool{}
	for _, g := range ts.Groups {
		id := strings.ToLower(fmt.Sprint(g["id"]))
		nick := strings.ToLower(fmt.Sprint(g["mailNickname"]))
		if nicks[nick] {
			e.t.Errorf("two groups have mailNickname %s", nick)
		}
		nicks[nick] = true
		k, ok := key[id]
		if !ok {
			e.t.Errorf("group %s (%s) is in the tenant but not linked", id, nick)
			continue
		}
		out[k] = groupState{id: id, name: fmt.Sprint(g["displayName"]), owners: sourcedIDs(people, g["owners"]), members: sourcedIDs(people, g["members"])}
	}
	return out
}

// linkedSources maps the object ids (lower case) of kind's links to their
// sourcedIds.
func (e *env) linkedSources(kind string) map[string]string {
	e.t.Helper()
	links, err := e.store.ListMappings(context.Background(), customer.ID, kind)
	if err != nil {
		e.t.Fatalf("links of %s: %v", kind, err)
	}
	out := make(map[string]string, len(links))
	for _, l := range links {
		if l.TargetID != "" {
			out[strings.ToLower(l.TargetID)] = l.SourceID
		}
	}
	return out
}

// sourcedIDs turns a list of the simulator's object ids into the linked
// sourcedIds, sorted.
func sourcedIDs(linked map[string]string, ids any) []string {
	list, _ := ids.([]string)
	out := make([]string, 0, len(list))
	for _, id := range list {
		out = append(out, linked[strings.ToLower(id)])
	}
	slices.Sort(out)
	return out
}

// wantGroups is what the roster asks for: every class of the session with
// its teachers as owners, and its students and teachers as members.
func wantGroups(r *roster.Roster) map[string]groupState {
	v, _ := roster.NewView(r, r.Sessions[0].SourcedID, 0)
	out := map[string]groupState{}
	for _, c := range v.Classes() {
		var g groupState
		for _, m := range v.Members(c.SourcedID) {
			if !m.Person.Enabled {
				continue
			}
			switch m.Enrollment.Role {
			case roster.RoleTeacher:
				g.owners = append(g.owners, m.Person.SourcedID)
				g.members = append(g.members, m.Person.SourcedID)
			case roster.RoleStudent:
				g.members = append(g.members, m.Person.SourcedID)
			}
		}
		slices.Sort(g.owners)
		g.members = slices.Compact(slices.Sorted(slices.Values(g.members)))
		out[c.SourcedID] = g
	}
	return out
}

func (e *env) checkGroups(r *roster.Roster) {
	e.t.Helper()
	e.checkGroupsWant(wantGroups(r))
}

// checkGroupsWant asserts the tenant's linked groups are want, by key.
func (e *env) checkGroupsWant(want map[string]groupState) {
	e.t.Helper()
	have := e.tenantGroups()
	if len(have) != len(want) {
		e.t.Errorf("tenant has %d linked groups, roster wants %d", len(have), len(want))
	}
	bad := 0
	for k, w := range want {
		h, ok := have[k]
		switch {
		case !ok:
			e.t.Errorf("class %s has no group", k)
		case !slices.Equal(h.owners, w.owners) || !slices.Equal(h.members, w.members):
			if bad++; bad <= 3 {
				e.t.Errorf("group of class %s: owners %v members %v; want owners %v members %v", k, h.owners, h.members, w.owners, w.members)
			}
		}
	}
	if bad > 3 {
		e.t.Errorf("… %d groups differ in all", bad)
	}
}

func groupsProfile() tenant.Profile {
	t := tenant.GroupTypeConfig{Enabled: true, Kind: tenant.GroupKindUnified, WelcomeEmailDisabled: true}
	return tenant.Profile{ID: "nightly", CustomerID: customer.ID,
		Groups: &tenant.GroupsConfig{Types: map[string]tenant.GroupTypeConfig{tenant.GroupTeaching: t, tenant.GroupRegistration: t}}}
}

func TestGroupsEndToEnd(t *testing.T) {
	e := newEnv(t, 60, nil)
	day1 := school(200, 24)
	prof := groupsProfile()
	classes := len(wantGroups(day1))

	_, counts := e.usersThenGroups(day1, prof)
	if counts["applied.create"] != classes || counts["failed.create"]+counts["failed.update"] != 0 {
		t.Fatalf("day 1 created %d groups, want %d (counts %v)", counts["applied.create"], classes, counts)
	}
	e.checkGroups(day1)

	// Membership reads lag writes: wait out the simulated replication
	// delay before the rerun, as the next night would.
	time.Sleep(2 * time.Second)
	before := e.stats()
	_, counts = e.usersThenGroups(day1, prof)
	if w := e.stats().Writes - before.Writes; w != 0 {
		t.Errorf("no-change rerun wrote %d times (groups counts %v)", w, counts)
	}
	if counts["matched"] != classes {
		t.Errorf("no-change rerun matched %d groups, want %d (counts %v)", counts["matched"], classes, counts)
	}

	day2, moves := groupsNextDay(day1)
	time.Sleep(2 * time.Second)
	before = e.stats()
	_, counts = e.usersThenGroups(day2, prof)
	if counts["applied.delete"] != 1 {
		t.Errorf("day 2 deleted %d groups, want the 1 that ended (counts %v)", counts["applied.delete"], counts)
	}
	if counts["applied.update"] != moves {
		t.Errorf("day 2 updated %d groups, want %d (counts %v)", counts["applied.update"], moves, counts)
	}
	e.checkGroups(day2)
	t.Logf("day 2: %d writes, counts %v", e.stats().Writes-before.Writes, counts)
}

// groupsNextDay is day1 a day later: a pupil moves from one teaching
// group to another, two classes swap teachers' places (the first class's
// teacher is replaced by another member of staff), a pupil leaves, and a
// class ends. It returns the roster and how many surviving groups change.
func groupsNextDay(r *roster.Roster) (*roster.Roster, int) {
	next := *r
	next.Enrollments = slices.Clone(r.Enrollments)
	next.Classes = slices.Clone(r.Classes)
	next.People = slices.Clone(r.People)
	v, _ := roster.NewView(r, r.Sessions[0].SourcedID, 0)
	var scheduled []*roster.Class
	for _, c := range v.Classes() {
		if c.Type == roster.ClassScheduled {
			scheduled = append(scheduled, c)
		}
	}
	changed := map[string]bool{}
	// A class ends: its enrolments and the class go.
	ended := scheduled[0].SourcedID
	next.Enrollments = slices.DeleteFunc(next.Enrollments, func(en roster.Enrollment) bool { return en.Class == ended })
	next.Classes = slices.DeleteFunc(next.Classes, func(c roster.Class) bool { return c.SourcedID == ended })
	// A pupil changes class: from scheduled[1] to scheduled[2].
	from, to := scheduled[1].SourcedID, scheduled[2].SourcedID
	inTo := map[string]bool{}
	for _, en := range next.Enrollments {
		if en.Class == to {
			inTo[en.Person] = true
		}
	}
	for i, en := range next.Enrollments {
		if en.Class == from && en.Role == roster.RoleStudent && !inTo[en.Person] {
			next.Enrollments[i].Class = to
			changed[from], changed[to] = true, true
			break
		}
	}
	// A teacher swap: scheduled[3]'s teacher is replaced by a teacher who
	// does not teach it.
	cls := scheduled[3].SourcedID
	teaches := map[string]bool{}
	for _, en := range next.Enrollments {
		if en.Class == cls {
			teaches[en.Person] = true
		}
	}
	var newTeacher string
	for _, en := range next.Enrollments {
		if en.Role == roster.RoleTeacher && !teaches[en.Person] {
			newTeacher = en.Person
			break
		}
	}
	for i, en := range next.Enrollments {
		if en.Class == cls && en.Role == roster.RoleTeacher {
			next.Enrollments[i].Person = newTeacher
			changed[cls] = true
			break
		}
	}
	// A pupil leaves: every group they were in changes.
	var leaver string
	for _, en := range next.Enrollments {
		if en.Role == roster.RoleStudent && en.Class != ended {
			leaver = en.Person
			break
		}
	}
	for _, en := range next.Enrollments {
		if en.Person == leaver {
			changed[en.Class] = true
		}
	}
	next.Enrollments = slices.DeleteFunc(next.Enrollments, func(en roster.Enrollment) bool { return en.Person == leaver })
	next.People = slices.DeleteFunc(next.People, func(p roster.Person) bool { return p.SourcedID == leaver })
	delete(changed, ended)
	next.Sort()
	return &next, len(changed)
}

// TestGroupsDeleteButton presses the delete button on one class's group:
// that group alone is deleted, the next night does not make it again,
// and the create button does.
func TestGroupsDeleteButton(t *testing.T) {
	e := newEnv(t, 60, nil)
	day1 := school(40, 6)
	prof := groupsProfile()
	e.usersThenGroups(day1, prof)
	var key string
	for k := range wantGroups(day1) {
		key = max(key, k)
	}
	gone := e.tenantGroups()[key].id

	press := func(action string) map[string]int {
		in := e.groupsInput(prof)
		in.Run.Only, in.Run.Action = []string{key}, action
		return e.syncEntity(e.groups(day1), in)
	}
	if counts := press("delete"); counts["applied.delete"] != 1 || counts["plan.delete"] != 1 || counts["plan.create"]+counts["plan.update"] != 0 {
		t.Fatalf("delete button: counts %v, want the one group deleted", counts)
	}
	have := e.tenantGroups()
	if _, ok := have[key]; ok || len(have) != len(wantGroups(day1))-1 {
		t.Fatalf("after the delete button the tenant has %d groups, the deleted one among them: %t", len(have), ok)
	}

	time.Sleep(2 * time.Second)
	before := e.stats().Writes
	if counts := e.syncEntity(e.groups(day1), e.groupsInput(prof)); counts["plan.create"] != 0 || counts["unsynced"] != 1 {
		t.Errorf("the night after the delete button: counts %v, want no create and the group unsynced", counts)
	}
	if w := e.stats().Writes - before; w != 0 {
		t.Errorf("the night after the delete button wrote %d times", w)
	}

	if counts := press("create"); counts["applied.create"] != 1 {
		t.Errorf("create button: counts %v", counts)
	}
	e.checkGroups(day1)
	if e.tenantGroups()[key].id == gone {
		t.Error("the create button brought back the deleted group's id")
	}
}
