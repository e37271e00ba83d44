package oneroster

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/roster"
)

func TestShrinkGuard(t *testing.T) {
	prev := readSample(t) // 13 people, 8 classes, 22 enrolments
	tests := []struct {
		name      string
		drop      int // people removed, with their enrolments
		maxShrink float64
		previous  bool
		tripped   bool
	}{
		{name: "no previous snapshot", drop: 10, previous: false, tripped: false},
		{name: "unchanged", drop: 0, previous: true, tripped: false},
		{name: "2 of 13 people gone (15%)", drop: 2, previous: true, tripped: false},
		{name: "3 of 13 people gone (23%)", drop: 3, previous: true, tripped: true},
		// Those 3 pupils held 6 of 22 enrolments (27%).
		{name: "3 of 13 gone, threshold 25%", drop: 3, maxShrink: 0.25, previous: true, tripped: true},
		{name: "3 of 13 gone, threshold 30%", drop: 3, maxShrink: 0.30, previous: true, tripped: false},
		{name: "guard off", drop: 12, maxShrink: -1, previous: true, tripped: false},
		{name: "1 of 13 gone, threshold 5%", drop: 1, maxShrink: 0.05, previous: true, tripped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readSample(t)
			// Remove pupils first, and staff too for large drops, with their
			// enrolments, demographics and agent links, keeping the roster
			// valid. adm-0001 always stays.
			gone := map[string]bool{}
			var kept []roster.Person
			for _, p := range r.People {
				canGo := p.Role == roster.RoleStudent || tt.drop > 7 && p.SourcedID != "adm-0001"
				if canGo && len(gone) < tt.drop {
					gone[p.SourcedID] = true
					continue
				}
				kept = append(kept, p)
			}
			r.People = kept
			r.Enrollments = filter(r.Enrollments, func(e roster.Enrollment) bool { return !gone[e.Person] })
			r.Demographics = filter(r.Demographics, func(d roster.Demographics) bool { return !gone[d.SourcedID] })
			for i := range r.People {
				r.People[i].Agents = filter(r.People[i].Agents, func(a string) bool { return !gone[a] })
			}
			opts := &ValidateOptions{MaxShrink: tt.maxShrink}
			if tt.previous {
				opts.Previous = prev
			}
			f, err := Validate(r, opts)
			if err != nil {
				t.Fatalf("Validate error: %v", err)
			}
			if f.Guard.Tripped != tt.tripped {
				t.Errorf("Guard = %+v, want Tripped %v", f.Guard, tt.tripped)
			}
			if err := f.Guard.Err(); (err != nil) != tt.tripped || tt.tripped && !errors.Is(err, ErrShrink) {
				t.Errorf("Guard.Err() = %v, want ErrShrink: %v", err, tt.tripped)
			}
		})
	}
}

func filter[T any](s []T, keep func(T) bool) []T {
	var out []T
	for _, v := range s {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func TestGuardEmptyFeed(t *testing.T) {
	// The spec's worst case: a truncated export with headers only.
	empty := &roster.Roster{}
	f, err := Validate(empty, &ValidateOptions{Previous: readSample(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Guard.Tripped {
		t.Fatalf("an empty feed against a full snapshot did not trip the guard: %+v", f.Guard)
	}
	msg := f.Guard.Err().Error()
	for _, want := range []string{"users 13 -> 0 (100% fewer)", "enrollments 22 -> 0", "more than 20%"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Guard.Err() = %q, want it to contain %q", msg, want)
		}
	}
}

// TestValidate covers Validate on rosters from other sources, where no
// line is known.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *roster.Roster)
		opts   ValidateOptions
		want   ParseError
	}{
		{name: "duplicate person", change: func(r *roster.Roster) { r.People = append(r.People, r.People[0]) },
			want: ParseError{File: "users.csv", Column: "sourcedId", Value: "adm-0001", Err: ErrDuplicateID}},
		{name: "session cycle", change: func(r *roster.Roster) { r.Session("ay-2025").Parent = "ay-2025-t1" },
			want: ParseError{File: "academicSessions.csv", Column: "parentSourcedId", Err: ErrCycle}},
		{name: "course at a missing org", change: func(r *roster.Roster) { r.Course("crs-ma7").Org = "sch-zz" },
			want: ParseError{File: "courses.csv", Column: "orgSourcedId", Value: "sch-zz", Err: ErrUnknownRef}},
		{name: "course in a missing school year", change: func(r *roster.Roster) { r.Course("crs-ma7").SchoolYear = "ay-1999" },
			want: ParseError{File: "courses.csv", Column: "schoolYearSourcedId", Value: "ay-1999", Err: ErrUnknownRef}},
		{name: "teacher with no school or trust", change: func(r *roster.Roster) {
			r.Person("tch-0002").Orgs = []string{"dept-kb-sci"}
			r.Org("dept-kb-sci").Parent = "" // a department under no school
		},
			want: ParseError{File: "users.csv", Column: "orgSourcedIds", Value: "dept-kb-sci", Err: ErrNoSchool}},
		{name: "enrolment at a department", change: func(r *roster.Roster) { r.Enrollment("enr-7kb-stu-0001").School = "dept-kb-sci" },
			want: ParseError{File: "enrollments.csv", Column: "schoolSourcedId", Value: "dept-kb-sci", Err: ErrWrongOrgType}},
		{name: "two school years on the date", change: func(r *roster.Roster) { r.Session("ay-2024").End = roster.NewDate(2025, 12, 31) },
			opts: ValidateOptions{On: roster.NewDate(2025, 10, 1)},
			want: ParseError{File: "academicSessions.csv", Column: "type", Value: "ay-2024,ay-2025", Err: ErrNoActiveSession}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readSample(t)
			tt.change(r)
			tt.opts.MaxQuarantine = -1 // one bad row of the sample is within the cap
			f, err := Validate(r, &tt.opts)
			if f != nil {
				t.Errorf("Validate returned a feed alongside %v", err)
			}
			var list *ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Validate error = %v, want *ErrorList", err)
			}
			for _, got := range list.Errs {
				if got.File == tt.want.File && got.Line == 0 && got.Column == tt.want.Column &&
					(tt.want.Value == "" || got.Value == tt.want.Value) && errors.Is(got, tt.want.Err) {
					return
				}
			}
			t.Errorf("Validate errors:\n%v\nwant one at %s column %q value %q matching %v", err, tt.want.File, tt.want.Column, tt.want.Value, tt.want.Err)
		})
	}
}

func TestActiveSession(t *testing.T) {
	tests := []struct {
		opts ValidateOptions
		want string
	}{
		{ValidateOptions{}, ""},
		{ValidateOptions{Session: "ay-2025-t2"}, "ay-2025-t2"},
		{ValidateOptions{On: roster.NewDate(2026, 2, 1)}, "ay-2025"},
		{ValidateOptions{On: roster.NewDate(2025, 2, 1)}, "ay-2024"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.opts), func(t *testing.T) {
			f, err := Validate(readSample(t), &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if f.Session != tt.want {
				t.Errorf("Session = %q, want %q", f.Session, tt.want)
			}
		})
	}
}

func TestTrustStaffNeedNoSchool(t *testing.T) {
	r := readSample(t)
	if got := r.Person("adm-0001").Orgs; len(got) != 1 || got[0] != "trust-kl" {
		t.Fatalf("fixture changed: adm-0001 orgs %v", got)
	}
	if _, err := Validate(r, nil); err != nil {
		t.Errorf("Validate with central trust staff: %v", err)
	}
}
