package roster

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Date
		wantErr bool
	}{
		{name: "empty", in: "", want: 0},
		{name: "plain", in: "2025-09-01", want: NewDate(2025, time.September, 1)},
		{name: "leap day", in: "2024-02-29", want: NewDate(2024, time.February, 29)},
		{name: "not a leap year", in: "2025-02-29", wantErr: true},
		{name: "short month", in: "2025-9-01", wantErr: true},
		{name: "UK order", in: "01/09/2025", wantErr: true},
		{name: "datetime", in: "2025-09-01T00:00:00Z", wantErr: true},
		{name: "month 13", in: "2025-13-01", wantErr: true},
		{name: "signs", in: "+202-09-01", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDate(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrDate) {
					t.Fatalf("ParseDate(%q) error = %v, want ErrDate", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDate(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("ParseDate(%q).String() = %q", tt.in, got.String())
			}
		})
	}
}

func TestDateJSON(t *testing.T) {
	type wrap struct {
		D Date `json:"d,omitzero"`
	}
	b, err := json.Marshal(wrap{D: NewDate(2026, time.July, 22)})
	if err != nil || string(b) != `{"d":"2026-07-22"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	if b, _ := json.Marshal(wrap{}); string(b) != `{}` {
		t.Errorf("Marshal(zero) = %s, want {}", b)
	}
	var w wrap
	if err := json.Unmarshal([]byte(`{"d":"2026-07-22"}`), &w); err != nil || w.D != NewDate(2026, time.July, 22) {
		t.Errorf("Unmarshal = %v, %v", w.D, err)
	}
}

func TestDateWithin(t *testing.T) {
	d := NewDate(2026, time.January, 10)
	tests := []struct {
		begin, end Date
		want       bool
	}{
		{0, 0, true},
		{NewDate(2026, 1, 10), NewDate(2026, 1, 10), true},
		{NewDate(2026, 1, 11), 0, false},
		{0, NewDate(2026, 1, 9), false},
		{NewDate(2025, 9, 1), NewDate(2026, 7, 22), true},
	}
	for _, tt := range tests {
		if got := d.Within(tt.begin, tt.end); got != tt.want {
			t.Errorf("%v.Within(%v, %v) = %v, want %v", d, tt.begin, tt.end, got, tt.want)
		}
	}
}

func TestParseEnum(t *testing.T) {
	tests := []struct {
		in   string
		fold bool
		want Role
		ok   bool
	}{
		{"student", false, RoleStudent, true},
		{"Student", false, "", false},
		{"Student", true, RoleStudent, true},
		{"pupil", true, "", false},
		{"", true, "", false},
	}
	for _, tt := range tests {
		got, ok := Parse(PersonRoles, tt.in, tt.fold)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(PersonRoles, %q, %v) = %q, %v, want %q, %v", tt.in, tt.fold, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Parse(EnrollmentRoles, "guardian", true); ok {
		t.Errorf("Parse(EnrollmentRoles, guardian) accepted a role OneRoster 1.1 enrolments do not have")
	}
}

func TestSortAndLookup(t *testing.T) {
	r := &Roster{
		People: []Person{{SourcedID: "p3"}, {SourcedID: "p1"}, {SourcedID: "p2"}},
		Orgs:   []Org{{SourcedID: "b"}, {SourcedID: "a"}},
	}
	r.Sort()
	ids := func(ps []Person) (out []string) {
		for _, p := range ps {
			out = append(out, p.SourcedID)
		}
		return out
	}
	if got := ids(r.People); !slices.Equal(got, []string{"p1", "p2", "p3"}) {
		t.Fatalf("after Sort people = %v", got)
	}
	if p := r.Person("p2"); p == nil || p != &r.People[1] {
		t.Errorf("Person(p2) = %v, want &People[1]", p)
	}
	if p := r.Person("p4"); p != nil {
		t.Errorf("Person(p4) = %v, want nil", p)
	}
	if o := r.Org("a"); o == nil || o.SourcedID != "a" {
		t.Errorf("Org(a) = %v", o)
	}
	if c := r.Counts(); c.People != 3 || c.Orgs != 2 {
		t.Errorf("Counts() = %+v", c)
	}
}

func TestCompareGrades(t *testing.T) {
	got := []string{"13", "Y7", "07", "KG", "10", "Other", "A"}
	slices.SortFunc(got, CompareGrades)
	want := []string{"KG", "07", "10", "13", "Other", "A", "Y7"}
	if !slices.Equal(got, want) {
		t.Errorf("sorted grades = %v, want %v", got, want)
	}
}

// school returns a small two-school trust: one school year with two terms,
// a registration group and two teaching groups at school s1.
func school() *Roster {
	r := &Roster{
		Orgs: []Org{
			{SourcedID: "t1", Name: "Trust", Type: OrgDistrict},
			{SourcedID: "s1", Name: "School One", Type: OrgSchool, Parent: "t1"},
			{SourcedID: "s2", Name: "School Two", Type: OrgSchool, Parent: "t1"},
		},
		Sessions: []Session{
			{SourcedID: "y25", Type: SessionSchoolYear, Start: NewDate(2024, 9, 1), End: NewDate(2025, 7, 31), SchoolYear: "2025"},
			{SourcedID: "y26", Type: SessionSchoolYear, Start: NewDate(2025, 9, 1), End: NewDate(2026, 7, 31), SchoolYear: "2026"},
			{SourcedID: "y26-t1", Type: SessionTerm, Start: NewDate(2025, 9, 1), End: NewDate(2025, 12, 19), Parent: "y26", SchoolYear: "2026"},
			{SourcedID: "y26-t2", Type: SessionTerm, Start: NewDate(2026, 1, 5), End: NewDate(2026, 7, 31), Parent: "y26", SchoolYear: "2026"},
		},
		Classes: []Class{
			{SourcedID: "c-7A", Type: ClassHomeroom, School: "s1", Terms: []string{"y26"}},
			{SourcedID: "c-7Ma1", Type: ClassScheduled, School: "s1", Terms: []string{"y26-t1", "y26-t2"}},
			{SourcedID: "c-8A", Type: ClassHomeroom, School: "s1", Terms: []string{"y26"}, Grades: []string{"08"}},
			{SourcedID: "c-old", Type: ClassScheduled, School: "s1", Terms: []string{"y25"}},
			{SourcedID: "c-t2only", Type: ClassScheduled, School: "s1", Terms: []string{"y26-t2"}},
		},
		People: []Person{
			{SourcedID: "st1", Role: RoleStudent, Enabled: true, Orgs: []string{"s1"}, Grades: []string{"07"}},
			{SourcedID: "st2", Role: RoleStudent, Enabled: true, Orgs: []string{"s1"}, Grades: []string{"07"}},
			{SourcedID: "st3", Role: RoleStudent, Enabled: false, Orgs: []string{"s1"}, Grades: []string{"07"}},
			{SourcedID: "st4", Role: RoleStudent, Enabled: true, Orgs: []string{"s1"}, Grades: []string{"08"}},
			{SourcedID: "st5", Role: RoleStudent, Enabled: true, Orgs: []string{"s2"}, Grades: []string{"07"}},
			{SourcedID: "te1", Role: RoleTeacher, Enabled: true, Orgs: []string{"s1"}},
			{SourcedID: "te2", Role: RoleTeacher, Enabled: true, Orgs: []string{"s1"}},
		},
		Enrollments: []Enrollment{
			{SourcedID: "e1", Class: "c-7A", Person: "st1", Role: RoleStudent},
			{SourcedID: "e2", Class: "c-7A", Person: "st2", Role: RoleStudent},
			{SourcedID: "e3", Class: "c-7A", Person: "te1", Role: RoleTeacher, Primary: true},
			{SourcedID: "e4", Class: "c-7Ma1", Person: "st1", Role: RoleStudent},
			{SourcedID: "e5", Class: "c-7Ma1", Person: "st2", Role: RoleStudent, End: NewDate(2025, 10, 31)},
			{SourcedID: "e6", Class: "c-old", Person: "te2", Role: RoleTeacher},
			{SourcedID: "e7", Class: "c-7A", Person: "st3", Role: RoleStudent},
			{SourcedID: "e8", Class: "c-t2only", Person: "st1", Role: RoleStudent},
		},
	}
	r.Sort()
	return r
}

func TestNewViewUnknownSession(t *testing.T) {
	if _, err := NewView(school(), "y99", 0); !errors.Is(err, ErrUnknownSession) {
		t.Fatalf("NewView(y99) error = %v, want ErrUnknownSession", err)
	}
}

func TestViewClasses(t *testing.T) {
	tests := []struct {
		session string
		want    []string
	}{
		{"y26", []string{"c-7A", "c-7Ma1", "c-8A", "c-t2only"}},
		// A term sees the whole-year classes (its ancestor) and its own.
		{"y26-t1", []string{"c-7A", "c-7Ma1", "c-8A"}},
		{"y25", []string{"c-old"}},
	}
	for _, tt := range tests {
		v, err := NewView(school(), tt.session, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range v.Classes() {
			got = append(got, c.SourcedID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("NewView(%s).Classes() = %v, want %v", tt.session, got, tt.want)
		}
	}
}

func personIDs(ps []*Person) (out []string) {
	for _, p := range ps {
		out = append(out, p.SourcedID)
	}
	return out
}

func TestViewPeople(t *testing.T) {
	tests := []struct {
		name          string
		on            Date
		active, unenr []string
		classesOfSt2  []string
		membersOf7Ma1 []string
	}{
		{
			name:          "any date",
			active:        []string{"st1", "st2", "te1"},
			unenr:         []string{"st4", "st5", "te2"},
			classesOfSt2:  []string{"c-7A", "c-7Ma1"},
			membersOf7Ma1: []string{"st1", "st2"},
		},
		{
			name:          "after st2 left maths",
			on:            NewDate(2025, 11, 3),
			active:        []string{"st1", "st2", "te1"},
			unenr:         []string{"st4", "st5", "te2"},
			classesOfSt2:  []string{"c-7A"},
			membersOf7Ma1: []string{"st1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewView(school(), "y26", tt.on)
			if err != nil {
				t.Fatal(err)
			}
			if got := personIDs(v.ActivePeople()); !slices.Equal(got, tt.active) {
				t.Errorf("ActivePeople() = %v, want %v", got, tt.active)
			}
			if got := personIDs(v.Unenrolled()); !slices.Equal(got, tt.unenr) {
				t.Errorf("Unenrolled() = %v, want %v", got, tt.unenr)
			}
			var got []string
			for _, m := range v.ClassesOf("st2") {
				got = append(got, m.Class.SourcedID)
			}
			if !slices.Equal(got, tt.classesOfSt2) {
				t.Errorf("ClassesOf(st2) = %v, want %v", got, tt.classesOfSt2)
			}
			got = nil
			for _, m := range v.Members("c-7Ma1") {
				got = append(got, m.Person.SourcedID)
			}
			if !slices.Equal(got, tt.membersOf7Ma1) {
				t.Errorf("Members(c-7Ma1) = %v, want %v", got, tt.membersOf7Ma1)
			}
		})
	}
}

func TestYearGroups(t *testing.T) {
	v, err := NewView(school(), "y26", 0)
	if err != nil {
		t.Fatal(err)
	}
	got := v.YearGroups("s1")
	want := []YearGroup{
		// st3 is disabled; st5 is at the other school. c-7A lists no grade,
		// so it takes its pupils' grade.
		{School: "s1", Grade: "07", Students: []string{"st1", "st2"}, Homerooms: []string{"c-7A"}},
		{School: "s1", Grade: "08", Students: []string{"st4"}, Homerooms: []string{"c-8A"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("YearGroups(s1) = %+v, want %+v", got, want)
	}
	if got := v.Schools(); len(got) != 2 {
		t.Errorf("Schools() = %d orgs, want 2", len(got))
	}
}

func TestRoleKinds(t *testing.T) {
	for _, r := range PersonRoles {
		if r.IsStaff() && r.IsFamily() {
			t.Errorf("%s is both staff and family", r)
		}
	}
	if !RoleTeacher.IsStaff() || RoleStudent.IsStaff() || !RoleGuardian.IsFamily() {
		t.Error("role kinds wrong")
	}
}

// TestViewParentlessTerms: parentSourcedId is optional in OneRoster 1.1, so
// a term without a parent belongs to the school year its dates lie in, as a
// person reading the feed would place it; a term outside those dates, or
// tied to another year, does not.
func TestViewParentlessTerms(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(r *Roster)
		session string
		want    []string
	}{
		{"terms with parents", func(*Roster) {}, "y26", []string{"c-7A", "c-7Ma1", "c-8A", "c-t2only"}},
		{"terms' parents blanked", func(r *Roster) {
			r.Session("y26-t1").Parent = ""
			r.Session("y26-t2").Parent = ""
		}, "y26", []string{"c-7A", "c-7Ma1", "c-8A", "c-t2only"}},
		{"a parentless term outside the year's dates", func(r *Roster) {
			s := r.Session("y26-t2")
			s.Parent, s.End = "", NewDate(2026, 8, 31)
		}, "y26", []string{"c-7A", "c-7Ma1", "c-8A"}},
		{"a parentless term of another year", func(r *Roster) {
			r.Session("y26-t1").Parent = ""
			r.Session("y26-t2").Parent = ""
		}, "y25", []string{"c-old"}},
		{"a term whose parent is another year stays there", func(r *Roster) {
			r.Session("y26-t2").Parent = "y25"
		}, "y26", []string{"c-7A", "c-7Ma1", "c-8A"}},
		{"a parentless term's child grading period", func(r *Roster) {
			r.Session("y26-t2").Parent = ""
			r.Sessions = append(r.Sessions, Session{SourcedID: "y26-t2-gp", Type: SessionGradingPeriod, Start: NewDate(2026, 1, 5), End: NewDate(2026, 2, 1), Parent: "y26-t2"})
			r.Classes = append(r.Classes, Class{SourcedID: "c-gp", Type: ClassScheduled, School: "s1", Terms: []string{"y26-t2-gp"}})
			r.Sort()
		}, "y26", []string{"c-7A", "c-7Ma1", "c-8A", "c-gp", "c-t2only"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := school()
			tt.edit(r)
			v, err := NewView(r, tt.session, 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range v.Classes() {
				got = append(got, c.SourcedID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Classes() = %v, want %v", got, tt.want)
			}
		})
	}
}
