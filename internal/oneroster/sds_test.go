package oneroster

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rostersync/rostersync/internal/roster"
)

const sdsDir = "../../testdata/sds/"

// TestSDSGolden reads our SDS fixtures (classic v1, its UK variant, v2.1)
// into the canonical roster and compares it with a golden model. The
// format is detected, and the roster must sync: every person enrolled in
// the active session.
func TestSDSGolden(t *testing.T) {
	tests := []struct {
		dir     string
		format  Format
		session string
		active  int
	}{
		{"v1", FormatSDSv1, "school-year-2026", 3},
		{"v1-uk", FormatSDSv1, "ay2526", 2},
		{"v2.1", FormatSDSv21, "ay-2026", 2},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			fsys := os.DirFS(sdsDir + tt.dir)
			if got := Detect(fsys); got != tt.format {
				t.Fatalf("Detect = %q, want %q", got, tt.format)
			}
			feed, err := ReadFormat(context.Background(), fsys, "", &ReadOptions{ValidateOptions: ValidateOptions{On: roster.NewDate(2025, 10, 1)}})
			if err != nil {
				t.Fatalf("ReadFormat: %v", err)
			}
			if feed.Session != tt.session {
				t.Errorf("Session = %q, want %q", feed.Session, tt.session)
			}
			if len(feed.Quarantined) > 0 {
				t.Errorf("quarantined %v", feed.Quarantined)
			}
			v, err := roster.NewView(feed.Roster, feed.Session, roster.NewDate(2025, 10, 1))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(v.ActivePeople()); n != tt.active {
				t.Errorf("%d people active in %s, want %d", n, feed.Session, tt.active)
			}
			golden(t, sdsDir+tt.dir+".golden.json", marshal(t, feed.Roster))
		})
	}
}

// TestSDSBadInput: SDS problems are located by SDS file, line and header;
// row problems quarantine within the cap, structural ones refuse.
func TestSDSBadInput(t *testing.T) {
	type edit struct{ file, old, new string }
	tests := []struct {
		name    string
		dir     string
		edits   []edit
		opts    ValidateOptions
		refused error
		want    ParseError
	}{
		{name: "missing required column", dir: "v1", edits: []edit{{"Student.csv", "SIS ID,School SIS ID,Username", "SIS ID,School SIS ID,Login"}},
			refused: ErrMissingColumn, want: ParseError{File: "Student.csv", Line: 1, Column: "Username"}},
		{name: "missing required file", dir: "v1", edits: []edit{{"Teacher.csv", "", ""}},
			refused: ErrMissingFile, want: ParseError{File: "Teacher.csv"}},
		{name: "a student enrolled twice over is a duplicate", dir: "v1", edits: []edit{{"StudentEnrollment.csv", "sec-7en,stu-1", "sec-7ma,stu-1"}},
			refused: ErrDuplicateID, want: ParseError{File: "StudentEnrollment.csv", Line: 4, Column: "SIS ID"}},
		{name: "one term with two sets of dates", dir: "v1", edits: []edit{{"Section.csv", "term-spr,Spring 2026", "term-aut,Spring 2026"}},
			refused: ErrContradiction, opts: ValidateOptions{MaxQuarantine: -1}, want: ParseError{File: "Section.csv", Line: 3, Column: "Term StartDate"}},
		{name: "a student on a teacher roster", dir: "v1", edits: []edit{{"TeacherRoster.csv", "sec-7reg,tch-1", "sec-7reg,stu-2"}},
			refused: ErrContradiction, opts: ValidateOptions{MaxQuarantine: -1}, want: ParseError{File: "TeacherRoster.csv", Line: 3, Column: "SIS ID", Value: "teacher"}},
		{name: "v2.1 unknown role", dir: "v2.1", edits: []edit{{"roles.csv", "u-stu,sch-1,student", "u-stu,sch-1,pupil"}},
			refused: ErrBadEnum, opts: ValidateOptions{MaxQuarantine: -1}, want: ParseError{File: "roles.csv", Line: 2, Column: "role", Value: "pupil"}},
		{name: "v2.1 user without roles", dir: "v2.1", edits: []edit{{"roles.csv", "u-lab,dept-sci,staff,,,true,,\n", ""}},
			refused: ErrNoSchool, opts: ValidateOptions{MaxQuarantine: -1}, want: ParseError{File: "users.csv", Line: 4, Column: "sourcedId", Value: "u-lab"}},
		{name: "v2.1 enrolment in a missing class", dir: "v2.1", edits: []edit{{"enrollments.csv", "cls-8reg,u-stu", "cls-9xx,u-stu"}},
			refused: ErrUnknownRef, opts: ValidateOptions{MaxQuarantine: -1}, want: ParseError{File: "enrollments.csv", Line: 4, Column: "classSourcedId", Value: "cls-9xx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadDir(t, sdsDir+tt.dir)
			for _, e := range tt.edits {
				if e.old == "" {
					delete(m, e.file)
					continue
				}
				s := string(m[e.file].Data)
				if !strings.Contains(s, e.old) {
					t.Fatalf("%s lacks %q", e.file, e.old)
				}
				m[e.file] = &fstest.MapFile{Data: []byte(strings.Replace(s, e.old, e.new, 1))}
			}
			opts := tt.opts
			opts.On = roster.NewDate(2025, 10, 1)
			feed, err := ReadFormat(context.Background(), m, "", &ReadOptions{ValidateOptions: opts})
			var list *ErrorList
			if feed != nil || !errors.As(err, &list) || !errors.Is(err, tt.refused) {
				t.Fatalf("ReadFormat = %v, %v; want a refusal with %v", feed, err, tt.refused)
			}
			if !slices.ContainsFunc(list.Errs, func(e *ParseError) bool {
				return e.File == tt.want.File && e.Line == tt.want.Line && e.Column == tt.want.Column && (tt.want.Value == "" || e.Value == tt.want.Value) && errors.Is(e, tt.refused)
			}) {
				t.Errorf("errors:\n%v\nwant one at %s:%d column %q value %q", err, tt.want.File, tt.want.Line, tt.want.Column, tt.want.Value)
			}
		})
	}
}

// TestNotOneRoster: a folder with no OneRoster files, or SDS files, read as
// OneRoster says so, and how to read SDS.
func TestNotOneRoster(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		text string
	}{
		{"empty folder", fstest.MapFS{"readme.txt": {Data: []byte("hi")}}, "there are none"},
		{"SDS v1", loadDir(t, sdsDir+"v1"), "School Data Sync v1 export"},
		{"SDS v2.1", loadDir(t, sdsDir+"v2.1"), "School Data Sync v2.1 export"},
		{"SDS v2.1 without roles.csv, by users.csv's header", func() fstest.MapFS {
			m := maps.Clone(loadDir(t, sdsDir+"v2.1"))
			delete(m, "roles.csv")
			return m
		}(), "School Data Sync v2.1 export"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFormat(context.Background(), tt.fsys, FormatOneRoster, nil)
			var list *ErrorList
			if !errors.As(err, &list) || !errors.Is(err, ErrNotOneRoster) || list.Total != 1 || !strings.Contains(list.Errs[0].Want, tt.text) {
				t.Errorf("error = %v, want one ErrNotOneRoster saying %q", err, tt.text)
			}
		})
	}
}
