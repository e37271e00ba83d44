package classplan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

var updateGolden = flag.Bool("update", false, "rewrite golden plans")

// fixture: school year 2026/27, registration group "13", teaching groups
// "10AEn/2" and "2S/DT1" of course "10 English", two teachers, an aide,
// three pupils.
func fixture() *roster.Roster {
	r := &roster.Roster{
		Orgs: []roster.Org{{SourcedID: "sch", Name: "Oakfield", Type: roster.OrgSchool, Identifier: "1234567"}},
		Sessions: []roster.Session{{SourcedID: "y", Title: "2026/27", Type: roster.SessionSchoolYear,
			Start: roster.NewDate(2026, 9, 1), End: roster.NewDate(2027, 7, 31), SchoolYear: "2027"}},
		Courses: []roster.Course{{SourcedID: "co", Title: "10 English", Org: "sch"}},
		Classes: []roster.Class{
			{SourcedID: "c-reg", Title: "13", Type: roster.ClassHomeroom, Course: "co", School: "sch", Terms: []string{"y"}},
			{SourcedID: "c-en", Title: "10AEn/2", Type: roster.ClassScheduled, Course: "co", School: "sch", Terms: []string{"y"}},
			{SourcedID: "c-dt", Title: "2S/DT1", Type: roster.ClassScheduled, Course: "co", School: "sch", Terms: []string{"y"}},
		},
		People: []roster.Person{
			{SourcedID: "t1", Role: roster.RoleTeacher, Enabled: true, Orgs: []string{"sch"}},
			{SourcedID: "t2", Role: roster.RoleTeacher, Enabled: true, Orgs: []string{"sch"}},
			{SourcedID: "a1", Role: roster.RoleAide, Enabled: true, Orgs: []string{"sch"}},
			{SourcedID: "s1", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}},
			{SourcedID: "s2", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}},
			{SourcedID: "s3", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}},
		},
		Enrollments: []roster.Enrollment{
			{SourcedID: "e1", Class: "c-reg", School: "sch", Person: "t2", Role: roster.RoleTeacher},
			{SourcedID: "e2", Class: "c-reg", School: "sch", Person: "s3", Role: roster.RoleStudent},
			{SourcedID: "e3", Class: "c-en", School: "sch", Person: "t1", Role: roster.RoleTeacher},
			{SourcedID: "e4", Class: "c-en", School: "sch", Person: "s1", Role: roster.RoleStudent},
			{SourcedID: "e5", Class: "c-en", School: "sch", Person: "s2", Role: roster.RoleStudent},
			{SourcedID: "e6", Class: "c-en", School: "sch", Person: "a1", Role: roster.RoleProctor},
			{SourcedID: "e7", Class: "c-dt", School: "sch", Person: "t2", Role: roster.RoleTeacher},
			{SourcedID: "e8", Class: "c-dt", School: "sch", Person: "s1", Role: roster.RoleStudent},
		},
	}
	r.Sort()
	return r
}

var accounts = map[string]string{"t1": "id-t1", "t2": "id-t2", "a1": "id-a1", "s1": "id-s1", "s2": "id-s2", "s3": "id-s3"}

func input(t testing.TB, r *roster.Roster, rules tenant.ClassroomsConfig) Input {
	t.Helper()
	v, err := roster.NewView(r, "y", 0)
	if err != nil {
		t.Fatal(err)
	}
	return Input{View: v, Education: true, Accounts: accounts, Rules: rules}
}

func find(p *plan.Plan, key string) (plan.Change, Payload, bool) {
	for _, c := range p.Changes {
		if c.Key == key {
			pl, _ := PayloadOf(c)
			return c, pl, true
		}
	}
	return plan.Change{}, Payload{}, false
}

func golden(t *testing.T, name string, p *plan.Plan) {
	t.Helper()
	got, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name+".plan.json")
	if *updateGolden {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(got)) {
		t.Errorf("plan differs from %s (run with -update after checking):\n%s", path, got)
	}
}

func keys(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, c.Key)
	}
	return out
}

func TestModes(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want []string
	}{
		{tenant.ClassroomsAll, []string{"c-dt", "c-en", "c-reg"}},
		{tenant.ClassroomsNone, nil},
		{tenant.ClassroomsGroup, []string{"c-reg"}},
		{tenant.ClassroomsGroupSubject, []string{"c-dt", "c-en"}},
		{tenant.ClassroomsSubject, []string{"course:co"}},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			p := Compute(input(t, fixture(), tenant.ClassroomsConfig{Mode: tc.mode}))
			if got := keys(p); !slices.Equal(got, tc.want) {
				t.Fatalf("classrooms %v, want %v", got, tc.want)
			}
			for _, c := range p.Changes {
				if c.Action != plan.Create {
					t.Errorf("%s: %s, want create", c.Key, c.Action)
				}
			}
			name := tc.mode
			if name == "" {
				name = "all"
			}
			golden(t, "day1-mode-"+name, p)
		})
	}
}

func TestSubjectModeUnitesTheCourse(t *testing.T) {
	p := Compute(input(t, fixture(), tenant.ClassroomsConfig{Mode: tenant.ClassroomsSubject}))
	c, pl, _ := find(p, "course:co")
	if c.After["displayName"] != "2026-10 English" || c.After["mailNickname"] != "2026-10-English" {
		t.Errorf("names %q %q", c.After["displayName"], c.After["mailNickname"])
	}
	if !slices.Equal(pl.AddTeachers, []string{"id-t1", "id-t2"}) || !slices.Equal(pl.AddMembers, []string{"id-a1", "id-s1", "id-s2", "id-t1", "id-t2"}) {
		t.Errorf("teachers %v members %v", pl.AddTeachers, pl.AddMembers)
	}
}

func TestRolesAndNames(t *testing.T) {
	for _, tc := range []struct {
		otherStaff   string
		wantTeachers []string
	}{
		{tenant.StaffAsMember, []string{"id-t1"}},
		{tenant.StaffAsOwner, []string{"id-a1", "id-t1"}},
	} {
		p := Compute(input(t, fixture(), tenant.ClassroomsConfig{OtherStaff: tc.otherStaff}))
		c, pl, ok := find(p, "c-en")
		if !ok {
			t.Fatal("no c-en")
		}
		if !slices.Equal(pl.AddTeachers, tc.wantTeachers) {
			t.Errorf("otherStaff %s: teachers %v, want %v", tc.otherStaff, pl.AddTeachers, tc.wantTeachers)
		}
		// Teachers are members too; pupils are members only.
		if !slices.Equal(pl.AddMembers, []string{"id-a1", "id-s1", "id-s2", "id-t1"}) {
			t.Errorf("members %v", pl.AddMembers)
		}
		if c.After["displayName"] != "2026-10AEn/2" || c.After["mailNickname"] != "2026-10AEn2" {
			t.Errorf("names %q %q, want 2026-10AEn/2 and 2026-10AEn2", c.After["displayName"], c.After["mailNickname"])
		}
		if !pl.Team {
			t.Error("a class with a teacher gets its team")
		}
	}
}

func TestNicknameTakenGetsSuffix(t *testing.T) {
	in := input(t, fixture(), tenant.ClassroomsConfig{Mode: tenant.ClassroomsGroupSubject})
	in.Dir.Nicknames = []string{"2026-10aen2"}
	c, _, _ := find(Compute(in), "c-en")
	if c.After["mailNickname"] != "2026-10AEn2-2" {
		t.Errorf("nickname %q, want 2026-10AEn2-2", c.After["mailNickname"])
	}
}

// synced is the tenant after day 1 applied: every class with its team.
func synced(t *testing.T) (Directory, []Link) {
	p := Compute(input(t, fixture(), tenant.ClassroomsConfig{}))
	var dir Directory
	var links []Link
	for _, c := range p.Changes {
		pl, _ := PayloadOf(c)
		id := "g-" + c.Key
		dir.Classes = append(dir.Classes, Class{ID: id, DisplayName: c.After["displayName"], MailNickname: c.After["mailNickname"],
			Teachers: pl.AddTeachers, Members: pl.AddMembers, Team: pl.Team})
		links = append(links, Link{Key: c.Key, TargetID: id, How: HowCreated})
	}
	return dir, links
}

func TestRerunWritesNothing(t *testing.T) {
	dir, links := synced(t)
	in := input(t, fixture(), tenant.ClassroomsConfig{})
	in.Dir, in.Links = dir, links
	p := Compute(in)
	if len(p.Changes) != 0 || p.Matched != 3 {
		t.Fatalf("rerun: %d changes %v, %d matched; want none and 3", len(p.Changes), keys(p), p.Matched)
	}
}

func day2() *roster.Roster {
	r := fixture()
	// s2 moves from 10AEn/2 to 2S/DT1; t2 takes 10AEn/2 from t1; 13 ends.
	var es []roster.Enrollment
	for _, e := range r.Enrollments {
		switch e.SourcedID {
		case "e5":
			e.Class = "c-dt"
		case "e3":
			e.Person = "t2"
		case "e1", "e2":
			continue
		}
		es = append(es, e)
	}
	r.Enrollments = es
	r.Classes = slices.DeleteFunc(r.Classes, func(c roster.Class) bool { return c.SourcedID == "c-reg" })
	r.Sort()
	return r
}

func TestDay2MoveSwapArchive(t *testing.T) {
	dir, links := synced(t)
	in := input(t, day2(), tenant.ClassroomsConfig{})
	in.Dir, in.Links = dir, links
	p := Compute(in)
	_, en, _ := find(p, "c-en")
	if !slices.Equal(en.AddTeachers, []string{"id-t2"}) || !slices.Equal(en.RemoveTeachers, []string{"id-t1"}) ||
		!slices.Equal(en.AddMembers, []string{"id-t2"}) || !slices.Equal(en.RemoveMembers, []string{"id-s2", "id-t1"}) {
		t.Errorf("10AEn/2: %+v", en)
	}
	_, dt, _ := find(p, "c-dt")
	if !slices.Equal(dt.AddMembers, []string{"id-s2"}) || len(dt.RemoveMembers) != 0 {
		t.Errorf("2S/DT1: %+v", dt)
	}
	reg, regPl, _ := find(p, "c-reg")
	if reg.Action != plan.Suspend || !regPl.Archive || reg.Reason != ArchiveBecauseNotInSession || reg.Held {
		t.Errorf("ended class: %+v %+v, want an archive, not held", reg, regPl)
	}
	golden(t, "day2-move-swap-archive", p)

	// Keep previous enrolments: enrol, never unenrol.
	in.Rules.KeepPreviousEnrolments = true
	_, en, _ = find(Compute(in), "c-en")
	if len(en.RemoveMembers)+len(en.RemoveTeachers) != 0 || !slices.Equal(en.AddTeachers, []string{"id-t2"}) {
		t.Errorf("keep previous: %+v", en)
	}
}

func TestArchiveGuardAndUnarchive(t *testing.T) {
	dir, links := synced(t)
	in := input(t, day2(), tenant.ClassroomsConfig{MaxArchiveCount: -1})
	in.Rules.MaxArchiveCount, in.RosterShrank = 10, true
	in.Dir, in.Links = dir, links
	reg, _, _ := find(Compute(in), "c-reg")
	if !reg.Held {
		t.Error("a shrunk feed's archives are held")
	}
	// The class comes back after its team was archived: unarchive.
	for i := range dir.Classes {
		if dir.Classes[i].ID == "g-c-reg" {
			dir.Classes[i].Archived = true
		}
	}
	in = input(t, fixture(), tenant.ClassroomsConfig{})
	in.Dir, in.Links = dir, links
	c, pl, ok := find(Compute(in), "c-reg")
	if !ok || !pl.Unarchive || c.Reason != UnarchiveBecauseBackInSession {
		t.Errorf("returned class: %+v %+v, want an unarchive", c, pl)
	}
}

func TestLostLinkMatchedByNickname(t *testing.T) {
	dir, _ := synced(t)
	in := input(t, fixture(), tenant.ClassroomsConfig{})
	in.Dir = dir
	p := Compute(in)
	for _, c := range p.Changes {
		if c.Action != plan.Link || c.TargetID != "g-"+c.Key {
			t.Errorf("%s: %s → %s, want link to g-%s", c.Key, c.Action, c.TargetID, c.Key)
		}
	}
}

func TestBusinessTenantRefused(t *testing.T) {
	in := input(t, fixture(), tenant.ClassroomsConfig{})
	in.Education = false
	p := Compute(in)
	if len(p.Changes) != 0 || !p.Errored() {
		t.Fatalf("business tenant: %d changes, errors %v; want none and a refusal", len(p.Changes), p.Errors)
	}
}

func TestExpandCreate(t *testing.T) {
	p := Compute(input(t, fixture(), tenant.ClassroomsConfig{Mode: tenant.ClassroomsGroupSubject}))
	c, _, _ := find(p, "c-en")
	ops := Expand(c, "")
	if ops[0].Kind != apply.OpCreateClass || ops[0].Key != "2026-10AEn2" {
		t.Fatalf("first op %+v", ops[0])
	}
	for _, op := range ops[1:] {
		if op.TargetID != "" {
			t.Errorf("%s before the class exists has target %q", op.ID, op.TargetID)
		}
	}
	ops = Expand(c, "cls")
	var kinds []apply.OpKind
	for _, op := range ops {
		kinds = append(kinds, op.Kind)
	}
	want := []apply.OpKind{apply.OpCreateClass, apply.OpAddClassTeacher, apply.OpAddClassMember, apply.OpAddClassMember, apply.OpAddClassMember, apply.OpAddClassMember, apply.OpCreateClassTeam, apply.OpPollTeamOperation}
	if !slices.Equal(kinds, want) {
		t.Fatalf("ops %v, want %v", kinds, want)
	}
	poll := ops[len(ops)-1]
	if poll.Await != ops[len(ops)-2].ID || poll.TargetID != "cls" {
		t.Errorf("poll %+v does not follow the team create", poll)
	}
	// The team needs an owner: the teacher goes early, the members not.
	for _, op := range ops {
		if op.Early != (op.Kind == apply.OpAddClassTeacher) {
			t.Errorf("%s early %t", op.ID, op.Early)
		}
	}
}
