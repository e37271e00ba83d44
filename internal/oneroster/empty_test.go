package oneroster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/rostersync/rostersync/internal/oneroster/onerostertest"
)

// headerOnly keeps the first line of a file.
func headerOnly(file, lineEnd string) edit {
	return func(t *testing.T, m fstest.MapFS) {
		t.Helper()
		data := string(m[file].Data)
		head, _, _ := strings.Cut(data, "\n")
		m[file] = &fstest.MapFile{Data: []byte(strings.TrimSuffix(head, "\r") + lineEnd)}
	}
}

// TestEmptyFiles: a file the feed needs that holds no records is one
// precise error, not a dangling reference from every record pointing into
// it (a header-only users.csv used to give one per enrolment).
func TestEmptyFiles(t *testing.T) {
	tests := []struct {
		name  string
		edits []edit
		opts  *ReadOptions
		want  ParseError
		text  string // the error's message must contain it
	}{
		{name: "header-only users.csv", edits: []edit{headerOnly("users.csv", "\n")},
			want: ParseError{File: "users.csv", Line: 2, Err: ErrNoRows}, text: "users.csv has no rows"},
		{name: "header-only users.csv, CRLF and blank lines", edits: []edit{headerOnly("users.csv", "\r\n\r\n\r\n")},
			want: ParseError{File: "users.csv", Line: 2, Err: ErrNoRows}, text: "users.csv has no rows"},
		{name: "header-only users.csv without a line end", edits: []edit{headerOnly("users.csv", "")},
			want: ParseError{File: "users.csv", Line: 2, Err: ErrNoRows}, text: "users.csv has no rows"},
		{name: "header-only orgs.csv", edits: []edit{headerOnly("orgs.csv", "\n")},
			want: ParseError{File: "orgs.csv", Line: 2, Err: ErrNoRows}, text: "orgs.csv has no rows"},
		{name: "header-only classes.csv while enrolments point into it", edits: []edit{headerOnly("classes.csv", "\n")},
			want: ParseError{File: "classes.csv", Line: 2, Err: ErrNoRows}, text: "classes.csv has no rows"},
		{name: "header-only courses.csv while classes point into it", edits: []edit{headerOnly("courses.csv", "\n")},
			want: ParseError{File: "courses.csv", Line: 2, Err: ErrNoRows}, text: "courses.csv has no rows"},
		{name: "0-byte users.csv", edits: []edit{set("users.csv", "")},
			want: ParseError{File: "users.csv", Line: 1, Err: ErrMissingHeader}, text: "users.csv is empty (0 bytes"},
		{name: "users.csv of blank lines", edits: []edit{set("users.csv", "\r\n\n")},
			want: ParseError{File: "users.csv", Line: 1, Err: ErrMissingHeader}, text: "only blank lines"},
		{name: "every user marked tobedeleted", edits: []edit{func(t *testing.T, m fstest.MapFS) {
			lines := strings.Split(string(m["users.csv"].Data), "\n")
			for i := 1; i < len(lines); i++ {
				if id, rest, ok := strings.Cut(lines[i], ",,"); ok {
					lines[i] = id + ",tobedeleted," + rest
				}
			}
			m["users.csv"] = &fstest.MapFile{Data: []byte(strings.Join(lines, "\n"))}
		}}, want: ParseError{File: "users.csv", Err: ErrNoRows}, text: "every row of users.csv is marked tobedeleted"},
		{name: "users absent with no snapshot", edits: []edit{replace("manifest.csv", "file.users,bulk", "file.users,absent"), remove("users.csv")},
			want: ParseError{File: "users.csv", Err: ErrNoRows}, text: "no previous snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadDir(t, sampleDir)
			for _, e := range tt.edits {
				e(t, m)
			}
			feed, err := Read(context.Background(), m, tt.opts)
			var list *ErrorList
			if feed != nil || !errors.As(err, &list) {
				t.Fatalf("Read = %v, %v; want no roster and an *ErrorList", feed, err)
			}
			if list.Total != 1 {
				t.Fatalf("Read gave %d errors, want exactly one:\n%v", list.Total, err)
			}
			got := list.Errs[0]
			if got.File != tt.want.File || got.Line != tt.want.Line || !errors.Is(got, tt.want.Err) || got.Want == "" {
				t.Errorf("error %v, want one at %s:%d matching %v", got, tt.want.File, tt.want.Line, tt.want.Err)
			}
			if !strings.Contains(got.Error(), tt.text) {
				t.Errorf("error %q does not say %q", got.Error(), tt.text)
			}
		})
	}
}

// TestEmptyFilesAllowed: a kind nothing points into may be empty; an
// empty enrollments.csv (a school before its timetable is out) reads.
func TestEmptyFilesAllowed(t *testing.T) {
	for _, file := range []string{"enrollments.csv", "demographics.csv"} {
		t.Run(file, func(t *testing.T) {
			m := loadDir(t, sampleDir)
			headerOnly(file, "\n")(t, m)
			feed, err := Read(context.Background(), m, nil)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(feed.Roster.People) == 0 {
				t.Error("no people read")
			}
		})
	}
}

// TestRESTEmptyCollection: the REST binding gives the same single error
// for an empty users collection.
func TestRESTEmptyCollection(t *testing.T) {
	r := readSample(t)
	r.People = nil
	p := newProvider(t, r, onerostertest.Options{}, ClientOptions{})
	f, err := p.client.Read(context.Background(), nil)
	var list *ErrorList
	if f != nil || !errors.As(err, &list) {
		t.Fatalf("Read = %v, %v; want an *ErrorList", f, err)
	}
	if list.Total != 1 || list.Errs[0].File != "users" || !errors.Is(list.Errs[0], ErrNoRows) {
		t.Errorf("Read errors (%d):\n%v\nwant exactly one ErrNoRows for users", list.Total, err)
	}
}

// TestControlCharactersAndLength: a value with a control character, or
// absurdly long, refuses its row with a located error naming the column
// and what was expected; tab and line breaks (legitimate in quoted CSV)
// and long but plausible values pass the reader.
func TestControlCharactersAndLength(t *testing.T) {
	long := strings.Repeat("x", MaxFieldLength+1)
	tests := []struct {
		name string
		edit edit
		want ParseError
		text string
	}{
		{"NUL in a given name", replace("users.csv", "Zoë", "Zo\x00ë"),
			ParseError{File: "users.csv", Line: 5, Column: "givenName", Err: ErrControlChar}, "found U+0000 at character 3"},
		{"escape in a family name", replace("users.csv", ",Natarajan,", ",Nata\x1b[2Jrajan,"),
			ParseError{File: "users.csv", Line: 2, Column: "familyName", Err: ErrControlChar}, "U+001B"},
		{"DEL in a username", replace("users.csv", ",21smitho,", ",21smi\x7ftho,"),
			ParseError{File: "users.csv", Line: 6, Column: "username", Err: ErrControlChar}, "U+007F"},
		{"C1 control in an org name", replace("orgs.csv", `"Harbour View School, Dartmouth"`, "\"Harbour View\u0085School\""),
			ParseError{File: "orgs.csv", Line: 3, Column: "name", Err: ErrControlChar}, "U+0085"},
		{"NUL in a sourcedId reference", replace("enrollments.csv", "cls-7kb,sch-kb,stu-0001", "cls-7kb,sch-kb,stu-0001\x00"),
			ParseError{File: "enrollments.csv", Line: 7, Column: "userSourcedId", Err: ErrControlChar}, "U+0000"},
		{"a megabyte name", replace("users.csv", "Zoë", strings.Repeat("Zoë", 1<<20/3)),
			ParseError{File: "users.csv", Line: 5, Column: "givenName", Err: ErrTooLong}, "at most 1024 characters, not 1048575"},
		{"one long value in a list", replace("users.csv", "{UPN:P878400121002}", "{UPN:"+long+"}"),
			ParseError{File: "users.csv", Line: 6, Column: "userIds", Err: ErrTooLong}, "each comma-separated value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadDir(t, sampleDir)
			tt.edit(t, m)
			feed, err := Read(context.Background(), m, &ReadOptions{ValidateOptions: ValidateOptions{MaxQuarantine: -1}})
			var list *ErrorList
			if feed != nil || !errors.As(err, &list) {
				t.Fatalf("Read = %v, %v; want no roster and an *ErrorList", feed, err)
			}
			for _, got := range list.Errs {
				if got.File == tt.want.File && got.Line == tt.want.Line && got.Column == tt.want.Column && errors.Is(got, tt.want.Err) {
					if !strings.Contains(got.Want, tt.text) {
						t.Errorf("error %q does not say %q", got.Error(), tt.text)
					}
					if len(got.Value) > 300 {
						t.Errorf("error carries %d bytes of value, want a short prefix", len(got.Value))
					}
					return
				}
			}
			t.Errorf("Read errors:\n%v\nwant %s:%d column %s (%v)", err, tt.want.File, tt.want.Line, tt.want.Column, tt.want.Err)
		})
	}

	t.Run("tab, line break and a long plausible name pass", func(t *testing.T) {
		m := loadDir(t, sampleDir)
		replace("users.csv", "Zoë", "\"Zoë\tAnne\r\nMarie"+strings.Repeat("e", 300)+"\"")(t, m)
		feed, err := Read(context.Background(), m, nil)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		var found bool
		for _, p := range feed.Roster.People {
			// encoding/csv turns a quoted CRLF into LF.
			found = found || strings.HasPrefix(p.GivenName, "Zoë\tAnne\nMarie")
		}
		if !found {
			t.Error("the name with a tab and a line break was not kept for the planner to clean")
		}
	})
}

// TestRESTControlCharacters: REST records meet the same check.
func TestRESTControlCharacters(t *testing.T) {
	r := readSample(t)
	r.Person("stu-0002").GivenName = "Jo\x00hn"
	p := newProvider(t, r, onerostertest.Options{}, ClientOptions{})
	_, err := p.client.Read(context.Background(), nil)
	if !errors.Is(err, ErrControlChar) {
		t.Errorf("Read error = %v, want ErrControlChar", err)
	}
	var pe *ParseError
	if errors.As(err, &pe) && (pe.File != "users" || pe.Column != "givenName" || pe.Line == 0) {
		t.Errorf("error %v is not located at users, a record, givenName", pe)
	}
}
