package userplan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/naming"
	"github.com/rostersync/rostersync/internal/tenant"
)

// identifierProps are properties that identify a person: cutting one could
// make it another person's (employeeId is a match key), so an over-long
// value is left out rather than shortened.
var identifierProps = map[string]bool{"employeeId": true}

// propertyLimit is Graph's length limit for a user property the plan
// writes, in UTF-16 code units as Graph counts; ok is false for a property
// with no known limit.
func propertyLimit(name string) (int, bool) {
	switch name {
	case "userPrincipalName":
		return naming.MaxUPNLength, true
	case "mailNickname":
		return naming.MaxMailNickname, true
	}
	limit, ok := tenant.AccountProperties[name]
	return limit, ok
}

// propNotes collects what cleaning and limits did to a person's property
// values, so that a change says so instead of altering names silently.
type propNotes struct {
	notes map[string]string
	// unset marks properties left out because their value could not be
	// shortened safely (identifierProps).
	unset map[string]bool
}

func (n *propNotes) note(name, text string) {
	if n.notes == nil {
		n.notes = map[string]string{}
	}
	n.notes[name] = text
}

// property returns v made fit for Graph property name: control and format
// characters removed (see cleanProperty) and shortened to Graph's limit.
// An identifier too long for its property returns "" and is marked unset.
func (n *propNotes) property(name, v string) string {
	limit, _ := propertyLimit(name)
	out, cleaned, cut := cleanProperty(v, limit)
	const removed = "control or format characters removed"
	switch {
	case cut && identifierProps[name]:
		full, _, _ := cleanProperty(v, 0)
		if n.unset == nil {
			n.unset = map[string]bool{}
		}
		n.unset[name] = true
		n.note(name, fmt.Sprintf("%s left unset: the value has %d characters, Graph takes %d, and a shortened identifier could be someone else's", name, utf16Len(full), limit))
		return ""
	case cleaned && cut:
		n.note(name, fmt.Sprintf("%s: %s, and shortened to %d characters (Graph's limit)", name, removed, limit))
	case cleaned:
		n.note(name, name+": "+removed)
	case cut:
		n.note(name, fmt.Sprintf("%s shortened to %d characters (Graph's limit)", name, limit))
	}
	return out
}

// about returns "; note; note" for the properties a change writes (after)
// and those left unset, in property order, or "".
func (n *propNotes) about(after map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(n.notes)) {
		if _, written := after[k]; written || n.unset[k] {
			b.WriteString("; ")
			b.WriteString(n.notes[k])
		}
	}
	return b.String()
}

// cleanProperty makes v safe as a Graph property value: line breaks, tabs
// and other control whitespace become a space; other control characters
// (C0, DEL, C1) and format characters (bidi overrides and isolates,
// zero-width spaces and joiners, the BOM, soft hyphens …) are removed,
// since they are invisible in a name, make two names that look alike
// differ, or reverse what a person reads; invalid UTF-8 becomes U+FFFD.
// The result is trimmed and, with limit > 0, shortened to at most limit
// UTF-16 code units without splitting a letter from its accents.
// cleaned reports removed or replaced characters (not mere trimming); cut
// reports shortening.
func cleanProperty(v string, limit int) (out string, cleaned, cut bool) {
	out = v
	if needsCleaning(v) {
		var b strings.Builder
		b.Grow(len(v))
		// space: the last rune written was a space; merging: spaces
		// after a replaced line break or tab are dropped, so "a \r\n b"
		// becomes "a b", not "a   b".
		space, merging := false, false
		for i, r := range v {
			switch {
			case r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029:
				cleaned = true
				if !space {
					b.WriteByte(' ')
				}
				space, merging = true, true
				continue
			case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
				cleaned = true
				continue
			case r == ' ' && merging:
				continue
			case r == utf8.RuneError:
				if _, size := utf8.DecodeRuneInString(v[i:]); size == 1 {
					cleaned = true // an invalid byte, written as U+FFFD
				}
			}
			b.WriteRune(r)
			space, merging = r == ' ', false
		}
		out = b.String()
	}
	out = strings.TrimSpace(out)
	if limit > 0 {
		out, cut = shorten(out, limit)
	}
	return out, cleaned, cut
}

// needsCleaning is the fast path: almost every name is clean.
func needsCleaning(v string) bool {
	for _, r := range v {
		if r < 0x20 || r >= 0x7F && (r <= 0x9F || r == utf8.RuneError || r == 0x2028 || r == 0x2029 || unicode.Is(unicode.Cf, r)) {
			// U+FFFD may be an invalid byte; the slow path tells.
			return true
		}
	}
	return false
}

// shorten cuts s to at most limit UTF-16 code units (Graph counts string
// length as .NET does), backing off so that an accent is never separated
// from its letter.
func shorten(s string, limit int) (string, bool) {
	if len(s) <= limit { // bytes are never fewer than UTF-16 units
		return s, false
	}
	units, end := 0, -1
	for i, r := range s {
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1
		}
		if units+n > limit {
			end = i
			break
		}
		units += n
	}
	if end < 0 {
		return s, false
	}
	for next, _ := utf8.DecodeRuneInString(s[end:]); end > 0 && isMark(next); {
		var size int
		next, size = utf8.DecodeLastRuneInString(s[:end])
		end -= size
	}
	return strings.TrimSpace(s[:end]), true
}

func isMark(r rune) bool { return unicode.In(r, unicode.Mn, unicode.Me, unicode.Mc) }

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if l := utf16.RuneLen(r); l > 0 {
			n += l
		} else {
			n++
		}
	}
	return n
}
