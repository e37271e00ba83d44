package oneroster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/internal/roster"
)

// v21OrgTypes maps SDS v2.1 org types onto OneRoster's.
var v21OrgTypes = map[string]roster.OrgType{
	"school": roster.OrgSchool, "college": roster.OrgSchool, "campus": roster.OrgSchool,
	"district": roster.OrgDistrict, "adminunit": roster.OrgDistrict, "network": roster.OrgDistrict, "localeducationagency": roster.OrgDistrict,
	"department": roster.OrgDepartment, "unit": roster.OrgDepartment,
	"state": roster.OrgState, "national": roster.OrgNational, "ministryofeducation": roster.OrgNational,
}

// v21Roles maps SDS v2.1 roles onto a person's role; roles not listed are
// refused with the list.
var v21Roles = map[string]roster.Role{
	"student": roster.RoleStudent, "teacher": roster.RoleTeacher, "faculty": roster.RoleTeacher, "aide": roster.RoleAide,
	"administrator": roster.RoleAdministrator, "principal": roster.RoleAdministrator, "districtadministrator": roster.RoleAdministrator,
	"staff": roster.RoleAdministrator, "proctor": roster.RoleProctor, "guardian": roster.RoleGuardian, "parent": roster.RoleParent, "relative": roster.RoleRelative,
}

// v21SessionTypes maps SDS v2.1 session types; other term-like types
// (quarter, trimester …) read as terms.
var v21SessionTypes = map[string]roster.SessionType{
	"schoolyear": roster.SessionSchoolYear, "term": roster.SessionTerm, "semester": roster.SessionSemester, "gradingperiod": roster.SessionGradingPeriod,
	"quarter": roster.SessionTerm, "trimester": roster.SessionTerm,
}

func keys[V any](m map[string]V) string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

func lookupFold[V any](p *parser, col int, m map[string]V, required bool) (V, bool) {
	var zero V
	v := p.str(col)
	if v == "" {
		if required {
			p.fail(col, "", "one of "+keys(m), ErrMissingField)
		}
		return zero, false
	}
	key := v
	if !p.strict {
		key = strings.ToLower(v)
	}
	got, ok := m[key]
	if !ok {
		p.fail(col, v, "one of "+keys(m), ErrBadEnum)
	}
	return got, ok
}

// readV21 reads SDS v2.1 CSV: orgs, users and their roles, and optionally
// sessions, courses, classes and enrolments.
func (rd *sdsReader) readV21() error {
	r := rd.r
	rd.loc.names = [numKinds]string{"orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv", "users.csv", "enrollments.csv", "demographics.csv"}
	rd.loc.columns = [numKinds]map[int]string{
		KindCourses:     {crsOrg: "orgSourcedId"},
		KindClasses:     {clsSchool: "orgSourcedId", clsTerms: "sessionSourcedIds"},
		KindUsers:       {usrOrgs: "orgSourcedId (roles.csv)", usrRole: "role (roles.csv)"},
		KindEnrollments: {cSourcedID: "classSourcedId", enrSchool: "orgSourcedId (classes.csv)", enrPrimary: "role"},
	}
	if _, err := rd.rows(v2Orgs, KindOrgs, true, func(p *parser) {
		o := roster.Org{SourcedID: p.required(v2OrgID), Name: p.required(v2OrgName), Parent: p.str(v2OrgParent)}
		o.Type, _ = lookupFold(p, v2OrgType, v21OrgTypes, true)
		if !p.bad {
			r.Orgs = append(r.Orgs, o)
			rd.at(KindOrgs, p)
		}
	}); err != nil {
		return err
	}
	if _, err := rd.rows(v2Sessions, KindSessions, false, func(p *parser) {
		s := roster.Session{SourcedID: p.required(v2SesID), Title: p.required(v2SesTitle), SchoolYear: p.required(v2SesYear),
			Start: p.date(v2SesStart, true), End: p.date(v2SesEnd, true), Parent: p.str(v2SesParent)}
		s.Type, _ = lookupFold(p, v2SesType, v21SessionTypes, true)
		if y := s.SchoolYear; y != "" && !isYear(y) {
			p.fail(v2SesYear, y, "a four-digit year, the one the school year ends in", ErrBadValue)
		}
		if !p.bad {
			r.Sessions = append(r.Sessions, s)
			rd.at(KindSessions, p)
		}
	}); err != nil {
		return err
	}
	if _, err := rd.rows(v2Courses, KindCourses, false, func(p *parser) {
		c := roster.Course{SourcedID: p.required(v2CrsID), Org: p.required(v2CrsOrg), Title: p.required(v2CrsTitle), Code: p.str(v2CrsCode),
			SchoolYear: p.str(v2CrsYear), Subjects: p.list(v2CrsSubject, false)}
		for _, g := range p.list(v2CrsGrade, false) {
			c.Grades = append(c.Grades, sdsGrade(g))
		}
		if !p.bad {
			r.Courses = append(r.Courses, c)
			rd.at(KindCourses, p)
		}
	}); err != nil {
		return err
	}
	courses := map[string]bool{}
	for _, c := range r.Courses {
		courses[c.SourcedID] = true
	}
	schoolOf := map[string]string{}
	if _, err := rd.rows(v2Classes, KindClasses, false, func(p *parser) {
		c := roster.Class{SourcedID: p.required(v2ClsID), School: p.required(v2ClsOrg), Title: p.required(v2ClsTitle), Type: roster.ClassScheduled,
			Terms: p.list(v2ClsSessions, false), Course: p.str(v2ClsCourse), Code: p.str(v2ClsCode),
			Subjects: p.list(v2ClsSubjects, false), Periods: p.list(v2ClsPeriods, false)}
		if p.bad {
			return
		}
		if len(c.Terms) == 0 {
			c.Terms = []string{rd.schoolYear()}
		}
		if c.Course == "" {
			c.Course = "course-" + c.SourcedID
			if !courses[c.Course] {
				courses[c.Course] = true
				r.Courses = append(r.Courses, roster.Course{SourcedID: c.Course, Title: c.Title, Org: c.School, Subjects: c.Subjects})
				rd.at(KindCourses, p)
			}
		}
		schoolOf[c.SourcedID] = c.School
		r.Classes = append(r.Classes, c)
		rd.at(KindClasses, p)
	}); err != nil {
		return err
	}

	// Roles say who a user is and where: a person's role is their
	// primary role's (else their first), their orgs every role's org, the
	// primary first, and their grades every role's grade.
	type roleRow struct {
		org     string
		role    roster.Role
		grade   string
		primary bool
	}
	roles := map[string][]roleRow{}
	if _, err := rd.rows(v2Roles, KindUsers, true, func(p *parser) {
		x := roleRow{org: p.required(v2RoleOrg), grade: p.str(v2RoleGrade), primary: p.boolean(v2RolePrimary, false)}
		x.role, _ = lookupFold(p, v2RoleRole, v21Roles, true)
		user := p.required(v2RoleUser)
		begin, end := p.date(v2RoleStart, false), p.date(v2RoleEnd, false)
		if p.bad || rd.on != 0 && !rd.on.Within(begin, end) {
			return // a role that has ended, or not begun, says nothing today
		}
		roles[user] = append(roles[user], x)
	}); err != nil {
		return err
	}
	if _, err := rd.rows(v2Users, KindUsers, true, func(p *parser) {
		x := roster.Person{SourcedID: p.required(v2UsrID), Username: p.required(v2UsrUsername), Enabled: true,
			GivenName: p.str(v2UsrGiven), FamilyName: p.str(v2UsrFamily), MiddleName: p.str(v2UsrMiddle),
			Email: p.str(v2UsrEmail), SMS: p.str(v2UsrSMS), Phone: p.str(v2UsrPhone)}
		if x.Email == "" {
			x.Email = emailOf(x.Username)
		}
		if m := p.str(v2UsrADMatch); m != "" {
			x.UserIDs = []roster.UserID{{Type: "activeDirectoryMatchId", Identifier: m}}
		}
		rs := roles[x.SourcedID]
		slices.SortStableFunc(rs, func(a, b roleRow) int {
			switch {
			case a.primary == b.primary:
				return 0
			case a.primary:
				return -1
			}
			return 1
		})
		for i, role := range rs {
			if i == 0 {
				x.Role = role.role
			}
			if !slices.Contains(x.Orgs, role.org) {
				x.Orgs = append(x.Orgs, role.org)
			}
			if g := sdsGrade(role.grade); g != "" && !slices.Contains(x.Grades, g) {
				x.Grades = append(x.Grades, g)
			}
		}
		if len(rs) == 0 {
			p.fail(v2UsrID, x.SourcedID, "a row for this user in roles.csv, which says their role and school", ErrNoSchool)
			return
		}
		if !p.bad {
			r.People = append(r.People, x)
			rd.at(KindUsers, p)
		}
	}); err != nil {
		return err
	}
	_, err := rd.rows(v2Enrollments, KindEnrollments, false, func(p *parser) {
		e := roster.Enrollment{Class: p.required(v2EnrClass), Person: p.required(v2EnrUser), Begin: p.date(v2EnrBegin, false), End: p.date(v2EnrEnd, false)}
		role, _ := lookupFold(p, v2EnrRole, v21Roles, true)
		switch role {
		case roster.RoleAide:
			role = roster.RoleProctor // OneRoster enrols aides as proctors
		case roster.RoleGuardian, roster.RoleParent, roster.RoleRelative:
			p.fail(v2EnrRole, string(role), "student, teacher, aide or administrator: families are not enrolled in classes", ErrBadEnum)
		}
		if p.bad {
			return
		}
		e.Role = role
		e.SourcedID = fmt.Sprintf("%s-%s", e.Class, e.Person)
		e.School = schoolOf[e.Class]
		r.Enrollments = append(r.Enrollments, e)
		rd.at(KindEnrollments, p)
	})
	return err
}
