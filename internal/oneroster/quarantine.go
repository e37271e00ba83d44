package oneroster

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/internal/roster"
)

// DefaultMaxQuarantine is the share of a file's rows that may be
// quarantined before the feed is refused whole: one odd row in a school of
// 1,650 should not stop everyone's sync, but an export where one row in
// twenty is wrong is broken, and syncing the rest would sync half a school.
const DefaultMaxQuarantine = 0.05

// ErrQuarantineCap is a file with more quarantined rows than the cap
// allows; the feed is refused and every row's problem is listed.
var ErrQuarantineCap = errors.New("too many rows quarantined")

// Quarantined is one problem of a row left out of an accepted feed. A row
// with several problems appears once per problem, with the same File and
// Line. Value is withheld for personal columns (names, emails, dates of
// birth), so a list of these can be logged and shown.
type Quarantined struct {
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
	Column    string `json:"column,omitempty"`
	Value     string `json:"value,omitempty"`
	SourcedID string `json:"sourcedId,omitempty"`
	// Reason says what was expected and what was wrong, for people.
	Reason string `json:"reason"`
	// Err is the sentinel cause (ErrContradiction, ErrUnknownRef …).
	Err error `json:"-"`
}

// String reads like a ParseError: "enrollments.csv:12: column role: …".
func (q Quarantined) String() string {
	var b strings.Builder
	b.WriteString(q.File)
	if q.Line > 0 {
		fmt.Fprintf(&b, ":%d", q.Line)
	}
	if q.Column != "" {
		fmt.Fprintf(&b, ": column %s", q.Column)
	}
	if q.Value != "" {
		fmt.Fprintf(&b, ": value %q", clip(q.Value))
	}
	b.WriteString(": ")
	b.WriteString(q.Reason)
	return b.String()
}

// quarantinable lists the kinds whose rows may be quarantined: a class, a
// person, an enrolment or demographics stand alone. Orgs, sessions and
// courses do not: everything hangs off them, and a bad one is a broken
// export.
var quarantinable = [numKinds]bool{KindClasses: true, KindUsers: true, KindEnrollments: true, KindDemographics: true}

// rowProblems are the causes confined to one row. Anything else (broken
// CSV, a missing column, a duplicate id, an empty file) is structural and
// refuses the feed.
var rowProblems = []error{ErrBadEnum, ErrBadDate, ErrBadValue, ErrMissingField, ErrControlChar, ErrTooLong,
	ErrBadStatus, ErrUnknownRef, ErrWrongOrgType, ErrNoSchool, ErrContradiction}

// quarantine holds the rows left out of one read.
type quarantine struct {
	max  float64 // share of a kind's rows; negative: quarantine nothing
	rows []qrow
	// ids maps each quarantined sourcedId, per kind, to where its row was,
	// so that a row pointing to it says why the target is missing.
	ids [numKinds]map[string]string
	// pending are the rows validation marked in the current pass, by
	// index into the roster's slice of the kind.
	pending [numKinds]map[int][]*ParseError
	// size is the number of rows of each kind the cap is a share of.
	size [numKinds]int
	// spilled marks kinds whose parse-time quarantine already exceeded
	// the cap: their problems go straight to the error list, so a
	// hopeless file stops being read as soon as the error cap is hit.
	spilled [numKinds]bool
	held    [numKinds]int
}

type qrow struct {
	kind Kind
	id   string
	errs []*ParseError
}

func newQuarantine(max float64, strict bool) *quarantine {
	if max == 0 {
		max = DefaultMaxQuarantine
	}
	if strict {
		max = -1
	}
	return &quarantine{max: max}
}

// can reports whether a problem of kind k may quarantine its row.
func (q *quarantine) can(k Kind, err error) bool {
	if q == nil || q.max < 0 || k < 0 || k >= numKinds || !quarantinable[k] {
		return false
	}
	return slices.ContainsFunc(rowProblems, func(e error) bool { return errors.Is(err, e) })
}

// canAll reports whether every problem of a row may quarantine it.
func (q *quarantine) canAll(k Kind, errs []*ParseError) bool {
	for _, e := range errs {
		if !q.can(k, e.Err) {
			return false
		}
	}
	return len(errs) > 0
}

// hold reports whether a row of kind k found bad while parsing may be
// quarantined, rows being the rows of the file read so far. Once more rows
// are held than both the error cap and the quarantine cap allow, the
// file is broken: what was held is reported and the rest goes straight
// to c.
func (q *quarantine) hold(k Kind, rows int, c *collector) bool {
	if q == nil || q.max < 0 || !quarantinable[k] || q.spilled[k] {
		return false
	}
	if q.held[k] < c.max || float64(q.held[k]) <= q.max*float64(rows) {
		return true
	}
	q.spilled[k] = true
	kept := q.rows[:0]
	for _, row := range q.rows {
		if row.kind != k {
			kept = append(kept, row)
			continue
		}
		for _, e := range row.errs {
			c.add(e)
		}
	}
	q.rows = kept
	return false
}

// add quarantines a row found bad while parsing.
func (q *quarantine) add(k Kind, id string, errs []*ParseError) {
	q.held[k]++
	q.rows = append(q.rows, qrow{kind: k, id: id, errs: errs})
	if id != "" {
		if q.ids[k] == nil {
			q.ids[k] = map[string]string{}
		}
		if _, seen := q.ids[k][id]; !seen {
			e := errs[0]
			q.ids[k][id] = fmt.Sprintf("%s line %d", e.File, e.Line)
		}
	}
}

// mark records a problem validation found with row i of kind k.
func (q *quarantine) mark(k Kind, i int, e *ParseError) {
	if q.pending[k] == nil {
		q.pending[k] = map[int][]*ParseError{}
	}
	q.pending[k][i] = append(q.pending[k][i], e)
}

// where says where a quarantined record of kind k was, or "".
func (q *quarantine) where(k Kind, id string) string {
	if q == nil {
		return ""
	}
	return q.ids[k][id]
}

func (q *quarantine) hasPending() bool {
	if q == nil {
		return false
	}
	for _, p := range q.pending {
		if len(p) > 0 {
			return true
		}
	}
	return false
}

// settlePass moves the rows marked in a validation pass into the
// quarantine and removes them from the roster and its locations.
func (q *quarantine) settlePass(r *roster.Roster, loc *locations) {
	r.Classes = dropKind(q, KindClasses, r.Classes, func(x *roster.Class) string { return x.SourcedID }, loc)
	r.People = dropKind(q, KindUsers, r.People, func(x *roster.Person) string { return x.SourcedID }, loc)
	r.Enrollments = dropKind(q, KindEnrollments, r.Enrollments, func(x *roster.Enrollment) string { return x.SourcedID }, loc)
	r.Demographics = dropKind(q, KindDemographics, r.Demographics, func(x *roster.Demographics) string { return x.SourcedID }, loc)
}

func dropFrom[T any](s []T, lines []int32, drop map[int][]*ParseError) ([]T, []int32) {
	out := s[:0]
	var outLines []int32
	if lines != nil {
		outLines = lines[:0]
	}
	for i := range s {
		if _, gone := drop[i]; gone {
			continue
		}
		out = append(out, s[i])
		if lines != nil && i < len(lines) {
			outLines = append(outLines, lines[i])
		}
	}
	clear(s[len(out):])
	return out, outLines
}

// dropKind removes kind k's marked rows from s, quarantining them.
func dropKind[T any](q *quarantine, k Kind, s []T, id func(*T) string, loc *locations) []T {
	marked := q.pending[k]
	if len(marked) == 0 {
		return s
	}
	for _, i := range slices.Sorted(maps.Keys(marked)) {
		q.add(k, id(&s[i]), marked[i])
	}
	out, lines := dropFrom(s, loc.lines[k], marked)
	loc.lines[k] = lines
	if loc.files[k] != nil {
		loc.files[k], _ = dropFrom(loc.files[k], nil, marked)
	}
	q.pending[k] = nil
	return out
}

// enforce applies the cap: a kind with more quarantined rows than its
// share allows is refused, every row's problems becoming errors. It
// returns the rest, flattened.
func (q *quarantine) enforce(loc *locations, c *collector) []Quarantined {
	if q == nil {
		return nil
	}
	var count [numKinds]int
	for _, row := range q.rows {
		count[row.kind]++
	}
	var over [numKinds]bool
	var allowed [numKinds]int
	for _, k := range Kinds {
		allowed[k] = int(math.Floor(max(q.max, 0) * float64(q.size[k])))
		over[k] = count[k] > allowed[k]
	}
	var out []Quarantined
	for _, row := range q.rows {
		for _, e := range row.errs {
			if over[row.kind] {
				c.add(e)
				continue
			}
			out = append(out, quarantined(e, row.id))
		}
	}
	for _, k := range Kinds {
		if over[k] {
			c.add(&ParseError{File: loc.names[k],
				Want: fmt.Sprintf("at most %d of its %d rows with problems (%.0f%%), not %d: an export this broken is refused whole, so that it never syncs part of a school",
					allowed[k], q.size[k], 100*max(q.max, 0), count[k]),
				Err: ErrQuarantineCap})
		}
	}
	return out
}

func quarantined(e *ParseError, id string) Quarantined {
	v := e.Value
	if v != "" && personal(e.File, e.Column) {
		v = ""
	}
	reason := e.Want
	if e.Err != nil {
		if reason != "" {
			reason += ": "
		}
		reason = "want " + reason + e.Err.Error()
	}
	return Quarantined{File: e.File, Line: e.Line, Column: e.Column, Value: v, SourcedID: id, Reason: reason, Err: e.Err}
}
