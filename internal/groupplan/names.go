package groupplan

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/naming"
)

// Graph's limits on group names (graph.md §4.1).
const (
	MaxNickname    = 64
	MaxDisplayName = 256
)

var tokenRE = regexp.MustCompile(`\{([A-Za-z]+)\}`)

// render fills a name template's tokens; unknown tokens (refused when the
// profile is saved) render empty.
func render(tmpl string, tokens map[string]string) string {
	return tokenRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		return tokens[m[1:len(m)-1]]
	})
}

// DisplayName tidies a rendered display name: trimmed, inner runs of
// space collapsed, at most 256 characters.
func DisplayName(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > MaxDisplayName {
		r := []rune(s)
		s = strings.TrimSpace(string(r[:MaxDisplayName]))
	}
	return s
}

// Nickname turns a rendered nickname into one Graph accepts for a group:
// diacritics folded and other scripts transliterated to ASCII, spaces and
// dots (which Graph refuses in a group's mailNickname) become hyphens,
// every other character outside letters, digits, '-' and '_' is dropped
// ("2S/DT1" → "2SDT1", "Mon Ch" → "Mon-Ch"), runs of hyphens collapse, and
// the result is at most 64 characters. The result may be empty.
func Nickname(s string) string {
	s = naming.Fold(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || r == '\t':
			b.WriteByte('-')
		}
	}
	out := b.String()
	for strings.Contains(out, "--") {
		out = strings.ReplaceAll(out, "--", "-")
	}
	out = strings.Trim(out, "-")
	if len(out) > MaxNickname {
		out = strings.TrimRight(out[:MaxNickname], "-")
	}
	return out
}

// nicknames hands out nicknames unique against the tenant's groups and
// the plan's earlier creates, case-insensitively: a taken nickname gets
// "-2", "-3", … (shortened to stay within 64).
type nicknames struct {
	taken map[string]bool
}

func (n *nicknames) allocate(base string) string {
	if base == "" {
		base = "group"
	}
	nick := base
	for i := 2; n.taken[strings.ToLower(nick)]; i++ {
		suffix := "-" + strconv.Itoa(i)
		nick = strings.TrimRight(base[:min(len(base), MaxNickname-len(suffix))], "-") + suffix
	}
	n.taken[strings.ToLower(nick)] = true
	return nick
}
