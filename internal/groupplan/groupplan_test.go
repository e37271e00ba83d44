package groupplan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

var update = flag.Bool("update", false, "rewrite golden plans")

// fixture is a small school: school year 2026/27 at school 1234567, a
// registration group "13", a teaching group "10AEn/2" and "2S/DT1", a
// department, two teachers, three pupils.
func fixture() *roster.Roster {
	r := &roster.Roster{
		Orgs: []roster.Org{
			{SourcedID: "sch", Name: "Oakfield", Type: roster.OrgSchool, Identifier: "1234567"},
			{SourcedID: "dept-sci", Name: "Science", Type: roster.OrgDepartment, Parent: "sch"},
		},
		Sessions: []roster.Session{{SourcedID: "y", Title: "2026/27", Type: roster.SessionSchoolYear,
			Start: roster.NewDate(2026, 9, 1), End: roster.NewDate(2027, 7, 31), SchoolYear: "2027"}},
		Courses: []roster.Course{{SourcedID: "co", Title: "English", Org: "sch"}},
		Classes: []roster.Class{
			{SourcedID: "c-reg", Title: "13", Type: roster.ClassHomeroom, Course: "co", School: "sch", Terms: []string{"y"}, Grades: []string{"13"}},
			{SourcedID: "c-en", Title: "10AEn/2", Code: "10AEn2", Type: roster.ClassScheduled, Course: "co", School: "sch", Terms: []string{"y"}, Grades: []string{"10"}, Subjects: []string{"English"}},
			{SourcedID: "c-dt", Title: "2S/DT1", Type: roster.ClassScheduled, Course: "co", School: "sch", Terms: []string{"y"}, Subjects: []string{"Design"}},
		},
		People: []roster.Person{
			{SourcedID: "t1", Role: roster.RoleTeacher, Enabled: true, Orgs: []string{"sch", "dept-sci"}},
			{SourcedID: "t2", Role: roster.RoleTeacher, Enabled: true, Orgs: []string{"sch"}},
			{SourcedID: "s1", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, Grades: []string{"10"}},
			{SourcedID: "s2", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, Grades: []string{"10"}},
			{SourcedID: "s3", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, Grades: []string{"13"}},
		},
		Enrollments: []roster.Enrollment{
			{SourcedID: "e1", Class: "c-reg", School: "sch", Person: "t2", Role: roster.RoleTeacher},
			{SourcedID: "e2", Class: "c-reg", School: "sch", Person: "s3", Role: roster.RoleStudent},
			{SourcedID: "e3", Class: "c-en", School: "sch", Person: "t1", Role: roster.RoleTeacher},
			{SourcedID: "e4", Class: "c-en", School: "sch", Person: "s1", Role: roster.RoleStudent},
			{SourcedID: "e5", Class: "c-en", School: "sch", Person: "s2", Role: roster.RoleStudent},
			{SourcedID: "e6", Class: "c-dt", School: "sch", Person: "t2", Role: roster.RoleTeacher},
			{SourcedID: "e7", Class: "c-dt", School: "sch", Person: "s1", Role: roster.RoleStudent},
		},
	}
	r.Sort()
	return r
}

var accounts = map[string]string{"t1": "id-t1", "t2": "id-t2", "s1": "id-s1", "s2": "id-s2", "s3": "id-s3"}

func rules(types ...string) tenant.GroupsConfig {
	g := tenant.GroupsConfig{Types: map[string]tenant.GroupTypeConfig{}}
	for _, t := range types {
		g.Types[t] = tenant.GroupTypeConfig{Enabled: true, WelcomeEmailDisabled: true}
	}
	return g
}

func input(t testing.TB, r *roster.Roster, g tenant.GroupsConfig) Input {
	t.Helper()
	v, err := roster.NewView(r, "y", 0)
	if err != nil {
		t.Fatal(err)
	}
	return Input{View: v, Accounts: accounts, Rules: g}
}

func change(t testing.TB, p *plan.Plan, key string) (plan.Change, Payload) {
	t.Helper()
	for _, c := range p.Changes {
		if c.Key == key {
			pl, err := PayloadOf(c)
			if err != nil {
				t.Fatal(err)
			}
			return c, pl
		}
	}
	t.Fatalf("no change for %s in %+v", key, p.Changes)
	return plan.Change{}, Payload{}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2S/DT1", "2SDT1"},
		{"Mon Ch", "Mon-Ch"},
		{"13.1234567.2026", "13-1234567-2026"},
		{"Français Été", "Francais-Ete"},
		{`a@b(c)d\e[f]g"h;i:j<k>l,m`, "abcdefghijklm"},
		{"  --x--  ", "x"},
		{strings.Repeat("abc", 30), strings.Repeat("abc", 30)[:64]},
		{"Ελληνικά", "Ellenika"},
	} {
		if got := Nickname(tc.in); got != tc.want {
			t.Errorf("Nickname(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := DisplayName("  10A  / Ma1 "); got != "10A / Ma1" {
		t.Errorf("DisplayName = %q", got)
	}
	if got := DisplayName(strings.Repeat("é", 300)); len([]rune(got)) != MaxDisplayName {
		t.Errorf("DisplayName kept %d characters, want %d", len([]rune(got)), MaxDisplayName)
	}
	n := &nicknames{taken: map[string]bool{"x": true, "x-2": true}}
	if a, b := n.allocate("X"), n.allocate("x"); a != "X-3" || b != "x-4" {
		t.Errorf("allocate: %q, %q; want X-3, x-4", a, b)
	}
	long := strings.Repeat("a", 64)
	n.taken[long] = true
	if got := n.allocate(long); len(got) != 64 || !strings.HasSuffix(got, "-2") {
		t.Errorf("a taken 64-character nickname became %q", got)
	}
}

func TestCompute(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(in *Input)
		check func(t *testing.T, p *plan.Plan)
	}{
		{"default names: 13[1234567][2026], nickname 13-1234567-2026", nil, func(t *testing.T, p *plan.Plan) {
			c, pl := change(t, p, "c-reg")
			if c.Action != plan.Create || c.After["displayName"] != "13[1234567][2026]" || c.After["mailNickname"] != "13-1234567-2026" {
				t.Errorf("registration group: %s %v", c.Action, c.After)
			}
			if !pl.Unified || pl.Visibility != "Private" || !slices.Equal(pl.Options, []string{"WelcomeEmailDisabled"}) || pl.Type != tenant.GroupRegistration {
				t.Errorf("payload %+v", pl)
			}
			if !slices.Equal(pl.AddOwners, []string{"id-t2"}) || !slices.Equal(pl.AddMembers, []string{"id-s3", "id-t2"}) {
				t.Errorf("owners %v members %v", pl.AddOwners, pl.AddMembers)
			}
		}},
		{"year-prefixed names: 2026-10AEn/2, slashes dropped from the nickname", func(in *Input) {
			tc := in.Rules.Types[tenant.GroupTeaching]
			tc.NameTemplate, tc.NicknameTemplate = "{yearStart}-{name}", "{yearStart}-{name}"
			in.Rules.Types[tenant.GroupTeaching] = tc
		}, func(t *testing.T, p *plan.Plan) {
			c, _ := change(t, p, "c-en")
			if c.After["displayName"] != "2026-10AEn/2" || c.After["mailNickname"] != "2026-10AEn2" {
				t.Errorf("teaching group named %v", c.After)
			}
			c, _ = change(t, p, "c-dt")
			if c.After["mailNickname"] != "2026-2SDT1" {
				t.Errorf("2S/DT1 nickname %q", c.After["mailNickname"])
			}
		}},
		{"security groups carry no Microsoft 365 options", func(in *Input) {
			in.Rules.Types[tenant.GroupTeaching] = tenant.GroupTypeConfig{Enabled: true, Kind: tenant.GroupKindSecurity}
		}, func(t *testing.T, p *plan.Plan) {
			_, pl := change(t, p, "c-en")
			if pl.Unified || pl.Visibility != "" || len(pl.Options) != 0 {
				t.Errorf("security payload %+v", pl)
			}
		}},
		{"owners not members, admins own every group, aide roles", func(in *Input) {
			in.Rules.OwnersNotMembers, in.Rules.Admins = true, []string{"ADMIN-1"}
		}, func(t *testing.T, p *plan.Plan) {
			_, pl := change(t, p, "c-en")
			if !slices.Equal(pl.AddOwners, []string{"admin-1", "id-t1"}) || !slices.Equal(pl.AddMembers, []string{"id-s1", "id-s2"}) {
				t.Errorf("owners %v members %v", pl.AddOwners, pl.AddMembers)
			}
		}},
		{"admins by userPrincipalName: found ones own every group, an unknown one is reported once", func(in *Input) {
			in.Rules.OwnersNotMembers = true
			in.Rules.Admins = []string{"Head@Oak.example", "ghost@oak.example", "ADMIN-1"}
			in.Dir.Admins = map[string]string{"head@oak.example": "ID-HEAD", "ghost@oak.example": ""}
		}, func(t *testing.T, p *plan.Plan) {
			_, pl := change(t, p, "c-en")
			if !slices.Equal(pl.AddOwners, []string{"admin-1", "id-head", "id-t1"}) {
				t.Errorf("owners %v, want the found admin, the object-id admin and the teacher", pl.AddOwners)
			}
			n := 0
			for _, u := range p.Unsynced {
				if u.Reason == UnsyncedBecauseAdminUnknown {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%d reports of the unknown admin, want 1", n)
			}
		}},
		{"include and exclude per group", func(in *Input) {
			in.Rules.Include = map[string][]string{"c-en": {"s3"}}
			in.Rules.Exclude = map[string][]string{"c-en": {"s2"}}
		}, func(t *testing.T, p *plan.Plan) {
			_, pl := change(t, p, "c-en")
			if !slices.Equal(pl.AddMembers, []string{"id-s1", "id-s3", "id-t1"}) {
				t.Errorf("members %v", pl.AddMembers)
			}
		}},
		{"people without an account wait", func(in *Input) { in.Accounts = map[string]string{"t1": "id-t1"} }, func(t *testing.T, p *plan.Plan) {
			_, pl := change(t, p, "c-en")
			if !slices.Equal(pl.AddMembers, []string{"id-t1"}) {
				t.Errorf("members %v", pl.AddMembers)
			}
		}},
		{"an existing group is matched by mailNickname, its membership reconciled", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "Old name", MailNickname: "10AEn2-1234567-2026", Members: []string{"id-s1", "id-x"}, Owners: []string{"id-t1"}}}
		}, func(t *testing.T, p *plan.Plan) {
			c, pl := change(t, p, "c-en")
			if c.Action != plan.Link || c.TargetID != "G1" || c.Reason != LinkBecauseNickname || c.After != nil {
				t.Errorf("match: %+v", c)
			}
			if !slices.Equal(pl.AddMembers, []string{"id-s2", "id-t1"}) || !slices.Equal(pl.RemoveMembers, []string{"id-x"}) || len(pl.AddOwners) != 0 {
				t.Errorf("payload %+v", pl)
			}
		}},
		{"an existing group is matched by its displayName when no nickname matches", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "10aen/2[1234567][2026]", MailNickname: "legacy-en", Owners: []string{"id-t1"}}}
		}, func(t *testing.T, p *plan.Plan) {
			c, pl := change(t, p, "c-en")
			if c.Action != plan.Link || c.TargetID != "G1" || c.Reason != LinkBecauseDisplayName {
				t.Errorf("match: %+v", c)
			}
			if !slices.Equal(pl.AddMembers, []string{"id-s1", "id-s2", "id-t1"}) || len(pl.AddOwners) != 0 {
				t.Errorf("payload %+v", pl)
			}
		}},
		{"a configured pattern matches another tool's names; a name two groups share matches neither", func(in *Input) {
			tc := in.Rules.Types[tenant.GroupTeaching]
			tc.MatchTemplate = "{name} ({yearStart})"
			in.Rules.Types[tenant.GroupTeaching] = tc
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "10AEn/2 (2026)", MailNickname: "x1"},
				{ID: "G2", DisplayName: "2S/DT1 (2026)", MailNickname: "x2"}, {ID: "G3", DisplayName: "2S/DT1 (2026)", MailNickname: "x3"}}
		}, func(t *testing.T, p *plan.Plan) {
			if c, _ := change(t, p, "c-en"); c.Action != plan.Link || c.TargetID != "G1" || c.Reason != LinkBecauseDisplayName {
				t.Errorf("pattern match: %+v", c)
			}
			if c, _ := change(t, p, "c-dt"); c.Action != plan.Create {
				t.Errorf("an ambiguous name matched: %+v", c)
			}
		}},
		{"a nickname taken by a linked group gets a suffix", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", MailNickname: "10AEn2-1234567-2026"}}
			in.Links = []Link{{Key: "other", TargetID: "G1", How: HowCreated, Type: tenant.GroupTeaching}}
			in.Excluded = map[string]bool{"other": true}
		}, func(t *testing.T, p *plan.Plan) {
			c, _ := change(t, p, "c-en")
			if c.Action != plan.Create || c.After["mailNickname"] != "10AEn2-1234567-2026-2" {
				t.Errorf("collision: %s %v", c.Action, c.After)
			}
		}},
		{"a group renamed in Microsoft 365 keeps its name and is tracked by id", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "English set 2 (renamed)", MailNickname: "whatever", Members: []string{"id-s1", "id-s2", "id-t1"}, Owners: []string{"id-t1"}}}
			in.Links = []Link{{Key: "c-en", TargetID: "g1", How: HowCreated, Type: tenant.GroupTeaching}}
		}, func(t *testing.T, p *plan.Plan) {
			for _, c := range p.Changes {
				if c.Key == "c-en" {
					t.Errorf("renamed group changed: %+v", c)
				}
			}
			if p.Matched != 1 {
				t.Errorf("matched %d, want 1", p.Matched)
			}
		}},
		{"a class renamed in the MIS renames its group when the profile says so", func(in *Input) {
			in.Rules.RenameWithMIS = true
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "English set 2 (renamed)", Members: []string{"id-s1", "id-s2", "id-t1"}, Owners: []string{"id-t1"}}}
			in.Links = []Link{{Key: "c-en", TargetID: "G1", How: HowCreated, Type: tenant.GroupTeaching}}
		}, func(t *testing.T, p *plan.Plan) {
			c, _ := change(t, p, "c-en")
			if c.Action != plan.Update || c.Reason != UpdateBecauseRenamed || c.After["displayName"] != "10AEn/2[1234567][2026]" {
				t.Errorf("rename: %+v", c)
			}
			ops := Expand(c, "")
			if len(ops) != 1 || ops[0].Kind != apply.OpPatchGroup {
				t.Errorf("rename ops %+v", ops)
			}
		}},
		{"an excluded group is left alone", func(in *Input) { in.Excluded = map[string]bool{"c-en": true} }, func(t *testing.T, p *plan.Plan) {
			for _, c := range p.Changes {
				if c.Key == "c-en" {
					t.Errorf("excluded group changed: %+v", c)
				}
			}
			if len(p.Unsynced) != 1 || p.Unsynced[0].Reason != UnsyncedBecauseExcluded {
				t.Errorf("unsynced %+v", p.Unsynced)
			}
		}},
		{"tidy-up: a created group whose class left is deleted, a matched one unlinked", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "gone A", Members: []string{"id-s1"}}, {ID: "G2", DisplayName: "gone B"}}
			in.Links = []Link{{Key: "old-a", TargetID: "G1", How: HowCreated, Type: tenant.GroupTeaching}, {Key: "old-b", TargetID: "G2", How: HowMatched, Type: tenant.GroupTeaching},
				{Key: "old-c", TargetID: "G3", How: HowDeleted, Type: tenant.GroupTeaching}}
		}, func(t *testing.T, p *plan.Plan) {
			a, _ := change(t, p, "old-a")
			b, _ := change(t, p, "old-b")
			if a.Action != plan.Delete || a.Held || b.Action != plan.Unlink || len(Expand(b, "")) != 0 {
				t.Errorf("tidy: %+v / %+v", a, b)
			}
			if ops := Expand(a, ""); len(ops) != 1 || ops[0].Kind != apply.OpDeleteGroup || ops[0].TargetID != "G1" {
				t.Errorf("delete ops %+v", ops)
			}
		}},
		{"tidy-up empties instead when the policy says so", func(in *Input) {
			in.Rules.Tidy = tenant.TidyEmpty
			in.Dir.Groups = []Group{{ID: "G1", Members: []string{"id-s1", "id-t1"}}}
			in.Links = []Link{{Key: "old-a", TargetID: "G1", How: HowCreated, Type: tenant.GroupTeaching}}
		}, func(t *testing.T, p *plan.Plan) {
			c, pl := change(t, p, "old-a")
			if c.Action != plan.Update || c.Reason != EmptyBecauseLeftMIS || !slices.Equal(pl.RemoveMembers, []string{"id-s1", "id-t1"}) {
				t.Errorf("empty: %+v %+v", c, pl)
			}
		}},
		{"tidy-up beyond the guard is held", func(in *Input) {
			in.Rules.MaxRemoveCount, in.Rules.MaxRemovePercent = 1, 1
			for _, k := range []string{"a", "b"} {
				in.Dir.Groups = append(in.Dir.Groups, Group{ID: "G" + k})
				in.Links = append(in.Links, Link{Key: "old-" + k, TargetID: "G" + k, How: HowCreated, Type: tenant.GroupTeaching})
			}
		}, func(t *testing.T, p *plan.Plan) {
			if !p.Guard.Held || p.Held() != 2 {
				t.Errorf("guard %+v, %d held", p.Guard, p.Held())
			}
			for _, c := range p.Changes {
				if c.Held != (c.Action == plan.Delete) {
					t.Errorf("%s %s held=%t", c.Action, c.Key, c.Held)
				}
			}
		}},
		{"a shrunk roster holds every removal", func(in *Input) {
			in.RosterShrank = true
			in.Dir.Groups = []Group{{ID: "G1", Members: []string{"id-s1", "id-s2", "id-t1", "id-x"}, Owners: []string{"id-t1"}}}
			in.Links = []Link{{Key: "c-en", TargetID: "G1", How: HowCreated, Type: tenant.GroupTeaching}}
		}, func(t *testing.T, p *plan.Plan) {
			c, _ := change(t, p, "c-en")
			if !c.Held || !p.Guard.Held {
				t.Errorf("removal not held: %+v", c)
			}
			if c, _ := change(t, p, "c-dt"); c.Held {
				t.Error("a create was held")
			}
		}},
		{"the delete button deletes the one linked group, still in the MIS, matched or created", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", DisplayName: "English", MailNickname: "en", Members: []string{"id-s1"}}, {ID: "G2", DisplayName: "Reg"}}
			in.Links = []Link{{Key: "c-en", TargetID: "G1", How: HowMatched, Type: tenant.GroupTeaching}, {Key: "c-reg", TargetID: "G2", How: HowCreated, Type: tenant.GroupRegistration}}
			in.Only, in.Action = map[string]bool{"c-en": true}, ActionDelete
		}, func(t *testing.T, p *plan.Plan) {
			c, _ := change(t, p, "c-en")
			if len(p.Changes) != 1 || c.Action != plan.Delete || c.Reason != DeleteBecauseAsked || c.TargetID != "G1" || c.Held {
				t.Errorf("delete button planned %+v", p.Changes)
			}
			if ops := Expand(c, ""); len(ops) != 1 || ops[0].Kind != apply.OpDeleteGroup || ops[0].TargetID != "G1" {
				t.Errorf("delete ops %+v", ops)
			}
		}},
		{"the delete button on a key with no linked group deletes nothing", func(in *Input) {
			in.Dir.Groups = []Group{{ID: "G1", MailNickname: "10AEn2-1234567-2026"}}
			in.Only, in.Action = map[string]bool{"c-en": true}, ActionDelete
		}, func(t *testing.T, p *plan.Plan) {
			if len(p.Changes) != 0 || len(p.Unsynced) != 1 || p.Unsynced[0].Reason != UnsyncedBecauseNothing {
				t.Errorf("changes %+v unsynced %+v", p.Changes, p.Unsynced)
			}
		}},
		{"a group deleted on request is not made again at night", func(in *Input) {
			in.Links = []Link{{Key: "c-en", TargetID: "G1", How: HowDeletedOnRequest, Type: tenant.GroupTeaching}}
		}, func(t *testing.T, p *plan.Plan) {
			for _, c := range p.Changes {
				if c.Key == "c-en" {
					t.Errorf("deleted group planned again: %+v", c)
				}
			}
			if len(p.Unsynced) != 1 || p.Unsynced[0].Reason != UnsyncedBecauseDeleted {
				t.Errorf("unsynced %+v", p.Unsynced)
			}
		}},
		{"the create button makes a group deleted on request again", func(in *Input) {
			in.Links = []Link{{Key: "c-en", TargetID: "G1", How: HowDeletedOnRequest, Type: tenant.GroupTeaching}}
			in.Only, in.Action = map[string]bool{"c-en": true}, "create"
		}, func(t *testing.T, p *plan.Plan) {
			if c, _ := change(t, p, "c-en"); c.Action != plan.Create || len(p.Changes) != 1 {
				t.Errorf("create button planned %+v", p.Changes)
			}
		}},
		{"year, whole-school, subject and department groups", func(in *Input) {
			in.Rules = rules(tenant.GroupYear, tenant.GroupAllStudents, tenant.GroupAllStaff, tenant.GroupSubject, tenant.GroupDepartment)
		}, func(t *testing.T, p *plan.Plan) {
			y, pl := change(t, p, "year:sch:10")
			if y.After["displayName"] != "Year 10[1234567][2026]" || !slices.Equal(pl.AddMembers, []string{"id-s1", "id-s2"}) {
				t.Errorf("year group %v %v", y.After, pl.AddMembers)
			}
			if _, pl := change(t, p, "students:sch"); len(pl.AddMembers) != 3 {
				t.Errorf("all students %v", pl.AddMembers)
			}
			if _, pl := change(t, p, "staff:sch"); !slices.Equal(pl.AddMembers, []string{"id-t1", "id-t2"}) {
				t.Errorf("all staff %v", pl.AddMembers)
			}
			if _, pl := change(t, p, "subject:sch:Design"); !slices.Equal(pl.AddMembers, []string{"id-t2"}) {
				t.Errorf("subject %v", pl.AddMembers)
			}
			if _, pl := change(t, p, "dept:dept-sci"); !slices.Equal(pl.AddMembers, []string{"id-t1"}) {
				t.Errorf("department %v", pl.AddMembers)
			}
			for _, c := range p.Changes {
				if c.Key == "c-en" {
					t.Error("teaching groups are off but planned")
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, fixture(), rules(tenant.GroupTeaching, tenant.GroupRegistration))
			if tc.setup != nil {
				tc.setup(&in)
			}
			tc.check(t, Compute(in))
		})
	}
}

func TestExpandCreateBinds20(t *testing.T) {
	var members []string
	for i := range 30 {
		members = append(members, "m"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	c := withPayload(plan.Change{Kind: plan.KindGroup, Key: "k", Action: plan.Create, After: map[string]string{"displayName": "X", "mailNickname": "x"}},
		Payload{Unified: true, AddOwners: []string{"o1", "o2"}, AddMembers: members})
	ops := Expand(c, "")
	if ops[0].Kind != apply.OpCreateGroup || ops[0].Key != "x" || len(strings.Split(ops[0].Props["members"], ",")) != 18 || ops[0].Props["owners"] != "o1,o2" {
		t.Fatalf("create op %+v", ops[0])
	}
	for _, op := range ops[1:] {
		if op.TargetID != "" {
			t.Fatalf("op %s does not wait for its group: %+v", op.ID, op)
		}
	}
	after := Expand(c, "G")
	if len(after) != 13 || after[1].Kind != apply.OpAddMember || after[1].Ref != "G" || after[1].TargetID == "" || after[1].ID != ops[1].ID {
		t.Fatalf("after the create: %d ops, %+v", len(after), after[1])
	}
	if c.Writes != 2 {
		t.Errorf("estimate %d writes, want 2 (the create and one PATCH of 12)", c.Writes)
	}
}

// TestGolden compares whole plans of the fixture with testdata (rewrite
// with -update).
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules tenant.GroupsConfig
		setup func(in *Input)
	}{
		{"day1-every-type", rules(tenant.GroupTeaching, tenant.GroupRegistration, tenant.GroupYear, tenant.GroupAllStudents, tenant.GroupAllStaff, tenant.GroupSubject, tenant.GroupDepartment), nil},
		{"day2-teacher-swap-and-ended-class", rules(tenant.GroupTeaching, tenant.GroupRegistration), func(in *Input) {
			in.Dir.Groups = []Group{
				{ID: "g-en", DisplayName: "10AEn/2[1234567][2026]", MailNickname: "10AEn2-1234567-2026", Owners: []string{"id-t2"}, Members: []string{"id-s1", "id-s2", "id-t2"}},
				{ID: "g-old", DisplayName: "9X[1234567][2026]", MailNickname: "9X-1234567-2026", Owners: []string{"id-t1"}, Members: []string{"id-t1"}},
			}
			in.Links = []Link{{Key: "c-en", TargetID: "g-en", How: HowCreated, Type: tenant.GroupTeaching}, {Key: "c-old", TargetID: "g-old", How: HowCreated, Type: tenant.GroupTeaching}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, fixture(), tc.rules)
			if tc.setup != nil {
				tc.setup(&in)
			}
			got, err := plan.Encode(Compute(in))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".plan.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("plan differs from %s (run go test ./internal/groupplan -update and review the diff):\n%s", path, got)
			}
		})
	}
}
