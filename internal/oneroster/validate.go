package oneroster

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/roster"
)

// DefaultMaxShrink is the share of people, classes or enrolments a feed
// may lose against the previous snapshot before the shrink guard trips.
// A fifth is more than any ordinary day and less than a truncated export;
// note that the summer roll-over (Years 11 and 13 leaving) can exceed it,
// which is exactly when a person should confirm.
const DefaultMaxShrink = 0.2

// ValidateOptions configure the checks that stop a run before planning.
// A nil *ValidateOptions means the defaults.
type ValidateOptions struct {
	// Session is the SourcedID of the academic session the run syncs (the
	// profile names it). The feed must hold it.
	Session string
	// On picks the active session when Session is empty: the schoolYear
	// session whose dates include On. With both empty, no session is
	// required (a feed read only to inspect it).
	On roster.Date
	// Previous is the last accepted snapshot of the same feed. Delta files
	// are applied to it and the shrink guard compares against it. Nil
	// means there is none (a first run).
	Previous *roster.Roster
	// MaxShrink is the share of records the feed may lose before the guard
	// trips. Zero means DefaultMaxShrink; a negative value turns the guard
	// off.
	MaxShrink float64
	// MaxErrors caps the problems collected. Zero means DefaultMaxErrors.
	MaxErrors int
	// MaxQuarantine is the share of a file's rows (classes, users,
	// enrolments, demographics) that may be quarantined: left out with a
	// located reason while the rest of the feed is accepted. More refuses
	// the feed. Zero means DefaultMaxQuarantine; negative quarantines
	// nothing, so any problem refuses the feed. Strict reads quarantine
	// nothing.
	MaxQuarantine float64
}

// Guard is the shrink guard's verdict: a feed that lost too many records
// against the previous snapshot is probably truncated, and syncing it would
// suspend pupils and empty classes. It is a result, not an error, so that
// a person can look at it and confirm the run.
type Guard struct {
	Tripped   bool    `json:"tripped"`
	MaxShrink float64 `json:"maxShrink"`
	// Checks compare people, classes and enrolments; empty without a
	// previous snapshot or with the guard off.
	Checks []ShrinkCheck `json:"checks,omitempty"`
}

// ShrinkCheck compares one kind of record against the previous snapshot.
type ShrinkCheck struct {
	Kind   Kind `json:"kind"`
	Before int  `json:"before"`
	After  int  `json:"after"`
	// Shrink is the share lost, (Before-After)/Before; negative for growth.
	Shrink  float64 `json:"shrink"`
	Tripped bool    `json:"tripped"`
}

// Err returns nil, or an error wrapping ErrShrink that says what shrank.
func (g Guard) Err() error {
	if !g.Tripped {
		return nil
	}
	var parts []string
	for _, c := range g.Checks {
		if c.Tripped {
			parts = append(parts, fmt.Sprintf("%s %d -> %d (%.0f%% fewer)", c.Kind, c.Before, c.After, 100*c.Shrink))
		}
	}
	return fmt.Errorf("%s, more than %.0f%%: %w", strings.Join(parts, ", "), 100*g.MaxShrink, ErrShrink)
}

// Validate checks a roster from any source the way Read checks a CSV
// feed, and returns it as a Feed. It sorts r. Errors are located by the
// OneRoster CSV file and column names, with Line 0, since the roster does
// not remember lines.
func Validate(r *roster.Roster, opts *ValidateOptions) (*Feed, error) {
	var o ValidateOptions
	if opts != nil {
		o = *opts
	}
	r.Sort()
	loc := &locations{}
	for _, k := range Kinds {
		loc.names[k] = k.File()
	}
	c := newCollector(o.MaxErrors)
	c.q = newQuarantine(o.MaxQuarantine, false)
	c.q.size = [numKinds]int{KindClasses: len(r.Classes), KindUsers: len(r.People), KindEnrollments: len(r.Enrollments), KindDemographics: len(r.Demographics)}
	checkDuplicates(r, loc, c)
	guard, session := validate(r, loc, &o, c)
	q := c.q.enforce(loc, c)
	if err := c.err(); err != nil {
		return nil, err
	}
	return &Feed{Roster: r, Session: session, Guard: guard, Quarantined: q}, nil
}

// checkDuplicates reports SourcedIDs used twice; Read finds these while
// reading each file.
func checkDuplicates(r *roster.Roster, loc *locations, c *collector) {
	v := &checker{r: r, loc: loc, c: c}
	dups(v, KindOrgs, r.Orgs, func(x *roster.Org) string { return x.SourcedID })
	dups(v, KindSessions, r.Sessions, func(x *roster.Session) string { return x.SourcedID })
	dups(v, KindCourses, r.Courses, func(x *roster.Course) string { return x.SourcedID })
	dups(v, KindClasses, r.Classes, func(x *roster.Class) string { return x.SourcedID })
	dups(v, KindUsers, r.People, func(x *roster.Person) string { return x.SourcedID })
	dups(v, KindEnrollments, r.Enrollments, func(x *roster.Enrollment) string { return x.SourcedID })
	dups(v, KindDemographics, r.Demographics, func(x *roster.Demographics) string { return x.SourcedID })
}

func dups[T any](v *checker, k Kind, s []T, id func(*T) string) {
	for i := 1; i < len(s); i++ {
		if x := id(&s[i]); x == id(&s[i-1]) {
			v.fail(k, i, cSourcedID, x, "each sourcedId once", ErrDuplicateID)
		}
	}
}

type checker struct {
	r   *roster.Roster
	loc *locations
	c   *collector
}

// fail reports a problem with row i of kind k; a problem confined to the
// row quarantines it instead, when the read allows.
func (v *checker) fail(k Kind, i, col int, value, want string, err error) {
	file, line := v.loc.at(k, i)
	e := &ParseError{File: file, Line: line, Column: v.loc.column(k, col), Value: value, Want: want, Err: err}
	if v.c.q.can(k, err) {
		v.c.q.mark(k, i, e)
		return
	}
	v.c.add(e)
}

// ref is the Want text for a reference into kind k.
func (v *checker) ref(k Kind) string { return "the sourcedId of a record in " + v.loc.names[k] }

// refTo is the Want text for a dangling reference to id of kind k: when
// that record was quarantined, it says so and where.
func (v *checker) refTo(k Kind, id string) string {
	if at := v.c.q.where(k, id); at != "" {
		return fmt.Sprintf("%s (%s was quarantined at %s)", v.ref(k), id, at)
	}
	return v.ref(k)
}

// lineOf names where a record is, for Want texts that point at it.
func (v *checker) lineOf(k Kind, i int) string {
	file, line := v.loc.at(k, i)
	if line == 0 {
		return file
	}
	return fmt.Sprintf("%s line %d", file, line)
}

func index[T any](s []T, id func(*T) string) map[string]int32 {
	m := make(map[string]int32, len(s))
	for i := range s {
		k := id(&s[i])
		if _, dup := m[k]; !dup {
			m[k] = int32(i)
		}
	}
	return m
}

// firstOfPair returns, for each enrolment i of person people[i] in class
// classes[i] (-1 where either is unknown), the index of the first
// enrolment of the same person in the same class: i itself for the first
// one, and for an enrolment whose person or class is unknown. Enrolments
// are bucketed by person, then each person's classes are marked in one
// array: linear in the enrolments, where a map keyed by the pair missed
// the cache on nearly every one of a million lookups.
func firstOfPair(people, classes []int32, numPeople, numClasses int) []int32 {
	first := make([]int32, len(people))
	start := make([]int32, numPeople+1)
	for i, p := range people {
		first[i] = int32(i)
		if p >= 0 && classes[i] >= 0 {
			start[p+1]++
		}
	}
	for p := range numPeople {
		start[p+1] += start[p]
	}
	order := make([]int32, start[numPeople])
	next := slices.Clone(start[:numPeople])
	for i, p := range people {
		if p >= 0 && classes[i] >= 0 {
			order[next[p]] = int32(i)
			next[p]++
		}
	}
	// seenBy[c] is 1 + the person whose enrolments last met class c, at
	// seenAt[c].
	seenBy := make([]int32, numClasses)
	seenAt := make([]int32, numClasses)
	for p := range numPeople {
		for _, i := range order[start[p]:start[p+1]] {
			c := classes[i]
			if seenBy[c] == int32(p)+1 {
				first[i] = seenAt[c]
				continue
			}
			seenBy[c], seenAt[c] = int32(p)+1, i
		}
	}
	return first
}

// validate runs the cross-record checks on a sorted roster and returns the
// shrink guard and the active session. Problems go to c.
//
// Rows with problems confined to them are quarantined (c.q) and removed
// from r, and the checks run again, so that what pointed to them is
// quarantined in turn, saying why: an enrolment of a quarantined pupil.
func validate(r *roster.Roster, loc *locations, o *ValidateOptions, c *collector) (Guard, string) {
	for pass := 0; pass < 8; pass++ {
		before := c.total
		check(r, loc, c)
		if c.total > before || !c.q.hasPending() {
			break
		}
		c.q.settlePass(r, loc)
	}
	if c.q != nil {
		c.q.pending = [numKinds]map[int][]*ParseError{}
	}
	v := &checker{r: r, loc: loc, c: c}
	return shrinkGuard(r, o), activeSession(v, o)
}

// check runs the cross-record checks once.
func check(r *roster.Roster, loc *locations, c *collector) {
	v := &checker{r: r, loc: loc, c: c}
	orgs := index(r.Orgs, func(x *roster.Org) string { return x.SourcedID })
	sessions := index(r.Sessions, func(x *roster.Session) string { return x.SourcedID })
	courses := index(r.Courses, func(x *roster.Course) string { return x.SourcedID })
	classes := index(r.Classes, func(x *roster.Class) string { return x.SourcedID })
	people := index(r.People, func(x *roster.Person) string { return x.SourcedID })

	// school reports whether id names an org of type school, reporting a
	// dangling or wrongly typed reference at (k, i, col).
	school := func(k Kind, i, col int, id string) (int32, bool) {
		j, ok := orgs[id]
		if !ok {
			v.fail(k, i, col, id, v.ref(KindOrgs), ErrUnknownRef)
			return 0, false
		}
		if t := r.Orgs[j].Type; t != roster.OrgSchool {
			v.fail(k, i, col, id, fmt.Sprintf("an org of type school, not %s (%s)", t, v.lineOf(KindOrgs, int(j))), ErrWrongOrgType)
			return 0, false
		}
		return j, true
	}

	isSchool := func(id string) bool {
		j, ok := orgs[id]
		return ok && r.Orgs[j].Type == roster.OrgSchool
	}

	for i := range r.Orgs {
		if p := r.Orgs[i].Parent; p != "" {
			if _, ok := orgs[p]; !ok {
				v.fail(KindOrgs, i, orgParent, p, v.ref(KindOrgs), ErrUnknownRef)
			}
		}
	}
	cycles(v, KindOrgs, orgParent, r.Orgs, orgs, func(x *roster.Org) string { return x.Parent })

	for i := range r.Sessions {
		if p := r.Sessions[i].Parent; p != "" {
			if _, ok := sessions[p]; !ok {
				v.fail(KindSessions, i, sesParent, p, v.ref(KindSessions), ErrUnknownRef)
			}
		}
	}
	cycles(v, KindSessions, sesParent, r.Sessions, sessions, func(x *roster.Session) string { return x.Parent })

	for i := range r.Courses {
		x := &r.Courses[i]
		if _, ok := orgs[x.Org]; !ok {
			v.fail(KindCourses, i, crsOrg, x.Org, v.ref(KindOrgs), ErrUnknownRef)
		}
		if x.SchoolYear != "" {
			if _, ok := sessions[x.SchoolYear]; !ok {
				v.fail(KindCourses, i, crsSchoolYear, x.SchoolYear, v.ref(KindSessions), ErrUnknownRef)
			}
		}
	}

	for i := range r.Classes {
		x := &r.Classes[i]
		if _, ok := courses[x.Course]; !ok {
			v.fail(KindClasses, i, clsCourse, x.Course, v.ref(KindCourses), ErrUnknownRef)
		}
		school(KindClasses, i, clsSchool, x.School)
		for _, t := range x.Terms {
			if _, ok := sessions[t]; !ok {
				v.fail(KindClasses, i, clsTerms, t, v.ref(KindSessions), ErrUnknownRef)
			}
		}
	}

	for i := range r.People {
		x := &r.People[i]
		hasSchool, hasTrust := false, false
		for _, o := range x.Orgs {
			j, ok := orgs[o]
			if !ok {
				v.fail(KindUsers, i, usrOrgs, o, v.ref(KindOrgs), ErrUnknownRef)
				continue
			}
			switch r.Orgs[j].Type {
			case roster.OrgSchool:
				hasSchool = true
			case roster.OrgDistrict:
				hasTrust = true
			case roster.OrgDepartment:
				// Membership through a department is membership of the
				// school above it, which the person is given so that
				// school-based views see them.
				if s := schoolAbove(r, orgs, j); s != "" {
					hasSchool = true
					if !slices.Contains(x.Orgs, s) {
						x.Orgs = append(x.Orgs, s)
					}
				}
			}
		}
		// Central trust staff belong to the trust alone; a pupil is always
		// on some school's roll.
		if !hasSchool && (x.Role == roster.RoleStudent || !hasTrust) {
			want := "at least one org of type school"
			if x.Role != roster.RoleStudent {
				want += " (or the trust, for central staff)"
			}
			v.fail(KindUsers, i, usrOrgs, strings.Join(x.Orgs, ","), want, ErrNoSchool)
		}
		// A relation to a quarantined person is dropped with that
		// person; a pupil is not quarantined for a guardian's bad row.
		x.Agents = slices.DeleteFunc(x.Agents, func(a string) bool { _, ok := people[a]; return !ok && v.c.q.where(KindUsers, a) != "" })
		for _, a := range x.Agents {
			if _, ok := people[a]; !ok {
				v.fail(KindUsers, i, usrAgents, a, v.ref(KindUsers), ErrUnknownRef)
			}
		}
	}

	// Each enrolment's class and person, looked up once; -1 when the
	// reference dangles.
	enrClasses := make([]int32, len(r.Enrollments))
	enrPeople := make([]int32, len(r.Enrollments))
	for i := range r.Enrollments {
		x := &r.Enrollments[i]
		enrClasses[i], enrPeople[i] = -1, -1
		if j, ok := classes[x.Class]; ok {
			enrClasses[i] = j
		}
		if j, ok := people[x.Person]; ok {
			enrPeople[i] = j
		}
	}
	// first names, for each enrolment, the first enrolment of the same
	// person in the same class, to catch a person enrolled in one class
	// as both pupil and teacher.
	first := firstOfPair(enrPeople, enrClasses, len(r.People), len(r.Classes))
	roleIndex := func(r roster.Role) uint8 { return uint8(slices.Index(roster.EnrollmentRoles, r) + 1) }
	for i := range r.Enrollments {
		x := &r.Enrollments[i]
		ci, classOK := enrClasses[i], enrClasses[i] >= 0
		if !classOK {
			v.fail(KindEnrollments, i, enrClass, x.Class, v.refTo(KindClasses, x.Class), ErrUnknownRef)
		}
		pi, personOK := enrPeople[i], enrPeople[i] >= 0
		if !personOK {
			v.fail(KindEnrollments, i, enrUser, x.Person, v.refTo(KindUsers, x.Person), ErrUnknownRef)
		}
		// The class's own school must be valid before a mismatch means
		// anything; otherwise every enrolment repeats the class's error.
		if _, ok := school(KindEnrollments, i, enrSchool, x.School); ok && classOK && r.Classes[ci].School != x.School && isSchool(r.Classes[ci].School) {
			v.fail(KindEnrollments, i, enrSchool, x.School,
				fmt.Sprintf("the class's school %s (%s)", r.Classes[ci].School, v.lineOf(KindClasses, int(ci))), ErrContradiction)
		}
		if x.Primary && x.Role != roster.RoleTeacher {
			v.fail(KindEnrollments, i, enrPrimary, "true", "primary only on teacher enrolments", ErrContradiction)
		}
		if !personOK {
			continue
		}
		p := &r.People[pi]
		if want, ok := enrolmentRoleFits(p.Role, x.Role); !ok {
			v.fail(KindEnrollments, i, enrRole, string(x.Role),
				fmt.Sprintf("%s, since %s has role %s (%s)", want, p.SourcedID, p.Role, v.lineOf(KindUsers, int(pi))), ErrContradiction)
		}
		if !classOK {
			continue
		}
		if at := first[i]; at != int32(i) && roleIndex(r.Enrollments[at].Role) != roleIndex(x.Role) {
			v.fail(KindEnrollments, i, enrRole, string(x.Role),
				fmt.Sprintf("%s, the role of the same person in the same class at %s", r.Enrollments[at].Role, v.lineOf(KindEnrollments, int(at))), ErrContradiction)
		}
	}

	for i := range r.Demographics {
		if id := r.Demographics[i].SourcedID; id != "" {
			if _, ok := people[id]; !ok {
				v.fail(KindDemographics, i, cSourcedID, id, v.refTo(KindUsers, id), ErrUnknownRef)
			}
		}
	}

}

// enrolmentRoleFits reports whether a person's role allows an enrolment
// role, and if not what would.
func enrolmentRoleFits(person, enrolment roster.Role) (string, bool) {
	switch {
	case person.IsFamily():
		return "no enrolment at all", false
	case person == roster.RoleStudent && enrolment != roster.RoleStudent:
		return "student", false
	case person != roster.RoleStudent && enrolment == roster.RoleStudent:
		return "a staff role (teacher, administrator or proctor)", false
	}
	return "", true
}

// cycles reports every record that is its own ancestor, once, walking
// each parent chain only once (linear even for a long, hostile chain).
func cycles[T any](v *checker, k Kind, col int, s []T, idx map[string]int32, parent func(*T) string) {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]uint8, len(s))
	var path []int
	for i := range s {
		path = path[:0]
		for j := i; state[j] == unseen; {
			state[j] = onPath
			path = append(path, j)
			p, ok := idx[parent(&s[j])]
			if !ok {
				break
			}
			j = int(p)
			if state[j] == onPath {
				// j is where the walk met itself: j and everything after it
				// on the path form the cycle.
				at := slices.Index(path, j)
				cyc := slices.Clone(path[at:])
				slices.Sort(cyc)
				for _, c := range cyc {
					v.fail(k, c, col, parent(&s[c]), "a parent that is not the record itself or one of its descendants", ErrCycle)
				}
			}
		}
		for _, j := range path {
			state[j] = done
		}
	}
}

func shrinkGuard(r *roster.Roster, o *ValidateOptions) Guard {
	g := Guard{MaxShrink: o.MaxShrink}
	if g.MaxShrink == 0 {
		g.MaxShrink = DefaultMaxShrink
	}
	if o.Previous == nil || g.MaxShrink < 0 {
		return g
	}
	check := func(k Kind, before, after int) {
		c := ShrinkCheck{Kind: k, Before: before, After: after}
		if before > 0 {
			c.Shrink = float64(before-after) / float64(before)
		}
		c.Tripped = c.Shrink > g.MaxShrink
		g.Tripped = g.Tripped || c.Tripped
		g.Checks = append(g.Checks, c)
	}
	check(KindUsers, len(o.Previous.People), len(r.People))
	check(KindClasses, len(o.Previous.Classes), len(r.Classes))
	check(KindEnrollments, len(o.Previous.Enrollments), len(r.Enrollments))
	return g
}

// activeSession finds the session the run syncs, reporting its absence.
func activeSession(v *checker, o *ValidateOptions) string {
	r := v.r
	switch {
	case o.Session != "":
		if r.Session(o.Session) == nil {
			v.c.add(&ParseError{File: v.loc.names[KindSessions], Column: "sourcedId", Value: o.Session,
				Want: "the academic session the profile syncs", Err: ErrNoActiveSession})
			return ""
		}
		return o.Session
	case o.On != 0:
		var found []string
		years := false
		for i := range r.Sessions {
			s := &r.Sessions[i]
			if s.Type == roster.SessionSchoolYear {
				years = true
				if o.On.Within(s.Start, s.End) {
					found = append(found, s.SourcedID)
				}
			}
		}
		if !years {
			// A feed of terms alone: the term running on the date is the
			// session, as a person would read it. Of overlapping ones the
			// widest wins, and the view takes in those lying within it.
			if id := widestOn(r, o.On); id != "" {
				return id
			}
			v.c.add(&ParseError{File: v.loc.names[KindSessions], Column: "startDate",
				Want: "a session whose dates include " + o.On.String() + " (the feed has no schoolYear session, so the term running on that date is synced)", Err: ErrNoActiveSession})
			return ""
		}
		switch len(found) {
		case 1:
			return found[0]
		case 0:
			v.c.add(&ParseError{File: v.loc.names[KindSessions], Column: "type",
				Want: "a schoolYear session whose dates include " + o.On.String(), Err: ErrNoActiveSession})
		default:
			v.c.add(&ParseError{File: v.loc.names[KindSessions], Column: "type", Value: strings.Join(found, ","),
				Want: "exactly one schoolYear session whose dates include " + o.On.String() + " (name one in the profile)", Err: ErrNoActiveSession})
		}
	}
	return ""
}

// widestOn returns the session running on date with the longest span,
// the smallest sourcedId among equals, or "".
func widestOn(r *roster.Roster, on roster.Date) string {
	best, span := "", -1
	for i := range r.Sessions {
		s := &r.Sessions[i]
		if s.Start == 0 || s.End == 0 || !on.Within(s.Start, s.End) {
			continue
		}
		if d := days(s.Start, s.End); d > span {
			best, span = s.SourcedID, d
		}
	}
	return best
}

func days(a, b roster.Date) int {
	ta := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	tb := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	return int(tb.Sub(ta).Hours() / 24)
}

// schoolAbove returns the school an org (a department) sits under, or "".
// The walk is bounded, since cycles are reported but not yet removed.
func schoolAbove(r *roster.Roster, orgs map[string]int32, j int32) string {
	for range len(r.Orgs) {
		p, ok := orgs[r.Orgs[j].Parent]
		if !ok {
			return ""
		}
		if r.Orgs[p].Type == roster.OrgSchool {
			return r.Orgs[p].SourcedID
		}
		j = p
	}
	return ""
}
