package sample_test

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/roster"
)

// scriptOf names the non-Latin script a name is written in, or "".
func scriptOf(name string) string {
	for _, r := range name {
		switch {
		case unicode.Is(unicode.Cyrillic, r):
			return "Cyrillic"
		case unicode.Is(unicode.Greek, r):
			return "Greek"
		case unicode.Is(unicode.Han, r):
			return "Han"
		}
	}
	return ""
}

// TestNonLatinShare: the option gives about its share of people names in
// Cyrillic, Greek and Chinese, pupils and staff alike, deterministically;
// the MIS's own usernames and emails stay ASCII (romanised) and the
// roster stays valid.
func TestNonLatinShare(t *testing.T) {
	opts := sample.Options{Seed: 11, NonLatinShare: 0.03}
	r := sample.Generate(opts)
	if !reflect.DeepEqual(r, sample.Generate(opts)) {
		t.Fatal("two rosters generated with the same options differ")
	}
	if _, err := oneroster.Validate(r, &oneroster.ValidateOptions{On: roster.NewDate(2025, 10, 1)}); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	scripts := map[string]int{}
	roles := map[bool]int{} // student or not
	n := 0
	for _, p := range r.People {
		sg, sf := scriptOf(p.GivenName), scriptOf(p.FamilyName)
		if sg != sf {
			t.Errorf("%s: given name in %q, family name in %q; want one script", p.SourcedID, sg, sf)
		}
		if sg == "" {
			continue
		}
		n++
		scripts[sg]++
		roles[p.Role == roster.RoleStudent]++
		for _, s := range []string{p.Username, p.Email, p.Identifier} {
			for _, c := range s {
				if c > unicode.MaxASCII {
					t.Errorf("%s: MIS value %q is not ASCII", p.SourcedID, s)
					break
				}
			}
		}
		if !strings.ContainsFunc(p.Username, unicode.IsLetter) {
			t.Errorf("%s: username %q holds no name (want the romanised one)", p.SourcedID, p.Username)
		}
	}
	// 3% of 1,650 is about 50.
	if n < 30 || n > 75 {
		t.Errorf("%d people with non-Latin names, want about 50 (3%% of %d)", n, len(r.People))
	}
	for _, s := range []string{"Cyrillic", "Greek", "Han"} {
		if scripts[s] == 0 {
			t.Errorf("no names in %s: %v", s, scripts)
		}
	}
	if roles[true] == 0 || roles[false] == 0 {
		t.Errorf("non-Latin names: %d pupils and %d staff, want some of each", roles[true], roles[false])
	}
}

// TestNonLatinShareZeroChangesNothing: without the option no name is in
// another script, and a negative share is taken as zero. (That rosters
// made before the option come out the same, the zero share drawing no
// random number, is TestOakfieldFiles' committed feed.)
func TestNonLatinShareZeroChangesNothing(t *testing.T) {
	r := sample.Generate(sample.Options{Seed: 11, Students: 200, Staff: 20})
	for _, p := range r.People {
		if s := scriptOf(p.GivenName + p.FamilyName); s != "" {
			t.Fatalf("%s has a name in %s with no NonLatinShare", p.SourcedID, s)
		}
	}
	if !reflect.DeepEqual(r, sample.Generate(sample.Options{Seed: 11, Students: 200, Staff: 20, NonLatinShare: -1})) {
		t.Error("a negative share (taken as zero) changed the roster")
	}
}
