package oneroster

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rostersync/rostersync/internal/roster"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/oneroster")

const (
	sampleDir = "../../testdata/oneroster/sample"
	deltaDir  = "../../testdata/oneroster/delta"
)

// loadDir copies a fixture folder into memory so tests can edit it.
func loadDir(t testing.TB, dir string) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}

func readSample(t testing.TB) *roster.Roster {
	t.Helper()
	f, err := Open(context.Background(), sampleDir, nil)
	if err != nil {
		t.Fatalf("Open(sample) error: %v", err)
	}
	return f.Roster
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// golden compares got with a golden file, or rewrites it under -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the result (-want +got):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff is a small LCS line diff, enough to read a golden failure
// without a dependency. It shows at most 60 changed lines.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	if len(w)*len(g) > 25_000_000 {
		return "(too large to diff)"
	}
	// lcs[i][j] is the LCS length of w[i:] and g[j:].
	lcs := make([][]int, len(w)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(g)+1)
	}
	for i := len(w) - 1; i >= 0; i-- {
		for j := len(g) - 1; j >= 0; j-- {
			if w[i] == g[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	shown := 0
	i, j := 0, 0
	for (i < len(w) || j < len(g)) && shown < 60 {
		switch {
		case i < len(w) && j < len(g) && w[i] == g[j]:
			i++
			j++
		case j < len(g) && (i == len(w) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&b, "+%d: %s\n", j+1, g[j])
			j++
			shown++
		default:
			fmt.Fprintf(&b, "-%d: %s\n", i+1, w[i])
			i++
			shown++
		}
	}
	return b.String()
}

func TestReadSampleGolden(t *testing.T) {
	golden(t, "../../testdata/oneroster/sample.golden.json", marshal(t, readSample(t)))
}

// TestReadEachFile checks one record of each file in detail, including the
// quoting, encoding and line-ending traps the sample holds.
func TestReadEachFile(t *testing.T) {
	r := readSample(t)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"manifest source", r.Source, roster.Source{SystemName: "Kingsbridge MIS", SystemCode: "KBMIS"}},
		{"orgs: quoted comma", *r.Org("sch-hv"), roster.Org{SourcedID: "sch-hv", Name: "Harbour View School, Dartmouth", Type: roster.OrgSchool, Identifier: "8784002", Parent: "trust-kl"}},
		{"orgs: trust", r.Org("trust-kl").Type, roster.OrgDistrict},
		{"academicSessions: term", *r.Session("ay-2025-t2"), roster.Session{SourcedID: "ay-2025-t2", Title: "Spring 2026", Type: roster.SessionTerm,
			Start: roster.NewDate(2026, 1, 5), End: roster.NewDate(2026, 3, 27), Parent: "ay-2025", SchoolYear: "2026"}},
		{"courses: columns out of order, multi-valued", *r.Course("crs-ph12"), roster.Course{SourcedID: "crs-ph12", Title: "A-level Physics", Code: "PH12",
			SchoolYear: "ay-2025", Org: "sch-kb", Grades: []string{"12"}, Subjects: []string{"Physics", "Science"}, SubjectCodes: []string{"PH", "SC"}}},
		{"classes: doubled quotes", r.Class("cls-7ma1").Location, `Maths Block "M" Room 3`},
		{"classes: newline in quotes", r.Class("cls-8en2").Location, "Humanities\nRoom 7"},
		{"classes: terms", r.Class("cls-7ma1").Terms, []string{"ay-2025-t1", "ay-2025-t2", "ay-2025-t3"}},
		{"classes: homeroom", r.Class("cls-7kb").Type, roster.ClassHomeroom},
		{"users: BOM, diacritics, apostrophe", *r.Person("stu-0001"), roster.Person{SourcedID: "stu-0001", Role: roster.RoleStudent, Enabled: true,
			Username: "21obrienz", UserIDs: []roster.UserID{{Type: "UPN", Identifier: "A878400121001"}, {Type: "AdmissionNo", Identifier: "002101"}},
			Identifier: "002101", GivenName: "Zoë", FamilyName: "O'Brien", Orgs: []string{"sch-kb"}, Agents: []string{"par-0001"}, Grades: []string{"07"}}},
		{"users: two orgs", r.Person("tch-0003").Orgs, []string{"sch-kb", "sch-hv"}},
		{"users: disabled", r.Person("stu-0006").Enabled, false},
		{"users: hyphen and Polish letters", r.Person("stu-0005").GivenName + " " + r.Person("stu-0005").FamilyName, "Łukasz Kowalski-Nowak"},
		{"enrollments: CRLF, primary, dates", *r.Enrollment("enr-7ma1-stu-0003"), roster.Enrollment{SourcedID: "enr-7ma1-stu-0003", Class: "cls-7ma1",
			School: "sch-kb", Person: "stu-0003", Role: roster.RoleStudent, Begin: roster.NewDate(2025, 9, 3), End: roster.NewDate(2025, 12, 19)}},
		{"enrollments: primary teacher", r.Enrollment("enr-7ma1-tch-0002").Primary, true},
		{"enrollments: explicit false", r.Enrollment("enr-7ma1-tch-0003").Primary, false},
		{"demographics", *r.DemographicsOf("stu-0001"), roster.Demographics{SourcedID: "stu-0001", BirthDate: roster.NewDate(2014, 3, 14),
			Sex: roster.SexFemale, Races: []string{"white"}, CountryOfBirthCode: "GB", CityOfBirth: "Plymouth"}},
		{"counts", r.Counts(), roster.Counts{Orgs: 4, Sessions: 5, Courses: 6, Classes: 8, People: 13, Enrollments: 22, Demographics: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v, want %+v", tt.got, tt.want)
			}
		})
	}
}

func zipOf(t testing.TB, m fstest.MapFS, prefix string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, f := range m {
		w, err := zw.Create(prefix + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadZip(t *testing.T) {
	want := marshal(t, readSample(t))
	tests := []struct{ name, prefix string }{
		{"files at the root", ""},
		{"files in one folder", "kingsbridge-export/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := zipOf(t, loadDir(t, sampleDir), tt.prefix)
			f, err := ReadZip(context.Background(), bytes.NewReader(z), int64(len(z)), "feed.zip", nil)
			if err != nil {
				t.Fatalf("ReadZip error: %v", err)
			}
			if got := marshal(t, f.Roster); !bytes.Equal(got, want) {
				t.Errorf("ReadZip roster differs from the folder's (-want +got):\n%s", lineDiff(string(want), string(got)))
			}
		})
	}
	t.Run("Open on a .zip path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "feed.zip")
		if err := os.WriteFile(path, zipOf(t, loadDir(t, sampleDir), ""), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(context.Background(), path, nil); err != nil {
			t.Fatalf("Open(%s) error: %v", path, err)
		}
	})
}

func TestReadDelta(t *testing.T) {
	prev := readSample(t)
	before := marshal(t, prev)
	f, err := Open(context.Background(), deltaDir, &ReadOptions{ValidateOptions: ValidateOptions{Previous: prev, Session: "ay-2025"}})
	if err != nil {
		t.Fatalf("Open(delta) error: %v", err)
	}
	golden(t, "../../testdata/oneroster/sample-delta.golden.json", marshal(t, f.Roster))
	if !bytes.Equal(before, marshal(t, prev)) {
		t.Error("applying a delta changed the previous snapshot")
	}
	want := map[Kind]FileStats{
		KindOrgs:         {Kind: KindOrgs, Mode: ModeAbsent, Kept: 4, Records: 4},
		KindClasses:      {Kind: KindClasses, Mode: ModeDelta, Rows: 1, Added: 1, Kept: 8, Records: 9},
		KindUsers:        {Kind: KindUsers, Mode: ModeDelta, Rows: 3, Added: 1, Replaced: 1, Deleted: 1, Kept: 11, Records: 13},
		KindEnrollments:  {Kind: KindEnrollments, Mode: ModeDelta, Rows: 5, Added: 3, Deleted: 2, Kept: 20, Records: 23},
		KindDemographics: {Kind: KindDemographics, Mode: ModeAbsent, Kept: 2, Records: 2},
	}
	for _, st := range f.Files {
		if w, ok := want[st.Kind]; ok && st != w {
			t.Errorf("Files[%s] = %+v, want %+v", st.Kind, st, w)
		}
	}
	if p := f.Roster.Person("stu-0004"); p.FamilyName != "Ní Bhriain-Walsh" || p.Modified != time.Date(2025, 10, 2, 9, 15, 0, 0, time.UTC) {
		t.Errorf("stu-0004 after delta = %q modified %v", p.FamilyName, p.Modified)
	}
	if f.Roster.Person("stu-0003") != nil {
		t.Error("stu-0003 is still present after a tobedeleted row")
	}
}

// TestDeltaStale applies a change older than the snapshot's record: it must
// not undo the newer state.
func TestDeltaStale(t *testing.T) {
	prev := readSample(t)
	p := prev.Person("stu-0002")
	p.FamilyName = "Smith-Newer"
	p.Modified = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	m := loadDir(t, deltaDir)
	m["users.csv"] = &fstest.MapFile{Data: []byte("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,givenName,familyName\n" +
		"stu-0002,active,2025-10-01T00:00:00Z,true,sch-kb,student,21smitho,Oliver,Smith-Older\n")}
	m["enrollments.csv"] = &fstest.MapFile{Data: []byte("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role\n")}
	m["classes.csv"] = &fstest.MapFile{Data: []byte(strings.SplitAfter(string(m["classes.csv"].Data), "\n")[0])}
	f, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{Previous: prev}})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Roster.Person("stu-0002").FamilyName; got != "Smith-Newer" {
		t.Errorf("after a stale delta FamilyName = %q, want Smith-Newer", got)
	}
	if st := f.Files[KindUsers]; st.Stale != 1 {
		t.Errorf("Files[users].Stale = %d, want 1", st.Stale)
	}
}

func TestDeltaNeedsSnapshot(t *testing.T) {
	_, err := Open(context.Background(), deltaDir, nil)
	var pe *ParseError
	if !errors.Is(err, ErrNoSnapshot) || !errors.As(err, &pe) || pe.File != "manifest.csv" || pe.Line == 0 {
		t.Fatalf("Open(delta) without snapshot error = %v, want a located ErrNoSnapshot", err)
	}
}

func TestNoManifest(t *testing.T) {
	m := loadDir(t, sampleDir)
	delete(m, "manifest.csv")
	f, err := Read(context.Background(), m, nil)
	if err != nil {
		t.Fatalf("Read without manifest error: %v", err)
	}
	if f.Files[KindUsers].Mode != ModeBulk || f.Roster.Counts().People != 13 {
		t.Errorf("without manifest: users mode %s, %d people", f.Files[KindUsers].Mode, f.Roster.Counts().People)
	}
	if _, err := Read(context.Background(), m, &ReadOptions{Strict: true}); !errors.Is(err, ErrMissingFile) {
		t.Errorf("strict Read without manifest error = %v, want ErrMissingFile", err)
	}
}

func TestCaseInsensitiveNames(t *testing.T) {
	m := loadDir(t, sampleDir)
	m["Users.CSV"] = m["users.csv"]
	delete(m, "users.csv")
	m["classes.csv"] = &fstest.MapFile{Data: bytes.ReplaceAll(m["classes.csv"].Data, []byte(",homeroom,"), []byte(",HomeRoom,"))}
	if _, err := Read(context.Background(), m, nil); err != nil {
		t.Fatalf("Read with Users.CSV and HomeRoom error: %v", err)
	}
	_, err := Read(context.Background(), m, &ReadOptions{Strict: true})
	if !errors.Is(err, ErrMissingFile) {
		t.Errorf("strict Read error = %v, want ErrMissingFile for Users.CSV", err)
	}
}

func TestStrictBulkStatus(t *testing.T) {
	m := loadDir(t, sampleDir)
	m["orgs.csv"] = &fstest.MapFile{Data: bytes.Replace(m["orgs.csv"].Data, []byte("sch-kb,,,"), []byte("sch-kb,active,,"), 1)}
	if _, err := Read(context.Background(), m, nil); err != nil {
		t.Fatalf("lenient Read of a bulk row marked active: %v", err)
	}
	_, err := Read(context.Background(), m, &ReadOptions{Strict: true})
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, ErrBadStatus) || pe.File != "orgs.csv" || pe.Line != 4 || pe.Column != "status" {
		t.Errorf("strict Read error = %v, want ErrBadStatus at orgs.csv:4 status", err)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Open(ctx, sampleDir, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a cancelled context error = %v, want context.Canceled", err)
	}
}

func TestErrorCap(t *testing.T) {
	m := loadDir(t, sampleDir)
	var b strings.Builder
	b.WriteString("sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role\n")
	for i := 0; i < 10000; i++ {
		b.WriteString("e,,,c,s,u,pupil\n")
	}
	m["enrollments.csv"] = &fstest.MapFile{Data: []byte(b.String())}
	_, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{MaxErrors: 5}})
	var list *ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Read error = %v, want *ErrorList", err)
	}
	if len(list.Errs) != 5 || list.Total < 5 || list.Total > 5+checkEvery*2 {
		t.Errorf("ErrorList has %d errors, total %d; want 5 kept and reading stopped soon after", len(list.Errs), list.Total)
	}
	if !strings.Contains(list.Error(), "first 5 shown") {
		t.Errorf("ErrorList.Error() = %q, want it to say only the first 5 are shown", list.Error())
	}
}

func TestParseErrorWithholdsPersonalData(t *testing.T) {
	tests := []struct {
		e       ParseError
		show    bool
		wantSub string
	}{
		{ParseError{File: "users.csv", Line: 5, Column: "givenName", Value: "Zo\xeb", Err: ErrEncoding}, false, "users.csv:5: column givenName: value withheld (3 bytes of personal data)"},
		{ParseError{File: "users", Line: 5, Column: "email", Value: "zoe@example.org", Err: ErrBadValue}, false, "withheld"},
		{ParseError{File: "previous snapshot (demographics.csv)", Column: "birthDate", Value: "2014-03-14", Err: ErrBadDate}, false, "withheld"},
		{ParseError{File: "users.csv", Line: 5, Column: "role", Value: "pupil", Want: "one of student", Err: ErrBadEnum}, true,
			`users.csv:5: column role: value "pupil": want one of student: unknown enumeration value`},
		{ParseError{File: "classes.csv", Line: 2, Column: "title", Value: "7KB", Err: ErrMissingField}, true, `value "7KB"`},
	}
	for _, tt := range tests {
		got := tt.e.Error()
		if !strings.Contains(got, tt.wantSub) {
			t.Errorf("Error() = %q, want it to contain %q", got, tt.wantSub)
		}
		if shown := strings.Contains(got, tt.e.Value); shown != tt.show {
			t.Errorf("Error() = %q shows value: %v, want %v", got, shown, tt.show)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	r := readSample(t)
	want := marshal(t, r)
	for _, crlf := range []bool{false, true} {
		dir := t.TempDir()
		if err := WriteDir(dir, r, &WriteOptions{CRLF: crlf}); err != nil {
			t.Fatal(err)
		}
		f, err := Open(context.Background(), dir, &ReadOptions{Strict: true})
		if err != nil {
			t.Fatalf("reading what WriteDir wrote (CRLF %v): %v", crlf, err)
		}
		if got := marshal(t, f.Roster); !bytes.Equal(got, want) {
			t.Errorf("round trip (CRLF %v) differs (-want +got):\n%s", crlf, lineDiff(string(want), string(got)))
		}
	}
	var buf bytes.Buffer
	if err := WriteZip(&buf, r, nil); err != nil {
		t.Fatal(err)
	}
	f, err := ReadZip(context.Background(), bytes.NewReader(buf.Bytes()), int64(buf.Len()), "out.zip", nil)
	if err != nil {
		t.Fatalf("reading WriteZip output: %v", err)
	}
	if got := marshal(t, f.Roster); !bytes.Equal(got, want) {
		t.Errorf("zip round trip differs")
	}
}

// Check that the fixtures' traps survive git: the users file keeps its
// BOM and the enrolments file its CRLF line ends.
func TestFixtureBytes(t *testing.T) {
	m := loadDir(t, sampleDir)
	if !bytes.HasPrefix(m["users.csv"].Data, utf8BOM) {
		t.Error("users.csv lost its byte-order mark")
	}
	if !bytes.Contains(m["enrollments.csv"].Data, []byte("\r\n")) {
		t.Error("enrollments.csv lost its CRLF line ends")
	}
	if _, err := fs.Stat(m, "demographics.csv"); err != nil {
		t.Error(err)
	}
}

func TestManifestWithoutOptionalRow(t *testing.T) {
	m := loadDir(t, sampleDir)
	m["manifest.csv"] = &fstest.MapFile{Data: bytes.Replace(m["manifest.csv"].Data, []byte("file.demographics,bulk\n"), nil, 1)}
	f, err := Read(context.Background(), m, nil)
	if err != nil {
		t.Fatalf("Read error: %v", err)
	}
	if st := f.Files[KindDemographics]; st.Mode != ModeBulk || st.Records != 2 {
		t.Errorf("Files[demographics] = %+v, want bulk with 2 records", st)
	}
	delete(m, "demographics.csv")
	if f, err = Read(context.Background(), m, nil); err != nil || f.Files[KindDemographics].Mode != ModeAbsent {
		t.Errorf("without the file: %v, %+v", err, f)
	}
	if _, err := Read(context.Background(), m, &ReadOptions{Strict: true}); !errors.Is(err, ErrManifest) {
		t.Errorf("strict Read error = %v, want ErrManifest", err)
	}
}

// TestErrorsInFileOrder: errors come in the order the files are read
// (users, enrolments, demographics), each file's in line order, however
// the files are spread over goroutines; once the cap is reached, later
// files add nothing, as though never read.
func TestErrorsInFileOrder(t *testing.T) {
	m := loadDir(t, sampleDir)
	// Three rows with a field too few in each file: structural errors,
	// reported as found rather than quarantined.
	truncate := func(file string, fields int) {
		rows := strings.Repeat(strings.Repeat(",", fields-2)+"\n", 3)
		m[file] = &fstest.MapFile{Data: append(slices.Clone(m[file].Data), rows...)}
	}
	truncate("users.csv", 19)
	truncate("enrollments.csv", 10)
	truncate("demographics.csv", 16)
	order := []string{"users.csv", "users.csv", "users.csv", "enrollments.csv", "enrollments.csv", "enrollments.csv",
		"demographics.csv", "demographics.csv", "demographics.csv"}
	for _, tt := range []struct {
		cap, total int // total: the problems counted, shown or not
	}{
		{cap: 1, total: 3}, {cap: 3, total: 3}, {cap: 4, total: 6}, {cap: 6, total: 6}, {cap: 7, total: 9}, {cap: 9, total: 9}, {cap: 100, total: 9},
	} {
		_, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{MaxErrors: tt.cap}})
		var list *ErrorList
		if !errors.As(err, &list) {
			t.Fatalf("cap %d: Read error = %v, want *ErrorList", tt.cap, err)
		}
		var files []string
		for i, e := range list.Errs {
			files = append(files, e.File)
			if !errors.Is(e, ErrFieldCount) {
				t.Errorf("cap %d: error %d is %v, want %v", tt.cap, i, e, ErrFieldCount)
			}
			if i > 0 && e.File == list.Errs[i-1].File && e.Line <= list.Errs[i-1].Line {
				t.Errorf("cap %d: %s line %d reported after line %d", tt.cap, e.File, e.Line, list.Errs[i-1].Line)
			}
		}
		if want := order[:min(tt.cap, len(order))]; !slices.Equal(files, want) || list.Total != tt.total {
			t.Errorf("cap %d: errors in %v, total %d; want %v, total %d", tt.cap, files, list.Total, want, tt.total)
		}
	}
}
