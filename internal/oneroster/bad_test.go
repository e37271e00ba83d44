package oneroster

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"testing"
	"testing/fstest"
	"unicode/utf16"
)

// edit changes one fixture file before a read.
type edit func(t *testing.T, m fstest.MapFS)

// replace swaps the first occurrence of old in file, failing the test if
// old is not there (so a fixture change cannot silently disarm a case).
func replace(file, old, new string) edit {
	return func(t *testing.T, m fstest.MapFS) {
		t.Helper()
		f := m[file]
		if f == nil || !bytes.Contains(f.Data, []byte(old)) {
			t.Fatalf("fixture %s does not contain %q", file, old)
		}
		m[file] = &fstest.MapFile{Data: bytes.Replace(f.Data, []byte(old), []byte(new), 1)}
	}
}

// truncateAfter cuts file just after the first occurrence of mark.
func truncateAfter(file, mark string) edit {
	return func(t *testing.T, m fstest.MapFS) {
		t.Helper()
		i := bytes.Index(m[file].Data, []byte(mark))
		if i < 0 {
			t.Fatalf("fixture %s does not contain %q", file, mark)
		}
		m[file] = &fstest.MapFile{Data: m[file].Data[:i+len(mark)]}
	}
}

func set(file, content string) edit {
	return func(t *testing.T, m fstest.MapFS) { m[file] = &fstest.MapFile{Data: []byte(content)} }
}

func remove(file string) edit {
	return func(t *testing.T, m fstest.MapFS) { delete(m, file) }
}

// utf16LE re-encodes a file as UTF-16 with a byte-order mark, as Excel's
// "Unicode text" export does.
func utf16LE(file string) edit {
	return func(t *testing.T, m fstest.MapFS) {
		units := utf16.Encode([]rune(string(bytes.TrimPrefix(m[file].Data, utf8BOM))))
		b := []byte{0xFF, 0xFE}
		for _, u := range units {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		m[file] = &fstest.MapFile{Data: b}
	}
}

// TestBadInput reads the sample feed with one defect each and expects a
// located error and no roster.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		opts  *ReadOptions
		delta bool // start from the delta fixture, with the sample as snapshot
		want  ParseError
	}{
		// Truncation and syntax.
		{name: "file truncated mid-row", edits: []edit{truncateAfter("users.csv", "stu-0003,,,true,sch-kb,student,21smi")},
			want: ParseError{File: "users.csv", Line: 7, Err: ErrFieldCount}},
		{name: "file truncated inside quotes", edits: []edit{truncateAfter("classes.csv", "\"Humanities\nRoo")},
			want: ParseError{File: "classes.csv", Line: 6, Err: csv.ErrQuote}},
		{name: "empty file", edits: []edit{set("users.csv", "")},
			want: ParseError{File: "users.csv", Line: 1, Err: ErrMissingHeader}},
		{name: "bare quote in unquoted field", edits: []edit{replace("classes.csv", `"Maths Block ""M"" Room 3"`, `Maths Block "M" Room 3`)},
			want: ParseError{File: "classes.csv", Line: 5, Column: "byte 59", Err: csv.ErrBareQuote}},
		{name: "unquoted comma", edits: []edit{replace("orgs.csv", `"Harbour View School, Dartmouth"`, `Harbour View School, Dartmouth`)},
			want: ParseError{File: "orgs.csv", Line: 3, Err: ErrFieldCount}},
		{name: "text after closing quote", edits: []edit{replace("orgs.csv", `"Harbour View School, Dartmouth"`, `"Harbour View School" Dartmouth`)},
			want: ParseError{File: "orgs.csv", Line: 3, Column: "byte 30", Err: ErrSyntax}},

		// Encodings.
		{name: "Windows-1252 text", edits: []edit{replace("users.csv", "Zoë", "Zo\xeb")},
			want: ParseError{File: "users.csv", Line: 5, Column: "givenName", Err: ErrEncoding}},
		{name: "UTF-16 file", edits: []edit{utf16LE("users.csv")},
			want: ParseError{File: "users.csv", Line: 1, Err: ErrEncoding}},
		{name: "UTF-16 file without byte-order mark", edits: []edit{utf16LE("users.csv"), func(t *testing.T, m fstest.MapFS) {
			m["users.csv"] = &fstest.MapFile{Data: m["users.csv"].Data[2:]}
		}}, want: ParseError{File: "users.csv", Line: 1, Column: "field 1", Err: ErrEncoding}},
		{name: "Latin-1 in a header", edits: []edit{replace("orgs.csv", "name,", "n\xe4me,")},
			want: ParseError{File: "orgs.csv", Line: 1, Column: "field 4", Err: ErrEncoding}},

		// Headers.
		{name: "missing required column", edits: []edit{replace("classes.csv", ",classType,", ",type,")},
			want: ParseError{File: "classes.csv", Line: 1, Column: "classType", Err: ErrMissingColumn}},
		{name: "duplicate column", edits: []edit{replace("users.csv", ",phone,", ",Email,")},
			want: ParseError{File: "users.csv", Line: 1, Column: "Email", Err: ErrDuplicateColumn}},

		// Enumerations.
		{name: "unknown classType", edits: []edit{replace("classes.csv", "7KB,homeroom", "7KB,tutorgroup")},
			want: ParseError{File: "classes.csv", Line: 4, Column: "classType", Value: "tutorgroup", Err: ErrBadEnum}},
		{name: "unknown user role", edits: []edit{replace("users.csv", "sch-kb,student,21smitho,", "sch-kb,pupil,21smitho,")},
			want: ParseError{File: "users.csv", Line: 6, Column: "role", Value: "pupil", Err: ErrBadEnum}},
		{name: "enrolment role only people have", edits: []edit{replace("enrollments.csv", "stu-0001,student", "stu-0001,guardian")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "role", Value: "guardian", Err: ErrBadEnum}},
		{name: "unknown org type", edits: []edit{replace("orgs.csv", ",district,", ",trust,")},
			want: ParseError{File: "orgs.csv", Line: 5, Column: "type", Value: "trust", Err: ErrBadEnum}},
		{name: "unknown session type", edits: []edit{replace("academicSessions.csv", "Autumn 2025,term", "Autumn 2025,halfTerm")},
			want: ParseError{File: "academicSessions.csv", Line: 4, Column: "type", Value: "halfTerm", Err: ErrBadEnum}},
		{name: "unknown status", edits: []edit{replace("orgs.csv", "sch-kb,,", "sch-kb,deleted,")},
			want: ParseError{File: "orgs.csv", Line: 4, Column: "status", Value: "deleted", Err: ErrBadEnum}},
		{name: "unknown sex", edits: []edit{replace("demographics.csv", ",female,", ",f,")},
			want: ParseError{File: "demographics.csv", Line: 2, Column: "sex", Err: ErrBadEnum}},
		{name: "unknown manifest mode", edits: []edit{replace("manifest.csv", "file.users,bulk", "file.users,full")},
			want: ParseError{File: "manifest.csv", Line: 18, Column: "value", Value: "full", Err: ErrBadEnum}},
		{name: "wrong OneRoster version", edits: []edit{replace("manifest.csv", "oneroster.version,1.1", "oneroster.version,1.2")},
			want: ParseError{File: "manifest.csv", Line: 3, Column: "value", Value: "1.2", Err: ErrManifest}},
		{name: "manifest without a users row", edits: []edit{replace("manifest.csv", "file.users,bulk\n", "")},
			want: ParseError{File: "manifest.csv", Column: "propertyName", Value: "file.users", Err: ErrManifest}},

		// Values.
		{name: "UK date order", edits: []edit{replace("enrollments.csv", "stu-0001,student,,2025-09-03", "stu-0001,student,,03/09/2025")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "beginDate", Value: "03/09/2025", Err: ErrBadDate}},
		{name: "term ends before it starts", edits: []edit{replace("academicSessions.csv", "2025-09-01,2025-12-19", "2025-09-01,2025-08-19")},
			want: ParseError{File: "academicSessions.csv", Line: 4, Column: "endDate", Err: ErrBadDate}},
		{name: "bad dateLastModified", edits: []edit{replace("orgs.csv", "sch-kb,,", "sch-kb,,yesterday")},
			want: ParseError{File: "orgs.csv", Line: 4, Column: "dateLastModified", Value: "yesterday", Err: ErrBadDate}},
		{name: "bad boolean", edits: []edit{replace("users.csv", "stu-0002,,,true", "stu-0002,,,yes")},
			want: ParseError{File: "users.csv", Line: 6, Column: "enabledUser", Value: "yes", Err: ErrBadValue}},
		{name: "userIds without braces", edits: []edit{replace("users.csv", "{UPN:P878400121002}", "UPN:P878400121002")},
			want: ParseError{File: "users.csv", Line: 6, Column: "userIds", Err: ErrBadValue}},
		{name: "school year as a range", edits: []edit{replace("academicSessions.csv", "2026-07-31,,2026", "2026-07-31,,2025-26")},
			want: ParseError{File: "academicSessions.csv", Line: 3, Column: "schoolYear", Value: "2025-26", Err: ErrBadValue}},
		{name: "missing username", edits: []edit{replace("users.csv", ",21smitho,", ",,")},
			want: ParseError{File: "users.csv", Line: 6, Column: "username", Err: ErrMissingField}},
		{name: "class with no school", edits: []edit{replace("classes.csv", "Room 12,sch-kb,", "Room 12,,")},
			want: ParseError{File: "classes.csv", Line: 4, Column: "schoolSourcedId", Err: ErrMissingField}},

		// Files.
		{name: "file the manifest lists is missing", edits: []edit{remove("courses.csv")},
			want: ParseError{File: "courses.csv", Err: ErrMissingFile}},
		{name: "file the manifest says is absent is present", edits: []edit{replace("manifest.csv", "file.demographics,bulk", "file.demographics,absent")},
			want: ParseError{File: "demographics.csv", Err: ErrUnexpectedFile}},
		{name: "duplicate sourcedId", edits: []edit{replace("users.csv", "stu-0003,,,true", "stu-0002,,,true")},
			want: ParseError{File: "users.csv", Line: 7, Column: "sourcedId", Value: "stu-0002", Err: ErrDuplicateID}},

		// References to missing rows.
		{name: "enrolment of a missing person", edits: []edit{replace("enrollments.csv", "cls-7kb,sch-kb,stu-0001", "cls-7kb,sch-kb,stu-9999")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "userSourcedId", Value: "stu-9999", Err: ErrUnknownRef}},
		{name: "enrolment in a missing class", edits: []edit{replace("enrollments.csv", "cls-7kb,sch-kb,stu-0001", "cls-7zz,sch-kb,stu-0001")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "classSourcedId", Value: "cls-7zz", Err: ErrUnknownRef}},
		{name: "class of a missing course", edits: []edit{replace("classes.csv", "7KB,07,crs-reg", "7KB,07,crs-nope")},
			want: ParseError{File: "classes.csv", Line: 4, Column: "courseSourcedId", Value: "crs-nope", Err: ErrUnknownRef}},
		{name: "class in a missing term", edits: []edit{replace("classes.csv", "ay-2025-t2,ay-2025-t3\",Mathematics", "ay-2025-t2,ay-2025-t4\",Mathematics")},
			want: ParseError{File: "classes.csv", Line: 5, Column: "termSourcedIds", Value: "ay-2025-t4", Err: ErrUnknownRef}},
		{name: "school of a missing trust", edits: []edit{replace("orgs.csv", "8784001,trust-kl", "8784001,trust-xx")},
			want: ParseError{File: "orgs.csv", Line: 4, Column: "parentSourcedId", Value: "trust-xx", Err: ErrUnknownRef}},
		{name: "guardian of a missing pupil", edits: []edit{replace("users.csv", "+447700900123,,stu-0001", "+447700900123,,stu-0999")},
			want: ParseError{File: "users.csv", Line: 4, Column: "agentSourcedIds", Value: "stu-0999", Err: ErrUnknownRef}},
		{name: "demographics of a missing person", edits: []edit{replace("demographics.csv", "stu-0005,", "stu-0505,")},
			want: ParseError{File: "demographics.csv", Line: 3, Column: "sourcedId", Value: "stu-0505", Err: ErrUnknownRef}},
		{name: "bulk row marked tobedeleted, still enrolled", edits: []edit{replace("users.csv", "stu-0002,,,true", "stu-0002,tobedeleted,,true")},
			want: ParseError{File: "enrollments.csv", Line: 8, Column: "userSourcedId", Value: "stu-0002", Err: ErrUnknownRef}},

		// Cross-record rules.
		{name: "class at a trust", edits: []edit{replace("classes.csv", "Room 12,sch-kb,", "Room 12,trust-kl,")},
			want: ParseError{File: "classes.csv", Line: 4, Column: "schoolSourcedId", Value: "trust-kl", Err: ErrWrongOrgType}},
		{name: "pupil with no school", edits: []edit{replace("users.csv", "stu-0002,,,true,sch-kb,", "stu-0002,,,true,trust-kl,")},
			want: ParseError{File: "users.csv", Line: 6, Column: "orgSourcedIds", Value: "trust-kl", Err: ErrNoSchool}},
		{name: "pupil enrolled as teacher", edits: []edit{replace("enrollments.csv", "stu-0001,student", "stu-0001,teacher")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "role", Value: "teacher", Err: ErrContradiction}},
		{name: "teacher enrolled as pupil", edits: []edit{replace("enrollments.csv", "cls-7kb,sch-kb,tch-0001,teacher,true", "cls-7kb,sch-kb,tch-0001,student,")},
			want: ParseError{File: "enrollments.csv", Line: 11, Column: "role", Value: "student", Err: ErrContradiction}},
		{name: "primary pupil", edits: []edit{replace("enrollments.csv", "stu-0001,student,,2025", "stu-0001,student,true,2025")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "primary", Err: ErrContradiction}},
		{name: "guardian enrolled", edits: []edit{replace("enrollments.csv", "sch-kb,aide-0001,", "sch-kb,par-0001,")},
			want: ParseError{File: "enrollments.csv", Line: 6, Column: "role", Err: ErrContradiction}},
		{name: "two roles in one class", edits: []edit{replace("enrollments.csv", "cls-7ma1,sch-kb,tch-0003,teacher,false", "cls-7kb,sch-kb,tch-0001,administrator,false")},
			want: ParseError{File: "enrollments.csv", Line: 16, Column: "role", Value: "administrator", Err: ErrContradiction}},
		{name: "enrolment school is not the class's", edits: []edit{replace("enrollments.csv", "cls-7kb,sch-kb,stu-0001", "cls-7kb,sch-hv,stu-0001")},
			want: ParseError{File: "enrollments.csv", Line: 7, Column: "schoolSourcedId", Value: "sch-hv", Err: ErrContradiction}},
		{name: "org parent cycle", edits: []edit{replace("orgs.csv", "TR0042,", "TR0042,sch-kb")},
			want: ParseError{File: "orgs.csv", Line: 4, Column: "parentSourcedId", Value: "trust-kl", Err: ErrCycle}},
		{name: "active session missing", opts: &ReadOptions{ValidateOptions: ValidateOptions{Session: "ay-2027"}},
			want: ParseError{File: "academicSessions.csv", Column: "sourcedId", Value: "ay-2027", Err: ErrNoActiveSession}},
		{name: "no school year on the run date", opts: &ReadOptions{ValidateOptions: ValidateOptions{On: 20260815}},
			want: ParseError{File: "academicSessions.csv", Column: "type", Err: ErrNoActiveSession}},

		// Delta mode.
		{name: "delta row without status", delta: true, edits: []edit{replace("users.csv", "stu-0004,active,", "stu-0004,,")},
			want: ParseError{File: "users.csv", Line: 3, Column: "status", Err: ErrBadStatus}},
		{name: "delta row without dateLastModified", delta: true, edits: []edit{replace("users.csv", "active,2025-10-02T09:15:00Z", "active,")},
			want: ParseError{File: "users.csv", Line: 3, Column: "dateLastModified", Err: ErrMissingField}},
		{name: "delta deletes a class still enrolled", delta: true, edits: []edit{replace("classes.csv", "cls-7ma2,active,", "cls-7ma2,tobedeleted,")},
			want: ParseError{File: "enrollments.csv", Line: 5, Column: "classSourcedId", Value: "cls-7ma2", Err: ErrUnknownRef}},
		{name: "delta leaves a snapshot enrolment dangling", delta: true, edits: []edit{replace("enrollments.csv", "enr-7ma1-stu-0003,tobedeleted", "enr-7ma1-stu-0004,tobedeleted")},
			want: ParseError{File: "previous snapshot (enrollments.csv)", Column: "userSourcedId", Value: "stu-0003", Err: ErrUnknownRef}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := sampleDir
			// One bad row in the small sample is within the quarantine
			// cap; these cases are about the located refusal, which is
			// what a row becomes beyond the cap (TestQuarantine).
			opts := &ReadOptions{ValidateOptions: ValidateOptions{MaxQuarantine: -1}}
			if tt.opts != nil {
				opts = tt.opts
			}
			if tt.delta {
				dir = deltaDir
				opts = &ReadOptions{ValidateOptions: ValidateOptions{Previous: readSample(t), MaxQuarantine: -1}}
			}
			m := loadDir(t, dir)
			for _, e := range tt.edits {
				e(t, m)
			}
			feed, err := Read(context.Background(), m, opts)
			if feed != nil {
				t.Errorf("Read returned a roster alongside error %v", err)
			}
			var list *ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Read error = %v, want *ErrorList", err)
			}
			for _, got := range list.Errs {
				if got.File == tt.want.File && got.Line == tt.want.Line && got.Column == tt.want.Column &&
					(tt.want.Value == "" || got.Value == tt.want.Value) && errors.Is(got, tt.want.Err) {
					if got.Want == "" {
						t.Errorf("%v: Want is empty; every error must say what was expected", got)
					}
					return
				}
			}
			t.Errorf("Read errors:\n%v\nwant one at %s:%d column %q value %q matching %v", err, tt.want.File, tt.want.Line, tt.want.Column, tt.want.Value, tt.want.Err)
		})
	}
}

func TestBadZip(t *testing.T) {
	z := zipOf(t, loadDir(t, sampleDir), "")
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated archive", z[:len(z)/2]},
		{"not a zip", []byte("sourcedId,status\n")},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			feed, err := ReadZip(context.Background(), bytes.NewReader(tt.data), int64(len(tt.data)), "feed.zip", nil)
			var pe *ParseError
			if feed != nil || !errors.Is(err, ErrArchive) || !errors.As(err, &pe) || pe.File != "feed.zip" {
				t.Errorf("ReadZip = %v, %v; want no roster and ErrArchive located at feed.zip", feed, err)
			}
		})
	}
	t.Run("corrupt member", func(t *testing.T) {
		// Flip a byte inside users.csv's compressed data: the archive opens,
		// but the member fails its checksum or inflation.
		data := bytes.Clone(z)
		i := bytes.Index(data, []byte("users.csv"))
		for j := i + 40; j < i+200; j++ {
			data[j] ^= 0xFF
		}
		feed, err := ReadZip(context.Background(), bytes.NewReader(data), int64(len(data)), "feed.zip", nil)
		if feed != nil || err == nil {
			t.Fatalf("ReadZip of a corrupt member = %v, %v; want an error and no roster", feed, err)
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("error %v is not located", err)
		}
	})
}
