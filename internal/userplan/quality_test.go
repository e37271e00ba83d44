package userplan

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/rostersync/rostersync/internal/naming"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// onceEach checks that every person has at most one verdict: one entry in
// Changes or Unsynced, never two, so counts are counts of people.
func onceEach(t *testing.T, p *plan.Plan) {
	t.Helper()
	seen := map[string]string{}
	for _, ch := range p.Changes {
		if was, dup := seen[ch.Key]; dup {
			t.Errorf("%s has two verdicts: %s and change %s", ch.Key, was, ch.Action)
		}
		seen[ch.Key] = "change " + string(ch.Action)
	}
	for _, u := range p.Unsynced {
		if was, dup := seen[u.Key]; dup {
			t.Errorf("%s has two verdicts: %s and unsynced %s", u.Key, was, u.Reason)
		}
		seen[u.Key] = "unsynced " + string(u.Reason)
	}
}

func unsyncedTotal(p *plan.Plan) int {
	n := 0
	for _, c := range p.Summarize().Unsynced {
		n += c
	}
	return n
}

// TestUnsyncedCountsPeople: N people left alone count N. A linked person
// who lost every enrolment used to be listed both as "no enrolments" and
// by the leavers pass (kept because the roster shrank, or deactivate off),
// which doubled the count a shrunk feed reported.
func TestUnsyncedCountsPeople(t *testing.T) {
	const n = 5
	// Five linked pupils who have lost their enrolments, one enrolled.
	mk := func(t *testing.T) Input {
		people := []person{{id: "s0", role: "student", given: "Amy", family: "Pond", grade: "9"}}
		accounts := []Account{account("acc-s0", "amy.pond@oakfield.example", true, studentProps("Amy", "Pond", "s0", "9"))}
		links := []Link{{SourceID: "s0", TargetID: "acc-s0", UserType: "student"}}
		for i := 1; i <= n; i++ {
			id := fmt.Sprintf("s%d", i)
			people = append(people, person{id: id, role: "student", given: "P", family: id, grade: "9", unenrolled: true})
			accounts = append(accounts, account("acc-"+id, id+"@oakfield.example", true, studentProps("P", id, id, "9")))
			links = append(links, Link{SourceID: id, TargetID: "acc-" + id, UserType: "student"})
		}
		in := input(buildView(t, people...), accounts...)
		in.Links = links
		return in
	}
	tests := []struct {
		name         string
		in           func(t *testing.T) Input
		unsynced     int
		suspends     int
		wantReason   plan.Reason
		detailSaying string
	}{
		{"feed shrank: suspensions planned held, none unsynced", func(t *testing.T) Input {
			in := mk(t)
			in.RosterShrank = true
			return in
		}, 0, n, "", ""},
		{"deactivate off: unsynced, counted once", func(t *testing.T) Input {
			in := mk(t)
			st := in.Rules.Types[tenant.UserStudent]
			st.Deactivate = false
			in.Rules.Types[tenant.UserStudent] = st
			return in
		}, n, 0, plan.UnsyncedBecauseActionOff, "no current enrolment"},
		{"suspended, not also unsynced", mk, 0, n, "", ""},
		{"never linked: unsynced for no enrolments", func(t *testing.T) Input {
			in := mk(t)
			in.Links = in.Links[:1]
			return in
		}, n, 0, plan.UnsyncedBecauseNoEnrolments, "no current enrolment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(tt.in(t))
			onceEach(t, p)
			if got := unsyncedTotal(p); got != tt.unsynced {
				t.Errorf("unsynced count = %d, want %d: %+v", got, tt.unsynced, p.Unsynced)
			}
			if got := p.Summarize().Actions[plan.Suspend]; got != tt.suspends {
				t.Errorf("suspends = %d, want %d", got, tt.suspends)
			}
			for _, u := range p.Unsynced {
				if u.Reason != tt.wantReason || !strings.Contains(u.Detail, tt.detailSaying) {
					t.Errorf("unsynced %+v, want reason %s saying %q", u, tt.wantReason, tt.detailSaying)
				}
			}
			if p.Matched != 1 {
				t.Errorf("matched = %d, want 1 (the enrolled pupil)", p.Matched)
			}
		})
	}
}

// TestDisabledAccountCountedOnce: an account disabled outside rostersync
// whose fields change gets its update (saying it stays disabled) and is
// not also listed as unsynced; with nothing to change it is listed as kept
// and not also counted as matched.
func TestDisabledAccountCountedOnce(t *testing.T) {
	in := input(buildView(t, person{id: "s1", role: "student", given: "Amy", family: "Pond-Williams", grade: "9"},
		person{id: "s2", role: "student", given: "Rory", family: "Pond", grade: "9"}),
		account("acc-1", "amy.pond@oakfield.example", false, studentProps("Amy", "Pond", "s1", "9")),
		account("acc-2", "rory.pond@oakfield.example", false, studentProps("Rory", "Pond", "s2", "9")))
	in.Links = []Link{{SourceID: "s1", TargetID: "acc-1"}, {SourceID: "s2", TargetID: "acc-2"}}
	p := Compute(in)
	onceEach(t, p)
	if ch := find(p, "s1"); ch == nil || ch.Action != plan.Update || !strings.Contains(ch.Detail, "left disabled") {
		t.Errorf("s1 = %+v, want an update saying the account stays disabled", ch)
	}
	if u := findUnsynced(p, "s2"); u == nil || u.Reason != plan.KeptBecauseDisabledOutsideMIS {
		t.Errorf("s2 = %+v, want kept because disabled outside rostersync", u)
	}
	if p.Matched != 0 || unsyncedTotal(p) != 1 {
		t.Errorf("matched %d, unsynced %d; want 0 and 1", p.Matched, unsyncedTotal(p))
	}
}

// graphSafe checks every value a change writes: no control or format
// character, within Graph's limit.
func graphSafe(t *testing.T, ch *plan.Change) {
	t.Helper()
	for k, v := range ch.After {
		for _, r := range v {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
				t.Errorf("%s %s = %q holds %U", ch.Key, k, v, r)
			}
		}
		if limit, ok := tenant.AccountProperties[k]; ok && len(utf16.Encode([]rune(v))) > limit {
			t.Errorf("%s %s has %d characters, Graph takes %d", ch.Key, k, len(utf16.Encode([]rune(v))), limit)
		}
	}
	if upn := ch.After["userPrincipalName"]; upn != "" {
		local, _, _ := strings.Cut(upn, "@")
		if !naming.ValidAlias(local) {
			t.Errorf("%s: UPN %q", ch.Key, upn)
		}
	}
	if nick := ch.After["mailNickname"]; len(nick) > naming.MaxMailNickname {
		t.Errorf("%s: mailNickname %q too long", ch.Key, nick)
	}
}

// TestNamesAreCleanedForGraph: control and format characters never reach
// a Graph property, over-long values are shortened to Graph's limits, and
// the change says both; an identifier too long for employeeId is left
// unset rather than cut into someone else's.
func TestNamesAreCleanedForGraph(t *testing.T) {
	long := strings.Repeat("Bartholomew", 30) // 330 characters
	r := &roster.Roster{
		Orgs:     []roster.Org{{SourcedID: "sch", Name: "Oakfield\u202e Academy", Type: roster.OrgSchool}},
		Sessions: []roster.Session{{SourcedID: "y2026", Title: "2025/26", Type: roster.SessionSchoolYear, SchoolYear: "2026"}},
		Classes:  []roster.Class{{SourcedID: "c1", Title: "7A", Type: roster.ClassScheduled, School: "sch", Terms: []string{"y2026"}}},
		People: []roster.Person{
			{SourcedID: "s1", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, GivenName: "Jo\x00hn", FamilyName: "Sm\u202eith\u202c", Identifier: "A1", Grades: []string{"9"}},
			{SourcedID: "s2", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, GivenName: "Ali\u200bce\tMay", FamilyName: "Ng\r\n\u0085", Identifier: "A2", Grades: []string{"9"}},
			{SourcedID: "s3", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, GivenName: long, FamilyName: "Lee", Identifier: "A3", Grades: []string{"9"}},
			{SourcedID: "s4", Role: roster.RoleStudent, Enabled: true, Orgs: []string{"sch"}, GivenName: "Zoë", FamilyName: strings.Repeat("e\u0301", 40), Identifier: "ADM-2025-000000012345", Grades: []string{"9"}},
			{SourcedID: "t1", Role: roster.RoleTeacher, Enabled: true, Orgs: []string{"sch"}, GivenName: "Grace", FamilyName: "Hop\u2066per", Identifier: "T1"},
		},
	}
	for _, p := range r.People {
		r.Enrollments = append(r.Enrollments, roster.Enrollment{SourcedID: "e-" + p.SourcedID, Class: "c1", School: "sch", Person: p.SourcedID, Role: p.Role})
	}
	r.Sort()
	v, err := roster.NewView(r, "y2026", 0)
	if err != nil {
		t.Fatal(err)
	}
	in := input(v, account("acc-t1", "ghopper@oakfield.example", true,
		map[string]string{"displayName": "Grace Hopper", "givenName": "Grace", "surname": "Hopper", "employeeId": "T1", "jobTitle": "Old"}))
	in.Links = []Link{{SourceID: "t1", TargetID: "acc-t1", UserType: "teacher"}}
	st := in.Rules.Types[tenant.UserStudent]
	st.Mappings = append(st.Mappings, tenant.PropertyMapping{Property: "companyName", From: "school"})
	in.Rules.Types[tenant.UserStudent] = st
	p := Compute(in)
	onceEach(t, p)

	want := []struct {
		key    string
		fields map[string]string
		detail []string
	}{
		{"s1", map[string]string{"givenName": "John", "surname": "Smith", "displayName": "John Smith", "userPrincipalName": "john.smith@oakfield.example", "companyName": "Oakfield Academy"},
			[]string{"givenName: control or format characters removed", "surname: control or format characters removed", "companyName: control or format characters removed"}},
		{"s2", map[string]string{"givenName": "Alice May", "surname": "Ng", "displayName": "Alice May Ng", "userPrincipalName": "alicemay.ng@oakfield.example"},
			[]string{"givenName: control or format characters removed"}},
		{"s3", map[string]string{"givenName": long[:64], "displayName": (long + " Lee")[:256]},
			[]string{"givenName shortened to 64 characters", "displayName shortened to 256 characters", "username from template {given}.{family}, shortened to 64 characters"}},
		{"s4", map[string]string{"surname": strings.Repeat("e\u0301", 32)},
			[]string{"employeeId left unset: the value has 21 characters, Graph takes 16"}},
		{"t1", map[string]string{"jobTitle": "Teacher"}, nil},
	}
	for _, w := range want {
		ch := find(p, w.key)
		if ch == nil {
			t.Errorf("%s: no change; unsynced %+v", w.key, findUnsynced(p, w.key))
			continue
		}
		graphSafe(t, ch)
		for k, v := range w.fields {
			if ch.After[k] != v {
				t.Errorf("%s %s = %q, want %q", w.key, k, ch.After[k], v)
			}
		}
		for _, d := range w.detail {
			if !strings.Contains(ch.Detail, d) {
				t.Errorf("%s detail %q does not say %q", w.key, ch.Detail, d)
			}
		}
	}
	if _, set := find(p, "s4").After["employeeId"]; set {
		t.Errorf("s4 employeeId = %q, want it left unset", find(p, "s4").After["employeeId"])
	}
	// t1's cleaned surname is the account's already: no churn, no note.
	if ch := find(p, "t1"); ch == nil || len(ch.After) != 1 || strings.Contains(ch.Detail, "surname") {
		t.Errorf("t1 = %+v, want an update of jobTitle alone", ch)
	}
}

// TestCleanProperty covers the cleaning rules directly.
func TestCleanProperty(t *testing.T) {
	tests := []struct {
		in, want     string
		limit        int
		cleaned, cut bool
	}{
		{"Amy Pond", "Amy Pond", 0, false, false},
		{"  Amy  ", "Amy", 0, false, false},
		{"Amy\tPond", "Amy Pond", 0, true, false},
		{"Amy \r\n Pond", "Amy Pond", 0, true, false},
		{"A\x00m\x7fy\u0085", "Amy", 0, true, false},
		{"\u202eyma\u202c", "yma", 0, true, false},
		{"Ali\u200bce\ufeff\u00ad", "Alice", 0, true, false},
		{"Zo\xffe", "Zo\ufffde", 0, true, false},
		{"abcdef", "abc", 3, false, true},
		{"ab e", "ab", 3, false, true},
		{"abe\u0301", "ab", 3, false, true},    // the accent stays with its letter
		{"ab\U0001F600", "ab", 3, false, true}, // an emoji takes two UTF-16 units
		{"ab\U0001F600", "ab\U0001F600", 4, false, false},
	}
	for _, tt := range tests {
		got, cleaned, cut := cleanProperty(tt.in, tt.limit)
		if got != tt.want || cleaned != tt.cleaned || cut != tt.cut {
			t.Errorf("cleanProperty(%q, %d) = %q, %t, %t; want %q, %t, %t", tt.in, tt.limit, got, cleaned, cut, tt.want, tt.cleaned, tt.cut)
		}
	}
}

// FuzzCleanProperty: whatever the input, the output holds no control or
// format character, is valid UTF-8 and fits the limit.
func FuzzCleanProperty(f *testing.F) {
	for _, s := range []string{"Zoë", "Jo\x00hn", "\u202eAmy", "a\u0301\u0301", "\U0001F600x", "\xff", strings.Repeat("é", 70)} {
		f.Add(s, uint8(64))
	}
	f.Fuzz(func(t *testing.T, s string, limit uint8) {
		got, _, _ := cleanProperty(s, int(limit))
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("cleanProperty(%q) = %q holds %U", s, got, r)
			}
		}
		if n := len(utf16.Encode([]rune(got))); limit > 0 && n > int(limit) {
			t.Fatalf("cleanProperty(%q, %d) = %q, %d units", s, limit, got, n)
		}
		if again, cleaned, cut := cleanProperty(got, int(limit)); again != got || cleaned || cut {
			t.Fatalf("cleanProperty is not idempotent: %q -> %q", got, again)
		}
	})
}
