// Package userplan computes the accounts part of a plan: who is matched to
// which existing account, who gets a new one (and what it is called), which
// fields change, who is suspended and who comes back. It is a pure function
// of (roster view, directory snapshot, links and exclusions, rules): no
// Graph, no tables, no clock.
package userplan

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/naming"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Account is one user of the tenant as the planner needs it.
type Account struct {
	ID                string   `json:"id"`
	UserPrincipalName string   `json:"userPrincipalName"`
	Mail              string   `json:"mail,omitempty"`
	ProxyAddresses    []string `json:"proxyAddresses,omitempty"`
	AccountEnabled    bool     `json:"accountEnabled"`
	// Props are the mappable properties (see tenant.AccountProperties).
	Props map[string]string `json:"props,omitempty"`
}

// Directory is the tenant snapshot the planner reads.
type Directory struct {
	Accounts []Account `json:"accounts"`
	// Domains are the tenant's verified domains.
	Domains []string `json:"domains"`
}

// Link is a stored person↔account link.
type Link struct {
	SourceID  string
	TargetID  string
	UserType  string
	Suspended bool
	// Since is when the link was last written.
	Since time.Time
}

// NotVisibleWindow is how long a linked account missing from the snapshot
// is taken for replication lag (a new account can take a while to show up
// in reads) rather than deletion. Recreating it sooner would make a
// duplicate.
const NotVisibleWindow = 15 * time.Minute

// Input is everything Compute reads.
type Input struct {
	View     *roster.View
	Dir      Directory
	Links    []Link
	Excluded map[string]bool
	Rules    tenant.UsersConfig
	// Domains are the customer's configured domains; usernames are made
	// only in those that the tenant has also verified.
	Domains []string
	// WasVerified are the tenant's verified domains as the last tenant
	// check recorded them, so that a domain verified then and not now is
	// reported as "no longer verified".
	WasVerified []string
	// RosterShrank is the feed validator's verdict: suspend nobody.
	RosterShrank bool
	// Now is when the plan is made, for judging links (see
	// NotVisibleWindow); zero means links are never taken as new.
	Now time.Time
	// Only, when set, limits the plan to these people ("create selected
	// people now"); the sync start date does not hold them back.
	Only map[string]bool
}

// Compute returns the plan's user changes; header fields (run, tenant) are
// the caller's. Output is sorted and deterministic.
func Compute(in Input) *plan.Plan {
	c := newComputer(in)
	c.people()
	c.leavers()
	c.unenrolled()
	if in.Only != nil {
		c.keepOnly(in.Only)
	}
	c.guard()
	c.p.Sort()
	return c.p
}

// keepOnly narrows a "sync selected people now" plan to those people.
func (c *computer) keepOnly(only map[string]bool) {
	changes := c.p.Changes[:0]
	c.suspends = 0
	for _, ch := range c.p.Changes {
		if only[ch.Key] {
			changes = append(changes, ch)
			if ch.Action == plan.Suspend {
				c.suspends++
			}
		}
	}
	c.p.Changes = changes
	unsynced := c.p.Unsynced[:0]
	for _, u := range c.p.Unsynced {
		if only[u.Key] {
			unsynced = append(unsynced, u)
		}
	}
	c.p.Unsynced = unsynced
}

type computer struct {
	in       Input
	rules    tenant.UsersConfig
	p        *plan.Plan
	byID     map[string]*Account
	byUPN    map[string][]*Account
	byMail   map[string][]*Account
	byEmpID  map[string][]*Account
	links    map[string]Link   // by person
	claimed  map[string]string // account id -> person
	active   map[string]bool
	alloc    *naming.Allocator
	domains  []string
	suspends int
	// noEnrolments are people left out for having no current enrolment.
	// Their entry waits until leavers has run: a linked one is a leaver,
	// and each person gets one verdict, never two.
	noEnrolments []*roster.Person
	// leaving marks the people leavers gave a verdict.
	leaving map[string]bool
	// templates are the username templates parsed so far, by source.
	templates map[string]usernameTemplate
}

func newComputer(in Input) *computer {
	c := &computer{in: in, rules: in.Rules.WithDefaults(), p: &plan.Plan{FormatVersion: plan.FormatVersion},
		byID: map[string]*Account{}, byUPN: map[string][]*Account{}, byMail: map[string][]*Account{}, byEmpID: map[string][]*Account{},
		links: map[string]Link{}, claimed: map[string]string{}, active: map[string]bool{}, leaving: map[string]bool{}}
	taken := map[string]bool{}
	for i := range in.Dir.Accounts {
		a := &in.Dir.Accounts[i]
		c.byID[a.ID] = a
		upn := strings.ToLower(a.UserPrincipalName)
		c.byUPN[upn] = append(c.byUPN[upn], a)
		taken[upn] = true
		if a.Mail != "" {
			m := strings.ToLower(a.Mail)
			c.byMail[m] = append(c.byMail[m], a)
			taken[m] = true
		}
		for _, pa := range a.ProxyAddresses {
			if addr, ok := strings.CutPrefix(strings.ToLower(pa), "smtp:"); ok {
				taken[addr] = true
				if addr != strings.ToLower(a.Mail) {
					c.byMail[addr] = append(c.byMail[addr], a)
				}
			}
		}
		if e := strings.ToLower(a.Props["employeeId"]); e != "" {
			c.byEmpID[e] = append(c.byEmpID[e], a)
		}
	}
	c.alloc = naming.NewAllocator(func(upn string) bool { return taken[upn] })
	for _, l := range in.Links {
		c.links[l.SourceID] = l
		if _, ok := c.byID[l.TargetID]; ok {
			c.claimed[l.TargetID] = l.SourceID
		}
	}
	verified := map[string]bool{}
	for _, d := range in.Dir.Domains {
		verified[strings.ToLower(d)] = true
	}
	for _, d := range in.Domains {
		if verified[strings.ToLower(d)] {
			c.domains = append(c.domains, strings.ToLower(d))
		}
	}
	return c
}

// UserType maps a roster role to the account rules' user type.
func UserType(r roster.Role) string {
	switch {
	case r == roster.RoleStudent:
		return tenant.UserStudent
	case r == roster.RoleTeacher:
		return tenant.UserTeacher
	case r.IsFamily():
		return tenant.UserParent
	default:
		return tenant.UserStaff
	}
}

func (c *computer) syncedPeople() []*roster.Person {
	people := c.in.View.ActivePeople()
	if c.rules.SyncWithoutEnrolments {
		people = append(people, c.in.View.Unenrolled()...)
		slices.SortFunc(people, func(a, b *roster.Person) int { return strings.Compare(a.SourcedID, b.SourcedID) })
	}
	return people
}

func (c *computer) unsynced(p *roster.Person, ut string, reason plan.Reason, detail string) {
	c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: p.SourcedID, UserType: ut, Reason: reason, Detail: detail})
}

func (c *computer) people() {
	if !c.rules.SyncWithoutEnrolments {
		for _, p := range c.in.View.Unenrolled() {
			if !c.in.Excluded[p.SourcedID] {
				c.noEnrolments = append(c.noEnrolments, p)
			}
		}
	}
	synced := c.syncedPeople()
	if len(c.active) == 0 {
		c.active = make(map[string]bool, len(synced))
	}
	c.p.Changes = slices.Grow(c.p.Changes, len(synced))
	for _, p := range synced {
		c.active[p.SourcedID] = true
		ut := UserType(p.Role)
		if c.in.Excluded[p.SourcedID] {
			c.unsynced(p, ut, plan.UnsyncedBecauseExcluded, "excluded: never touched by any sync")
			continue
		}
		rules, ok := c.rules.Types[ut]
		if !ok {
			c.unsynced(p, ut, plan.UnsyncedBecauseActionOff, "no account rules for user type "+ut)
			continue
		}
		acct, how, problem := c.match(p)
		switch {
		case problem != nil:
			c.unsynced(p, ut, problem.reason, problem.detail)
		case acct != nil:
			c.claimed[acct.ID] = p.SourcedID
			c.matched(p, ut, rules, acct, how)
		default:
			c.create(p, ut, rules)
		}
	}
}

type matchProblem struct {
	reason plan.Reason
	detail string
}

// match finds the person's account: the stable link first, then the
// configured keys in order. A key that finds two accounts, or an account
// another person already has, matches nothing: guessing would merge two
// people's data.
func (c *computer) match(p *roster.Person) (*Account, string, *matchProblem) {
	if l, ok := c.links[p.SourcedID]; ok {
		if a := c.byID[l.TargetID]; a != nil {
			return a, "linked", nil
		}
		if !c.in.Now.IsZero() && c.in.Now.Sub(l.Since) < NotVisibleWindow {
			return nil, "", &matchProblem{plan.UnsyncedBecauseNotVisibleYet, "linked to an account created or matched moments ago that reads do not show yet: nothing is done until it does"}
		}
		// The linked account was deleted from the tenant: match afresh.
	}
	for _, key := range c.rules.MatchKeys {
		var found []*Account
		var label string
		switch key {
		case tenant.MatchEmail:
			if p.Email == "" {
				continue
			}
			e := strings.ToLower(p.Email)
			found = unique(append(slices.Clone(c.byMail[e]), c.byUPN[e]...))
			label = "work email"
		case tenant.MatchUsername:
			if p.Username == "" {
				continue
			}
			found = c.byUPN[strings.ToLower(p.Username)]
			label = "username"
		case tenant.MatchEmployeeID:
			if p.Identifier == "" {
				continue
			}
			found = c.byEmpID[strings.ToLower(p.Identifier)]
			label = "employee id"
		}
		switch {
		case len(found) > 1:
			return nil, "", &matchProblem{plan.UnsyncedBecauseAmbiguous, fmt.Sprintf("%s matches %d accounts", label, len(found))}
		case len(found) == 1:
			if owner, taken := c.claimed[found[0].ID]; taken && owner != p.SourcedID {
				return nil, "", &matchProblem{plan.UnsyncedBecauseClaimed, fmt.Sprintf("%s matches an account already linked to %s", label, owner)}
			}
			return found[0], "matched by " + label, nil
		}
	}
	return nil, "", nil
}

func unique(as []*Account) []*Account {
	seen := map[string]bool{}
	out := as[:0]
	for _, a := range as {
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	return out
}

func (c *computer) matched(p *roster.Person, ut string, rules tenant.UserTypeConfig, a *Account, how string) {
	link, linked := c.links[p.SourcedID]
	linked = linked && link.TargetID == a.ID
	var before, after map[string]string
	var notes propNotes
	if rules.Update {
		var want map[string]string
		want, notes = c.mapped(p, rules)
		before, after = plan.DiffFields(a.Props, want)
	}
	ch := withPayload(plan.Change{Kind: plan.KindUser, Key: p.SourcedID, TargetID: a.ID, Before: before, After: after}, Payload{UserType: ut})
	// keptDisabled: the account stays disabled, which the change (if
	// any) says; with no change the person is listed as kept instead.
	// Either way the person is counted once.
	keptDisabled := p.Enabled && !a.AccountEnabled
	if keptDisabled && linked && link.Suspended {
		ch.Action, ch.Reason = plan.Reactivate, plan.ReactivateBecauseReturned
		ch.Detail = "back in the MIS after being suspended by rostersync: reactivate" + notes.about(after)
		c.add(ch)
		return
	}
	const disabledDetail = "account is disabled, and not by rostersync: left disabled"
	switch {
	case !linked && (rules.Update || rules.SSOLink || rules.Create):
		ch.Action, ch.Reason, ch.Detail = plan.Link, plan.LinkBecauseMatched, how
		if len(after) > 0 {
			ch.Detail += "; " + describeFields(after)
		}
	case len(after) > 0:
		ch.Action, ch.Reason = plan.Update, plan.UpdateBecauseMappedChanged
		ch.Detail = describeFields(after)
	case keptDisabled:
		c.unsynced(p, ut, plan.KeptBecauseDisabledOutsideMIS, disabledDetail)
		return
	default:
		c.p.Matched++
		return
	}
	ch.Detail += notes.about(after)
	if keptDisabled {
		ch.Detail += "; " + disabledDetail
	}
	c.add(ch)
}

// add appends a change. It is the last point before a plan carries
// values to Graph, so every property value is made safe here once more,
// whatever built it: no control or format character, nothing over
// Graph's length limit.
func (c *computer) add(ch plan.Change) {
	for k, v := range ch.After {
		limit, _ := propertyLimit(k) // 0: no known limit, cleaned all the same
		ch.After[k], _, _ = cleanProperty(v, limit)
	}
	c.p.Changes = append(c.p.Changes, ch)
}

func describeFields(after map[string]string) string {
	return "mapped field(s) differ: " + strings.Join(slices.Sorted(maps.Keys(after)), ", ")
}

func (c *computer) create(p *roster.Person, ut string, rules tenant.UserTypeConfig) {
	switch {
	case c.rules.SyncOnly:
		c.unsynced(p, ut, plan.UnsyncedBecauseSyncOnly, "sync-only mode: no account with this work email, and none is created")
		return
	case !rules.Create:
		c.unsynced(p, ut, plan.UnsyncedBecauseActionOff, "create is off for "+ut+"s")
		return
	case c.in.Only != nil && !c.in.Only[p.SourcedID]:
		return // "create selected" run: others are not this run's business
	case c.in.Only == nil && c.beforeSyncStart(p):
		c.unsynced(p, ut, plan.UnsyncedBecauseBeforeStart, "enrolled before the sync start date "+c.rules.SyncStartDate+": create them with \"create selected\"")
		return
	}
	domain, err := c.domainFor(rules)
	if err != nil {
		c.unsynced(p, ut, plan.UnsyncedBecauseNoDomain, err.Error())
		return
	}
	name, err := c.username(p, rules)
	if err != nil {
		c.unsynced(p, ut, plan.UnsyncedBecauseNoUsername, err.Error())
		return
	}
	alias := name.Alias
	got, err := c.alloc.Allocate(alias, domain)
	if err != nil {
		c.unsynced(p, ut, plan.UnsyncedBecauseNoUsername, err.Error())
		return
	}
	after, notes := c.mapped(p, rules)
	after["userPrincipalName"] = got.UPN
	after["mailNickname"] = naming.MailNickname(got.Alias)
	after["usageLocation"] = c.rules.UsageLocation
	if after["displayName"] == "" {
		after["displayName"] = notes.property("displayName", c.field(p, "displayName"))
	}
	detail := "new " + ut + ", " + name.how
	if name.Shortened {
		detail += fmt.Sprintf(", shortened to %d characters (Graph's limit for a username)", naming.MaxAliasLength)
	}
	switch {
	case got.Suffix == 2:
		detail += fmt.Sprintf(", suffix 2 because %s@%s is taken", alias, domain)
	case got.Suffix > 2:
		detail += fmt.Sprintf(", suffix %d because %s@%s and the lower suffixes are taken", got.Suffix, alias, domain)
	}
	detail += notes.about(after)
	password := rules.Password
	if password == "" {
		password = tenant.PasswordStrong
	}
	c.add(withPayload(plan.Change{Kind: plan.KindUser, Key: p.SourcedID, Action: plan.Create,
		Reason: plan.CreateBecauseNew, Detail: detail, After: after},
		Payload{UserType: ut, Licenses: slices.Clone(rules.Licenses), Groups: slices.Clone(rules.Groups), Password: password}))
}

// username is a person's alias and how it was made.
type username struct {
	naming.Rendered
	how string // for the change's detail
}

// username renders the type's username template. A name that yields
// nothing usable even transliterated (recorded as "?", or in symbols no
// script reading covers) falls back to the type's fallback template, then
// to the sourcedId, so nobody is left without an account for their name;
// the detail says which was used.
func (c *computer) username(p *roster.Person, rules tenant.UserTypeConfig) (username, error) {
	tmpl, err := c.template(rules.UsernameTemplate)
	if err != nil {
		return username{}, err
	}
	fields, casing := c.nameFields(p), naming.Casing(rules.Casing)
	r, err := tmpl.Render(fields, casing, 0)
	switch {
	case err == nil && r.Transliterated:
		return username{r, tmpl.how + ", transliterated from the name's own script (display names keep it)"}, nil
	case err == nil:
		return username{r, tmpl.how}, nil
	case !errors.Is(err, naming.ErrEmpty):
		return username{}, err
	}
	fallback, err := naming.ParseTemplate(rules.Fallback())
	if err != nil {
		return username{}, fmt.Errorf("fallback template: %w", err)
	}
	if r, err := fallback.Render(fields, casing, 0); err == nil {
		return username{r, fmt.Sprintf("username from fallback template %s: template %s finds nothing usable in a username in the name, even transliterated", fallback, tmpl)}, nil
	}
	last, _ := naming.ParseTemplate("{sourcedId}") // a constant that parses
	r, err = last.Render(fields, casing, 0)
	if err != nil {
		return username{}, fmt.Errorf("neither template %s, fallback template %s nor the sourcedId finds anything usable in a username: %w", tmpl, fallback, err)
	}
	return username{r, fmt.Sprintf("username from the sourcedId: neither template %s nor fallback template %s finds anything usable in a username, even transliterated", tmpl, fallback)}, nil
}

// usernameTemplate is a parsed username template and the start of the
// detail of the usernames it makes.
type usernameTemplate struct {
	naming.Template
	how string
}

// template parses a username template once per plan: every person of a
// user type shares it.
func (c *computer) template(src string) (usernameTemplate, error) {
	if t, ok := c.templates[src]; ok {
		return t, nil
	}
	tmpl, err := naming.ParseTemplate(src)
	if err != nil {
		return usernameTemplate{}, err
	}
	t := usernameTemplate{Template: tmpl, how: "username from template " + tmpl.String()}
	if c.templates == nil {
		c.templates = map[string]usernameTemplate{}
	}
	c.templates[src] = t
	return t, nil
}

func (c *computer) domainFor(rules tenant.UserTypeConfig) (string, error) {
	if rules.Domain != "" {
		d := strings.ToLower(rules.Domain)
		if slices.Contains(c.domains, d) {
			return d, nil
		}
		if !slices.ContainsFunc(c.in.Domains, func(x string) bool { return strings.EqualFold(x, d) }) {
			return "", fmt.Errorf("domain %s is not one of the customer's domains (%s)", rules.Domain, strings.Join(c.in.Domains, ", "))
		}
		return "", c.unverified([]string{d})
	}
	if len(c.domains) == 0 {
		if len(c.in.Domains) == 0 {
			return "", errors.New("the customer has no domains to create accounts in")
		}
		return "", c.unverified(c.in.Domains)
	}
	return c.domains[0], nil
}

// unverified says why domains verified in no tenant hold creation: one
// the last tenant check found verified has stopped being so (removed or
// unverified in Entra), or one was never verified there.
func (c *computer) unverified(domains []string) error {
	var gone, never []string
	for _, d := range domains {
		if slices.ContainsFunc(c.in.WasVerified, func(x string) bool { return strings.EqualFold(x, d) }) {
			gone = append(gone, strings.ToLower(d))
		} else {
			never = append(never, strings.ToLower(d))
		}
	}
	var parts []string
	if len(gone) > 0 {
		parts = append(parts, fmt.Sprintf("domain %s is no longer verified in the tenant", strings.Join(gone, ", ")))
	}
	if len(never) > 0 {
		parts = append(parts, fmt.Sprintf("domain %s is not verified in the tenant", strings.Join(never, ", ")))
	}
	return fmt.Errorf("%s: accounts are created only in the tenant's verified domains; creation is held until one is verified", strings.Join(parts, "; "))
}

// beforeSyncStart: every current enrolment began before the start date.
func (c *computer) beforeSyncStart(p *roster.Person) bool {
	if c.rules.SyncStartDate == "" {
		return false
	}
	start, err := roster.ParseDate(c.rules.SyncStartDate)
	if err != nil {
		return false // validated with the profile
	}
	ms := c.in.View.ClassesOf(p.SourcedID)
	if len(ms) == 0 {
		return false
	}
	for _, m := range ms {
		if m.Enrollment.Begin == 0 || !m.Enrollment.Begin.Before(start) {
			return false
		}
	}
	return true
}

func (c *computer) nameFields(p *roster.Person) naming.Fields {
	return naming.Fields{Given: p.GivenName, Family: p.FamilyName, Middle: p.MiddleName, Identifier: p.Identifier, Year: firstGrade(p), SourcedID: p.SourcedID}
}

func firstGrade(p *roster.Person) string {
	if len(p.Grades) == 0 {
		return ""
	}
	return p.Grades[0]
}

// mapped renders the type's property mappings for a person, cleaned and
// held to Graph's limits (see propNotes.property), with notes on what that
// changed.
func (c *computer) mapped(p *roster.Person, rules tenant.UserTypeConfig) (map[string]string, propNotes) {
	// Sized for the mappings and the few properties a create adds, so the
	// map is not grown (rehashed) while a trust's worth are filled.
	out := make(map[string]string, len(rules.Mappings)+4)
	var notes propNotes
	for _, m := range rules.Mappings {
		v := m.Static
		if m.From != "" {
			v = c.field(p, m.From)
		}
		v = notes.property(m.Property, naming.Casing(m.Casing).Apply(v))
		if v == "" && notes.unset[m.Property] {
			continue // left out, not emptied: see property
		}
		out[m.Property] = v
	}
	return out, notes
}

func (c *computer) field(p *roster.Person, name string) string {
	switch name {
	case "givenName":
		return p.GivenName
	case "familyName":
		return p.FamilyName
	case "middleName":
		return p.MiddleName
	case "displayName":
		return strings.TrimSpace(strings.TrimSpace(p.GivenName) + " " + strings.TrimSpace(p.FamilyName))
	case "identifier":
		return p.Identifier
	case "role":
		return titleRole(p.Role)
	case "grade":
		return firstGrade(p)
	case "yearGroup":
		if g := firstGrade(p); g != "" {
			return "Year " + strings.TrimLeft(g, "0")
		}
		return ""
	case "email":
		return p.Email
	case "username":
		return p.Username
	case "sourcedId":
		return p.SourcedID
	case "school":
		if len(p.Orgs) > 0 {
			if o := c.in.View.Roster().Org(p.Orgs[0]); o != nil {
				return o.Name
			}
		}
	}
	return ""
}

func titleRole(r roster.Role) string {
	s := string(r)
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// noEnrolmentsDetail says why a person without enrolments is not synced.
const noEnrolmentsDetail = "no current enrolment, and the profile syncs only people with enrolments"

// unenrolled lists the people left out for having no enrolment whom
// leavers did not already give a verdict (a linked one is suspended, or
// kept with the reason): one entry per person, so the unsynced count is a
// count of people.
func (c *computer) unenrolled() {
	for _, p := range c.noEnrolments {
		if !c.leaving[p.SourcedID] {
			c.unsynced(p, UserType(p.Role), plan.UnsyncedBecauseNoEnrolments, noEnrolmentsDetail)
		}
	}
}

// leavers suspends the accounts rostersync manages whose person is no
// longer synced. Only linked accounts are considered: an account the MIS
// never knew is never touched.
func (c *computer) leavers() {
	for _, l := range sortedLinks(c.in.Links) {
		if c.active[l.SourceID] || c.in.Excluded[l.SourceID] {
			continue
		}
		a := c.byID[l.TargetID]
		if a == nil || !a.AccountEnabled {
			continue
		}
		ut, reason, detail := l.UserType, plan.SuspendBecauseLeftMIS, "no longer in the MIS's active session: suspend (never delete)"
		left := "left the MIS"
		if p := c.in.View.Roster().Person(l.SourceID); p != nil {
			ut = UserType(p.Role)
			switch {
			case !p.Enabled:
				reason, detail = plan.SuspendBecauseDisabledInMIS, "disabled in the MIS: suspend"
				left = "disabled in the MIS"
			case len(c.in.View.ClassesOf(p.SourcedID)) == 0:
				detail = noEnrolmentsDetail + ": suspend (never delete)"
				left = "no current enrolment"
			}
		}
		c.leaving[l.SourceID] = true
		rules, ok := c.rules.Types[ut]
		if !ok || !rules.Deactivate {
			c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: l.SourceID, UserType: ut, Reason: plan.UnsyncedBecauseActionOff, Detail: left + ", but deactivate is off for " + ut + "s"})
			continue
		}
		if c.in.RosterShrank {
			// A truncated export is likelier than a mass exodus: the
			// suspension is planned but held until someone confirms it.
			detail = left + ", but the feed shrank suspiciously: suspend once confirmed"
		}
		c.suspends++
		suspend := withPayload(plan.Change{Kind: plan.KindUser, Key: l.SourceID, Action: plan.Suspend, Reason: reason,
			Detail: detail, TargetID: a.ID, Before: map[string]string{"accountEnabled": "true"}, After: map[string]string{"accountEnabled": "false"}},
			Payload{UserType: ut})
		suspend.Held = c.in.RosterShrank
		c.p.Changes = append(c.p.Changes, suspend)
	}
}

func sortedLinks(ls []Link) []Link {
	out := slices.Clone(ls)
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.SourceID, b.SourceID) })
	return out
}

// guard holds a plan that suspends more than the larger of the count and
// the share of managed accounts.
func (c *computer) guard() {
	managed := 0
	for _, l := range c.in.Links {
		if _, ok := c.byID[l.TargetID]; ok {
			managed++
		}
	}
	limit := max(c.rules.MaxSuspendCount, int(math.Ceil(c.rules.MaxSuspendPercent/100*float64(managed))))
	g := plan.Guard{Suspends: c.suspends, Limit: limit, RosterShrank: c.in.RosterShrank}
	switch {
	case c.in.RosterShrank && c.suspends > 0:
		g.Held = true
		g.Detail = fmt.Sprintf("the roster shrank suspiciously against the previous feed: %d suspensions held until confirmed; everything else is applied", c.suspends)
	case c.in.RosterShrank:
		g.Detail = "the roster shrank suspiciously against the previous feed: nobody would have been suspended"
	case c.suspends > limit:
		g.Held = true
		g.Detail = fmt.Sprintf("%d suspensions exceed the limit of %d (the larger of %d and %g%% of %d managed accounts): held until confirmed; everything else is applied",
			c.suspends, limit, c.rules.MaxSuspendCount, c.rules.MaxSuspendPercent, managed)
	}
	if g.Held {
		for i := range c.p.Changes {
			if c.p.Changes[i].Action == plan.Suspend {
				c.p.Changes[i].Held = true
			}
		}
	}
	c.p.Guard = g
}
