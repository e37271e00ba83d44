package tenant

import (
	"fmt"
	"slices"
	"time"

	"github.com/rostersync/rostersync/internal/naming"
)

// User types: how people are grouped for account rules.
const (
	UserStudent = "student"
	UserTeacher = "teacher"
	UserStaff   = "staff"
	UserParent  = "parent"
)

// Match keys, tried in the configured order after the stable link.
const (
	MatchEmail      = "email"      // MIS email = account mail or UPN
	MatchUsername   = "username"   // MIS username = UPN (or its alias)
	MatchEmployeeID = "employeeId" // MIS identifier = employeeId
)

// Password kinds for new accounts.
const (
	PasswordStrong = "strong"
	PasswordWords  = "words"
)

// UsersConfig is a profile's account rules.
type UsersConfig struct {
	// MatchKeys are tried in order when a person has no stable link yet.
	MatchKeys []string `json:"matchKeys"`
	// SyncOnly matches by email only and creates nothing (schools whose
	// on-premises directory is the master).
	SyncOnly bool `json:"syncOnly,omitempty"`
	// SyncStartDate (YYYY-MM-DD): people whose enrolments all began before
	// it are not created automatically ("create selected" still can).
	SyncStartDate string `json:"syncStartDate,omitempty"`
	// SyncWithoutEnrolments also syncs enabled people with no current
	// enrolment (staff without a timetable, pupils not yet placed).
	SyncWithoutEnrolments bool `json:"syncWithoutEnrolments,omitempty"`
	// UsageLocation is the ISO 3166 country new accounts get (licences
	// need one). Default GB.
	UsageLocation string `json:"usageLocation,omitempty"`
	// MaxSuspendCount and MaxSuspendPercent bound the suspensions one run
	// may make without confirmation; the larger of the two is the limit.
	// Defaults 50 and 5.
	MaxSuspendCount   int                       `json:"maxSuspendCount,omitempty"`
	MaxSuspendPercent float64                   `json:"maxSuspendPercent,omitempty"`
	Types             map[string]UserTypeConfig `json:"types"`
}

// UserTypeConfig is what happens to one user type.
type UserTypeConfig struct {
	Create     bool `json:"create"`
	Update     bool `json:"update"`
	Deactivate bool `json:"deactivate"`
	// SSOLink links matched accounts (recording them as the person's)
	// without the other actions.
	SSOLink bool `json:"ssoLink"`
	// UsernameTemplate renders the UPN alias, e.g. "{given}.{family}".
	// Names in other scripts are transliterated first.
	UsernameTemplate string `json:"usernameTemplate"`
	// FallbackTemplate renders the alias when UsernameTemplate yields
	// nothing usable even transliterated (a name recorded as "?"), so
	// nobody is left without an account; empty means
	// DefaultFallbackTemplate. Should it yield nothing too (no
	// identifier), the person's sourcedId is used.
	FallbackTemplate string `json:"fallbackTemplate,omitempty"`
	Casing           string `json:"casing,omitempty"`
	// Domain must be one of the customer's verified domains; empty means
	// the customer's first domain.
	Domain   string            `json:"domain,omitempty"`
	Mappings []PropertyMapping `json:"mappings"`
	Licenses []string          `json:"licenses,omitempty"`
	Groups   []string          `json:"groups,omitempty"`
	Password string            `json:"password,omitempty"`
}

// DefaultFallbackTemplate is the fallback username: the MIS identifier
// (admission number, staff code), which every school already knows its
// people by.
const DefaultFallbackTemplate = "{identifier}"

// Fallback is the type's fallback username template.
func (t UserTypeConfig) Fallback() string {
	if t.FallbackTemplate == "" {
		return DefaultFallbackTemplate
	}
	return t.FallbackTemplate
}

// PropertyMapping fills one account property from a roster field or a
// static value.
type PropertyMapping struct {
	Property string `json:"property"`
	From     string `json:"from,omitempty"`
	Static   string `json:"static,omitempty"`
	Casing   string `json:"casing,omitempty"`
}

// AccountProperties are the Graph user properties a mapping may set, with
// Graph's length limits.
var AccountProperties = map[string]int{
	"displayName": 256, "givenName": 64, "surname": 64, "jobTitle": 128, "department": 64,
	"employeeId": 16, "employeeType": 64, "companyName": 64, "officeLocation": 128,
}

// RosterFields are the person fields a mapping may read.
var RosterFields = []string{"givenName", "familyName", "middleName", "displayName", "identifier",
	"role", "yearGroup", "grade", "email", "username", "sourcedId", "school"}

// DefaultUsersConfig is what a new profile starts with: match by email then
// username, create/update/deactivate students and staff, leave parents.
func DefaultUsersConfig() UsersConfig {
	common := []PropertyMapping{
		{Property: "displayName", From: "displayName"},
		{Property: "givenName", From: "givenName"},
		{Property: "surname", From: "familyName"},
		{Property: "employeeId", From: "identifier"},
	}
	student := UserTypeConfig{Create: true, Update: true, Deactivate: true, UsernameTemplate: "{given}.{family}", Casing: "lower",
		Mappings: append(slices.Clone(common), PropertyMapping{Property: "jobTitle", Static: "Student"}, PropertyMapping{Property: "department", From: "yearGroup"}),
		Password: PasswordStrong}
	staff := UserTypeConfig{Create: true, Update: true, Deactivate: true, UsernameTemplate: "{given1}{family}", Casing: "lower",
		Mappings: append(slices.Clone(common), PropertyMapping{Property: "jobTitle", From: "role"}),
		Password: PasswordStrong}
	return UsersConfig{
		MatchKeys: []string{MatchEmail, MatchUsername}, UsageLocation: "GB",
		MaxSuspendCount: 50, MaxSuspendPercent: 5,
		Types: map[string]UserTypeConfig{UserStudent: student, UserTeacher: staff, UserStaff: staff},
	}
}

// Validate checks the rules before any planning uses them.
func (u UsersConfig) Validate() error {
	for _, k := range u.MatchKeys {
		if k != MatchEmail && k != MatchUsername && k != MatchEmployeeID {
			return fmt.Errorf("%w users matchKeys: %q: want email, username or employeeId", ErrInvalid, k)
		}
	}
	if u.SyncStartDate != "" {
		if _, err := time.Parse(dateLayout, u.SyncStartDate); err != nil {
			return fmt.Errorf("%w users syncStartDate %q: want YYYY-MM-DD", ErrInvalid, u.SyncStartDate)
		}
	}
	if u.MaxSuspendCount < 0 || u.MaxSuspendPercent < 0 || u.MaxSuspendPercent > 100 {
		return fmt.Errorf("%w users deletion guard: count %d, percent %g", ErrInvalid, u.MaxSuspendCount, u.MaxSuspendPercent)
	}
	if len(u.UsageLocation) != 0 && len(u.UsageLocation) != 2 {
		return fmt.Errorf("%w users usageLocation %q: want a two-letter country code", ErrInvalid, u.UsageLocation)
	}
	for name, t := range u.Types {
		if name != UserStudent && name != UserTeacher && name != UserStaff && name != UserParent {
			return fmt.Errorf("%w users type %q: want student, teacher, staff or parent", ErrInvalid, name)
		}
		if err := t.validate(name); err != nil {
			return err
		}
	}
	return nil
}

func (t UserTypeConfig) validate(name string) error {
	if t.Create && t.UsernameTemplate == "" {
		return fmt.Errorf("%w users type %s: create is on but usernameTemplate is empty", ErrInvalid, name)
	}
	// A template that cannot parse would leave every person of the type
	// without an account at plan time; say so when the profile is saved.
	for _, tmpl := range []struct{ field, src string }{{"usernameTemplate", t.UsernameTemplate}, {"fallbackTemplate", t.FallbackTemplate}} {
		if tmpl.src == "" {
			continue
		}
		if _, err := naming.ParseTemplate(tmpl.src); err != nil {
			return fmt.Errorf("%w users type %s %s: %v", ErrInvalid, name, tmpl.field, err)
		}
	}
	if t.Password != "" && t.Password != PasswordStrong && t.Password != PasswordWords {
		return fmt.Errorf("%w users type %s password %q: want strong or words", ErrInvalid, name, t.Password)
	}
	for _, m := range t.Mappings {
		if _, ok := AccountProperties[m.Property]; !ok {
			return fmt.Errorf("%w users type %s mapping: property %q cannot be set", ErrInvalid, name, m.Property)
		}
		if (m.From == "") == (m.Static == "") {
			return fmt.Errorf("%w users type %s mapping %s: set exactly one of from and static", ErrInvalid, name, m.Property)
		}
		if m.From != "" && !slices.Contains(RosterFields, m.From) {
			return fmt.Errorf("%w users type %s mapping %s: unknown roster field %q", ErrInvalid, name, m.Property, m.From)
		}
		switch m.Casing {
		case "", "none", "lower", "upper":
		default:
			return fmt.Errorf("%w users type %s mapping %s casing %q: want none, lower or upper", ErrInvalid, name, m.Property, m.Casing)
		}
	}
	return nil
}

// WithDefaults fills unset knobs.
func (u UsersConfig) WithDefaults() UsersConfig {
	if u.UsageLocation == "" {
		u.UsageLocation = "GB"
	}
	if u.MaxSuspendCount == 0 {
		u.MaxSuspendCount = 50
	}
	if u.MaxSuspendPercent == 0 {
		u.MaxSuspendPercent = 5
	}
	if u.SyncOnly {
		u.MatchKeys = []string{MatchEmail}
	}
	return u
}
