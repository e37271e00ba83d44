// Package roster is rostersync's canonical model of a school's MIS data:
// organisations (a trust and its schools), academic sessions, courses,
// classes, people, enrolments and optional demographics, plus the derived
// views the planners need (year groups, active people, a person's classes).
//
// The model follows OneRoster 1.1, which every source is read from, and maps
// UK vocabulary onto it: a trust (multi-academy trust) is an org of type
// district, a school an org of type school, a year group a grade, a
// registration (tutor) group a class of type homeroom and a teaching group a
// class of type scheduled.
//
// The package is pure: no I/O, no clock, no logging. Readers live in
// internal/oneroster. Every slice in a Roster is kept sorted by SourcedID
// (see Sort), so lookups are binary searches and two rosters built from the
// same data marshal to the same bytes.
package roster

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// Roster is one snapshot of a feed. The zero value is an empty roster.
//
// The slices are sorted by SourcedID once Sort has run; the lookup methods
// and views rely on that. A Roster is not safe for concurrent mutation, but
// any number of goroutines may read it once it is built.
type Roster struct {
	// Source names the system the data came from, when the feed says.
	Source Source `json:"source,omitzero"`

	Orgs         []Org          `json:"orgs"`
	Sessions     []Session      `json:"academicSessions"`
	Courses      []Course       `json:"courses"`
	Classes      []Class        `json:"classes"`
	People       []Person       `json:"people"`
	Enrollments  []Enrollment   `json:"enrollments"`
	Demographics []Demographics `json:"demographics,omitempty"`
}

// Source is the MIS that produced a feed (manifest source.systemName and
// source.systemCode in OneRoster CSV).
type Source struct {
	SystemName string `json:"systemName,omitempty"`
	SystemCode string `json:"systemCode,omitempty"`
}

// IsZero reports whether s is empty, so JSON can omit it.
func (s Source) IsZero() bool { return s == Source{} }

// Org is an organisation: a trust (district), a school, or a department.
type Org struct {
	SourcedID string  `json:"sourcedId"`
	Name      string  `json:"name"`
	Type      OrgType `json:"type"`
	// Identifier is the human-facing number of the org; for an English
	// school it is usually the DfE number (LA code + establishment number).
	Identifier string `json:"identifier,omitempty"`
	// Parent is the SourcedID of the parent org (a school's trust), or "".
	Parent   string    `json:"parent,omitempty"`
	Modified time.Time `json:"dateLastModified,omitzero"`
}

// Session is an academic session: a school year or a term within one.
type Session struct {
	SourcedID string      `json:"sourcedId"`
	Title     string      `json:"title"`
	Type      SessionType `json:"type"`
	Start     Date        `json:"startDate"`
	End       Date        `json:"endDate"`
	// Parent is the SourcedID of the enclosing session (a term's school
	// year), or "".
	Parent string `json:"parent,omitempty"`
	// SchoolYear is the year the school year ends in, as OneRoster writes
	// it: "2026" for September 2025 to July 2026.
	SchoolYear string    `json:"schoolYear"`
	Modified   time.Time `json:"dateLastModified,omitzero"`
}

// Course is what a class teaches, e.g. "Year 10 Mathematics".
type Course struct {
	SourcedID string `json:"sourcedId"`
	Title     string `json:"title"`
	Code      string `json:"courseCode,omitempty"`
	// SchoolYear is the SourcedID of the course's school-year session, or "".
	SchoolYear   string    `json:"schoolYear,omitempty"`
	Org          string    `json:"org"`
	Grades       []string  `json:"grades,omitempty"`
	Subjects     []string  `json:"subjects,omitempty"`
	SubjectCodes []string  `json:"subjectCodes,omitempty"`
	Modified     time.Time `json:"dateLastModified,omitzero"`
}

// Class is a registration group (Type Homeroom) or a teaching group (Type
// Scheduled).
type Class struct {
	SourcedID string    `json:"sourcedId"`
	Title     string    `json:"title"`
	Type      ClassType `json:"classType"`
	Code      string    `json:"classCode,omitempty"`
	Course    string    `json:"course"`
	School    string    `json:"school"`
	// Terms are the SourcedIDs of the sessions the class runs in: the
	// school year itself, or some of its terms.
	Terms        []string  `json:"terms"`
	Grades       []string  `json:"grades,omitempty"`
	Subjects     []string  `json:"subjects,omitempty"`
	SubjectCodes []string  `json:"subjectCodes,omitempty"`
	Periods      []string  `json:"periods,omitempty"`
	Location     string    `json:"location,omitempty"`
	Modified     time.Time `json:"dateLastModified,omitzero"`
}

// Person is a student, a member of staff, or a guardian.
//
// The OneRoster password column is deliberately not part of the model:
// rostersync never needs an MIS password and must never hold one.
type Person struct {
	SourcedID string `json:"sourcedId"`
	Role      Role   `json:"role"`
	// Enabled is OneRoster enabledUser: false means the MIS wants the
	// account kept but switched off.
	Enabled  bool     `json:"enabled"`
	Username string   `json:"username"`
	UserIDs  []UserID `json:"userIds,omitempty"`
	// Identifier is the MIS's own number for the person (admission number
	// for a pupil, staff code for staff).
	Identifier string `json:"identifier,omitempty"`
	GivenName  string `json:"givenName"`
	FamilyName string `json:"familyName"`
	MiddleName string `json:"middleName,omitempty"`
	Email      string `json:"email,omitempty"`
	SMS        string `json:"sms,omitempty"`
	Phone      string `json:"phone,omitempty"`
	// Orgs are the SourcedIDs of the person's schools (and trust), in feed
	// order: some MIS exports put the main school first.
	Orgs []string `json:"orgs"`
	// Agents are the SourcedIDs of related people: a pupil's guardians, or
	// a guardian's children.
	Agents []string `json:"agents,omitempty"`
	// Grades are the person's year groups (a pupil normally has one).
	Grades   []string  `json:"grades,omitempty"`
	Modified time.Time `json:"dateLastModified,omitzero"`
}

// UserID is one of a person's identifiers in another system, written
// "{type:identifier}" in OneRoster CSV, e.g. {UPN:A123456789012}.
type UserID struct {
	Type       string `json:"type"`
	Identifier string `json:"identifier"`
}

// Enrollment puts a person in a class with a role.
type Enrollment struct {
	SourcedID string `json:"sourcedId"`
	Class     string `json:"class"`
	School    string `json:"school"`
	Person    string `json:"user"`
	Role      Role   `json:"role"`
	// Primary marks a class's main teacher; it only applies to teachers.
	Primary bool `json:"primary,omitempty"`
	// Begin and End bound the enrolment; zero means open-ended.
	Begin    Date      `json:"beginDate,omitzero"`
	End      Date      `json:"endDate,omitzero"`
	Modified time.Time `json:"dateLastModified,omitzero"`
}

// Demographics are optional facts about a person, keyed by the person's
// SourcedID. They are personal data: nothing may log them.
type Demographics struct {
	SourcedID string `json:"sourcedId"`
	BirthDate Date   `json:"birthDate,omitzero"`
	Sex       Sex    `json:"sex,omitempty"`
	// Races are the names of the OneRoster race columns set to true.
	Races                       []string  `json:"races,omitempty"`
	HispanicOrLatino            bool      `json:"hispanicOrLatinoEthnicity,omitempty"`
	CountryOfBirthCode          string    `json:"countryOfBirthCode,omitempty"`
	StateOfBirthAbbreviation    string    `json:"stateOfBirthAbbreviation,omitempty"`
	CityOfBirth                 string    `json:"cityOfBirth,omitempty"`
	PublicSchoolResidenceStatus string    `json:"publicSchoolResidenceStatus,omitempty"`
	Modified                    time.Time `json:"dateLastModified,omitzero"`
}

// Sort puts every slice in SourcedID order, keeping the first of equal ids
// first, so lookups work and output is deterministic. It does nothing to a
// slice that is already sorted, which is the common case for generated feeds.
func (r *Roster) Sort() {
	sortByID(r.Orgs, func(o *Org) string { return o.SourcedID })
	sortByID(r.Sessions, func(s *Session) string { return s.SourcedID })
	sortByID(r.Courses, func(c *Course) string { return c.SourcedID })
	sortByID(r.Classes, func(c *Class) string { return c.SourcedID })
	sortByID(r.People, func(p *Person) string { return p.SourcedID })
	sortByID(r.Enrollments, func(e *Enrollment) string { return e.SourcedID })
	sortByID(r.Demographics, func(d *Demographics) string { return d.SourcedID })
}

// sortByID and find reach each element through its index: a comparison
// over element copies (func(a, b T)) that takes &a makes every copy
// escape, one allocation per comparison, which for a trust's hundreds of
// thousands of enrolments was a sixth of all a sync allocated.
func sortByID[T any](s []T, id func(*T) string) {
	sorted := true
	for i := 1; i < len(s) && sorted; i++ {
		sorted = id(&s[i-1]) <= id(&s[i])
	}
	if sorted {
		return
	}
	perm := make([]int, len(s))
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, func(a, b int) int { return cmp.Compare(id(&s[a]), id(&s[b])) })
	out := make([]T, len(s))
	for i, j := range perm {
		out[i] = s[j]
	}
	copy(s, out)
}

func find[T any](s []T, id string, key func(*T) string) *T {
	i := sort.Search(len(s), func(i int) bool { return key(&s[i]) >= id })
	if i == len(s) || key(&s[i]) != id {
		return nil
	}
	return &s[i]
}

// Org returns the org with the SourcedID, or nil.
func (r *Roster) Org(id string) *Org {
	return find(r.Orgs, id, func(o *Org) string { return o.SourcedID })
}

// Session returns the academic session with the SourcedID, or nil.
func (r *Roster) Session(id string) *Session {
	return find(r.Sessions, id, func(s *Session) string { return s.SourcedID })
}

// Course returns the course with the SourcedID, or nil.
func (r *Roster) Course(id string) *Course {
	return find(r.Courses, id, func(c *Course) string { return c.SourcedID })
}

// Class returns the class with the SourcedID, or nil.
func (r *Roster) Class(id string) *Class {
	return find(r.Classes, id, func(c *Class) string { return c.SourcedID })
}

// Person returns the person with the SourcedID, or nil.
func (r *Roster) Person(id string) *Person {
	return find(r.People, id, func(p *Person) string { return p.SourcedID })
}

// Enrollment returns the enrolment with the SourcedID, or nil.
func (r *Roster) Enrollment(id string) *Enrollment {
	return find(r.Enrollments, id, func(e *Enrollment) string { return e.SourcedID })
}

// DemographicsOf returns the demographics of the person with the SourcedID,
// or nil.
func (r *Roster) DemographicsOf(id string) *Demographics {
	return find(r.Demographics, id, func(d *Demographics) string { return d.SourcedID })
}

// Counts is how many records of each kind a roster holds. Counts are safe to
// log; the records themselves are not.
type Counts struct {
	Orgs         int `json:"orgs"`
	Sessions     int `json:"academicSessions"`
	Courses      int `json:"courses"`
	Classes      int `json:"classes"`
	People       int `json:"people"`
	Enrollments  int `json:"enrollments"`
	Demographics int `json:"demographics"`
}

// Counts returns the number of records of each kind.
func (r *Roster) Counts() Counts {
	return Counts{
		Orgs:         len(r.Orgs),
		Sessions:     len(r.Sessions),
		Courses:      len(r.Courses),
		Classes:      len(r.Classes),
		People:       len(r.People),
		Enrollments:  len(r.Enrollments),
		Demographics: len(r.Demographics),
	}
}
