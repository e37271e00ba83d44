package oneroster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestQuarantine: a problem confined to one row drops that row with a
// located reason and the rest of the feed is accepted; beyond the cap (5%
// of a file's rows by default, here 1 of the sample's 22 enrolments) the
// feed is refused whole, listing every row.
func TestQuarantine(t *testing.T) {
	type want struct {
		file, column string
		line         int
		err          error
		text         string
	}
	tests := []struct {
		name  string
		edits []edit
		opts  ValidateOptions
		// gone are sourcedIds the accepted roster must lack.
		gone []string
		want []want
		// refused is the cause of a refusal; nil means accepted.
		refused error
	}{
		{name: "a pupil enrolled as a teacher", edits: []edit{replace("enrollments.csv", "cls-7kb,sch-kb,stu-0002,student", "cls-7kb,sch-kb,stu-0002,teacher")},
			gone: []string{"enr-7kb-stu-0002"},
			want: []want{{"enrollments.csv", "role", 8, ErrContradiction, "since stu-0002 has role student"}}},
		{name: "primary on a student enrolment", edits: []edit{replace("enrollments.csv", "stu-0002,student,,", "stu-0002,student,true,")},
			gone: []string{"enr-7kb-stu-0002"},
			want: []want{{"enrollments.csv", "primary", 8, ErrContradiction, "primary only on teacher enrolments"}}},
		{name: "an enrolment in a class the feed lacks", edits: []edit{replace("enrollments.csv", "enr-7kb-stu-0002,,,cls-7kb", "enr-7kb-stu-0002,,,cls-gone")},
			gone: []string{"enr-7kb-stu-0002"},
			want: []want{{"enrollments.csv", "classSourcedId", 8, ErrUnknownRef, "classes.csv"}}},
		{name: "a bad role quarantines the person and, in turn, their enrolments",
			edits: []edit{replace("users.csv", "stu-0002,,,true,sch-kb,student", "stu-0002,,,true,sch-kb,pupil")},
			opts:  ValidateOptions{MaxQuarantine: 0.2},
			gone:  []string{"stu-0002", "enr-7kb-stu-0002", "enr-7ma1-stu-0002"},
			want: []want{
				{"users.csv", "role", 6, ErrBadEnum, "one of"},
				{"enrollments.csv", "userSourcedId", 8, ErrUnknownRef, "stu-0002 was quarantined at users.csv line 6"},
				{"enrollments.csv", "userSourcedId", 13, ErrUnknownRef, "stu-0002 was quarantined at users.csv line 6"},
			}},
		{name: "two bad enrolments of 22 exceed the default cap",
			edits: []edit{
				replace("enrollments.csv", "cls-7kb,sch-kb,stu-0002,student", "cls-7kb,sch-kb,stu-0002,teacher"),
				replace("enrollments.csv", "cls-7ma1,sch-kb,stu-0002,student", "cls-7ma1,sch-kb,stu-0002,teacher"),
			},
			refused: ErrQuarantineCap,
			want: []want{
				{"enrollments.csv", "role", 8, ErrContradiction, ""},
				{"enrollments.csv", "role", 13, ErrContradiction, ""},
				{"enrollments.csv", "", 0, ErrQuarantineCap, "at most 1 of its 22 rows"},
			}},
		{name: "a higher cap from the profile accepts them",
			edits: []edit{
				replace("enrollments.csv", "cls-7kb,sch-kb,stu-0002,student", "cls-7kb,sch-kb,stu-0002,teacher"),
				replace("enrollments.csv", "cls-7ma1,sch-kb,stu-0002,student", "cls-7ma1,sch-kb,stu-0002,teacher"),
			},
			opts: ValidateOptions{MaxQuarantine: 0.1},
			gone: []string{"enr-7kb-stu-0002", "enr-7ma1-stu-0002"},
			want: []want{{"enrollments.csv", "role", 8, ErrContradiction, ""}, {"enrollments.csv", "role", 13, ErrContradiction, ""}}},
		{name: "quarantine off refuses one row", edits: []edit{replace("enrollments.csv", "cls-7kb,sch-kb,stu-0002,student", "cls-7kb,sch-kb,stu-0002,teacher")},
			opts: ValidateOptions{MaxQuarantine: -1}, refused: ErrContradiction,
			want: []want{{"enrollments.csv", "role", 8, ErrContradiction, ""}}},
		{name: "a duplicate id is structural, never quarantined", edits: []edit{replace("enrollments.csv", "enr-7kb-stu-0002,", "enr-7kb-stu-0001,")},
			refused: ErrDuplicateID,
			want:    []want{{"enrollments.csv", "sourcedId", 8, ErrDuplicateID, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadDir(t, sampleDir)
			for _, e := range tt.edits {
				e(t, m)
			}
			opts := tt.opts
			opts.Session = "ay-2025"
			feed, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: opts})
			if tt.refused != nil {
				var list *ErrorList
				if feed != nil || !errors.As(err, &list) || !errors.Is(err, tt.refused) {
					t.Fatalf("Read = %v, %v; want a refusal with %v", feed, err, tt.refused)
				}
				for _, w := range tt.want {
					if !slices.ContainsFunc(list.Errs, func(e *ParseError) bool {
						return e.File == w.file && e.Line == w.line && e.Column == w.column && errors.Is(e, w.err) && strings.Contains(e.Want, w.text)
					}) {
						t.Errorf("errors:\n%v\nwant one at %s:%d column %q (%v)", err, w.file, w.line, w.column, w.err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(feed.Quarantined) != len(tt.want) {
				t.Errorf("quarantined %d problems, want %d: %v", len(feed.Quarantined), len(tt.want), feed.Quarantined)
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(feed.Quarantined, func(q Quarantined) bool {
					return q.File == w.file && q.Line == w.line && q.Column == w.column && errors.Is(q.Err, w.err) && strings.Contains(q.Reason, w.text)
				}) {
					t.Errorf("quarantined %v, want one at %s:%d column %q (%v) saying %q", feed.Quarantined, w.file, w.line, w.column, w.err, w.text)
				}
			}
			r := feed.Roster
			for _, id := range tt.gone {
				if r.Person(id) != nil || r.Enrollment(id) != nil {
					t.Errorf("%s is still in the roster", id)
				}
			}
			if r.Person("stu-0001") == nil || r.Enrollment("enr-7kb-stu-0001") == nil {
				t.Error("rows without problems were dropped")
			}
		})
	}
}

// TestQuarantineWithholdsPersonalValues: a quarantined user's bad name is
// not carried in the list, which is logged and shown.
func TestQuarantineWithholdsPersonalValues(t *testing.T) {
	m := loadDir(t, sampleDir)
	replace("users.csv", "Oliver", "Oli\x00ver")(t, m)
	feed, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{MaxQuarantine: 0.2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range feed.Quarantined {
		if strings.Contains(q.Value, "Oli") || strings.Contains(q.String(), "Oli") {
			t.Errorf("quarantine entry %q carries a name", q.String())
		}
	}
	if !slices.ContainsFunc(feed.Quarantined, func(q Quarantined) bool { return q.Column == "givenName" && q.SourcedID == "stu-0002" }) {
		t.Errorf("quarantined = %v, want stu-0002's givenName", feed.Quarantined)
	}
}

// TestDepartmentMembership: a person whose only org is a department
// belongs to the school above it.
func TestDepartmentMembership(t *testing.T) {
	m := loadDir(t, sampleDir)
	replace("users.csv", "tch-0002,,,true,sch-kb,", "tch-0002,,,true,dept-kb-sci,")(t, m)
	feed, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{MaxQuarantine: -1}})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if p := feed.Roster.Person("tch-0002"); p == nil || !slices.Equal(p.Orgs, []string{"dept-kb-sci", "sch-kb"}) {
		t.Errorf("tch-0002 = %+v, want orgs dept-kb-sci and its school sch-kb", p)
	}
}

// TestTolerance: harmless deviations of real exports read as meant.
func TestTolerance(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		check func(t *testing.T, f *Feed)
	}{
		{"OneRoster 1.0 userSourcedId in demographics", []edit{replace("demographics.csv", "sourcedId,", "userSourcedId,")},
			func(t *testing.T, f *Feed) {
				if len(f.Roster.Demographics) == 0 {
					t.Error("no demographics read")
				}
			}},
		{"dateLastModified with a space and no zone", []edit{replace("users.csv", "stu-0002,,,", "stu-0002,,2025-09-01 07:30:00,")},
			func(t *testing.T, f *Feed) {
				if got := f.Roster.Person("stu-0002").Modified.Format(time.RFC3339); got != "2025-09-01T07:30:00Z" {
					t.Errorf("Modified = %s", got)
				}
			}},
		{"OneRoster 1.0 sessions without schoolYear", []edit{func(t *testing.T, m fstest.MapFS) {
			var b strings.Builder
			for line := range strings.SplitSeq(strings.TrimSpace(string(m["academicSessions.csv"].Data)), "\n") {
				b.WriteString(line[:strings.LastIndexByte(line, ',')] + "\n")
			}
			m["academicSessions.csv"] = &fstest.MapFile{Data: []byte(b.String())}
		}}, func(t *testing.T, f *Feed) {
			if y := f.Roster.Session("ay-2025").SchoolYear; y != "2026" {
				t.Errorf("schoolYear = %q, want 2026 from the end date", y)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadDir(t, sampleDir)
			for _, e := range tt.edits {
				e(t, m)
			}
			f, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{Session: "ay-2025", MaxQuarantine: -1}})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			tt.check(t, f)
		})
		if strings.Contains(tt.name, "userSourcedId") {
			continue // header aliases hold in strict reads too, as termSourcedId always has: no strict case
		}
		t.Run(tt.name+", strict", func(t *testing.T) {
			m := loadDir(t, sampleDir)
			for _, e := range tt.edits {
				e(t, m)
			}
			if _, err := Read(context.Background(), m, &ReadOptions{Strict: true, ValidateOptions: ValidateOptions{Session: "ay-2025"}}); err == nil {
				t.Error("strict read accepted the deviation")
			}
		})
	}
}
