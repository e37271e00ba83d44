// Package tenant models the vendor's customers (a school or trust with one
// Microsoft 365 tenant) and their execution profiles, including when a
// profile is due to run. It does no I/O.
package tenant

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Entity types a profile can sync, in the order a run performs them: groups
// need accounts, classrooms need groups.
const (
	EntityUsers       = "users"
	EntityGroups      = "groups"
	EntityClassrooms  = "classrooms"
	EntityCalendar    = "calendar"
	EntityHierarchies = "hierarchies"
	// EntityNoop does nothing; it proves the pipeline's wiring.
	EntityNoop = "noop"
)

// ErrInvalid is wrapped by every validation error of this package.
var ErrInvalid = errors.New("invalid")

// Customer is one school or trust, i.e. one Entra tenant.
type Customer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// TenantID is the customer's Entra tenant id, recorded at admin consent.
	TenantID    string    `json:"tenantId,omitempty"`
	ConsentedAt time.Time `json:"consentedAt,omitzero"`
	// Domains are the verified domains usernames may be created in.
	Domains      []string `json:"domains,omitempty"`
	SummaryEmail string   `json:"summaryEmail,omitempty"`
	Features     Features `json:"features"`
	// Education is true for an Education tenant; classrooms need one.
	Education bool `json:"education"`
	// Disconnected is set by "Remove configuration": no run starts for it.
	Disconnected bool `json:"disconnected,omitempty"`
	// DisconnectedAt is when the configuration was removed: its links,
	// runs and logs are purged a retention after it (PurgedAt then set).
	DisconnectedAt time.Time `json:"disconnectedAt,omitzero"`
	PurgedAt       time.Time `json:"purgedAt,omitzero"`
	// Status and Tenant are written by admin consent and tenant checks
	// (internal/consent), never by a PUT of the customer.
	Status Status      `json:"status,omitempty"`
	Tenant *TenantInfo `json:"tenant,omitempty"`
}

// Features are the customer's switches for what gets synced.
type Features struct {
	Users       bool `json:"users"`
	Groups      bool `json:"groups"`
	Classrooms  bool `json:"classrooms"`
	Calendar    bool `json:"calendar"`
	Hierarchies bool `json:"hierarchies"`
}

// idPattern keeps ids printable and short; the store encodes them anyway.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateID checks a customer or profile id.
func ValidateID(kind, id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w %s id %q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalid, kind, id)
	}
	return nil
}

// Validate checks a customer record.
func (c Customer) Validate() error {
	if err := ValidateID("customer", c.ID); err != nil {
		return err
	}
	for _, d := range c.Domains {
		if d == "" || strings.ContainsAny(d, " @/") {
			return fmt.Errorf("%w customer %s domain %q: want a domain name such as school.example", ErrInvalid, c.ID, d)
		}
	}
	// The daily summary goes to this address: one plain address, no
	// display name, so it can go into sendMail's recipient as it is.
	if c.SummaryEmail != "" {
		if a, err := mail.ParseAddress(c.SummaryEmail); err != nil || a.Address != c.SummaryEmail || a.Name != "" {
			return fmt.Errorf("%w customer %s summaryEmail %q: want one email address such as it-logs@school.example", ErrInvalid, c.ID, c.SummaryEmail)
		}
	}
	return nil
}

// Profile is an execution profile: what to sync for a customer, and when.
type Profile struct {
	CustomerID string `json:"customerId"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	Enabled    bool   `json:"enabled"`
	// StartDate and EndDate bound the profile (local dates, inclusive,
	// YYYY-MM-DD); empty means unbounded.
	StartDate string `json:"startDate,omitempty"`
	EndDate   string `json:"endDate,omitempty"`
	// AcademicSession is the sourcedId of the session this profile syncs.
	AcademicSession string `json:"academicSession,omitempty"`
	// RunAt is the local time of day of the nightly run, HH:MM.
	RunAt string `json:"runAt"`
	// TimeZone is an IANA zone name, e.g. Europe/London.
	TimeZone string `json:"timeZone"`
	// Entities are synced in this order; see the Entity constants.
	Entities []string `json:"entities"`
	// Source says where the profile's roster comes from.
	Source RosterSource `json:"source"`
	// Users holds the account rules; nil means DefaultUsersConfig.
	Users *UsersConfig `json:"users,omitempty"`
	// Groups holds the group rules; nil means DefaultGroupsConfig.
	Groups *GroupsConfig `json:"groups,omitempty"`
	// Classrooms holds the classroom rules; nil means the defaults.
	Classrooms *ClassroomsConfig `json:"classrooms,omitempty"`
	// CreatedAt is set by the store when the profile is first saved. A
	// window due before it does not run: a profile created at 23:00 with
	// runAt 02:00 waits for the coming night instead of starting at once.
	CreatedAt time.Time `json:"createdAt,omitzero"`
}

const dateLayout = "2006-01-02"

// Validate checks a profile on its own; Overlaps checks it against others.
// Its source is checked against the rules of every deployment (secrets in
// the customer's namespace, no private or link-local URL, relative CSV
// paths); ValidateSource adds the deployment's own policy.
func (p Profile) Validate() error {
	if err := ValidateID("customer", p.CustomerID); err != nil {
		return err
	}
	if err := ValidateID("profile", p.ID); err != nil {
		return err
	}
	if _, _, err := parseClock(p.RunAt); err != nil {
		return fmt.Errorf("%w profile %s runAt %q: %v", ErrInvalid, p.ID, p.RunAt, err)
	}
	if _, err := time.LoadLocation(p.TimeZone); err != nil || p.TimeZone == "" {
		return fmt.Errorf("%w profile %s timeZone %q: want an IANA zone such as Europe/London", ErrInvalid, p.ID, p.TimeZone)
	}
	start, end, err := p.dates()
	if err != nil {
		return err
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return fmt.Errorf("%w profile %s: endDate %s is before startDate %s", ErrInvalid, p.ID, p.EndDate, p.StartDate)
	}
	if len(p.Entities) == 0 {
		return fmt.Errorf("%w profile %s: no entities to sync", ErrInvalid, p.ID)
	}
	if err := p.Source.Validate(p.CustomerID, anyDeployment); err != nil {
		return fmt.Errorf("profile %s: %w", p.ID, err)
	}
	if p.Users != nil {
		if err := p.Users.Validate(); err != nil {
			return fmt.Errorf("profile %s: %w", p.ID, err)
		}
	}
	if p.Groups != nil {
		if err := p.Groups.Validate(); err != nil {
			return fmt.Errorf("profile %s: %w", p.ID, err)
		}
	}
	if p.Classrooms != nil {
		if err := p.Classrooms.Validate(); err != nil {
			return fmt.Errorf("profile %s: %w", p.ID, err)
		}
	}
	if err := p.classroomConflict(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range p.Entities {
		if seen[e] {
			return fmt.Errorf("%w profile %s: entity %q listed twice", ErrInvalid, p.ID, e)
		}
		seen[e] = true
	}
	return nil
}

func (p Profile) dates() (start, end time.Time, err error) {
	if p.StartDate != "" {
		if start, err = time.Parse(dateLayout, p.StartDate); err != nil {
			return start, end, fmt.Errorf("%w profile %s startDate %q: want YYYY-MM-DD", ErrInvalid, p.ID, p.StartDate)
		}
	}
	if p.EndDate != "" {
		if end, err = time.Parse(dateLayout, p.EndDate); err != nil {
			return start, end, fmt.Errorf("%w profile %s endDate %q: want YYYY-MM-DD", ErrInvalid, p.ID, p.EndDate)
		}
	}
	return start, end, nil
}

func parseClock(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, errors.New("want HH:MM, 24-hour")
	}
	return t.Hour(), t.Minute(), nil
}

// Overlaps returns the enabled profiles among others that share a day with p
// when p is enabled. Two enabled profiles of one customer may not overlap:
// both would sync the same tenant in the same night, so saving such a
// profile is refused rather than letting one silently win.
func (p Profile) Overlaps(others []Profile) []Profile {
	if !p.Enabled {
		return nil
	}
	var out []Profile
	for _, o := range others {
		if o.CustomerID != p.CustomerID || o.ID == p.ID || !o.Enabled {
			continue
		}
		if datesOverlap(p.StartDate, p.EndDate, o.StartDate, o.EndDate) {
			out = append(out, o)
		}
	}
	return out
}

// datesOverlap compares YYYY-MM-DD strings, which order like dates; an empty
// bound is open.
func datesOverlap(aStart, aEnd, bStart, bEnd string) bool {
	if aEnd != "" && bStart != "" && aEnd < bStart {
		return false
	}
	if bEnd != "" && aStart != "" && bEnd < aStart {
		return false
	}
	return true
}

// Roster source kinds.
const (
	SourceCSV  = "csv"  // a OneRoster 1.1 CSV folder or zip
	SourceREST = "rest" // a OneRoster 1.1 REST endpoint
	// SourceBlob is a drop of CSV files (a zip, or a folder completed by
	// its manifest.csv) in the deployment's roster drop container, under
	// the customer's own prefix.
	SourceBlob = "blob"
	// SourceSDSv1 and SourceSDSv21 are a csv path holding Microsoft School
	// Data Sync CSV files: the classic six files (v1, or its UK variant)
	// or the v2.1 format. Shorthand for kind csv with that format.
	SourceSDSv1  = "sds-v1"
	SourceSDSv21 = "sds-v2.1"
)

// Feed formats of CSV sources (csv and blob).
const (
	// FormatAuto reads OneRoster 1.1, or SDS when the headers say so.
	FormatAuto      = ""
	FormatOneRoster = "oneroster"
	FormatSDSv1     = "sds-v1"
	FormatSDSv21    = "sds-v2.1"
)

// RosterSource locates a profile's MIS feed. A profile is customer input:
// see Validate for what it may name.
type RosterSource struct {
	Kind string `json:"kind,omitempty"`
	// Path is the CSV folder or zip (csv), relative to the customer's own
	// feed folder ({CsvRoot}/{customerId}/) and never leaving it (no '..',
	// no absolute path, no symlink out). Only local mode reads the host's
	// disk; production reads feeds from storage.
	Path string `json:"path,omitempty"`
	// BaseURL is the OneRoster REST root (rest), signed in with OAuth 2
	// client credentials at TokenURL. Both must be https to a public
	// address (plain http to loopback only in local mode), within the
	// RosterSourceAllowedHosts setting when it is set; see internal/egress.
	BaseURL  string `json:"baseUrl,omitempty"`
	TokenURL string `json:"tokenUrl,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	// ClientSecretName names the client secret in the secret source (Key
	// Vault); the secret itself is never stored here. It must be in the
	// customer's namespace, customer-{customerId}-{word} with word letters
	// and digits only (CheckSecretName): the product's secrets and other
	// customers' are never readable through a profile.
	ClientSecretName string `json:"clientSecretName,omitempty"`
	// Scope is the OAuth 2 scope a rest source asks for, space-separated,
	// for providers that require one; empty sends none.
	Scope string `json:"scope,omitempty"`
	// Container and Prefix locate a blob source's drops: Container is the
	// deployment's roster drop container (empty means it), and Prefix a
	// relative path under the customer's own folder in it,
	// {customerId}/{prefix}/. No profile reaches another customer's drops.
	Container string `json:"container,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	// Format is the CSV format of a csv or blob source: oneroster, sds-v1
	// or sds-v2.1; empty reads OneRoster, or SDS when its headers say so.
	Format string `json:"format,omitempty"`
	// MaxShrinkPercent is how much smaller than the last accepted feed a
	// feed may be before no one is suspended. Default 20.
	MaxShrinkPercent float64 `json:"maxShrinkPercent,omitempty"`
	// MaxQuarantinePercent is the share of a file's rows that may be left
	// out, each with its located reason, while the rest is synced; more
	// refuses the feed. Default 5; negative quarantines nothing.
	MaxQuarantinePercent float64 `json:"maxQuarantinePercent,omitempty"`
}

// FeedFormat is the CSV format the source names, kinds sds-v1 and
// sds-v2.1 included.
func (s RosterSource) FeedFormat() string {
	switch s.Kind {
	case SourceSDSv1, SourceSDSv21:
		return s.Kind
	}
	return s.Format
}

// Window is one scheduled occurrence of a profile's nightly run.
type Window struct {
	// ID is the local date of the occurrence, YYYY-MM-DD.
	ID string
	// At is the instant the occurrence was due.
	At time.Time
}

// DueWindow returns the latest scheduled occurrence at or before now, and
// whether the profile is active on that local date. A scheduler that missed
// several nights runs only the latest one: the sync is level-based, so one
// run catches everything up.
func (p Profile) DueWindow(now time.Time) (Window, bool, error) {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return Window{}, false, fmt.Errorf("%w profile %s timeZone %q: %v", ErrInvalid, p.ID, p.TimeZone, err)
	}
	hour, minute, err := parseClock(p.RunAt)
	if err != nil {
		return Window{}, false, fmt.Errorf("%w profile %s runAt %q: %v", ErrInvalid, p.ID, p.RunAt, err)
	}
	local := now.In(loc)
	at := time.Date(local.Year(), local.Month(), local.Day(), hour, minute, 0, 0, loc)
	if at.After(now) {
		y, m, d := local.AddDate(0, 0, -1).Date()
		at = time.Date(y, m, d, hour, minute, 0, 0, loc)
	}
	w := Window{ID: at.Format(dateLayout), At: at.UTC()}
	if !p.Enabled {
		return w, false, nil
	}
	if p.StartDate != "" && w.ID < p.StartDate || p.EndDate != "" && w.ID > p.EndDate {
		return w, false, nil
	}
	if w.At.Before(p.CreatedAt) {
		return w, false, nil
	}
	return w, true, nil
}

// UsersConfig returns the profile's account rules with defaults filled.
func (p Profile) UsersConfig() UsersConfig {
	if p.Users == nil {
		return DefaultUsersConfig()
	}
	return p.Users.WithDefaults()
}

// EnabledEntities filters the profile's entities by the customer's feature
// switches, keeping the profile's order. Unknown names are kept so the
// runner can report them rather than silently dropping them.
func (c Customer) EnabledEntities(p Profile) []string {
	switchOf := map[string]bool{
		EntityUsers:       c.Features.Users,
		EntityGroups:      c.Features.Groups,
		EntityClassrooms:  c.Features.Classrooms,
		EntityCalendar:    c.Features.Calendar,
		EntityHierarchies: c.Features.Hierarchies,
	}
	out := make([]string, 0, len(p.Entities))
	for _, e := range p.Entities {
		if on, known := switchOf[e]; known && !on {
			continue
		}
		out = append(out, e)
	}
	return slices.Clip(out)
}
