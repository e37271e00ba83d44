package oneroster

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/roster"
)

// parser turns one record into a model value, reporting each bad field.
type parser struct {
	c      *collector
	strict bool
	rec    *record
	bad    bool
	// holding keeps the row's problems in held rather than reporting
	// them, so that the sink can quarantine the row instead.
	holding bool
	held    []*ParseError
}

func (p *parser) fail(col int, value, want string, err error) {
	p.bad = true
	e := &ParseError{File: p.rec.file, Line: p.rec.line, Column: p.rec.names[col].name, Value: value, Want: want, Err: err}
	if p.holding {
		p.held = append(p.held, e)
		return
	}
	p.c.add(e)
}

// MaxFieldLength is the most characters one value may hold. Graph's
// longest user property (displayName) takes 256; a value four times that
// is a broken export or a hostile feed, not a name, and is refused with a
// located error rather than cut to size somewhere later. Values within it
// but over a Graph limit are shortened by the planner, which says so.
const MaxFieldLength = 1024

// MaxListLength bounds a whole multi-valued field (a trust-wide teacher's
// orgSourcedIds); each value in it is still held to MaxFieldLength.
const MaxListLength = 64 << 10

// checkText refuses values no MIS writes: control characters and absurd
// lengths. Tab and line breaks are let through (quoted CSV fields carry
// them legitimately, e.g. a class location on two lines); the planner
// turns them into spaces before any value reaches a tenant.
func (p *parser) checkText() {
	for col := range p.rec.names {
		c := &p.rec.names[col]
		v := p.rec.get(col)
		if v == "" || c.unread {
			continue
		}
		if at, r, bad := controlChar(v); bad {
			p.fail(col, v, fmt.Sprintf("text without control characters (found %U at character %d)", r, utf8.RuneCountInString(v[:at])+1), ErrControlChar)
			continue
		}
		limit := MaxFieldLength
		if c.list {
			limit = MaxListLength
		}
		if len(v) > limit {
			if n := utf8.RuneCountInString(v); n > limit {
				p.fail(col, prefix(v), fmt.Sprintf("at most %d characters, not %d", limit, n), ErrTooLong)
				continue
			}
		}
		if c.list && len(v) > MaxFieldLength {
			for item := range strings.SplitSeq(v, ",") {
				if n := utf8.RuneCountInString(item); n > MaxFieldLength {
					p.fail(col, prefix(item), fmt.Sprintf("at most %d characters in each comma-separated value, not %d", MaxFieldLength, n), ErrTooLong)
					break
				}
			}
		}
	}
}

// controlChar finds the first C0 control other than tab, LF and CR, DEL,
// or C1 control (U+0080–U+009F, which in UTF-8 text usually means a
// Windows-1252 file decoded twice). It scans bytes: this runs on every
// field of every row.
func controlChar(v string) (at int, r rune, found bool) {
	for i := 0; i < len(v); i++ {
		switch b := v[i]; {
		case b < 0x20:
			if b != '\t' && b != '\n' && b != '\r' {
				return i, rune(b), true
			}
		case b == 0x7F:
			return i, rune(b), true
		case b == 0xC2 && i+1 < len(v) && v[i+1] >= 0x80 && v[i+1] < 0xA0:
			return i, rune(v[i+1]), true
		}
	}
	return 0, 0, false
}

// prefix keeps the start of an over-long value for the error, so that a
// megabyte field is not carried around in error lists and API answers.
func prefix(v string) string {
	const keep = 64
	i := 0
	for n := 0; n < keep && i < len(v); n++ {
		_, size := utf8.DecodeRuneInString(v[i:])
		i += size
	}
	if i == len(v) {
		return v
	}
	return v[:i] + "…"
}

// str returns the field with surrounding spaces removed: exporters pad
// fields, and no OneRoster value starts or ends with a space.
func (p *parser) str(col int) string { return strings.TrimSpace(p.rec.get(col)) }

// required returns the field, reporting it when empty.
func (p *parser) required(col int) string {
	v := p.str(col)
	if v == "" {
		p.fail(col, "", "a value", ErrMissingField)
	}
	return v
}

// list splits a multi-valued field: RFC 4180 quoting has already removed
// the quotes around "a,b,c", so the values are separated by commas.
// Empty items ("a,,b") are dropped.
func (p *parser) list(col int, required bool) []string {
	v := p.str(col)
	if v == "" {
		if required {
			p.fail(col, "", "one or more comma-separated values", ErrMissingField)
		}
		return nil
	}
	n := strings.Count(v, ",") + 1
	out := make([]string, 0, n)
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	if len(out) == 0 && required {
		p.fail(col, v, "one or more comma-separated values", ErrMissingField)
	}
	return out
}

func enum[T ~string](p *parser, col int, values []T, required bool) T {
	v := p.str(col)
	if v == "" {
		if required {
			p.fail(col, "", "one of "+join(values), ErrMissingField)
		}
		return ""
	}
	t, ok := roster.Parse(values, v, !p.strict)
	if !ok {
		p.fail(col, v, "one of "+join(values), ErrBadEnum)
	}
	return t
}

func join[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func (p *parser) date(col int, required bool) roster.Date {
	v := p.str(col)
	if v == "" {
		if required {
			p.fail(col, "", "a date as YYYY-MM-DD", ErrMissingField)
		}
		return 0
	}
	d, err := roster.ParseDate(v)
	if err != nil {
		p.fail(col, v, "a date as YYYY-MM-DD", ErrBadDate)
	}
	return d
}

func (p *parser) boolean(col int, required bool) bool {
	v := p.str(col)
	switch {
	case v == "":
		if required {
			p.fail(col, "", "true or false", ErrMissingField)
		}
		return false
	case v == "true" || !p.strict && strings.EqualFold(v, "true"):
		return true
	case v == "false" || !p.strict && strings.EqualFold(v, "false"):
		return false
	}
	p.fail(col, v, "true or false", ErrBadValue)
	return false
}

// parseModified reads dateLastModified: an ISO 8601 UTC date-time. Outside
// strict mode a bare date is accepted as midnight UTC, and a date-time
// without a zone as UTC, which some MIS exports write.
func parseModified(v string, strict bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), true
	}
	if !strict {
		// A bare date, and the date-times databases write without a
		// zone ("2025-09-01 07:30:00", with or without the T), read as
		// UTC.
		for _, layout := range []string{time.DateOnly, time.DateTime, "2006-01-02T15:04:05", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// status is a row's status column, read against the file's mode.
type status int

const (
	statusBlank status = iota
	statusActive
	statusDeleted
)

// meta reads sourcedId, status and dateLastModified. It returns skip for a
// bulk row that only says it is gone (outside strict mode).
func (p *parser) meta(mode Mode) (id string, st status, mod time.Time, skip bool) {
	id = p.required(cSourcedID)
	switch v := p.str(cStatus); {
	case v == "":
	case v == "active" || !p.strict && strings.EqualFold(v, "active"):
		st = statusActive
	case v == "tobedeleted" || !p.strict && strings.EqualFold(v, "tobedeleted"):
		st = statusDeleted
	case !p.strict && strings.EqualFold(v, "inactive"):
		// OneRoster 1.0's word for tobedeleted.
		st = statusDeleted
	default:
		p.fail(cStatus, v, "active or tobedeleted", ErrBadEnum)
	}
	if v := p.str(cDateLastModified); v != "" {
		t, ok := parseModified(v, p.strict)
		if !ok {
			p.fail(cDateLastModified, v, "an ISO 8601 UTC date-time such as 2025-09-01T07:30:00Z", ErrBadDate)
		}
		mod = t
	}
	switch mode {
	case ModeDelta:
		if st == statusBlank {
			p.fail(cStatus, "", "active or tobedeleted on every row of a delta file", ErrBadStatus)
		}
		if p.str(cDateLastModified) == "" {
			p.fail(cDateLastModified, "", "the date-time of the change on every row of a delta file", ErrMissingField)
		}
	default:
		// Bulk files replace everything, so the specification leaves status
		// and dateLastModified blank. Exporters often write "active"
		// anyway, which changes nothing; a tobedeleted row in a full file
		// can only mean the record is gone, so it is left out.
		if p.strict && st != statusBlank {
			p.fail(cStatus, p.str(cStatus), "a blank status in a bulk file", ErrBadStatus)
		}
		skip = st == statusDeleted
	}
	return id, st, mod, skip
}

func parseOrg(p *parser) roster.Org {
	return roster.Org{
		Name:       p.required(orgName),
		Type:       enum(p, orgType, roster.OrgTypes, true),
		Identifier: p.str(orgIdentifier),
		Parent:     p.str(orgParent),
	}
}

func parseSession(p *parser) roster.Session {
	s := roster.Session{
		Title:  p.required(sesTitle),
		Type:   enum(p, sesType, roster.SessionTypes, true),
		Start:  p.date(sesStart, true),
		End:    p.date(sesEnd, true),
		Parent: p.str(sesParent),
	}
	if p.rec.idx[sesSchoolYear] < 0 && !p.strict && s.End != 0 {
		// OneRoster 1.0 had no schoolYear column: the year a session
		// ends in is what 1.1 writes there.
		s.SchoolYear = fmt.Sprint(s.End.Year())
	} else {
		s.SchoolYear = p.required(sesSchoolYear)
	}
	if y := s.SchoolYear; y != "" && !isYear(y) {
		p.fail(sesSchoolYear, y, "a four-digit year, the one the school year ends in", ErrBadValue)
	}
	if s.Start != 0 && s.End != 0 && s.End < s.Start {
		p.fail(sesEnd, s.End.String(), "an endDate on or after the startDate "+s.Start.String(), ErrBadDate)
	}
	return s
}

func isYear(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseCourse(p *parser) roster.Course {
	return roster.Course{
		SchoolYear:   p.str(crsSchoolYear),
		Title:        p.required(crsTitle),
		Code:         p.str(crsCode),
		Grades:       p.grades(crsGrades),
		Org:          p.required(crsOrg),
		Subjects:     p.list(crsSubjects, false),
		SubjectCodes: p.list(crsSubjectCodes, false),
	}
}

// grades reads a grade list. Strict mode holds it to the CEDS vocabulary;
// otherwise any label is kept, because UK feeds write "Y7" as often as "07".
func (p *parser) grades(col int) []string {
	gs := p.list(col, false)
	if p.strict {
		for _, g := range gs {
			if _, ok := roster.Parse(roster.Grades, g, false); !ok {
				p.fail(col, g, "CEDS grades ("+strings.Join(roster.Grades, ", ")+")", ErrBadEnum)
			}
		}
	}
	return gs
}

func parseClass(p *parser) roster.Class {
	return roster.Class{
		Title:        p.required(clsTitle),
		Grades:       p.grades(clsGrades),
		Course:       p.required(clsCourse),
		Code:         p.str(clsCode),
		Type:         enum(p, clsType, roster.ClassTypes, true),
		Location:     p.str(clsLocation),
		School:       p.required(clsSchool),
		Terms:        p.list(clsTerms, true),
		Subjects:     p.list(clsSubjects, false),
		SubjectCodes: p.list(clsSubjectCodes, false),
		Periods:      p.list(clsPeriods, false),
	}
}

func parseUser(p *parser) roster.Person {
	// The password column is read by nobody: see roster.Person.
	return roster.Person{
		Enabled:    p.boolean(usrEnabled, true),
		Orgs:       p.list(usrOrgs, true),
		Role:       enum(p, usrRole, roster.PersonRoles, true),
		Username:   p.required(usrUsername),
		UserIDs:    p.userIDs(usrUserIDs),
		GivenName:  p.required(usrGiven),
		FamilyName: p.required(usrFamily),
		MiddleName: p.str(usrMiddle),
		Identifier: p.str(usrIdentifier),
		Email:      p.str(usrEmail),
		SMS:        p.str(usrSMS),
		Phone:      p.str(usrPhone),
		Agents:     p.list(usrAgents, false),
		Grades:     p.grades(usrGrades),
	}
}

// userIDs reads "{type:id},{type:id}". The braces, not the commas, delimit
// items, because an identifier may itself contain a comma.
func (p *parser) userIDs(col int) []roster.UserID {
	v := p.str(col)
	if v == "" {
		return nil
	}
	const want = "identifiers written {type:identifier}, separated by commas"
	var out []roster.UserID
	for rest := v; ; {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return out
		}
		if rest[0] != '{' {
			p.fail(col, v, want, ErrBadValue)
			return nil
		}
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			p.fail(col, v, want, ErrBadValue)
			return nil
		}
		typ, id, ok := strings.Cut(rest[1:end], ":")
		typ, id = strings.TrimSpace(typ), strings.TrimSpace(id)
		if !ok || typ == "" || id == "" {
			p.fail(col, v, want, ErrBadValue)
			return nil
		}
		out = append(out, roster.UserID{Type: typ, Identifier: id})
		rest = strings.TrimLeft(rest[end+1:], " ")
		if rest != "" {
			if rest[0] != ',' {
				p.fail(col, v, want, ErrBadValue)
				return nil
			}
			rest = rest[1:]
		}
	}
}

func parseEnrollment(p *parser) roster.Enrollment {
	e := roster.Enrollment{
		Class:   p.required(enrClass),
		School:  p.required(enrSchool),
		Person:  p.required(enrUser),
		Role:    enum(p, enrRole, roster.EnrollmentRoles, true),
		Primary: p.boolean(enrPrimary, false),
		Begin:   p.date(enrBegin, false),
		End:     p.date(enrEnd, false),
	}
	if e.Begin != 0 && e.End != 0 && e.End < e.Begin {
		p.fail(enrEnd, e.End.String(), "an endDate on or after the beginDate "+e.Begin.String(), ErrBadDate)
	}
	return e
}

func parseDemographics(p *parser) roster.Demographics {
	d := roster.Demographics{
		BirthDate:                   p.date(demBirthDate, false),
		Sex:                         enum(p, demSex, roster.Sexes, false),
		HispanicOrLatino:            p.boolean(demHispanic, false),
		CountryOfBirthCode:          p.str(demCountry),
		StateOfBirthAbbreviation:    p.str(demState),
		CityOfBirth:                 p.str(demCity),
		PublicSchoolResidenceStatus: p.str(demResidence),
	}
	for i, name := range raceColumns {
		if p.boolean(demAmericanIndian+i, false) {
			d.Races = append(d.Races, name)
		}
	}
	return d
}

// kindOps ties a model type to its table.
type kindOps[T any] struct {
	kind  Kind
	parse func(*parser) T
	// set stores the common columns into a value.
	set func(v *T, id string, mod time.Time)
	id  func(*T) string
	mod func(*T) time.Time
}

var (
	orgOps = kindOps[roster.Org]{kind: KindOrgs, parse: parseOrg,
		set: func(v *roster.Org, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Org) string { return v.SourcedID }, mod: func(v *roster.Org) time.Time { return v.Modified }}
	sessionOps = kindOps[roster.Session]{kind: KindSessions, parse: parseSession,
		set: func(v *roster.Session, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Session) string { return v.SourcedID }, mod: func(v *roster.Session) time.Time { return v.Modified }}
	courseOps = kindOps[roster.Course]{kind: KindCourses, parse: parseCourse,
		set: func(v *roster.Course, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Course) string { return v.SourcedID }, mod: func(v *roster.Course) time.Time { return v.Modified }}
	classOps = kindOps[roster.Class]{kind: KindClasses, parse: parseClass,
		set: func(v *roster.Class, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Class) string { return v.SourcedID }, mod: func(v *roster.Class) time.Time { return v.Modified }}
	userOps = kindOps[roster.Person]{kind: KindUsers, parse: parseUser,
		set: func(v *roster.Person, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Person) string { return v.SourcedID }, mod: func(v *roster.Person) time.Time { return v.Modified }}
	enrollmentOps = kindOps[roster.Enrollment]{kind: KindEnrollments, parse: parseEnrollment,
		set: func(v *roster.Enrollment, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Enrollment) string { return v.SourcedID }, mod: func(v *roster.Enrollment) time.Time { return v.Modified }}
	demographicsOps = kindOps[roster.Demographics]{kind: KindDemographics, parse: parseDemographics,
		set: func(v *roster.Demographics, id string, m time.Time) { v.SourcedID, v.Modified = id, m },
		id:  func(v *roster.Demographics) string { return v.SourcedID }, mod: func(v *roster.Demographics) time.Time { return v.Modified }}
)
