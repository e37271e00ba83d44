package userplan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

var update = flag.Bool("update", false, "rewrite golden plans")

// person is a compact roster row for tests: everyone is enrolled in one
// class of the 2026 school year unless unenrolled is set.
type person struct {
	id, role, given, family, email, grade string
	disabled, unenrolled                  bool
	begin                                 string
}

func buildView(t *testing.T, people ...person) *roster.View {
	t.Helper()
	r := &roster.Roster{
		Orgs:     []roster.Org{{SourcedID: "sch", Name: "Oakfield Academy", Type: roster.OrgSchool}},
		Sessions: []roster.Session{{SourcedID: "y2026", Title: "2025/26", Type: roster.SessionSchoolYear, SchoolYear: "2026"}},
		Classes:  []roster.Class{{SourcedID: "c1", Title: "7A/Ma", Type: roster.ClassScheduled, School: "sch", Terms: []string{"y2026"}}},
	}
	for _, p := range people {
		rp := roster.Person{SourcedID: p.id, Role: roster.Role(p.role), Enabled: !p.disabled, GivenName: p.given, FamilyName: p.family,
			Email: p.email, Orgs: []string{"sch"}, Identifier: "ID" + p.id}
		if p.grade != "" {
			rp.Grades = []string{p.grade}
		}
		r.People = append(r.People, rp)
		if !p.unenrolled {
			e := roster.Enrollment{SourcedID: "e-" + p.id, Class: "c1", School: "sch", Person: p.id, Role: roster.Role(p.role)}
			if p.begin != "" {
				d, err := roster.ParseDate(p.begin)
				if err != nil {
					t.Fatal(err)
				}
				e.Begin = d
			}
			r.Enrollments = append(r.Enrollments, e)
		}
	}
	r.Sort()
	v, err := roster.NewView(r, "y2026", 0)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func account(id, upn string, enabled bool, props map[string]string) Account {
	return Account{ID: id, UserPrincipalName: upn, AccountEnabled: enabled, Props: props}
}

func input(v *roster.View, accounts ...Account) Input {
	return Input{View: v, Dir: Directory{Accounts: accounts, Domains: []string{"oakfield.example"}},
		Domains: []string{"oakfield.example"}, Rules: tenant.DefaultUsersConfig()}
}

func find(p *plan.Plan, key string) *plan.Change {
	for i := range p.Changes {
		if p.Changes[i].Key == key {
			return &p.Changes[i]
		}
	}
	return nil
}

func findUnsynced(p *plan.Plan, key string) *plan.Unsynced {
	for i := range p.Unsynced {
		if p.Unsynced[i].Key == key {
			return &p.Unsynced[i]
		}
	}
	return nil
}

func studentProps(given, family, id, year string) map[string]string {
	return map[string]string{"displayName": given + " " + family, "givenName": given, "surname": family,
		"employeeId": "ID" + id, "jobTitle": "Student", "department": "Year " + year}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name  string
		in    func(t *testing.T) Input
		check func(t *testing.T, p *plan.Plan)
	}{
		{"two people with the same name get distinct usernames", func(t *testing.T) Input {
			return input(buildView(t, person{id: "s1", role: "student", given: "Sam", family: "Lee", grade: "7"},
				person{id: "s2", role: "student", given: "Sam", family: "Lee", grade: "8"}))
		}, func(t *testing.T, p *plan.Plan) {
			a, b := find(p, "s1"), find(p, "s2")
			if a.After["userPrincipalName"] != "sam.lee@oakfield.example" || b.After["userPrincipalName"] != "sam.lee2@oakfield.example" {
				t.Errorf("UPNs = %s, %s", a.After["userPrincipalName"], b.After["userPrincipalName"])
			}
			if !strings.Contains(b.Detail, "suffix 2 because sam.lee@oakfield.example is taken") {
				t.Errorf("detail %q does not explain the suffix", b.Detail)
			}
		}},
		{"names that fold to the same ASCII", func(t *testing.T) Input {
			return input(buildView(t, person{id: "s1", role: "student", given: "José", family: "Núñez"},
				person{id: "s2", role: "student", given: "Jose", family: "Nunez"}))
		}, func(t *testing.T, p *plan.Plan) {
			if got := find(p, "s2").After["userPrincipalName"]; got != "jose.nunez2@oakfield.example" {
				t.Errorf("second UPN = %s, want jose.nunez2@", got)
			}
			if got := find(p, "s1").After["displayName"]; got != "José Núñez" {
				t.Errorf("display name %q lost its accents", got)
			}
		}},
		{"an unmatched existing account holds the wanted UPN", func(t *testing.T) Input {
			return input(buildView(t, person{id: "s1", role: "student", given: "Ada", family: "Byron"}),
				account("acc-1", "ada.byron@oakfield.example", true, nil))
		}, func(t *testing.T, p *plan.Plan) {
			ch := find(p, "s1")
			if ch.Action != plan.Create || ch.After["userPrincipalName"] != "ada.byron2@oakfield.example" {
				t.Errorf("change = %+v, want a create with suffix 2", ch)
			}
		}},
		{"matched by work email and linked", func(t *testing.T) Input {
			return input(buildView(t, person{id: "t1", role: "teacher", given: "Grace", family: "Hopper", email: "G.Hopper@oakfield.example"}),
				Account{ID: "acc-1", UserPrincipalName: "ghopper@oakfield.example", Mail: "g.hopper@oakfield.example", AccountEnabled: true,
					Props: map[string]string{"displayName": "Grace Hopper", "givenName": "Grace", "surname": "Hopper", "employeeId": "IDt1", "jobTitle": "Teacher"}})
		}, func(t *testing.T, p *plan.Plan) {
			ch := find(p, "t1")
			if ch.Action != plan.Link || ch.TargetID != "acc-1" || ch.Detail != "matched by work email" || len(ch.After) != 0 {
				t.Errorf("change = %+v, want a plain link by work email", ch)
			}
		}},
		{"a person who changes surname is updated, username kept", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond-Williams", grade: "9"}),
				account("acc-1", "amy.pond@oakfield.example", true, studentProps("Amy", "Pond", "s1", "9")))
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-1", UserType: "student"}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			ch := find(p, "s1")
			if ch.Action != plan.Update || ch.Before["surname"] != "Pond" || ch.After["surname"] != "Pond-Williams" || ch.After["displayName"] != "Amy Pond-Williams" {
				t.Errorf("change = %+v", ch)
			}
			if _, renamed := ch.After["userPrincipalName"]; renamed || len(ch.After) != 2 {
				t.Errorf("update touches %v, want only surname and displayName", ch.After)
			}
		}},
		{"no change means no change", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond", grade: "9"}),
				account("acc-1", "amy.pond@oakfield.example", true, studentProps("Amy", "Pond", "s1", "9")))
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-1", UserType: "student"}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if len(p.Changes) != 0 || p.Matched != 1 {
				t.Errorf("changes %+v matched %d, want none and 1", p.Changes, p.Matched)
			}
		}},
		{"a leaver is suspended, an unknown account never", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond", grade: "9"}),
				account("acc-1", "amy.pond@oakfield.example", true, studentProps("Amy", "Pond", "s1", "9")),
				account("acc-2", "rory@oakfield.example", true, nil),
				account("acc-3", "head@oakfield.example", true, nil))
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-1"}, {SourceID: "s-gone", TargetID: "acc-2", UserType: "student"}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			ch := find(p, "s-gone")
			if ch == nil || ch.Action != plan.Suspend || ch.TargetID != "acc-2" || ch.Reason != plan.SuspendBecauseLeftMIS {
				t.Fatalf("leaver change = %+v", ch)
			}
			for _, c := range p.Changes {
				if c.TargetID == "acc-3" {
					t.Errorf("an account the MIS never knew was touched: %+v", c)
				}
			}
		}},
		{"a linked account not yet visible is not recreated", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond"}))
			in.Now = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-new", Since: in.Now.Add(-time.Minute)}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if find(p, "s1") != nil || findUnsynced(p, "s1").Reason != plan.UnsyncedBecauseNotVisibleYet {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"a linked account deleted long ago is recreated", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond"}))
			in.Now = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-gone", Since: in.Now.AddDate(0, -1, 0)}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if ch := find(p, "s1"); ch == nil || ch.Action != plan.Create {
				t.Errorf("change = %+v, want a create", ch)
			}
		}},
		{"a leaver who returns is reactivated", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond", grade: "9"}),
				account("acc-1", "amy.pond@oakfield.example", false, studentProps("Amy", "Pond", "s1", "9")))
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-1", Suspended: true}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if ch := find(p, "s1"); ch == nil || ch.Action != plan.Reactivate {
				t.Errorf("returner = %+v, want reactivate", ch)
			}
		}},
		{"an account disabled by someone else stays disabled", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond", grade: "9"}),
				account("acc-1", "amy.pond@oakfield.example", false, studentProps("Amy", "Pond", "s1", "9")))
			in.Links = []Link{{SourceID: "s1", TargetID: "acc-1"}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if find(p, "s1") != nil || findUnsynced(p, "s1").Reason != plan.KeptBecauseDisabledOutsideMIS {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"an excluded person is never touched, not even as a leaver", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond"}),
				account("acc-2", "x@oakfield.example", true, nil))
			in.Excluded = map[string]bool{"s1": true, "s-gone": true}
			in.Links = []Link{{SourceID: "s-gone", TargetID: "acc-2", UserType: "student"}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if len(p.Changes) != 0 || findUnsynced(p, "s1").Reason != plan.UnsyncedBecauseExcluded {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"sync-only mode matches by email and creates nothing", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "t1", role: "teacher", given: "Grace", family: "Hopper", email: "grace@oakfield.example"},
				person{id: "t2", role: "teacher", given: "Alan", family: "Turing", email: "alan@oakfield.example"}),
				Account{ID: "acc-1", UserPrincipalName: "grace@oakfield.example", AccountEnabled: true})
			in.Rules.SyncOnly = true
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if ch := find(p, "t1"); ch == nil || ch.Action != plan.Link {
				t.Errorf("t1 = %+v, want link", ch)
			}
			if find(p, "t2") != nil || findUnsynced(p, "t2").Reason != plan.UnsyncedBecauseSyncOnly {
				t.Errorf("t2 must be unsynced in sync-only mode: %+v", p)
			}
		}},
		{"ambiguous match creates nothing", func(t *testing.T) Input {
			return input(buildView(t, person{id: "t1", role: "teacher", given: "Grace", family: "Hopper", email: "grace@oakfield.example"}),
				Account{ID: "a1", UserPrincipalName: "grace@oakfield.example", AccountEnabled: true},
				Account{ID: "a2", UserPrincipalName: "gh@oakfield.example", Mail: "grace@oakfield.example", AccountEnabled: true})
		}, func(t *testing.T, p *plan.Plan) {
			if find(p, "t1") != nil || findUnsynced(p, "t1").Reason != plan.UnsyncedBecauseAmbiguous {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"an account linked to someone else is not taken", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "t1", role: "teacher", given: "Grace", family: "Hopper", email: "grace@oakfield.example"},
				person{id: "t2", role: "teacher", given: "G", family: "H", email: "x@oakfield.example"}),
				Account{ID: "a1", UserPrincipalName: "grace@oakfield.example", AccountEnabled: true})
			in.Links = []Link{{SourceID: "t2", TargetID: "a1"}}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if u := findUnsynced(p, "t1"); u == nil || u.Reason != plan.UnsyncedBecauseClaimed {
				t.Errorf("t1 = %+v, want unsynced because claimed", u)
			}
		}},
		{"sync start date holds back early enrolments", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "A", family: "Early", begin: "2025-09-01"},
				person{id: "s2", role: "student", given: "B", family: "Late", begin: "2026-01-10"}))
			in.Rules.SyncStartDate = "2026-01-01"
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if findUnsynced(p, "s1").Reason != plan.UnsyncedBecauseBeforeStart || find(p, "s2") == nil {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"people without enrolments only when asked", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "st1", role: "administrator", given: "Office", family: "Manager", unenrolled: true}))
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if len(p.Changes) != 0 || findUnsynced(p, "st1").Reason != plan.UnsyncedBecauseNoEnrolments {
				t.Errorf("unenrolled staff: changes %+v, unsynced %+v; want none and a reason", p.Changes, p.Unsynced)
			}
		}},
		{"people without enrolments synced when switched on", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "st1", role: "administrator", given: "Office", family: "Manager", unenrolled: true}))
			in.Rules.SyncWithoutEnrolments = true
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if ch := find(p, "st1"); ch == nil || ch.After["userPrincipalName"] != "omanager@oakfield.example" || ch.After["jobTitle"] != "Administrator" {
				t.Errorf("change = %+v", ch)
			}
		}},
		{"unverified domain creates nothing", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "A", family: "B"}))
			in.Domains = []string{"other.example"}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			if findUnsynced(p, "s1").Reason != plan.UnsyncedBecauseNoDomain {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"a domain no longer verified holds creation with its name", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "A", family: "B"}))
			in.Domains, in.WasVerified = []string{"gone.example"}, []string{"gone.example", "oakfield.example"}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			u := findUnsynced(p, "s1")
			if len(p.Changes) != 0 || u.Reason != plan.UnsyncedBecauseNoDomain || !strings.Contains(u.Detail, "domain gone.example is no longer verified") {
				t.Errorf("changes %+v, unsynced %+v; want none and \"domain gone.example is no longer verified\"", p.Changes, u)
			}
		}},
		{"a type's domain never verified is named", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "A", family: "B"}))
			in.Domains = append(in.Domains, "new.example")
			st := in.Rules.Types["student"]
			st.Domain = "new.example"
			in.Rules.Types = map[string]tenant.UserTypeConfig{"student": st}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			u := findUnsynced(p, "s1")
			if len(p.Changes) != 0 || u.Reason != plan.UnsyncedBecauseNoDomain || !strings.Contains(u.Detail, "domain new.example is not verified in the tenant") {
				t.Errorf("changes %+v, unsynced %+v", p.Changes, u)
			}
		}},
		{"parents have no rules by default", func(t *testing.T) Input {
			return input(buildView(t, person{id: "p1", role: "parent", given: "Mum", family: "Lee"}))
		}, func(t *testing.T, p *plan.Plan) {
			if findUnsynced(p, "p1").Reason != plan.UnsyncedBecauseActionOff {
				t.Errorf("plan = %+v", p)
			}
		}},
		{"licences and groups for new accounts", func(t *testing.T) Input {
			in := input(buildView(t, person{id: "s1", role: "student", given: "A", family: "B"}))
			st := in.Rules.Types["student"]
			st.Licenses, st.Groups = []string{"sku-a1"}, []string{"grp-students"}
			in.Rules.Types = map[string]tenant.UserTypeConfig{"student": st}
			return in
		}, func(t *testing.T, p *plan.Plan) {
			ch := find(p, "s1")
			pl, err := PayloadOf(*ch)
			if err != nil || len(pl.Licenses) != 1 || len(pl.Groups) != 1 || ch.After["usageLocation"] != "GB" || ch.Writes != 3 {
				t.Errorf("change = %+v, payload %+v, %v", ch, pl, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, Compute(tt.in(t)))
		})
	}
}

func TestDeletionGuard(t *testing.T) {
	var accounts []Account
	var links []Link
	var people []person
	for i := range 100 {
		id := string(rune('a'+i/26)) + string(rune('a'+i%26))
		accounts = append(accounts, account("acc-"+id, id+"@oakfield.example", true, nil))
		links = append(links, Link{SourceID: id, TargetID: "acc-" + id, UserType: "student"})
		if i >= 60 { // 60 leave
			people = append(people, person{id: id, role: "student", given: "P", family: id})
		}
	}
	in := input(buildView(t, people...), accounts...)
	in.Links = links
	p := Compute(in)
	if !p.Guard.Held || p.Guard.Suspends != 60 || p.Guard.Limit != 50 || p.Held() != 60 {
		t.Errorf("guard = %+v with %d held changes, want 60 suspends held over the limit of 50", p.Guard, p.Held())
	}
	in.RosterShrank = true
	in.Links = links[50:] // 10 leavers: under the count limit, held all the same
	p = Compute(in)
	if !p.Guard.Held || p.Guard.Suspends != 10 || p.Held() != 10 || !strings.Contains(p.Guard.Detail, "shrank") {
		t.Errorf("shrunk roster guard = %+v with %d held; want its 10 suspensions held", p.Guard, p.Held())
	}
}

func TestComputeIsDeterministic(t *testing.T) {
	mk := func() Input {
		return input(buildView(t, person{id: "s2", role: "student", given: "Sam", family: "Lee"}, person{id: "s1", role: "student", given: "Sam", family: "Lee"}))
	}
	a, _ := plan.Encode(Compute(mk()))
	b, _ := plan.Encode(Compute(mk()))
	if !bytes.Equal(a, b) {
		t.Error("two computations of the same input differ")
	}
}

// TestGoldenPlans walks testdata/<case>/input.json and compares the plan
// with want.plan.json (rewrite with -update).
func TestGoldenPlans(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var gi goldenInput
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &gi); err != nil {
				t.Fatal(err)
			}
			gi.Roster.Sort()
			v, err := roster.NewView(&gi.Roster, gi.Session, 0)
			if err != nil {
				t.Fatal(err)
			}
			rules := tenant.DefaultUsersConfig()
			if gi.Rules != nil {
				rules = *gi.Rules
			}
			p := Compute(Input{View: v, Dir: gi.Directory, Links: gi.Links, Excluded: gi.Excluded, Rules: rules, Domains: gi.Domains})
			got, err := plan.Encode(p)
			if err != nil {
				t.Fatal(err)
			}
			want := filepath.Join(dir, "want.plan.json")
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantBytes, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, wantBytes) {
				t.Errorf("plan differs from %s (run go test ./internal/userplan -update and review the diff):\n%s", want, got)
			}
			round, err := plan.Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := plan.Encode(round)
			if !bytes.Equal(again, got) {
				t.Error("plan did not survive an encode/decode round trip")
			}
		})
	}
}

type goldenInput struct {
	Roster    roster.Roster       `json:"roster"`
	Session   string              `json:"session"`
	Directory Directory           `json:"directory"`
	Links     []Link              `json:"links"`
	Excluded  map[string]bool     `json:"excluded"`
	Domains   []string            `json:"domains"`
	Rules     *tenant.UsersConfig `json:"rules"`
}
