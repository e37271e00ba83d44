package sample_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/roster"
)

var update = flag.Bool("update", false, "rewrite testdata/schools/oakfield")

const oakfieldDir = "../../../testdata/schools/oakfield"

func TestGenerateIsDeterministic(t *testing.T) {
	opts := sample.Options{Seed: 42, Students: 300, Staff: 30, Schools: 2}
	a, b := sample.Generate(opts), sample.Generate(opts)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two rosters generated with the same options differ")
	}
	opts.Seed = 43
	if reflect.DeepEqual(a, sample.Generate(opts)) {
		t.Fatal("rosters generated with different seeds are equal")
	}
}

// TestGenerateIsValid runs the same validation a real feed gets.
func TestGenerateIsValid(t *testing.T) {
	tests := []struct {
		name string
		opts sample.Options
	}{
		{"default", sample.Options{Seed: 1}},
		{"tiny", sample.Options{Seed: 2, Students: 1, Staff: 1}},
		{"no staff", sample.Options{Seed: 3, Students: 40, Staff: -1}},
		{"staff only", sample.Options{Seed: 4, Students: -1, Staff: 5}},
		{"trust of three", sample.Options{Seed: 5, Students: 200, Staff: 20, Schools: 3, StartYear: 2030}},
		{"more staff than groups", sample.Options{Seed: 6, Students: 20, Staff: 200, NoDemographics: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sample.Generate(tt.opts)
			year := tt.opts.StartYear
			if year == 0 {
				year = 2025
			}
			f, err := oneroster.Validate(r, &oneroster.ValidateOptions{On: roster.NewDate(year, 10, 1)})
			if err != nil {
				t.Fatalf("Validate(Generate(%+v)) error: %v", tt.opts, err)
			}
			if f.Session == "" {
				t.Error("no active session found")
			}
		})
	}
}

// TestOakfieldShape checks the default school looks like a UK secondary.
func TestOakfieldShape(t *testing.T) {
	r := sample.Oakfield()
	c := r.Counts()
	if c.People != 1650 {
		t.Errorf("Oakfield has %d people, want 1650", c.People)
	}
	v, err := roster.NewView(r, "ay2025", roster.NewDate(2025, 10, 1))
	if err != nil {
		t.Fatal(err)
	}
	var grades []string
	for _, yg := range v.YearGroups("s01") {
		grades = append(grades, yg.Grade)
		if len(yg.Homerooms) == 0 {
			t.Errorf("Year %s has no registration group", yg.Grade)
		}
	}
	if want := []string{"07", "08", "09", "10", "11", "12", "13"}; !reflect.DeepEqual(grades, want) {
		t.Errorf("year groups %v, want %v", grades, want)
	}

	homerooms := map[string]int{}
	for _, p := range v.ActivePeople() {
		if p.Role != roster.RoleStudent {
			continue
		}
		for _, m := range v.ClassesOf(p.SourcedID) {
			if m.Class.Type == roster.ClassHomeroom {
				homerooms[p.SourcedID]++
			}
		}
	}
	for id, n := range homerooms {
		if n != 1 {
			t.Errorf("%s is in %d registration groups, want 1", id, n)
		}
	}
	for _, cls := range v.Classes() {
		var pupils, primaries int
		for _, m := range v.Members(cls.SourcedID) {
			if m.Enrollment.Role == roster.RoleStudent {
				pupils++
			}
			if m.Enrollment.Primary {
				primaries++
			}
		}
		if pupils > 30 || primaries != 1 {
			t.Errorf("class %s has %d pupils and %d primary teachers, want at most 30 and exactly 1", cls.Title, pupils, primaries)
		}
	}

	// The names that break naive code must all be there.
	var diacritic, apostrophe, hyphen, dup bool
	seen := map[string]bool{}
	for _, p := range r.People {
		full := p.GivenName + " " + p.FamilyName
		diacritic = diacritic || strings.ContainsAny(full, "ëéáóíłñöüşøç")
		apostrophe = apostrophe || strings.Contains(full, "'")
		hyphen = hyphen || strings.Contains(full, "-")
		dup = dup || seen[full]
		seen[full] = true
	}
	if !diacritic || !apostrophe || !hyphen || !dup {
		t.Errorf("names: diacritics %v, apostrophes %v, hyphens %v, duplicates %v; want all", diacritic, apostrophe, hyphen, dup)
	}
	roles := map[roster.Role]int{}
	for _, p := range r.People {
		roles[p.Role]++
	}
	if roles[roster.RoleStudent] != 1500 || roles[roster.RoleTeacher] == 0 || roles[roster.RoleAide] == 0 || roles[roster.RoleAdministrator] == 0 {
		t.Errorf("roles %v", roles)
	}
}

// TestOakfieldFiles keeps testdata/schools/oakfield equal to what the
// generator writes; go test -update rewrites it.
func TestOakfieldFiles(t *testing.T) {
	dir := t.TempDir()
	if err := oneroster.WriteDir(dir, sample.Oakfield(), nil); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files written: %v", err)
	}
	if *update {
		if err := os.MkdirAll(oakfieldDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(oakfieldDir, filepath.Base(f))
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output; run go test ./internal/oneroster/sample -update", path)
		}
	}
	// And the committed feed reads cleanly.
	if _, err := oneroster.Open(context.Background(), oakfieldDir, &oneroster.ReadOptions{Strict: true,
		ValidateOptions: oneroster.ValidateOptions{Session: "ay2025"}}); err != nil {
		t.Errorf("reading %s: %v", oakfieldDir, err)
	}
}
