package oneroster

import (
	"fmt"

	"github.com/rostersync/rostersync/internal/roster"
)

// readV1 reads classic SDS CSV: schools, sections (with their terms and
// courses), students, teachers and the two enrolment files.
func (rd *sdsReader) readV1() error {
	r := rd.r
	// Errors found by validation name the SDS headers.
	rd.loc.names = [numKinds]string{"School.csv", "Section.csv (terms)", "Section.csv (courses)", "Section.csv", "Student.csv", "StudentEnrollment.csv", "demographics"}
	rd.loc.columns = [numKinds]map[int]string{
		KindOrgs:        {cSourcedID: "SIS ID"},
		KindSessions:    {cSourcedID: "Term SIS ID", sesStart: "Term StartDate", sesEnd: "Term EndDate", sesType: "Term SIS ID"},
		KindCourses:     {cSourcedID: "Course SIS ID", crsOrg: "School SIS ID"},
		KindClasses:     {cSourcedID: "SIS ID", clsCourse: "Course SIS ID", clsSchool: "School SIS ID", clsTerms: "Term SIS ID"},
		KindUsers:       {cSourcedID: "SIS ID", usrOrgs: "School SIS ID"},
		KindEnrollments: {cSourcedID: "SIS ID", enrClass: "Section SIS ID", enrSchool: "Section SIS ID", enrUser: "SIS ID", enrRole: "SIS ID", enrPrimary: "SIS ID"},
	}
	if _, err := rd.rows(v1School, KindOrgs, true, func(p *parser) {
		r.Orgs = append(r.Orgs, roster.Org{SourcedID: p.required(v1SchID), Name: p.required(v1SchName), Type: roster.OrgSchool, Identifier: p.str(v1SchNumber)})
		if p.rec.idx[v1SchNumber] < 0 && p.rec.idx[v1SchID] >= 0 && p.rec.names[v1SchID].alias != "" {
			// The UK variant's id is the DfE number.
			r.Orgs[len(r.Orgs)-1].Identifier = r.Orgs[len(r.Orgs)-1].SourcedID
		}
		rd.at(KindOrgs, p)
	}); err != nil {
		return err
	}
	terms := map[string]int{} // term id -> index in r.Sessions
	courses := map[string]bool{}
	schoolOf := map[string]string{} // section -> school
	if _, err := rd.rows(v1Section, KindClasses, false, func(p *parser) {
		c := roster.Class{SourcedID: p.required(v1SecID), School: p.required(v1SecSchool), Title: p.required(v1SecName),
			Code: p.str(v1SecNumber), Type: roster.ClassScheduled, Periods: p.list(v1SecPeriods, false)}
		if s := p.str(v1SecCourseSubject); s != "" {
			c.Subjects = []string{s}
		}
		term := p.str(v1SecTermID)
		start, end := p.date(v1SecTermStart, false), p.date(v1SecTermEnd, false)
		if p.bad {
			return
		}
		switch j, seen := terms[term]; {
		case term == "":
			c.Terms = []string{rd.schoolYear()}
		case seen:
			if s := r.Sessions[j]; start != 0 && s.Start != 0 && (s.Start != start || s.End != end) {
				p.fail(v1SecTermStart, start.String(), fmt.Sprintf("the dates %s to %s given for term %s at %s line %d", s.Start, s.End, term, rd.loc.files[KindSessions][j], rd.loc.lines[KindSessions][j]), ErrContradiction)
				return
			}
			c.Terms = []string{term}
		default:
			if start == 0 || end == 0 {
				p.fail(v1SecTermStart, "", "Term StartDate and Term EndDate for a new Term SIS ID, so that the term can be placed in its school year", ErrMissingField)
				return
			}
			if end < start {
				p.fail(v1SecTermEnd, end.String(), "a Term EndDate on or after the Term StartDate "+start.String(), ErrBadDate)
				return
			}
			title := p.str(v1SecTermName)
			if title == "" {
				title = term
			}
			terms[term] = len(r.Sessions)
			r.Sessions = append(r.Sessions, roster.Session{SourcedID: term, Title: title, Type: roster.SessionTerm, Start: start, End: end,
				SchoolYear: fmt.Sprint(schoolYearOf(end))})
			rd.at(KindSessions, p)
			c.Terms = []string{term}
		}
		c.Course = p.str(v1SecCourseID)
		if c.Course == "" {
			c.Course = "course-" + c.SourcedID
		}
		if !courses[c.Course] {
			courses[c.Course] = true
			title := p.str(v1SecCourseName)
			if title == "" {
				title = c.Title
			}
			r.Courses = append(r.Courses, roster.Course{SourcedID: c.Course, Title: title, Code: p.str(v1SecCourseNumber), Org: c.School, Subjects: c.Subjects})
			rd.at(KindCourses, p)
		}
		schoolOf[c.SourcedID] = c.School
		r.Classes = append(r.Classes, c)
		rd.at(KindClasses, p)
	}); err != nil {
		return err
	}
	person := func(role roster.Role, number int) func(p *parser) {
		return func(p *parser) {
			x := roster.Person{SourcedID: p.required(v1PerID), Role: role, Enabled: true, Orgs: []string{p.required(v1PerSchool)},
				Username: p.required(v1PerUsername), GivenName: p.str(v1PerFirst), FamilyName: p.str(v1PerLast),
				MiddleName: p.str(v1PerMiddle), Identifier: p.str(number)}
			x.Email = emailOf(x.Username)
			if g := p.str(v1PerGrade); g != "" && role == roster.RoleStudent {
				x.Grades = []string{sdsGrade(g)}
			}
			if !p.bad {
				r.People = append(r.People, x)
				rd.at(KindUsers, p)
			}
		}
	}
	if _, err := rd.rows(v1Student, KindUsers, true, person(roster.RoleStudent, v1PerNumber)); err != nil {
		return err
	}
	if _, err := rd.rows(v1Teacher, KindUsers, true, person(roster.RoleTeacher, v1PerNumber)); err != nil {
		return err
	}
	enrol := func(role roster.Role) func(p *parser) {
		return func(p *parser) {
			sec, who := p.required(v1EnrSection), p.required(v1EnrPerson)
			if p.bad {
				return
			}
			r.Enrollments = append(r.Enrollments, roster.Enrollment{SourcedID: fmt.Sprintf("%s-%s-%s", sec, who, role),
				Class: sec, School: schoolOf[sec], Person: who, Role: role})
			rd.at(KindEnrollments, p)
		}
	}
	if _, err := rd.rows(v1StudentEnrollment, KindEnrollments, false, enrol(roster.RoleStudent)); err != nil {
		return err
	}
	_, err := rd.rows(v1TeacherRoster, KindEnrollments, false, enrol(roster.RoleTeacher))
	return err
}

// schoolYearOf is the OneRoster schoolYear (the year a school year ends
// in) of a date, school years running 1 September to 31 August.
func schoolYearOf(d roster.Date) int {
	if d.Month() >= 9 {
		return d.Year() + 1
	}
	return d.Year()
}
