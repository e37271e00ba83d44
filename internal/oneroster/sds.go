package oneroster

import (
	"context"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/internal/roster"
)

// School Data Sync CSV, read into the same canonical roster as OneRoster
// and held to the same checks, located by SDS file, line and header.
//
// What SDS does not carry is made up the way a person would:
//   - a section (v1) or class (v2.1) with no course gets a course of its
//     own, "course-{id}";
//   - a section or class with no term runs in the school year: the
//     feed's schoolYear session on ReadOptions.On, else a made-up one,
//     "school-year-YYYY" from 1 September to 31 August around On (its
//     dates are unset without On);
//   - v1 enrolments have no ids: "{section}-{person}-student" and
//     "{section}-{person}-teacher"; v2.1 ones "{class}-{user}";
//   - an enrolment's school is its class's.
//
// SDS has no enabled flag: everyone listed is enabled. A person's email
// is their username when it is an address (SDS usernames are the
// accounts' sign-in names). Relationships, demographics and user flags
// are not read.

// sdsTable is an SDS file: its name and columns. Columns match by name or
// alias, case-insensitively outside strict mode.
type sdsTable struct {
	file string
	t    table
}

func sdsCols(cs ...column) table { return table{columns: cs} }

func alias(name, alias string, required bool) column {
	return column{name: name, alias: alias, required: required}
}

// Column indexes of the SDS v1 tables.
const (
	v1SchID = iota
	v1SchName
	v1SchNumber
)

const (
	v1SecID = iota
	v1SecSchool
	v1SecName
	v1SecNumber
	v1SecTermID
	v1SecTermName
	v1SecTermStart
	v1SecTermEnd
	v1SecCourseID
	v1SecCourseName
	v1SecCourseNumber
	v1SecCourseSubject
	v1SecPeriods
)

const (
	v1PerID = iota
	v1PerSchool
	v1PerUsername
	v1PerFirst
	v1PerLast
	v1PerMiddle
	v1PerNumber
	v1PerGrade
	v1PerPassword
)

const (
	v1EnrSection = iota
	v1EnrPerson
)

var (
	v1School  = sdsTable{"School.csv", sdsCols(alias("SIS ID", "DfE Number", true), req("Name"), opt("School Number"))}
	v1Section = sdsTable{"Section.csv", sdsCols(alias("SIS ID", "ID", true), alias("School SIS ID", "School DfE Number", true),
		req("Section Name"), opt("Section Number"), opt("Term SIS ID"), opt("Term Name"), opt("Term StartDate"), opt("Term EndDate"),
		opt("Course SIS ID"), opt("Course Name"), opt("Course Number"), opt("Course Subject"), lst("Periods"))}
	v1Student = sdsTable{"Student.csv", sdsCols(alias("SIS ID", "ID", true), alias("School SIS ID", "School DfE Number", true),
		req("Username"), opt("First Name"), opt("Last Name"), opt("Middle Name"), opt("Student Number"), alias("Grade", "Year Group", false),
		column{name: "Password", unread: true})}
	v1Teacher = sdsTable{"Teacher.csv", sdsCols(alias("SIS ID", "ID", true), alias("School SIS ID", "School DfE Number", true),
		req("Username"), opt("First Name"), opt("Last Name"), opt("Middle Name"), opt("Teacher Number"), column{name: "(no grade)", unread: true},
		column{name: "Password", unread: true})}
	v1StudentEnrollment = sdsTable{"StudentEnrollment.csv", sdsCols(alias("Section SIS ID", "Section ID", true), alias("SIS ID", "ID", true))}
	v1TeacherRoster     = sdsTable{"TeacherRoster.csv", sdsCols(alias("Section SIS ID", "Section ID", true), alias("SIS ID", "ID", true))}
)

// Column indexes of the SDS v2.1 tables.
const (
	v2OrgID = iota
	v2OrgName
	v2OrgType
	v2OrgParent
)

const (
	v2UsrID = iota
	v2UsrUsername
	v2UsrGiven
	v2UsrFamily
	v2UsrMiddle
	v2UsrEmail
	v2UsrSMS
	v2UsrPhone
	v2UsrADMatch
	v2UsrPassword
)

const (
	v2RoleUser = iota
	v2RoleOrg
	v2RoleRole
	v2RoleSession
	v2RoleGrade
	v2RolePrimary
	v2RoleStart
	v2RoleEnd
)

const (
	v2SesID = iota
	v2SesTitle
	v2SesType
	v2SesYear
	v2SesStart
	v2SesEnd
	v2SesParent
)

const (
	v2CrsID = iota
	v2CrsOrg
	v2CrsTitle
	v2CrsCode
	v2CrsYear
	v2CrsSubject
	v2CrsGrade
)

const (
	v2ClsID = iota
	v2ClsOrg
	v2ClsTitle
	v2ClsSessions
	v2ClsCourse
	v2ClsCode
	v2ClsSubjects
	v2ClsPeriods
)

const (
	v2EnrClass = iota
	v2EnrUser
	v2EnrRole
	v2EnrBegin
	v2EnrEnd
)

var (
	v2Orgs  = sdsTable{"orgs.csv", sdsCols(req("sourcedId"), req("name"), req("type"), opt("parentSourcedId"))}
	v2Users = sdsTable{"users.csv", sdsCols(req("sourcedId"), req("username"), opt("givenName"), opt("familyName"), opt("middleName"),
		opt("email"), opt("sms"), opt("phone"), opt("activeDirectoryMatchId"), column{name: "password", unread: true})}
	v2Roles = sdsTable{"roles.csv", sdsCols(req("userSourcedId"), req("orgSourcedId"), req("role"), opt("sessionSourcedId"),
		opt("grade"), opt("isPrimary"), opt("roleStartDate"), opt("roleEndDate"))}
	v2Sessions = sdsTable{"academicSessions.csv", sdsCols(req("sourcedId"), req("title"), req("type"), req("schoolYear"),
		req("startDate"), req("endDate"), opt("parentSourcedId"))}
	v2Courses = sdsTable{"courses.csv", sdsCols(req("sourcedId"), req("orgSourcedId"), req("title"), opt("code"),
		opt("schoolYearSourcedId"), lst("subject"), lst("grade"))}
	v2Classes = sdsTable{"classes.csv", sdsCols(req("sourcedId"), req("orgSourcedId"), req("title"), lst("sessionSourcedIds"),
		opt("courseSourcedId"), opt("classCode"), lst("subjects"), lst("periods"))}
	v2Enrollments = sdsTable{"enrollments.csv", sdsCols(req("classSourcedId"), req("userSourcedId"), req("role"), opt("beginDate"), opt("endDate"))}
)

// sdsReader is the state of one SDS read.
type sdsReader struct {
	ctx    context.Context
	src    *source
	strict bool
	c      *collector
	loc    *locations
	r      *roster.Roster
	files  []FileStats
	on     roster.Date
	// year is the made-up school-year session, "" until needed.
	year string
}

// ReadSDS reads a School Data Sync export (FormatSDSv1 or FormatSDSv21)
// held in fsys into a validated roster, exactly as Read does a OneRoster
// feed: a Feed, or an *ErrorList of problems located by SDS file, line and
// header, with problems confined to a row quarantined.
func ReadSDS(ctx context.Context, fsys fs.FS, format Format, opts *ReadOptions) (*Feed, error) {
	var o ReadOptions
	if opts != nil {
		o = *opts
	}
	c := newCollector(o.MaxErrors)
	c.q = newQuarantine(o.MaxQuarantine, o.Strict)
	src, err := newSource(fsys, o.Strict)
	if err != nil {
		c.add(&ParseError{File: ".", Want: "a folder or archive of School Data Sync CSV files", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
		return nil, c.err()
	}
	rd := &sdsReader{ctx: ctx, src: src, strict: o.Strict, c: c, loc: &locations{}, r: &roster.Roster{}, files: make([]FileStats, numKinds), on: o.On}
	for _, k := range Kinds {
		rd.loc.names[k] = k.File()
		rd.files[k] = FileStats{Kind: k, Mode: ModeAbsent}
	}
	switch format {
	case FormatSDSv1:
		err = rd.readV1()
	case FormatSDSv21:
		err = rd.readV21()
	default:
		return nil, fmt.Errorf("%w %q: want sds-v1 or sds-v2.1", ErrUnknownFormat, format)
	}
	if err != nil {
		return nil, err
	}
	if c.total > 0 {
		return nil, c.err()
	}
	r := rd.r
	// Records were collected in file order; sort them with their
	// locations, as Read's sink does.
	sortKind(rd, KindOrgs, &r.Orgs, func(x *roster.Org) string { return x.SourcedID })
	sortKind(rd, KindSessions, &r.Sessions, func(x *roster.Session) string { return x.SourcedID })
	sortKind(rd, KindCourses, &r.Courses, func(x *roster.Course) string { return x.SourcedID })
	sortKind(rd, KindClasses, &r.Classes, func(x *roster.Class) string { return x.SourcedID })
	sortKind(rd, KindUsers, &r.People, func(x *roster.Person) string { return x.SourcedID })
	sortKind(rd, KindEnrollments, &r.Enrollments, func(x *roster.Enrollment) string { return x.SourcedID })
	for _, k := range Kinds {
		rd.files[k].Records = rd.recordsOf(k)
	}
	if c.total > 0 {
		return nil, c.err()
	}
	c.q.size = sizes(rd.files)
	guard, session := validate(r, rd.loc, &o.ValidateOptions, c)
	q := c.q.enforce(rd.loc, c)
	if err := c.err(); err != nil {
		return nil, err
	}
	return &Feed{Roster: r, Session: session, Guard: guard, Files: rd.files, Quarantined: q}, nil
}

func (rd *sdsReader) recordsOf(k Kind) int {
	c := rd.r.Counts()
	return [numKinds]int{c.Orgs, c.Sessions, c.Courses, c.Classes, c.People, c.Enrollments, c.Demographics}[k]
}

// sortKind sorts one kind's records with their lines and files, and
// reports duplicate ids (structural, as in OneRoster).
func sortKind[T any](rd *sdsReader, k Kind, s *[]T, id func(*T) string) {
	rows, lines, files := *s, rd.loc.lines[k], rd.loc.files[k]
	perm := make([]int, len(rows))
	for i := range perm {
		perm[i] = i
	}
	slices.SortStableFunc(perm, func(a, b int) int { return strings.Compare(id(&rows[a]), id(&rows[b])) })
	out, outLines, outFiles := make([]T, len(rows)), make([]int32, len(rows)), make([]string, len(rows))
	for i, j := range perm {
		out[i], outLines[i], outFiles[i] = rows[j], lines[j], files[j]
	}
	*s, rd.loc.lines[k], rd.loc.files[k] = out, outLines, outFiles
	for i := 1; i < len(out); i++ {
		if x := id(&out[i]); x == id(&out[i-1]) {
			rd.c.add(&ParseError{File: outFiles[i], Line: int(outLines[i]), Column: rd.loc.column(k, cSourcedID), Value: x,
				Want: fmt.Sprintf("an id not already used at %s line %d", outFiles[i-1], outLines[i-1]), Err: ErrDuplicateID})
		}
	}
}

// at records where the record just appended to kind k came from.
func (rd *sdsReader) at(k Kind, p *parser) {
	rd.loc.lines[k] = append(rd.loc.lines[k], int32(p.rec.line))
	rd.loc.files[k] = append(rd.loc.files[k], p.rec.file)
}

// rows reads one SDS file, calling each for every row; a row whose
// problems are all row-level is quarantined as kind k (when k can be).
// It returns whether the file is present; a missing required file is a
// located error.
func (rd *sdsReader) rows(st sdsTable, k Kind, required bool, each func(p *parser)) (bool, error) {
	name, ok := rd.src.lookup(st.file)
	if !ok {
		if required {
			rd.c.add(&ParseError{File: st.file, Want: "the file, which every School Data Sync export of this format holds", Err: ErrMissingFile})
		}
		return false, nil
	}
	f, err := rd.src.fsys.Open(name)
	if err != nil {
		rd.c.add(&ParseError{File: st.file, Want: "a readable file", Err: fmt.Errorf("%w: %w", ErrArchive, err)})
		return true, nil
	}
	defer f.Close()
	stats := &rd.files[k]
	stats.Mode = ModeBulk
	t := st.t
	n := 0
	err = readCSV(rd.ctx, st.file, f, &t, rd.strict, rd.c, func(rec *record) {
		n++
		stats.Rows++
		p := &parser{c: rd.c, strict: rd.strict, rec: rec, holding: rd.c.q.hold(k, n, rd.c)}
		p.checkText()
		if !p.bad {
			each(p)
		}
		if !p.bad || !p.holding {
			return
		}
		if rd.c.q.canAll(k, p.held) {
			rd.c.q.add(k, strings.TrimSpace(rec.get(0)), p.held)
			return
		}
		for _, e := range p.held {
			rd.c.add(e)
		}
	}, 0, nil)
	if err == nil && n == 0 && required {
		rd.c.add(&ParseError{File: st.file, Line: 2, Want: fmt.Sprintf("a data row after the header: %s has no rows (a failed or truncated export?)", st.file), Err: ErrNoRows})
	}
	return true, err
}

// schoolYear returns the made-up school-year session for classes with no
// term, adding it on first use.
func (rd *sdsReader) schoolYear() string {
	if rd.year != "" {
		return rd.year
	}
	// The feed's own school year on the date, when it has one.
	var found []string
	for _, s := range rd.r.Sessions {
		if s.Type == roster.SessionSchoolYear && rd.on != 0 && rd.on.Within(s.Start, s.End) {
			found = append(found, s.SourcedID)
		}
	}
	if len(found) == 1 {
		rd.year = found[0]
		return rd.year
	}
	s := roster.Session{Type: roster.SessionSchoolYear, Title: "School year"}
	if rd.on != 0 {
		start := rd.on.Year()
		if rd.on.Month() < 9 {
			start--
		}
		s.Start, s.End = roster.NewDate(start, 9, 1), roster.NewDate(start+1, 8, 31)
		s.SchoolYear = fmt.Sprint(start + 1)
		s.Title = fmt.Sprintf("%d/%02d", start, (start+1)%100)
		s.SourcedID = "school-year-" + s.SchoolYear
	} else {
		s.SourcedID, s.SchoolYear = "school-year", "0000"
	}
	rd.r.Sessions = append(rd.r.Sessions, s)
	rd.loc.lines[KindSessions] = append(rd.loc.lines[KindSessions], 0)
	rd.loc.files[KindSessions] = append(rd.loc.files[KindSessions], "(made up: classes without a term)")
	rd.year = s.SourcedID
	return rd.year
}

// emailOf is a username that is an address, or "".
func emailOf(username string) string {
	if strings.Count(username, "@") == 1 && !strings.HasPrefix(username, "@") && !strings.HasSuffix(username, "@") {
		return username
	}
	return ""
}

// sdsGrade turns an SDS grade ("7", "Year 7", "07") into CEDS form when it
// is a year number, and keeps any other label.
func sdsGrade(g string) string {
	n := strings.TrimSpace(g)
	for _, p := range []string{"Year ", "Year", "Y"} {
		if rest, ok := strings.CutPrefix(n, p); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			n = rest
			break
		}
	}
	if len(n) == 1 && n[0] >= '1' && n[0] <= '9' {
		return "0" + n
	}
	return n
}
