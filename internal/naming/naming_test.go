package naming

import (
	"errors"
	"strings"
	"testing"
	"unicode"
)

func TestAlias(t *testing.T) {
	tests := []struct {
		name, template string
		fields         Fields
		casing         Casing
		want           string
		wantErr        error
	}{
		{"plain", "{given}.{family}", Fields{Given: "Adele", Family: "Vance"}, CaseLower, "adele.vance", nil},
		{"diacritics fold", "{given}.{family}", Fields{Given: "Zoë", Family: "Ó Súilleabháin"}, CaseLower, "zoe.osuilleabhain", nil},
		{"special letters", "{given}{family}", Fields{Given: "Łukasz", Family: "Weiß-Ærø"}, CaseNone, "LukaszWeiss-AEro", nil},
		{"apostrophe dropped", "{given}.{family}", Fields{Given: "Siobhán", Family: "O'Brien"}, CaseLower, "siobhan.obrien", nil},
		{"curly apostrophe dropped", "{given}.{family}", Fields{Given: "Sean", Family: "O’Neill"}, CaseLower, "sean.oneill", nil},
		{"hyphen kept", "{given}.{family}", Fields{Given: "Mary-Jane", Family: "Smith-Jones"}, CaseLower, "mary-jane.smith-jones", nil},
		{"spaces removed", "{given}.{family}", Fields{Given: "Anne Marie", Family: "van der Berg"}, CaseLower, "annemarie.vanderberg", nil},
		{"initial", "{year}{family}{given1}", Fields{Given: "Émile", Family: "Zola", Year: "7"}, CaseLower, "7zolae", nil},
		{"identifier", "{identifier}", Fields{Identifier: "A1234#5"}, CaseUpper, "A12345", nil},
		{"empty given leaves no stray dot", "{given}.{family}", Fields{Family: "Okafor"}, CaseLower, "okafor", nil},
		{"preferred falls back to given", "{preferred}.{family}", Fields{Given: "William", Family: "Ng"}, CaseLower, "william.ng", nil},
		{"preferred used", "{preferred}.{family}", Fields{Given: "William", Preferred: "Bill", Family: "Ng"}, CaseLower, "bill.ng", nil},
		{"chinese by pinyin", "{given}.{family}", Fields{Given: "李", Family: "王"}, CaseLower, "li.wang", nil},
		{"chinese two syllables", "{given}.{family}", Fields{Given: "静怡", Family: "欧阳"}, CaseLower, "jingyi.ouyang", nil},
		{"cyrillic", "{given}.{family}", Fields{Given: "Юлия", Family: "Щукина"}, CaseLower, "iuliia.shchukina", nil},
		{"cyrillic soft sign leaves no apostrophe", "{given}.{family}", Fields{Given: "Ольга", Family: "Иванова"}, CaseLower, "olga.ivanova", nil},
		{"cyrillic kept cased", "{given}{family}", Fields{Given: "Жанна", Family: "Петрова"}, CaseNone, "ZhannaPetrova", nil},
		{"cyrillic initial", "{given1}{family}", Fields{Given: "Щукин", Family: "Борис"}, CaseLower, "sboris", nil},
		{"greek with accents", "{given}.{family}", Fields{Given: "Γιώργος", Family: "Παπαδόπουλος"}, CaseLower, "giorgos.papadopoulos", nil},
		{"greek decomposed accent", "{given}", Fields{Given: "Ανδρε\u0301ας"}, CaseLower, "andreas", nil},
		{"korean syllables", "{given}.{family}", Fields{Given: "민준", Family: "김"}, CaseLower, "minjun.gim", nil},
		{"latin given, cyrillic family", "{given}.{family}", Fields{Given: "Zoë", Family: "Соколова"}, CaseLower, "zoe.sokolova", nil},
		{"cyrillic look-alike in a latin name", "{given}", Fields{Given: "Аnna"}, CaseLower, "anna", nil},
		{"nothing readable even transliterated", "{given}.{family}", Fields{Given: "?", Family: "😀"}, CaseLower, "", ErrEmpty},
		{"sourcedId placeholder", "{sourcedId}", Fields{SourcedID: "c4a1-99/x"}, CaseLower, "c4a1-99x", nil},
		{"NUL and C0 controls dropped", "{given}.{family}", Fields{Given: "Jo\x00hn", Family: "Sm\x1b[2Jith\t"}, CaseLower, "john.sm2jith", nil},
		{"C1 control and DEL dropped", "{given}.{family}", Fields{Given: "Ann\u0085a\x7f", Family: "Lee"}, CaseLower, "anna.lee", nil},
		{"bidi override dropped", "{given}.{family}", Fields{Given: "\u202eAmy\u202c", Family: "\u2066Pond\u2069"}, CaseLower, "amy.pond", nil},
		{"zero-width characters dropped", "{given}.{family}", Fields{Given: "Al\u200bi\u200dce\ufeff", Family: "Ng\u2060\u00ad"}, CaseLower, "alice.ng", nil},
		{"only format characters", "{given}.{family}", Fields{Given: "\u202e\u200b", Family: "\x00"}, CaseLower, "", ErrEmpty},
		{"too long is cut", "{given}.{family}", Fields{Given: strings.Repeat("a", 40), Family: strings.Repeat("b", 40)}, CaseLower, strings.Repeat("a", 40) + "." + strings.Repeat("b", 23), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Alias(tt.fields, tt.casing, 0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Alias = %q, %v, want error %v", got, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Alias(%+v) = %q, want %q", tt.fields, got, tt.want)
			}
			for _, r := range got {
				if !aliasRune(r, false) {
					t.Errorf("alias %q holds %q, which Graph rejects", got, r)
				}
			}
		})
	}
}

func TestParseTemplateErrors(t *testing.T) {
	for _, src := range []string{"", "{given", "given}", "{nickname}", "{given} {family}", "{given}@{family}", "{given}#1"} {
		if _, err := ParseTemplate(src); !errors.Is(err, ErrTemplate) {
			t.Errorf("ParseTemplate(%q) = %v, want ErrTemplate", src, err)
		}
	}
}

func TestAllocatorIsUniqueAcrossTenantAndPlan(t *testing.T) {
	tenant := map[string]bool{"adele.vance@school.example": true, "adele.vance2@school.example": true}
	a := NewAllocator(func(upn string) bool { return tenant[upn] })
	first, err := a.Allocate("adele.vance", "School.Example")
	if err != nil {
		t.Fatal(err)
	}
	if first.UPN != "adele.vance3@school.example" || first.Suffix != 3 {
		t.Errorf("first = %+v, want adele.vance3 (1 skipped, 2 taken in the tenant)", first)
	}
	second, _ := a.Allocate("Adele.Vance", "school.example")
	if strings.ToLower(second.UPN) != "adele.vance4@school.example" {
		t.Errorf("second = %+v, want the next free suffix, case-insensitively", second)
	}
	a.Reserve("sam.lee@school.example")
	if got, _ := a.Allocate("sam.lee", "school.example"); got.Suffix != 2 {
		t.Errorf("reserved name handed out again: %+v", got)
	}
}

// TestAllocatorNamesakesCostOneProbeEach: a trust where thousands share
// a name (and the tenant already holds some of their suffixes) gets the
// same names as a search from suffix 0 each time would give, asking the
// tenant about each candidate once rather than once per earlier namesake.
func TestAllocatorNamesakesCostOneProbeEach(t *testing.T) {
	tenant := map[string]bool{"j.smith@school.example": true, "j.smith3@school.example": true, "j.smith40@school.example": true}
	probes := 0
	a := NewAllocator(func(upn string) bool { probes++; return tenant[upn] })
	a.Reserve("j.smith7@school.example")
	const namesakes = 5000
	want := 2 // 0 and 1 skipped, 2 free
	for i := range namesakes {
		got, err := a.Allocate("j.smith", "school.example")
		if err != nil {
			t.Fatal(err)
		}
		for want == 3 || want == 7 || want == 40 {
			want++
		}
		if got.Suffix != want {
			t.Fatalf("namesake %d got suffix %d, want %d", i, got.Suffix, want)
		}
		want++
	}
	// One probe per suffix tried: the namesakes, the tenant's three and
	// the reserved one, less the plain alias and suffix 1 it skips.
	if limit := namesakes + 4; probes > limit {
		t.Errorf("%d namesakes asked the tenant %d times, want at most %d", namesakes, probes, limit)
	}
}

func TestAllocatorRespectsLengthLimits(t *testing.T) {
	long := strings.Repeat("x", MaxAliasLength)
	taken := map[string]bool{long + "@s.example": true}
	a := NewAllocator(func(upn string) bool { return taken[upn] })
	got, err := a.Allocate(long, "s.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Alias) > MaxAliasLength || !strings.HasSuffix(got.Alias, "2") {
		t.Errorf("alias %q (%d chars): want at most %d ending in the suffix", got.Alias, len(got.Alias), MaxAliasLength)
	}
	domain := strings.Repeat("d", 80) + ".example"
	got, _ = NewAllocator(nil).Allocate(long, domain)
	if len(got.UPN) > MaxUPNLength {
		t.Errorf("UPN %d chars, want at most %d", len(got.UPN), MaxUPNLength)
	}
}

func TestRenderSaysWhenShortened(t *testing.T) {
	tmpl, _ := ParseTemplate("{given}.{family}")
	r, err := tmpl.Render(Fields{Given: strings.Repeat("a", 40), Family: strings.Repeat("b", 40)}, CaseLower, 0)
	if err != nil || !r.Shortened || len(r.Alias) != MaxAliasLength {
		t.Errorf("Render = %+v (%d), %v; want %d characters, shortened", r, len(r.Alias), err, MaxAliasLength)
	}
	if r, _ := tmpl.Render(Fields{Given: "Amy", Family: "Pond"}, CaseLower, 0); r.Shortened {
		t.Error("a short alias reported as shortened")
	}
}

// TestRenderSaysWhenTransliterated: a plan says when a username was
// spelled from a name in another script, and only then.
func TestRenderSaysWhenTransliterated(t *testing.T) {
	tests := []struct {
		template string
		fields   Fields
		want     Rendered
	}{
		{"{given}.{family}", Fields{Given: "Zoë", Family: "Ó Súilleabháin"}, Rendered{Alias: "zoe.osuilleabhain"}},
		{"{given}.{family}", Fields{Given: "Иван", Family: "Петров"}, Rendered{Alias: "ivan.petrov", Transliterated: true}},
		{"{given}.{family}", Fields{Given: "Amy", Family: "王"}, Rendered{Alias: "amy.wang", Transliterated: true}},
		// The Greek middle name is not used: nothing was transliterated.
		{"{given}.{family}", Fields{Given: "Amy", Family: "Pond", Middle: "Ελένη"}, Rendered{Alias: "amy.pond"}},
		// Only the unreadable emoji is non-Latin: nothing transliterated.
		{"{given}", Fields{Given: "Amy😀"}, Rendered{Alias: "amy"}},
	}
	for _, tt := range tests {
		tmpl, err := ParseTemplate(tt.template)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tmpl.Render(tt.fields, CaseLower, 0)
		if err != nil || got != tt.want {
			t.Errorf("Render(%+v) = %+v, %v; want %+v", tt.fields, got, err, tt.want)
		}
	}
}

func TestAllocateRefusesWhatCannotBeAUsername(t *testing.T) {
	a := NewAllocator(nil)
	for _, tt := range []struct{ alias, domain string }{
		{"jo\x00hn", "school.example"},
		{"amy\u202e.pond", "school.example"},
		{"zo\u00eb", "school.example"},
		{".amy", "school.example"},
		{"", "school.example"},
		{strings.Repeat("a", MaxAliasLength+1), "school.example"},
		{"amy", "school.example\x00"},
		{"amy", "sch ool.example"},
		{"amy", "a@b.example"},
	} {
		if got, err := a.Allocate(tt.alias, tt.domain); !errors.Is(err, ErrBadAlias) {
			t.Errorf("Allocate(%q, %q) = %+v, %v; want ErrBadAlias", tt.alias, tt.domain, got, err)
		}
	}
}

func TestMailNickname(t *testing.T) {
	if got := MailNickname("a\x7fb\x00c\u202ed"); got != "abcd" {
		t.Errorf("MailNickname kept a control or format character: %q", got)
	}
	if got := MailNickname("mary-jane.smith-jones"); got != "mary-janesmith-jones" {
		t.Errorf("MailNickname = %q", got)
	}
	if got := MailNickname(strings.Repeat("a", 80)); len(got) != MaxMailNickname {
		t.Errorf("MailNickname length %d, want %d", len(got), MaxMailNickname)
	}
}

func FuzzAlias(f *testing.F) {
	tmpl, _ := ParseTemplate("{given}.{family}")
	for _, s := range []string{"Zoë", "O'Brien", "..", "李", "Ærø", "a\u0301", "Jo\x00hn", "\u202eAmy\u202c", "Al\u200bice\ufeff", "Ann\u0085a\x7f", strings.Repeat("é", 100),
		"Юлия", "Παπαδοπούλου", "欧阳静怡", "민준", "ь", "Ελε\u0301νη", strings.Repeat("Щ", 40)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, given, family string) {
		alias, err := tmpl.Alias(Fields{Given: given, Family: family}, CaseLower, 0)
		if err != nil {
			return
		}
		if len(alias) > MaxAliasLength || strings.HasPrefix(alias, ".") || strings.HasSuffix(alias, ".") || strings.Contains(alias, "..") {
			t.Fatalf("alias %q breaks Graph's rules", alias)
		}
		for _, r := range alias {
			// Independent of aliasRune: no control, format or non-ASCII
			// character may reach a UPN.
			if r > 126 || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || !aliasRune(r, false) {
				t.Fatalf("alias %q holds %q", alias, r)
			}
		}
		got, err := NewAllocator(nil).Allocate(alias, "school.example")
		if err != nil {
			t.Fatalf("Allocate(%q) refused an alias Alias made: %v", alias, err)
		}
		if local, _, _ := strings.Cut(got.UPN, "@"); local != alias || len(got.UPN) > MaxUPNLength {
			t.Fatalf("UPN %q from alias %q", got.UPN, alias)
		}
		nick := MailNickname(alias)
		if len(nick) > MaxMailNickname {
			t.Fatalf("mailNickname %q is %d long", nick, len(nick))
		}
		for _, r := range nick {
			if r < 33 || r > 126 || strings.ContainsRune(`@()\[]";:.<>,`, r) {
				t.Fatalf("mailNickname %q holds %q", nick, r)
			}
		}
	})
}
