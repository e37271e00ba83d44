package roster

import "strings"

// The enumerations are strings holding the OneRoster 1.1 token, so feeds,
// JSON and logs all show the same word.

// OrgType is the kind of an organisation.
type OrgType string

const (
	OrgDepartment OrgType = "department"
	OrgSchool     OrgType = "school"
	// OrgDistrict is a UK trust (MAT) or local authority.
	OrgDistrict OrgType = "district"
	OrgLocal    OrgType = "local"
	OrgState    OrgType = "state"
	OrgNational OrgType = "national"
)

// OrgTypes lists every OrgType in OneRoster's order.
var OrgTypes = []OrgType{OrgDepartment, OrgSchool, OrgDistrict, OrgLocal, OrgState, OrgNational}

// SessionType is the kind of an academic session.
type SessionType string

const (
	SessionGradingPeriod SessionType = "gradingPeriod"
	SessionSemester      SessionType = "semester"
	SessionSchoolYear    SessionType = "schoolYear"
	SessionTerm          SessionType = "term"
)

// SessionTypes lists every SessionType.
var SessionTypes = []SessionType{SessionGradingPeriod, SessionSemester, SessionSchoolYear, SessionTerm}

// ClassType distinguishes registration groups from teaching groups.
type ClassType string

const (
	// ClassHomeroom is a registration (tutor, form) group.
	ClassHomeroom ClassType = "homeroom"
	// ClassScheduled is a timetabled teaching group.
	ClassScheduled ClassType = "scheduled"
)

// ClassTypes lists every ClassType.
var ClassTypes = []ClassType{ClassHomeroom, ClassScheduled}

// Role is a person's role, or a person's role within one class.
type Role string

const (
	RoleAdministrator Role = "administrator"
	RoleAide          Role = "aide"
	RoleGuardian      Role = "guardian"
	RoleParent        Role = "parent"
	RoleProctor       Role = "proctor"
	RoleRelative      Role = "relative"
	RoleStudent       Role = "student"
	RoleTeacher       Role = "teacher"
)

// PersonRoles lists the roles a person (users.csv) may have.
var PersonRoles = []Role{RoleAdministrator, RoleAide, RoleGuardian, RoleParent, RoleProctor, RoleRelative, RoleStudent, RoleTeacher}

// EnrollmentRoles lists the roles an enrolment may have in OneRoster 1.1.
var EnrollmentRoles = []Role{RoleAdministrator, RoleProctor, RoleStudent, RoleTeacher}

// IsStaff reports whether the role belongs to school staff.
func (r Role) IsStaff() bool {
	switch r {
	case RoleAdministrator, RoleAide, RoleProctor, RoleTeacher:
		return true
	}
	return false
}

// IsFamily reports whether the role is a pupil's family member or carer.
func (r Role) IsFamily() bool {
	switch r {
	case RoleGuardian, RoleParent, RoleRelative:
		return true
	}
	return false
}

// Sex is the demographics sex value.
type Sex string

const (
	SexMale   Sex = "male"
	SexFemale Sex = "female"
	// SexOther and SexUnspecified come from OneRoster 1.2; UK MIS exports
	// labelled 1.1 emit them, so they are accepted.
	SexOther       Sex = "other"
	SexUnspecified Sex = "unspecified"
)

// Sexes lists every Sex.
var Sexes = []Sex{SexMale, SexFemale, SexOther, SexUnspecified}

// Parse returns the member of values equal to s. With fold, case is
// ignored, because many MIS exports write "Student" or "HOMEROOM" and the
// meaning is not in doubt; strict readers pass fold=false.
func Parse[T ~string](values []T, s string, fold bool) (T, bool) {
	for _, v := range values {
		if string(v) == s || fold && strings.EqualFold(string(v), s) {
			return v, true
		}
	}
	return "", false
}

// Grades is the CEDS grade vocabulary OneRoster uses. UK feeds put the
// National Curriculum year number in it: "07" is Year 7.
var Grades = []string{"IT", "PR", "PK", "TK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "PS", "UG", "Other"}
