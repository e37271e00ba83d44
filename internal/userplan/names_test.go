package userplan

import (
	"strings"
	"testing"
	"unicode"

	"github.com/rostersync/rostersync/internal/naming"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// TestNamesInOtherScripts: a person whose name has no Latin letters gets
// an account whose username is transliterated, while the names the
// account shows stay in the person's own script; a name that yields
// nothing even so falls back to the type's fallback template, then to the
// sourcedId, and the change says which.
func TestNamesInOtherScripts(t *testing.T) {
	tests := []struct {
		name          string
		given, family string
		identifier    string // "" clears the MIS identifier
		fallback      string // the student type's fallbackTemplate
		wantUPN       string
		wantDetail    string
	}{
		{"cyrillic", "Юлия", "Щукина", "A1", "", "iuliia.shchukina@oakfield.example", "transliterated from the name's own script"},
		{"greek", "Γιώργος", "Παπαδόπουλος", "A1", "", "giorgos.papadopoulos@oakfield.example", "transliterated from the name's own script"},
		{"chinese by pinyin", "静怡", "欧阳", "A1", "", "jingyi.ouyang@oakfield.example", "transliterated from the name's own script"},
		{"latin name says nothing of transliteration", "Zoë", "Ó Súilleabháin", "A1", "", "zoe.osuilleabhain@oakfield.example", "username from template {given}.{family}"},
		{"unreadable name: identifier", "?", "—", "A1", "", "a1@oakfield.example", "username from fallback template {identifier}: template {given}.{family} finds nothing usable"},
		{"unreadable name: configured fallback", "?", "?", "A1", "pupil.{identifier}", "pupil.a1@oakfield.example", "username from fallback template pupil.{identifier}"},
		{"unreadable name, no identifier: sourcedId", "?", "?", "", "", "s1@oakfield.example", "username from the sourcedId: neither template {given}.{family} nor fallback template {identifier}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := buildView(t, person{id: "s1", role: "student", given: tt.given, family: tt.family, grade: "7"})
			v.Roster().Person("s1").Identifier = tt.identifier
			in := input(v)
			st := in.Rules.Types[tenant.UserStudent]
			st.FallbackTemplate = tt.fallback
			in.Rules.Types[tenant.UserStudent] = st
			p := Compute(in)
			ch := find(p, "s1")
			if ch == nil || ch.Action != plan.Create {
				t.Fatalf("s1: change %+v, unsynced %+v; want a create", ch, p.Unsynced)
			}
			if got := ch.After["userPrincipalName"]; got != tt.wantUPN {
				t.Errorf("userPrincipalName = %q, want %q", got, tt.wantUPN)
			}
			if want, _, _ := strings.Cut(tt.wantUPN, "@"); ch.After["mailNickname"] != strings.ReplaceAll(want, ".", "") {
				t.Errorf("mailNickname = %q, want the UPN's alias without dots", ch.After["mailNickname"])
			}
			if !strings.Contains(ch.Detail, tt.wantDetail) {
				t.Errorf("detail %q does not say %q", ch.Detail, tt.wantDetail)
			}
			// The account shows the name as the school wrote it.
			if ch.After["givenName"] != tt.given || ch.After["surname"] != tt.family || ch.After["displayName"] != tt.given+" "+tt.family {
				t.Errorf("names = %q / %q / %q, want them in the original script", ch.After["givenName"], ch.After["surname"], ch.After["displayName"])
			}
		})
	}
}

// TestNothingUsableAtAllIsUnsynced: only when even the sourcedId holds no
// character a username can use is the person left unsynced, and the
// detail names what was tried.
func TestNothingUsableAtAllIsUnsynced(t *testing.T) {
	v := buildView(t, person{id: "—", role: "student", given: "?", family: "?", grade: "7"})
	v.Roster().Person("—").Identifier = ""
	p := Compute(input(v))
	u := findUnsynced(p, "—")
	if u == nil || u.Reason != plan.UnsyncedBecauseNoUsername || !strings.Contains(u.Detail, "fallback template {identifier} nor the sourcedId") {
		t.Errorf("unsynced = %+v, changes %+v; want no_usable_username naming the fallbacks tried", u, p.Changes)
	}
}

// TestGeneratedSchoolWithNonLatinNames is issue 17's acceptance: a school
// of 1,650 where 3% of pupils and staff have names in Cyrillic, Greek or
// Chinese, planned against an empty tenant, gives every enabled person
// exactly one create (none left unsynced for want of a username), with
// unique usernames. Before transliteration about 50 of them got none.
func TestGeneratedSchoolWithNonLatinNames(t *testing.T) {
	r := sample.Generate(sample.Options{Seed: 17, NonLatinShare: 0.03})
	v, err := roster.NewView(r, "ay2025", roster.NewDate(2025, 10, 1))
	if err != nil {
		t.Fatal(err)
	}
	rules := tenant.DefaultUsersConfig()
	// Staff without a timetable and pupils not yet placed are people too:
	// with this on, every enabled person is due an account.
	rules.SyncWithoutEnrolments = true
	domains := []string{"oakfield.example"}
	p := Compute(Input{View: v, Dir: Directory{Domains: domains}, Domains: domains, Rules: rules})
	onceEach(t, p)

	for _, u := range p.Unsynced {
		t.Errorf("%s unsynced: %s (%s)", u.Key, u.Reason, u.Detail)
	}
	creates := map[string]*plan.Change{}
	upns := map[string]string{}
	for i, ch := range p.Changes {
		if ch.Action != plan.Create {
			t.Errorf("%s: %s, want a create against an empty tenant", ch.Key, ch.Action)
			continue
		}
		creates[ch.Key] = &p.Changes[i]
		upn := strings.ToLower(ch.After["userPrincipalName"])
		if other, dup := upns[upn]; dup {
			t.Errorf("%s and %s both get %s", other, ch.Key, upn)
		}
		upns[upn] = ch.Key
		alias, _, _ := strings.Cut(upn, "@")
		if !naming.ValidAlias(alias) {
			t.Errorf("%s: %q is not a valid username", ch.Key, upn)
		}
	}
	enabled, nonLatin := 0, 0
	for i := range r.People {
		person := &r.People[i]
		if !person.Enabled {
			continue
		}
		enabled++
		ch := creates[person.SourcedID]
		if ch == nil {
			t.Errorf("%s (%s) gets no account", person.SourcedID, person.Role)
			continue
		}
		if strings.IndexFunc(person.GivenName+person.FamilyName, func(r rune) bool { return r > unicode.MaxASCII && !unicode.Is(unicode.Latin, r) }) < 0 {
			continue
		}
		nonLatin++
		// From the name itself, not a fallback: the username reads as
		// the person's name.
		if !strings.Contains(ch.Detail, "username from template "+rules.Types[UserType(person.Role)].UsernameTemplate+", transliterated from the name's own script") {
			t.Errorf("%s: detail %q, want the username transliterated from the name", person.SourcedID, ch.Detail)
		}
		if ch.After["givenName"] != person.GivenName || ch.After["surname"] != person.FamilyName {
			t.Errorf("%s: names %q %q, want them as the MIS has them", person.SourcedID, ch.After["givenName"], ch.After["surname"])
		}
	}
	if len(creates) != enabled {
		t.Errorf("%d creates for %d enabled people", len(creates), enabled)
	}
	if nonLatin < 30 {
		t.Errorf("only %d people with non-Latin names: the sample does not exercise transliteration", nonLatin)
	}
	t.Logf("%d enabled people, %d with non-Latin names, %d creates", enabled, nonLatin, len(creates))
}
