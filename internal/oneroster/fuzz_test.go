package oneroster

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"unicode"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/roster"
)

// fuzzFiles are the files FuzzReadCSV may replace, chosen by the first
// fuzz argument.
var fuzzFiles = []string{"manifest.csv", "orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv", "enrollments.csv", "demographics.csv"}

// FuzzReadCSV replaces one file of the sample feed with arbitrary bytes and
// reads it. Whatever the bytes, Read must not panic, must return exactly
// one of a roster and an error, and every error must be located.
//
//	go test -run '^$' -fuzz '^FuzzReadCSV$' -fuzztime 60s ./internal/oneroster
func FuzzReadCSV(f *testing.F) {
	base := loadDir(f, sampleDir)
	for i, name := range fuzzFiles {
		f.Add(uint8(i), base[name].Data)
	}
	f.Add(uint8(5), []byte("\xff\xfes\x00o\x00"))
	f.Add(uint8(4), []byte("sourcedId,title,courseSourcedId,classType,schoolSourcedId,termSourcedIds\nc,\"t\n"))
	f.Add(uint8(6), []byte("sourcedId\n\"a\"\"b\",x\n"))
	f.Add(uint8(0x85), []byte("propertyName,value\nfile.users,delta\n"))
	users := string(base["users.csv"].Data)
	head, _, _ := strings.Cut(users, "\n")
	f.Add(uint8(5), []byte(head+"\n"))                                         // header only
	f.Add(uint8(5), []byte(strings.Replace(users, "Zoë", "Zo\x00\u202eë", 1))) // NUL, bidi override
	f.Add(uint8(5), []byte(strings.Replace(users, "Zoë", strings.Repeat("z", 1500), 1)))

	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		m := maps.Clone(base)
		m[fuzzFiles[int(which&0x7F)%len(fuzzFiles)]] = &fstest.MapFile{Data: data}
		opts := &ReadOptions{
			ValidateOptions: ValidateOptions{Session: "ay-2025", MaxErrors: 20},
			Strict:          which&0x80 != 0,
		}
		feed, err := Read(context.Background(), m, opts)
		if (feed == nil) == (err == nil) {
			t.Fatalf("Read = %v, %v: want exactly one of a roster and an error", feed, err)
		}
		if err != nil {
			var list *ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Read error %T %v is not an *ErrorList", err, err)
			}
			if len(list.Errs) == 0 || len(list.Errs) > 20 || list.Total < len(list.Errs) {
				t.Fatalf("ErrorList has %d errors, total %d", len(list.Errs), list.Total)
			}
			for _, e := range list.Errs {
				if e.File == "" || e.Err == nil || e.Want == "" {
					t.Fatalf("unlocated or unexplained error %#v", e)
				}
				_ = e.Error()
			}
			return
		}
		r := feed.Roster
		if !slices.IsSortedFunc(r.People, func(a, b roster.Person) int { return strings.Compare(a.SourcedID, b.SourcedID) }) {
			t.Fatal("people not sorted")
		}
		if feed.Session != "ay-2025" {
			t.Fatalf("Session = %q", feed.Session)
		}
		if len(r.People) == 0 || len(r.Orgs) == 0 {
			t.Fatalf("a roster with %d people and %d orgs was accepted", len(r.People), len(r.Orgs))
		}
		for _, p := range r.People {
			for _, v := range []string{p.SourcedID, p.Username, p.GivenName, p.FamilyName, p.MiddleName, p.Identifier, p.Email} {
				for _, c := range v {
					if unicode.IsControl(c) && c != '\t' && c != '\n' && c != '\r' {
						t.Fatalf("person %s: value %q holds control character %U", p.SourcedID, v, c)
					}
				}
				if utf8.RuneCountInString(v) > MaxFieldLength {
					t.Fatalf("person %s: a value of %d characters was accepted", p.SourcedID, utf8.RuneCountInString(v))
				}
			}
		}
	})
}
