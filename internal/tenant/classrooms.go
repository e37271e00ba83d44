package tenant

import (
	"fmt"
	"slices"
)

// Classroom modes: what becomes a Teams class (an education class and its
// team from the educationClass template). See the README's OneRoster
// mapping.
const (
	// ClassroomsAll (the default, "") makes a classroom of every scheduled
	// class and every registration group.
	ClassroomsAll = ""
	// ClassroomsNone makes none.
	ClassroomsNone = "none"
	// ClassroomsGroup makes one per registration group (OneRoster class
	// of classType homeroom).
	ClassroomsGroup = "group"
	// ClassroomsSubject makes one per course (OneRoster course: a subject
	// taught in a year, "10 English"), its members those of the course's
	// scheduled classes.
	ClassroomsSubject = "subject"
	// ClassroomsGroupSubject makes one per scheduled class (OneRoster class
	// of classType scheduled, "10AEn/2").
	ClassroomsGroupSubject = "group-subject"
)

// ClassroomModes lists the modes a profile may name.
var ClassroomModes = []string{ClassroomsAll, ClassroomsNone, ClassroomsGroup, ClassroomsSubject, ClassroomsGroupSubject}

// Roles other staff (enrolment roles besides teacher) take in a classroom.
const (
	StaffAsOwner  = "owner"
	StaffAsMember = "member"
)

// ClassroomsConfig is a profile's classroom rules.
type ClassroomsConfig struct {
	Mode string `json:"mode,omitempty"`
	// OtherStaff is what staff enrolled in another role than teacher (aide,
	// proctor, administrator) become: owner (teacher of the class) or
	// member (default).
	OtherStaff string `json:"otherStaff,omitempty"`
	// KeepPreviousEnrolments enrols but never unenrols.
	KeepPreviousEnrolments bool `json:"keepPreviousEnrolments,omitempty"`
	// NameTemplate and NicknameTemplate render a class's displayName and
	// mailNickname; tokens as for groups. Defaults
	// DefaultClassroomNameTemplate ("2026-10AEn/2") and
	// DefaultClassroomNicknameTemplate.
	NameTemplate     string `json:"nameTemplate,omitempty"`
	NicknameTemplate string `json:"nicknameTemplate,omitempty"`
	// MaxArchiveCount and MaxArchivePercent bound the classes one run may
	// archive without confirmation; the larger is the limit. Defaults 10
	// and 10.
	MaxArchiveCount   int     `json:"maxArchiveCount,omitempty"`
	MaxArchivePercent float64 `json:"maxArchivePercent,omitempty"`
}

// Default classroom naming: the academic year's first calendar year, then
// the MIS class name ("2026-10AEn/2"; nickname "2026-10AEn2").
const (
	DefaultClassroomNameTemplate     = "{yearStart}-{name}"
	DefaultClassroomNicknameTemplate = "{yearStart}-{name}"
)

// WithDefaults fills unset knobs.
func (c ClassroomsConfig) WithDefaults() ClassroomsConfig {
	if c.OtherStaff == "" {
		c.OtherStaff = StaffAsMember
	}
	if c.NameTemplate == "" {
		c.NameTemplate = DefaultClassroomNameTemplate
	}
	if c.NicknameTemplate == "" {
		c.NicknameTemplate = DefaultClassroomNicknameTemplate
	}
	if c.MaxArchiveCount == 0 {
		c.MaxArchiveCount = 10
	}
	if c.MaxArchivePercent == 0 {
		c.MaxArchivePercent = 10
	}
	return c
}

// Validate checks the classroom rules.
func (c ClassroomsConfig) Validate() error {
	if !slices.Contains(ClassroomModes, c.Mode) {
		return fmt.Errorf("%w classrooms mode %q: want one of none, group, subject, group-subject or empty (all)", ErrInvalid, c.Mode)
	}
	switch c.OtherStaff {
	case "", StaffAsOwner, StaffAsMember:
	default:
		return fmt.Errorf("%w classrooms otherStaff %q: want owner or member", ErrInvalid, c.OtherStaff)
	}
	for _, tmpl := range []struct{ field, src string }{{"nameTemplate", c.NameTemplate}, {"nicknameTemplate", c.NicknameTemplate}} {
		for _, m := range groupTokenRE.FindAllStringSubmatch(tmpl.src, -1) {
			if !slices.Contains(GroupTokens, m[1]) {
				return fmt.Errorf("%w classrooms %s: unknown token {%s}; tokens are %v", ErrInvalid, tmpl.field, m[1], GroupTokens)
			}
		}
	}
	if c.MaxArchiveCount < 0 || c.MaxArchivePercent < 0 || c.MaxArchivePercent > 100 {
		return fmt.Errorf("%w classrooms archive guard: count %d, percent %g", ErrInvalid, c.MaxArchiveCount, c.MaxArchivePercent)
	}
	return nil
}

// ClassroomsConfig returns the profile's classroom rules with defaults.
func (p Profile) ClassroomsConfig() ClassroomsConfig {
	if p.Classrooms == nil {
		return ClassroomsConfig{}.WithDefaults()
	}
	return p.Classrooms.WithDefaults()
}

// classroomConflict refuses a profile that would provision the same MIS
// class both as a plain group and as a classroom: two Microsoft 365 groups
// for one class, one of them without its team.
func (p Profile) classroomConflict() error {
	if !slices.Contains(p.Entities, EntityClassrooms) || !slices.Contains(p.Entities, EntityGroups) {
		return nil
	}
	mode := p.ClassroomsConfig().Mode
	groups := p.GroupsConfig()
	on := func(t string) bool { return groups.Types[t].Enabled }
	switch {
	case (mode == ClassroomsAll || mode == ClassroomsGroup) && on(GroupRegistration):
		return fmt.Errorf("%w profile %s: registration groups are provisioned both as groups (groups type registration) and as classrooms (classrooms mode %q): switch one off", ErrInvalid, p.ID, modeName(mode))
	case (mode == ClassroomsAll || mode == ClassroomsGroupSubject) && on(GroupTeaching):
		return fmt.Errorf("%w profile %s: scheduled classes are provisioned both as groups (groups type teaching) and as classrooms (classrooms mode %q): switch one off", ErrInvalid, p.ID, modeName(mode))
	}
	return nil
}

func modeName(m string) string {
	if m == ClassroomsAll {
		return "all"
	}
	return m
}
