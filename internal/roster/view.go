package roster

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrUnknownSession reports a session SourcedID the roster does not hold.
var ErrUnknownSession = errors.New("unknown academic session")

// View is the part of a roster that one run syncs: the classes of one
// academic session and the enrolments current on one date. Planners read
// the roster only through a View, so "only the active session is synced"
// (SPEC §2) holds by construction.
//
// A View indexes the roster when it is made and does not notice later
// changes to it.
type View struct {
	r       *Roster
	session *Session
	on      Date
	classes []*Class
	// Enrolment indexes into r.Enrollments, in SourcedID order, for the
	// current enrolments in the session's classes.
	// int32 halves the lists a trust's million enrolments make; NewView
	// refuses a roster with more enrolments than int32 counts.
	byPerson map[string][]int32
	byClass  map[string][]int32
}

// NewView returns the view of session as of the date on. A zero on counts
// every enrolment regardless of its dates. The roster must be sorted.
//
// A class belongs to the session when one of its terms is the session, a
// session inside it (a term of the school year), a session enclosing it
// (the school year of a term the profile names), or a term with no parent
// whose dates lie within the session's: parentSourcedId is optional in
// OneRoster 1.1, and a person reading such a feed places an autumn term
// inside the school year its dates fall in.
func NewView(r *Roster, session string, on Date) (*View, error) {
	s := r.Session(session)
	if s == nil {
		return nil, fmt.Errorf("view of session %q: %w", session, ErrUnknownSession)
	}
	if len(r.Enrollments) > math.MaxInt32 {
		return nil, fmt.Errorf("view of session %q: %d enrolments, more than one view indexes (%d)", session, len(r.Enrollments), math.MaxInt32)
	}
	related := relatedSessions(r, s)
	v := &View{
		r:        r,
		session:  s,
		on:       on,
		byPerson: make(map[string][]int32, len(r.People)),
	}
	in := make(map[string]bool)
	for i := range r.Classes {
		c := &r.Classes[i]
		if slices.ContainsFunc(c.Terms, func(t string) bool { return related[t] }) {
			v.classes = append(v.classes, c)
			in[c.SourcedID] = true
		}
	}
	v.byClass = make(map[string][]int32, len(v.classes))
	for i := range r.Enrollments {
		e := &r.Enrollments[i]
		if !in[e.Class] || on != 0 && !on.Within(e.Begin, e.End) {
			continue
		}
		v.byPerson[e.Person] = appendIndex(v.byPerson[e.Person], int32(i), personEnrolments)
		v.byClass[e.Class] = appendIndex(v.byClass[e.Class], int32(i), classEnrolments)
	}
	return v, nil
}

// A person's first enrolment reserves room for about a timetable's worth
// and a class's for about a class's: growing every list from one would
// reallocate each about four times, half a million allocations for a
// trust.
const (
	personEnrolments = 16
	classEnrolments  = 32
)

// appendIndex appends i to s, starting a list with room for about n.
func appendIndex(s []int32, i int32, n int) []int32 {
	if s == nil {
		s = make([]int32, 0, n)
	}
	return append(s, i)
}

// relatedSessions returns s, every session below it, every session above
// it, and every parentless session lying within s's dates with the
// sessions below those. Parent cycles (which validation rejects) cannot
// loop forever: each walk stops at a session already seen.
func relatedSessions(r *Roster, s *Session) map[string]bool {
	rel := map[string]bool{s.SourcedID: true}
	for p := r.Session(s.Parent); p != nil && !rel[p.SourcedID]; p = r.Session(p.Parent) {
		rel[p.SourcedID] = true
	}
	below := map[string]bool{s.SourcedID: true}
	for i := range r.Sessions {
		if t := &r.Sessions[i]; t.Parent == "" && lies(t, s) {
			below[t.SourcedID] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for i := range r.Sessions {
			c := &r.Sessions[i]
			if below[c.Parent] && !below[c.SourcedID] {
				below[c.SourcedID] = true
				changed = true
			}
		}
	}
	for id := range below {
		rel[id] = true
	}
	return rel
}

// lies reports whether session t lies within session s's dates. A session
// without both dates lies nowhere: the rule is only as good as the dates.
func lies(t, s *Session) bool {
	if t.Start == 0 || t.End == 0 || s.Start == 0 || s.End == 0 {
		return false
	}
	return t.Start >= s.Start && t.End <= s.End
}

// Roster returns the roster the view reads.
func (v *View) Roster() *Roster { return v.r }

// Session returns the view's academic session.
func (v *View) Session() *Session { return v.session }

// On returns the date the view was made for; zero means "any date".
func (v *View) On() Date { return v.on }

// Classes returns the session's classes in SourcedID order.
func (v *View) Classes() []*Class { return slices.Clone(v.classes) }

// Schools returns the orgs of type school in SourcedID order.
func (v *View) Schools() []*Org {
	var out []*Org
	for i := range v.r.Orgs {
		if v.r.Orgs[i].Type == OrgSchool {
			out = append(out, &v.r.Orgs[i])
		}
	}
	return out
}

// ActivePeople returns the enabled people with at least one current
// enrolment in the session, in SourcedID order.
func (v *View) ActivePeople() []*Person {
	return v.people(func(p *Person) bool { return p.Enabled && len(v.byPerson[p.SourcedID]) > 0 })
}

// Unenrolled returns the enabled people with no current enrolment in the
// session, in SourcedID order: staff without a timetable, pupils not yet
// placed. Whether they are synced is a profile setting ("sync users with no
// enrolments"), so the view offers them separately.
func (v *View) Unenrolled() []*Person {
	return v.people(func(p *Person) bool { return p.Enabled && len(v.byPerson[p.SourcedID]) == 0 })
}

func (v *View) people(keep func(*Person) bool) []*Person {
	var out []*Person
	for i := range v.r.People {
		if p := &v.r.People[i]; keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// Membership is one current enrolment with its class and person resolved.
type Membership struct {
	Class      *Class
	Person     *Person
	Enrollment *Enrollment
}

// ClassesOf returns the person's current enrolments in the session, in
// class SourcedID order (then enrolment SourcedID). References that do not
// resolve are skipped; validation reports them.
func (v *View) ClassesOf(person string) []Membership {
	out := v.memberships(v.byPerson[person])
	slices.SortStableFunc(out, func(a, b Membership) int { return cmp.Compare(a.Class.SourcedID, b.Class.SourcedID) })
	return out
}

// Members returns the class's current enrolments, in person SourcedID
// order (then enrolment SourcedID).
func (v *View) Members(class string) []Membership {
	out := v.memberships(v.byClass[class])
	slices.SortStableFunc(out, func(a, b Membership) int { return cmp.Compare(a.Person.SourcedID, b.Person.SourcedID) })
	return out
}

func (v *View) memberships(idx []int32) []Membership {
	out := make([]Membership, 0, len(idx))
	for _, i := range idx {
		e := &v.r.Enrollments[i]
		c, p := v.r.Class(e.Class), v.r.Person(e.Person)
		if c == nil || p == nil {
			continue
		}
		out = append(out, Membership{Class: c, Person: p, Enrollment: e})
	}
	return out
}

// YearGroup is the pupils of one school in one grade, with the
// registration groups that serve that year.
type YearGroup struct {
	School string `json:"school"`
	Grade  string `json:"grade"`
	// Students are SourcedIDs in order.
	Students []string `json:"students"`
	// Homerooms are the SourcedIDs of the session's registration groups at
	// the school for this grade, in order.
	Homerooms []string `json:"homerooms,omitempty"`
}

// YearGroups returns the year groups of a school, in grade order (KG, 01 …
// 13, then any non-CEDS grades alphabetically).
//
// Pupils are placed by their own grades, not by enrolment: in the UK the
// year group is a property of the pupil, and a pupil with no timetable yet
// is still in Year 7. Only enabled students who belong to the school count.
// A registration group belongs to the grades it lists or, when it lists
// none, to the grades of its current students.
func (v *View) YearGroups(school string) []YearGroup {
	groups := make(map[string]*YearGroup)
	group := func(g string) *YearGroup {
		if groups[g] == nil {
			groups[g] = &YearGroup{School: school, Grade: g}
		}
		return groups[g]
	}
	for i := range v.r.People {
		p := &v.r.People[i]
		if p.Role != RoleStudent || !p.Enabled || !slices.Contains(p.Orgs, school) {
			continue
		}
		for _, g := range uniq(p.Grades) {
			yg := group(g)
			yg.Students = append(yg.Students, p.SourcedID)
		}
	}
	for _, c := range v.classes {
		if c.Type != ClassHomeroom || c.School != school {
			continue
		}
		grades := c.Grades
		if len(grades) == 0 {
			for _, m := range v.Members(c.SourcedID) {
				if m.Person.Role == RoleStudent {
					grades = append(grades, m.Person.Grades...)
				}
			}
		}
		for _, g := range uniq(grades) {
			yg := group(g)
			yg.Homerooms = append(yg.Homerooms, c.SourcedID)
		}
	}
	out := make([]YearGroup, 0, len(groups))
	for _, yg := range groups {
		out = append(out, *yg)
	}
	slices.SortFunc(out, func(a, b YearGroup) int { return CompareGrades(a.Grade, b.Grade) })
	return out
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// CompareGrades orders grades as the CEDS vocabulary does, with grades
// outside it after, in byte order.
func CompareGrades(a, b string) int {
	ia, ib := slices.Index(Grades, a), slices.Index(Grades, b)
	switch {
	case ia >= 0 && ib >= 0:
		return cmp.Compare(ia, ib)
	case ia >= 0:
		return -1
	case ib >= 0:
		return 1
	}
	return cmp.Compare(a, b)
}
