package oneroster

// The OneRoster 1.1 CSV tables rostersync reads. Column order is the
// specification's, which the writer follows; the reader finds columns by
// header name, so order in a feed does not matter.

// Kind is one of the record kinds of a feed, in the order they are read
// (referenced kinds before the kinds that refer to them).
type Kind int

const (
	KindOrgs Kind = iota
	KindSessions
	KindCourses
	KindClasses
	KindUsers
	KindEnrollments
	KindDemographics
	numKinds
)

// Kinds lists every kind in reading order.
var Kinds = []Kind{KindOrgs, KindSessions, KindCourses, KindClasses, KindUsers, KindEnrollments, KindDemographics}

// String returns the OneRoster name of the kind: the CSV file's base name,
// the manifest key after "file." and the REST collection.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "unknown"
	}
	return tables[k].name
}

// MarshalText writes the kind's name, so JSON reports read "users".
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// File returns the kind's CSV file name.
func (k Kind) File() string { return k.String() + ".csv" }

type column struct {
	name string
	// required columns must be in the header and non-empty on every
	// active row.
	required bool
	// alias is another header some exporters write for the column.
	alias string
	// list columns hold comma-separated values, so they may be longer
	// than MaxFieldLength (each value may not).
	list bool
	// unread columns are never parsed (users.csv's password), so their
	// content is not checked either.
	unread bool
	// derivable required columns may be missing from the header outside
	// strict mode (1.0 feeds): the parser works the value out.
	derivable bool
}

type table struct {
	name     string
	optional bool // the feed may omit the file entirely
	columns  []column
}

// The first three columns are common to every table.
const (
	cSourcedID = iota
	cStatus
	cDateLastModified
)

var common = []column{{name: "sourcedId", required: true}, {name: "status"}, {name: "dateLastModified"}}

// Column indexes per table, counting from the common columns.
const (
	orgName = iota + 3
	orgType
	orgIdentifier
	orgParent
)

const (
	sesTitle = iota + 3
	sesType
	sesStart
	sesEnd
	sesParent
	sesSchoolYear
)

const (
	crsSchoolYear = iota + 3
	crsTitle
	crsCode
	crsGrades
	crsOrg
	crsSubjects
	crsSubjectCodes
)

const (
	clsTitle = iota + 3
	clsGrades
	clsCourse
	clsCode
	clsType
	clsLocation
	clsSchool
	clsTerms
	clsSubjects
	clsSubjectCodes
	clsPeriods
)

const (
	usrEnabled = iota + 3
	usrOrgs
	usrRole
	usrUsername
	usrUserIDs
	usrGiven
	usrFamily
	usrMiddle
	usrIdentifier
	usrEmail
	usrSMS
	usrPhone
	usrAgents
	usrGrades
	usrPassword
)

const (
	enrClass = iota + 3
	enrSchool
	enrUser
	enrRole
	enrPrimary
	enrBegin
	enrEnd
)

const (
	demBirthDate = iota + 3
	demSex
	demAmericanIndian
	demAsian
	demBlack
	demPacific
	demWhite
	demTwoOrMore
	demHispanic
	demCountry
	demState
	demCity
	demResidence
)

// raceColumns are the boolean race columns, in order, from demAmericanIndian.
var raceColumns = []string{
	"americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
	"nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
}

func cols(cs ...column) []column { return append(append([]column(nil), common...), cs...) }

func req(name string) column { return column{name: name, required: true} }
func opt(name string) column { return column{name: name} }
func lst(name string) column { return column{name: name, list: true} }

var tables = [numKinds]table{
	KindOrgs: {name: "orgs", columns: cols(
		req("name"), req("type"), opt("identifier"), opt("parentSourcedId"))},
	KindSessions: {name: "academicSessions", columns: cols(
		req("title"), req("type"), req("startDate"), req("endDate"), opt("parentSourcedId"), column{name: "schoolYear", required: true, derivable: true})},
	KindCourses: {name: "courses", columns: cols(
		opt("schoolYearSourcedId"), req("title"), opt("courseCode"), lst("grades"), req("orgSourcedId"),
		lst("subjects"), lst("subjectCodes"))},
	KindClasses: {name: "classes", columns: cols(
		req("title"), lst("grades"), req("courseSourcedId"), opt("classCode"), req("classType"), opt("location"),
		req("schoolSourcedId"), column{name: "termSourcedIds", required: true, alias: "termSourcedId", list: true},
		lst("subjects"), lst("subjectCodes"), lst("periods"))},
	KindUsers: {name: "users", columns: cols(
		req("enabledUser"), column{name: "orgSourcedIds", required: true, list: true}, req("role"), req("username"), lst("userIds"),
		req("givenName"), req("familyName"), opt("middleName"), opt("identifier"), opt("email"), opt("sms"),
		opt("phone"), lst("agentSourcedIds"), lst("grades"), column{name: "password", unread: true})},
	KindEnrollments: {name: "enrollments", columns: cols(
		req("classSourcedId"), req("schoolSourcedId"), req("userSourcedId"), req("role"), opt("primary"),
		opt("beginDate"), opt("endDate"))},
	KindDemographics: {name: "demographics", optional: true, columns: append([]column{
		// OneRoster 1.0 named the person userSourcedId.
		{name: "sourcedId", required: true, alias: "userSourcedId"}}, cols(
		opt("birthDate"), opt("sex"), opt(raceColumns[0]), opt(raceColumns[1]), opt(raceColumns[2]),
		opt(raceColumns[3]), opt(raceColumns[4]), opt(raceColumns[5]), opt("hispanicOrLatinoEthnicity"),
		opt("countryOfBirthCode"), opt("stateOfBirthAbbreviation"), opt("cityOfBirth"),
		opt("publicSchoolResidenceStatus"))[1:]...)},
}
