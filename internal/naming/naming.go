// Package naming turns people's names into Microsoft 365 usernames and
// mail nicknames: templates per user type, transliteration of non-Latin
// scripts, casing, diacritic folding, the characters Graph allows, length
// limits, and a suffix that keeps every name unique against the tenant and
// within one plan. It does no I/O.
package naming

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mozillazg/go-unidecode"
	"golang.org/x/text/unicode/norm"
)

// Graph's limits on user names.
const (
	// MaxAliasLength is the local part of a UPN (before the @).
	MaxAliasLength = 64
	// MaxUPNLength is the whole userPrincipalName.
	MaxUPNLength = 113
	// MaxMailNickname is mailNickname's limit.
	MaxMailNickname = 64
)

// Casing of a generated or mapped value.
type Casing string

const (
	CaseNone  Casing = ""
	CaseLower Casing = "lower"
	CaseUpper Casing = "upper"
)

// Apply changes s's case.
func (c Casing) Apply(s string) string {
	switch c {
	case CaseLower:
		return strings.ToLower(s)
	case CaseUpper:
		return strings.ToUpper(s)
	}
	return s
}

// Validate rejects unknown casings.
func (c Casing) Validate() error {
	switch c {
	case CaseNone, CaseLower, CaseUpper, "none":
		return nil
	}
	return fmt.Errorf("casing %q: want none, lower or upper", string(c))
}

// ErrTemplate is wrapped by template errors; ErrEmpty when a name folds to
// nothing usable, even transliterated (e.g. a name recorded as "?", or
// made only of symbols no script reading covers).
// ErrBadAlias when Allocate is given an alias or domain that cannot make a
// userPrincipalName.
var (
	ErrTemplate = errors.New("bad username template")
	ErrEmpty    = errors.New("name has no characters usable in a username")
	ErrBadAlias = errors.New("not a usable username")
)

// Fields are the values a template may use.
type Fields struct {
	Given, Family, Middle, Preferred string
	// Identifier is the MIS identifier (admission number, staff code).
	Identifier string
	// Year is the year group or the intake year, as the school chooses.
	Year string
	// SourcedID is the roster's own id: the last resort for a username
	// when nothing else yields one.
	SourcedID string
}

// placeholders maps template names to their field; a "1" suffix takes the
// first letter only ({given1} → "j").
var placeholders = map[string]func(Fields) string{
	"given":      func(f Fields) string { return f.Given },
	"family":     func(f Fields) string { return f.Family },
	"middle":     func(f Fields) string { return f.Middle },
	"preferred":  func(f Fields) string { return firstNonEmpty(f.Preferred, f.Given) },
	"identifier": func(f Fields) string { return f.Identifier },
	"year":       func(f Fields) string { return f.Year },
	"sourcedId":  func(f Fields) string { return f.SourcedID },
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Template is a parsed alias template such as "{given}.{family}" or
// "{year}{family}{given1}". The domain is not part of it: usernames are
// only ever created in a customer's verified domains.
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	literal string
	field   func(Fields) string
	initial bool
}

// ParseTemplate checks a template: known placeholders only, balanced braces,
// and literal text made of characters allowed in a UPN.
func ParseTemplate(src string) (Template, error) {
	t := Template{src: src}
	rest := src
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			open = len(rest)
		}
		if lit := rest[:open]; lit != "" {
			if strings.ContainsAny(lit, "}") {
				return Template{}, fmt.Errorf("%w %q: unmatched '}'", ErrTemplate, src)
			}
			if cleaned := cleanAlias(lit, true); cleaned != lit {
				return Template{}, fmt.Errorf("%w %q: literal %q has characters a username cannot hold (allowed: letters, digits and ' . - _ ! ^ ~)", ErrTemplate, src, lit)
			}
			t.parts = append(t.parts, templatePart{literal: lit})
		}
		if open == len(rest) {
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return Template{}, fmt.Errorf("%w %q: unclosed '{'", ErrTemplate, src)
		}
		name := rest[open+1 : open+end]
		initial := strings.HasSuffix(name, "1")
		field, ok := placeholders[strings.TrimSuffix(name, "1")]
		if !ok {
			return Template{}, fmt.Errorf("%w %q: unknown placeholder {%s} (known: given, family, middle, preferred, identifier, year, sourcedId, each optionally with 1 for the initial)", ErrTemplate, src, name)
		}
		t.parts = append(t.parts, templatePart{field: field, initial: initial})
		rest = rest[open+end+1:]
	}
	if len(t.parts) == 0 {
		return Template{}, fmt.Errorf("%w: empty template", ErrTemplate)
	}
	return t, nil
}

func (t Template) String() string { return t.src }

// Alias renders the template into a UPN local part: each value is
// transliterated where it holds letters of a non-Latin script, folded to
// ASCII and stripped of characters Graph rejects, the result is cased,
// dots are tidied, and it is cut to maxLen.
func (t Template) Alias(f Fields, casing Casing, maxLen int) (string, error) {
	r, err := t.Render(f, casing, maxLen)
	return r.Alias, err
}

// Rendered is an alias with what was done to make it, so a plan can say
// so instead of changing a username silently.
type Rendered struct {
	Alias string
	// Shortened: the alias was cut to fit maxLen (at most MaxAliasLength).
	Shortened bool
	// Transliterated: a value the alias uses had letters of a non-Latin
	// script (Cyrillic, Greek, Chinese…), spelled in Latin letters.
	Transliterated bool
}

// Render is Alias that also reports how the alias was made.
func (t Template) Render(f Fields, casing Casing, maxLen int) (Rendered, error) {
	var b strings.Builder
	var out Rendered
	for _, p := range t.parts {
		if p.field == nil {
			b.WriteString(p.literal)
			continue
		}
		folded, translit := fold(p.field(f))
		v := cleanAlias(folded, false)
		if p.initial && v != "" {
			_, size := utf8.DecodeRuneInString(v)
			v = v[:size]
		}
		out.Transliterated = out.Transliterated || translit && v != ""
		b.WriteString(v)
	}
	out.Alias = tidyDots(casing.Apply(b.String()))
	if maxLen <= 0 || maxLen > MaxAliasLength {
		maxLen = MaxAliasLength
	}
	if len(out.Alias) > maxLen {
		out.Alias, out.Shortened = tidyDots(out.Alias[:maxLen]), true
	}
	if strings.Trim(out.Alias, ".-_'!^~") == "" {
		return Rendered{}, fmt.Errorf("%w: template %s", ErrEmpty, t.src)
	}
	return out, nil
}

// foldSpecial covers letters that Unicode decomposition leaves alone.
var foldSpecial = map[rune]string{
	'ß': "ss", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE", 'ø': "o", 'Ø': "O", 'ł': "l", 'Ł': "L",
	'đ': "d", 'Đ': "D", 'ð': "d", 'Ð': "D", 'þ': "th", 'Þ': "Th", 'ı': "i", 'ħ': "h", 'Ħ': "H",
	'’': "'", '‘': "'", 'ʼ': "'", '‐': "-", '–': "-",
}

// Fold maps a name to ASCII where a Latin reading exists: "Zoë Ó Súilleabháin"
// → "Zoe O Suilleabhain", "Weiß" → "Weiss", and letters of other scripts
// are transliterated: "Иванова" → "Ivanova", "Παπαδοπούλου" →
// "Papadopoulou", "王伟" → "Wang Wei". Other characters are kept, for
// cleanAlias to drop.
func Fold(s string) string {
	folded, _ := fold(s)
	return folded
}

// fold is Fold that also reports whether it transliterated anything.
//
// Transliteration is by unidecode's tables (Cyrillic by a BGN/PCGN-like
// romanisation, Greek by its Latin reading, Chinese by Mandarin pinyin
// without tones), letter by letter and only for letters and digits of
// non-Latin scripts: Latin letters keep the diacritic folding below,
// which already gives the spellings schools expect (ß → ss, Ø → O), and
// punctuation, controls and format characters are left for cleanAlias to
// judge. It runs on the composed (NFC) form, so a Greek vowel with its
// accent or a Hangul syllable is read as one letter.
func fold(s string) (string, bool) {
	if isASCII(s) {
		// Nothing to normalise, transliterate or strip: most names of an
		// English school, and a trust's worth of allocations saved.
		return s, false
	}
	var translit strings.Builder
	transliterated := false
	for _, r := range norm.NFC.String(s) {
		if r > unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsNumber(r)) && !unicode.Is(unicode.Latin, r) {
			if latin := unidecode.Unidecode(string(r)); latin != "" {
				// Han syllables come out as "Wang " ; the space keeps
				// syllables apart for readers, cleanAlias drops it.
				translit.WriteString(latin)
				transliterated = true
				continue
			}
		}
		translit.WriteRune(r)
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(translit.String()) {
		if rep, ok := foldSpecial[r]; ok {
			b.WriteString(rep)
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			continue // combining accent
		}
		b.WriteRune(r)
	}
	return norm.NFC.String(b.String()), transliterated
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > unicode.MaxASCII {
			return false
		}
	}
	return true
}

// ValidAlias reports whether s can be a UPN local part as Graph takes it:
// only the characters aliasRune allows (so no control, format or
// non-ASCII character), no leading, trailing or doubled dot, at most
// MaxAliasLength long.
func ValidAlias(s string) bool {
	if s == "" || len(s) > MaxAliasLength || s != tidyDots(s) {
		return false
	}
	for _, r := range s {
		if !aliasRune(r, true) {
			return false
		}
	}
	return true
}

// validDomain reports a plain DNS name: letters, digits, hyphens and dots.
func validDomain(s string) bool {
	if s == "" || s != tidyDots(s) {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// aliasRune reports Graph's UPN alias characters: A-Z a-z 0-9 ' . - _ ! ^ ~.
// '#' is allowed on paper but Graph rejects it in practice (and #EXT# is
// reserved for guests), so it is left out.
func aliasRune(r rune, keepApostrophe bool) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	case r == '.' || r == '-' || r == '_' || r == '!' || r == '^' || r == '~':
		return true
	case r == '\'':
		return keepApostrophe
	}
	return false
}

// cleanAlias drops what a UPN cannot hold. Apostrophes in names are dropped
// (O'Brien → OBrien): Graph allows them, but many mail systems and people
// typing usernames do not cope.
func cleanAlias(s string, keepApostrophe bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if aliasRune(r, keepApostrophe) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// tidyDots removes leading, trailing and doubled dots, which Graph rejects.
func tidyDots(s string) string {
	for strings.Contains(s, "..") {
		s = strings.ReplaceAll(s, "..", ".")
	}
	return strings.Trim(s, ".")
}

// MailNickname derives a mailNickname from an alias: ASCII without
// @ ( ) \ [ ] " ; : . < > , and space, at most 64 characters.
func MailNickname(alias string) string {
	var b strings.Builder
	b.Grow(len(alias))
	for _, r := range alias {
		// Printable ASCII only: no control character (DEL included)
		// reaches a tenant, whatever the caller passes.
		if r >= 127 || r < 32 || strings.ContainsRune(`@()\[]";:.<>, `, r) {
			continue
		}
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) > MaxMailNickname {
		s = s[:MaxMailNickname]
	}
	return s
}

// Taken answers whether a username (lower-cased UPN) is in use.
type Taken func(upn string) bool

// Allocator hands out unique UPNs: unique against the tenant (taken) and
// against everything it handed out before (the rest of the plan).
type Allocator struct {
	taken   Taken
	planned map[string]bool
	// next is, per alias and domain, the suffix its search resumes from:
	// every lower one was tried and found in use, and stays in use (the
	// plan only ever adds names, and Taken is the tenant's names as they
	// were read), so a trust of thousands sharing a few common names
	// costs one probe per person rather than one per namesake before it.
	next map[allocKey]int
}

type allocKey struct{ alias, domain string }

// NewAllocator returns an allocator over the tenant's names.
func NewAllocator(taken Taken) *Allocator {
	if taken == nil {
		taken = func(string) bool { return false }
	}
	return &Allocator{taken: taken, planned: map[string]bool{}, next: map[allocKey]int{}}
}

// Allocation is a granted name and how it was reached.
type Allocation struct {
	UPN   string
	Alias string
	// Suffix is 0 when the plain alias was free, else the number appended.
	Suffix int
}

// maxSuffix bounds the search; a school with more than this many people
// sharing one name has a template problem, not a naming one.
const maxSuffix = 9999

// Allocate returns alias@domain, or alias2@domain, alias3@domain… for the
// first free one, shortening the alias so the suffix fits the limits.
//
// The alias must be one Alias made (see ValidAlias) and the domain a plain
// DNS name: whatever reaches here becomes a userPrincipalName, so anything
// else is refused rather than cleaned.
func (a *Allocator) Allocate(alias, domain string) (Allocation, error) {
	if !ValidAlias(alias) {
		return Allocation{}, fmt.Errorf("%w: alias %q is not a valid username", ErrBadAlias, alias)
	}
	if !validDomain(domain) {
		return Allocation{}, fmt.Errorf("%w: domain %q is not a DNS name", ErrBadAlias, domain)
	}
	domain = strings.ToLower(domain)
	resume := allocKey{alias, domain}
	for n := a.next[resume]; n <= maxSuffix; n++ {
		if n == 1 {
			continue // "smith1" reads oddly next to "smith"; start at 2
		}
		candidate := alias
		if n > 0 {
			suffix := strconv.Itoa(n)
			room := min(MaxAliasLength, MaxUPNLength-len(domain)-1) - len(suffix)
			if len(candidate) > room {
				candidate = tidyDots(candidate[:max(room, 1)])
			}
			candidate += suffix
		} else if room := MaxUPNLength - len(domain) - 1; len(candidate) > room {
			candidate = tidyDots(candidate[:room])
		}
		upn := candidate + "@" + domain
		key := strings.ToLower(upn)
		if a.planned[key] || a.taken(key) {
			continue
		}
		a.planned[key] = true
		a.next[resume] = n + 1
		return Allocation{UPN: upn, Alias: candidate, Suffix: n}, nil
	}
	a.next[resume] = maxSuffix + 1
	return Allocation{}, fmt.Errorf("no free username for alias %s in %s after %d tries", alias, domain, maxSuffix)
}

// Reserve marks a UPN as used by the plan (e.g. an account the plan keeps).
func (a *Allocator) Reserve(upn string) { a.planned[strings.ToLower(upn)] = true }
