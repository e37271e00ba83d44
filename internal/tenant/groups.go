package tenant

import (
	"fmt"
	"regexp"
	"slices"
)

// Group types a profile can switch on, each on its own.
const (
	GroupYear         = "year"         // pupils of one school and grade
	GroupRegistration = "registration" // homeroom classes
	GroupTeaching     = "teaching"     // scheduled classes
	GroupDepartment   = "department"   // staff of a department org
	GroupSubject      = "subject"      // staff who teach a subject at a school
	GroupAllStudents  = "allStudents"  // every pupil of a school
	GroupAllStaff     = "allStaff"     // every member of staff of a school
)

// GroupTypes lists every group type.
var GroupTypes = []string{GroupYear, GroupRegistration, GroupTeaching, GroupDepartment, GroupSubject, GroupAllStudents, GroupAllStaff}

// Kinds of Microsoft 365 group.
const (
	GroupKindUnified  = "unified"  // Microsoft 365 group
	GroupKindSecurity = "security" // security group
)

// Tidy-up policies for a group rostersync created whose source left the MIS.
const (
	TidyDelete = "delete" // soft-delete (restorable for 30 days)
	TidyEmpty  = "empty"  // keep it, remove its members
)

// GroupsConfig is a profile's group rules.
type GroupsConfig struct {
	// Types switches group types on and says how each is made; a type
	// absent or with Enabled false is not synced.
	Types map[string]GroupTypeConfig `json:"types"`
	// OwnerRoles are the enrolment roles that make a class's owners.
	// Default teacher.
	OwnerRoles []string `json:"ownerRoles,omitempty"`
	// Admins are added as owners of every group: object ids, or
	// userPrincipalNames looked up in the tenant at each run.
	Admins []string `json:"admins,omitempty"`
	// OwnersNotMembers stops owners being members too (by default they are,
	// so a teacher gets the group's mail and files).
	OwnersNotMembers bool `json:"ownersNotMembers,omitempty"`
	// RenameWithMIS renames a group when its class is renamed in the MIS;
	// off, names stay as they were created (a group renamed in Microsoft
	// 365 keeps its new name either way unless this is on).
	RenameWithMIS bool `json:"renameWithMis,omitempty"`
	// Tidy is what happens to a group rostersync created whose class,
	// year or department has left the MIS: delete (default) or empty.
	Tidy string `json:"tidy,omitempty"`
	// MaxRemoveCount and MaxRemovePercent bound the groups one run may
	// delete or empty without confirmation; the larger is the limit.
	// Defaults 10 and 10.
	MaxRemoveCount   int     `json:"maxRemoveCount,omitempty"`
	MaxRemovePercent float64 `json:"maxRemovePercent,omitempty"`
	// Include and Exclude name people (sourcedIds) added to or kept out
	// of a group, by the group's key (a class sourcedId, or year:{school}:{grade}, …).
	Include map[string][]string `json:"include,omitempty"`
	Exclude map[string][]string `json:"exclude,omitempty"`
}

// GroupTypeConfig is how one type of group is made.
type GroupTypeConfig struct {
	Enabled bool `json:"enabled"`
	// Kind is unified (default) or security.
	Kind string `json:"kind,omitempty"`
	// Visibility of a Microsoft 365 group: Private (default) or Public.
	Visibility string `json:"visibility,omitempty"`
	// WelcomeEmailDisabled and HideGroupInOutlook become the Microsoft
	// 365 group's resourceBehaviorOptions, which Graph takes at creation
	// only (the Exchange-backed properties cannot be written app-only).
	WelcomeEmailDisabled bool `json:"welcomeEmailDisabled,omitempty"`
	HideGroupInOutlook   bool `json:"hideGroupInOutlook,omitempty"`
	// NameTemplate and NicknameTemplate render displayName and
	// mailNickname from tokens: {name} (MIS name), {code} (class code),
	// {school} (school identifier, DfE number by default), {schoolName},
	// {yearStart}, {yearEnd} (academic year), {grade}. Defaults
	// DefaultGroupNameTemplate and DefaultGroupNicknameTemplate.
	NameTemplate     string `json:"nameTemplate,omitempty"`
	NicknameTemplate string `json:"nicknameTemplate,omitempty"`
	// MatchTemplate, from the same tokens, renders the displayName of an
	// existing group (one another tool made, say "{name} {yearStart}") that
	// a group without a link adopts when no group has its mailNickname;
	// the group's own displayName (NameTemplate) is tried after it.
	MatchTemplate string `json:"matchTemplate,omitempty"`
}

// Default naming: 13[1234567][2018] with nickname 13.1234567.2018 (the
// nickname's dots become hyphens, as Graph refuses dots in a group's
// mailNickname).
const (
	DefaultGroupNameTemplate     = "{name}[{school}][{yearStart}]"
	DefaultGroupNicknameTemplate = "{name}.{school}.{yearStart}"
)

// GroupTokens are the tokens a group name template may use.
var GroupTokens = []string{"name", "code", "school", "schoolName", "yearStart", "yearEnd", "grade"}

var groupTokenRE = regexp.MustCompile(`\{([^{}]*)\}`)

// DefaultGroupsConfig is what a profile without group rules gets: teaching
// and registration groups as private Microsoft 365 groups without welcome
// mail.
func DefaultGroupsConfig() GroupsConfig {
	t := GroupTypeConfig{Enabled: true, Kind: GroupKindUnified, Visibility: "Private", WelcomeEmailDisabled: true}
	return GroupsConfig{Types: map[string]GroupTypeConfig{GroupTeaching: t, GroupRegistration: t}}.WithDefaults()
}

// WithDefaults fills unset knobs.
func (g GroupsConfig) WithDefaults() GroupsConfig {
	if len(g.OwnerRoles) == 0 {
		g.OwnerRoles = []string{"teacher"}
	}
	if g.Tidy == "" {
		g.Tidy = TidyDelete
	}
	if g.MaxRemoveCount == 0 {
		g.MaxRemoveCount = 10
	}
	if g.MaxRemovePercent == 0 {
		g.MaxRemovePercent = 10
	}
	types := make(map[string]GroupTypeConfig, len(g.Types))
	for name, t := range g.Types {
		if t.Kind == "" {
			t.Kind = GroupKindUnified
		}
		if t.Visibility == "" && t.Kind == GroupKindUnified {
			t.Visibility = "Private"
		}
		if t.NameTemplate == "" {
			t.NameTemplate = DefaultGroupNameTemplate
		}
		if t.NicknameTemplate == "" {
			t.NicknameTemplate = DefaultGroupNicknameTemplate
		}
		types[name] = t
	}
	g.Types = types
	return g
}

// Validate checks the group rules.
func (g GroupsConfig) Validate() error {
	for name, t := range g.Types {
		if !slices.Contains(GroupTypes, name) {
			return fmt.Errorf("%w groups type %q: want one of %v", ErrInvalid, name, GroupTypes)
		}
		switch t.Kind {
		case "", GroupKindUnified, GroupKindSecurity:
		default:
			return fmt.Errorf("%w groups type %s kind %q: want unified or security", ErrInvalid, name, t.Kind)
		}
		switch t.Visibility {
		case "", "Private", "Public":
		default:
			return fmt.Errorf("%w groups type %s visibility %q: want Private or Public", ErrInvalid, name, t.Visibility)
		}
		if t.Kind == GroupKindSecurity && (t.Visibility != "" || t.WelcomeEmailDisabled || t.HideGroupInOutlook) {
			return fmt.Errorf("%w groups type %s: visibility and the Outlook options are for Microsoft 365 groups only", ErrInvalid, name)
		}
		for _, tmpl := range []struct{ field, src string }{{"nameTemplate", t.NameTemplate}, {"nicknameTemplate", t.NicknameTemplate}, {"matchTemplate", t.MatchTemplate}} {
			for _, m := range groupTokenRE.FindAllStringSubmatch(tmpl.src, -1) {
				if !slices.Contains(GroupTokens, m[1]) {
					return fmt.Errorf("%w groups type %s %s: unknown token {%s}; tokens are %v", ErrInvalid, name, tmpl.field, m[1], GroupTokens)
				}
			}
		}
	}
	for _, r := range g.OwnerRoles {
		switch r {
		case "teacher", "aide", "proctor", "administrator":
		default:
			return fmt.Errorf("%w groups ownerRoles: %q is not a staff enrolment role", ErrInvalid, r)
		}
	}
	switch g.Tidy {
	case "", TidyDelete, TidyEmpty:
	default:
		return fmt.Errorf("%w groups tidy %q: want delete or empty", ErrInvalid, g.Tidy)
	}
	if g.MaxRemoveCount < 0 || g.MaxRemovePercent < 0 || g.MaxRemovePercent > 100 {
		return fmt.Errorf("%w groups deletion guard: count %d, percent %g", ErrInvalid, g.MaxRemoveCount, g.MaxRemovePercent)
	}
	for _, a := range g.Admins {
		if a == "" {
			return fmt.Errorf("%w groups admins: an empty object id", ErrInvalid)
		}
	}
	return nil
}

// GroupsConfig returns the profile's group rules with defaults filled. A
// profile without group rules that also syncs classrooms gets the default
// less the classes its classrooms already make (those are classrooms, not
// also plain groups) plus year groups, so it is never refused for a
// conflict it did not ask for; rules written out are taken as they are.
func (p Profile) GroupsConfig() GroupsConfig {
	if p.Groups != nil {
		return p.Groups.WithDefaults()
	}
	g := DefaultGroupsConfig()
	if !slices.Contains(p.Entities, EntityClassrooms) {
		return g
	}
	mode := p.ClassroomsConfig().Mode
	if mode == ClassroomsAll || mode == ClassroomsGroup {
		delete(g.Types, GroupRegistration)
	}
	if mode == ClassroomsAll || mode == ClassroomsGroupSubject {
		delete(g.Types, GroupTeaching)
	}
	if len(g.Types) < 2 {
		g.Types[GroupYear] = GroupTypeConfig{Enabled: true, Kind: GroupKindUnified, Visibility: "Private", WelcomeEmailDisabled: true}
	}
	return g.WithDefaults()
}
