// Package groupplan computes the groups part of a plan: which groups the
// roster asks for (year, registration, teaching, department, subject and
// whole-school groups, each type switched on by the profile), what they
// are called, who owns them and who is in them, which existing groups they
// are, and what becomes of groups whose source left the MIS. It is a pure
// function of (roster view, tenant snapshot, links, exclusions, rules):
// no Graph, no tables, no clock.
package groupplan

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Group is one group of the tenant as the planner needs it.
type Group struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	MailNickname    string   `json:"mailNickname"`
	Mail            string   `json:"mail,omitempty"`
	GroupTypes      []string `json:"groupTypes,omitempty"`
	SecurityEnabled bool     `json:"securityEnabled"`
	// Members and Owners are object ids.
	Members []string `json:"members,omitempty"`
	Owners  []string `json:"owners,omitempty"`
}

// Directory is the tenant snapshot the planner reads.
type Directory struct {
	Groups []Group `json:"groups"`
	// Admins maps the profile's admins named by userPrincipalName
	// (lower-cased) to their account ids; "" when no account has it.
	Admins map[string]string `json:"admins,omitempty"`
}

// How a group link was made; the link function writes these and the
// planner reads them.
const (
	HowCreated  = "created"
	HowMatched  = "matched"
	HowDeleted  = "deleted"
	HowUnlinked = "unlinked"
	// HowDeletedOnRequest is the history of a group deleted by the delete
	// button: the nightly sync does not make it again (only a run
	// narrowed to it, the create button, does).
	HowDeletedOnRequest = HowDeleted + " (on request)"
)

// ActionDelete is the per-object button (runs.Run.Action) that deletes
// the groups a run is narrowed to.
const ActionDelete = "delete"

// Link is a stored group-key ↔ group link.
type Link struct {
	Key      string
	TargetID string
	// How says whether rostersync created the group (then it may delete
	// it) or matched an existing one (never deleted, only unlinked);
	// deleted and unlinked links are history, not links.
	How string
	// Type is the group type when the link was made.
	Type string
}

// Created reports a link to a group rostersync made.
func (l Link) Created() bool { return strings.HasPrefix(l.How, HowCreated) }

// live reports a link that still ties its key to a group.
func (l Link) live() bool {
	return !strings.HasPrefix(l.How, HowDeleted) && !strings.HasPrefix(l.How, HowUnlinked)
}

// Input is everything Compute reads.
type Input struct {
	View  *roster.View
	Dir   Directory
	Links []Link
	// Accounts maps people's sourcedIds to their account object ids (the
	// users entity's links); people without one are left out until they
	// have an account.
	Accounts map[string]string
	// Excluded are group keys the customer excluded.
	Excluded map[string]bool
	Rules    tenant.GroupsConfig
	// RosterShrank: the feed shrank suspiciously; every removal is held.
	RosterShrank bool
	// Only, when set, limits the plan to these group keys.
	Only map[string]bool
	// Action is the per-object button that started the run; ActionDelete
	// plans the deletion of the Only groups.
	Action string
}

// Reasons of group changes.
const (
	CreateBecauseNew        plan.Reason = "create_because_new_group_in_mis"
	LinkBecauseNickname     plan.Reason = "link_because_matched_by_mail_nickname"
	LinkBecauseDisplayName  plan.Reason = "link_because_matched_by_display_name"
	UpdateBecauseMembership plan.Reason = "update_because_membership_differs"
	UpdateBecauseRenamed    plan.Reason = "update_because_renamed_in_mis"
	DeleteBecauseLeftMIS    plan.Reason = "delete_because_left_mis"
	EmptyBecauseLeftMIS     plan.Reason = "empty_because_left_mis"
	UnlinkBecauseLeftMIS    plan.Reason = "unlink_because_matched_group_left_mis"
	UnsyncedBecauseExcluded plan.Reason = plan.UnsyncedBecauseExcluded
	UnsyncedBecauseMissing  plan.Reason = "unsynced_because_linked_group_not_found"
	UnsyncedBecauseNoName   plan.Reason = "unsynced_because_no_usable_name"
	// UnsyncedBecauseAdminUnknown: an admin named by UPN has no account.
	UnsyncedBecauseAdminUnknown plan.Reason = "unsynced_because_admin_has_no_account"
	DeleteBecauseAsked          plan.Reason = "delete_because_asked"
	UnsyncedBecauseDeleted      plan.Reason = "unsynced_because_deleted_on_request"
	UnsyncedBecauseNothing      plan.Reason = "unsynced_because_no_linked_group_to_delete"
)

// want is a group the roster asks for.
type want struct {
	key, typ   string
	name, nick string
	// matchNames are the displayNames an existing group may have to be
	// adopted: the profile's match pattern, then the group's own name.
	matchNames []string
	owners     []string // object ids, sorted
	members    []string // object ids, sorted
	cfg        tenant.GroupTypeConfig
	what       string // for sentences: "teaching group 10A/Ma1"
}

// Compute returns the plan's group changes; header fields (run, tenant)
// are the caller's. Output is sorted and deterministic.
func Compute(in Input) *plan.Plan {
	c := &computer{in: in, rules: in.Rules.WithDefaults(), p: &plan.Plan{FormatVersion: plan.FormatVersion},
		byID: map[string]*Group{}, byNick: map[string]*Group{}, byName: map[string][]*Group{}, links: map[string]Link{}, claimed: map[string]bool{}}
	c.nicks = &nicknames{taken: map[string]bool{}}
	for i := range in.Dir.Groups {
		g := &in.Dir.Groups[i]
		c.byID[strings.ToLower(g.ID)] = g
		if n := strings.ToLower(strings.TrimSpace(g.DisplayName)); n != "" {
			c.byName[n] = append(c.byName[n], g)
		}
		if g.MailNickname != "" {
			c.byNick[strings.ToLower(g.MailNickname)] = g
			c.nicks.taken[strings.ToLower(g.MailNickname)] = true
		}
	}
	c.deleted = map[string]bool{}
	for _, l := range in.Links {
		if l.live() {
			c.links[l.Key] = l
			c.claimed[strings.ToLower(l.TargetID)] = true
		}
		if l.How == HowDeletedOnRequest {
			c.deleted[l.Key] = true
		}
	}
	if in.Action == ActionDelete {
		c.deleteAsked()
		c.guard()
		c.p.Sort()
		return c.p
	}
	c.unknownAdmins()
	wants := c.wants()
	for _, w := range wants {
		c.plan(w)
	}
	c.tidy(wants)
	if in.Only != nil {
		c.keepOnly()
	}
	c.guard()
	c.p.Sort()
	return c.p
}

type computer struct {
	in     Input
	rules  tenant.GroupsConfig
	p      *plan.Plan
	byID   map[string]*Group
	byNick map[string]*Group
	// byName finds groups by displayName (lower case), which is not
	// unique: a name shared by two groups matches neither.
	byName  map[string][]*Group
	links   map[string]Link
	claimed map[string]bool
	// deleted are keys whose group was deleted by the delete button.
	deleted map[string]bool
	nicks   *nicknames
	removes int
}

// schoolYear is the session whose years name the groups: the school year
// enclosing the view's session when it is a term.
func schoolYear(v *roster.View) *roster.Session {
	s := v.Session()
	for seen := 0; s != nil && s.Type != roster.SessionSchoolYear && s.Parent != "" && seen < 8; seen++ {
		p := v.Roster().Session(s.Parent)
		if p == nil {
			break
		}
		s = p
	}
	return s
}

// wants lists the groups the roster asks for, by key.
func (c *computer) wants() []*want {
	v := c.in.View
	r := v.Roster()
	sy := schoolYear(v)
	years := map[string]string{}
	if sy != nil {
		years["yearStart"], years["yearEnd"] = strconv.Itoa(sy.Start.Year()), strconv.Itoa(sy.End.Year())
	}
	tokens := func(school string, t map[string]string) map[string]string {
		out := maps.Clone(years)
		if o := r.Org(school); o != nil {
			out["school"], out["schoolName"] = cmp.Or(o.Identifier, o.SourcedID), o.Name
		}
		maps.Copy(out, t)
		return out
	}
	ownerRole := map[roster.Role]bool{}
	for _, ro := range c.rules.OwnerRoles {
		ownerRole[roster.Role(ro)] = true
	}
	var out []*want
	add := func(typ, key, what string, tok map[string]string, owners, members []string) {
		cfg := c.rules.Types[typ]
		w := &want{key: key, typ: typ, cfg: cfg, what: what,
			name: DisplayName(render(cfg.NameTemplate, tok)), nick: Nickname(render(cfg.NicknameTemplate, tok))}
		if cfg.MatchTemplate != "" {
			w.matchNames = append(w.matchNames, DisplayName(render(cfg.MatchTemplate, tok)))
		}
		w.matchNames = append(w.matchNames, w.name)
		c.people(w, owners, members)
		out = append(out, w)
	}
	on := func(typ string) bool { return c.rules.Types[typ].Enabled }
	active := map[string]bool{}
	for _, p := range v.ActivePeople() {
		active[p.SourcedID] = true
	}
	for _, cl := range v.Classes() {
		typ := tenant.GroupTeaching
		if cl.Type == roster.ClassHomeroom {
			typ = tenant.GroupRegistration
		}
		if !on(typ) {
			continue
		}
		var owners, members []string
		for _, m := range v.Members(cl.SourcedID) {
			if !m.Person.Enabled {
				continue
			}
			switch {
			case ownerRole[m.Enrollment.Role]:
				owners = append(owners, m.Person.SourcedID)
			case m.Enrollment.Role == roster.RoleStudent:
				members = append(members, m.Person.SourcedID)
			}
		}
		grade := ""
		if len(cl.Grades) > 0 {
			grade = cl.Grades[0]
		}
		add(typ, cl.SourcedID, typeWord(typ)+" "+cl.Title, tokens(cl.School, map[string]string{"name": cl.Title, "code": cl.Code, "grade": grade}), owners, members)
	}
	for _, sc := range v.Schools() {
		if on(tenant.GroupYear) {
			for _, yg := range v.YearGroups(sc.SourcedID) {
				var members []string
				for _, s := range yg.Students {
					if active[s] {
						members = append(members, s)
					}
				}
				name := "Year " + strings.TrimLeft(yg.Grade, "0")
				add(tenant.GroupYear, "year:"+sc.SourcedID+":"+yg.Grade, "year group "+name+" at "+sc.Name,
					tokens(sc.SourcedID, map[string]string{"name": name, "code": yg.Grade, "grade": yg.Grade}), nil, members)
			}
		}
		var students, staff []string
		for _, p := range v.ActivePeople() {
			if !slices.Contains(p.Orgs, sc.SourcedID) {
				continue
			}
			switch {
			case p.Role == roster.RoleStudent:
				students = append(students, p.SourcedID)
			case p.Role.IsStaff():
				staff = append(staff, p.SourcedID)
			}
		}
		if on(tenant.GroupAllStudents) {
			add(tenant.GroupAllStudents, "students:"+sc.SourcedID, "all students of "+sc.Name,
				tokens(sc.SourcedID, map[string]string{"name": "All Students"}), nil, students)
		}
		if on(tenant.GroupAllStaff) {
			add(tenant.GroupAllStaff, "staff:"+sc.SourcedID, "all staff of "+sc.Name,
				tokens(sc.SourcedID, map[string]string{"name": "All Staff"}), nil, staff)
		}
		if on(tenant.GroupSubject) {
			subjects := map[string][]string{}
			for _, cl := range v.Classes() {
				if cl.School != sc.SourcedID || cl.Type != roster.ClassScheduled {
					continue
				}
				for _, m := range v.Members(cl.SourcedID) {
					if m.Person.Enabled && ownerRole[m.Enrollment.Role] {
						for _, s := range cl.Subjects {
							subjects[s] = append(subjects[s], m.Person.SourcedID)
						}
					}
				}
			}
			for _, s := range slices.Sorted(maps.Keys(subjects)) {
				add(tenant.GroupSubject, "subject:"+sc.SourcedID+":"+s, "subject group "+s+" at "+sc.Name,
					tokens(sc.SourcedID, map[string]string{"name": s}), nil, subjects[s])
			}
		}
	}
	if on(tenant.GroupDepartment) {
		for i := range r.Orgs {
			o := &r.Orgs[i]
			if o.Type != roster.OrgDepartment {
				continue
			}
			var staff []string
			for _, p := range v.ActivePeople() {
				if p.Role.IsStaff() && slices.Contains(p.Orgs, o.SourcedID) {
					staff = append(staff, p.SourcedID)
				}
			}
			add(tenant.GroupDepartment, "dept:"+o.SourcedID, "department "+o.Name,
				tokens(o.Parent, map[string]string{"name": o.Name, "code": o.Identifier}), nil, staff)
		}
	}
	slices.SortFunc(out, func(a, b *want) int { return strings.Compare(a.key, b.key) })
	return out
}

func typeWord(typ string) string {
	switch typ {
	case tenant.GroupRegistration:
		return "registration group"
	case tenant.GroupTeaching:
		return "teaching group"
	}
	return typ + " group"
}

// people resolves a group's owners and members to object ids: the profile's
// admins own every group, include and exclude lists apply per group, and
// owners are members too unless the profile says not.
func (c *computer) people(w *want, owners, members []string) {
	excluded := map[string]bool{}
	for _, p := range c.rules.Exclude[w.key] {
		excluded[p] = true
	}
	members = append(slices.Clone(members), c.rules.Include[w.key]...)
	ids := func(persons []string) []string {
		var out []string
		for _, p := range persons {
			if excluded[p] {
				continue
			}
			if id := c.in.Accounts[p]; id != "" {
				out = append(out, strings.ToLower(id))
			}
		}
		return out
	}
	o := append(ids(owners), c.adminIDs()...)
	m := ids(members)
	if !c.rules.OwnersNotMembers {
		m = append(m, ids(owners)...)
	}
	w.owners, w.members = uniq(o), uniq(m)
}

// adminIDs are the profile's admins as account ids: object ids as given,
// UPNs through the snapshot's look-up (an admin without an account is
// left out, and reported once by unknownAdmins).
func (c *computer) adminIDs() []string {
	var out []string
	for _, a := range c.rules.Admins {
		if !strings.Contains(a, "@") {
			out = append(out, strings.ToLower(a))
			continue
		}
		if id := c.in.Dir.Admins[strings.ToLower(a)]; id != "" {
			out = append(out, strings.ToLower(id))
		}
	}
	return out
}

// unknownAdmins lists, once, the admins named by UPN with no account.
func (c *computer) unknownAdmins() {
	for _, a := range c.rules.Admins {
		if strings.Contains(a, "@") && c.in.Dir.Admins[strings.ToLower(a)] == "" {
			c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: "admin:" + strings.ToLower(a), Reason: UnsyncedBecauseAdminUnknown,
				Detail: "a group admin named by userPrincipalName has no account in the tenant: not made an owner"})
		}
	}
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	return out
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// plan decides one wanted group: its link, a nickname match, or a create.
func (c *computer) plan(w *want) {
	if c.in.Excluded[w.key] {
		c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: w.key, UserType: w.typ, Reason: UnsyncedBecauseExcluded, Detail: w.what + " is excluded from sync"})
		return
	}
	if c.deleted[w.key] && !c.in.Only[w.key] {
		c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: w.key, UserType: w.typ, Reason: UnsyncedBecauseDeleted,
			Detail: w.what + " was deleted on request; the create button makes it again"})
		return
	}
	if l, ok := c.links[w.key]; ok {
		g := c.byID[strings.ToLower(l.TargetID)]
		if g == nil {
			c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: w.key, UserType: w.typ, Reason: UnsyncedBecauseMissing,
				Detail: w.what + ": its linked group " + l.TargetID + " is not in the tenant (deleted, or not replicated yet); unlink it to make a new one"})
			return
		}
		c.reconcile(w, g, plan.Update, UpdateBecauseMembership, "")
		return
	}
	if g := c.byNick[strings.ToLower(w.nick)]; g != nil && w.nick != "" && !c.claimed[strings.ToLower(g.ID)] {
		c.claimed[strings.ToLower(g.ID)] = true
		c.reconcile(w, g, plan.Link, LinkBecauseNickname, fmt.Sprintf("%s matched the existing group with mailNickname %s", w.what, g.MailNickname))
		return
	}
	if g, name := c.matchByName(w); g != nil {
		c.claimed[strings.ToLower(g.ID)] = true
		c.reconcile(w, g, plan.Link, LinkBecauseDisplayName, fmt.Sprintf("%s matched the existing group named %q", w.what, name))
		return
	}
	if w.nick == "" || w.name == "" {
		c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: w.key, UserType: w.typ, Reason: UnsyncedBecauseNoName, Detail: w.what + ": its name template gives no usable name"})
		return
	}
	nick := c.nicks.allocate(w.nick)
	detail := "new " + w.what
	if !strings.EqualFold(nick, w.nick) {
		detail += " (mailNickname " + w.nick + " is taken: " + nick + ")"
	}
	ch := plan.Change{Kind: plan.KindGroup, Key: w.key, Action: plan.Create, Reason: CreateBecauseNew, Detail: detail,
		After: map[string]string{"displayName": w.name, "mailNickname": nick}}
	c.p.Changes = append(c.p.Changes, withPayload(ch, c.payload(w, w.owners, w.members, nil, nil)))
}

// matchByName finds the one unclaimed group whose displayName is one of
// the want's match names, in order.
func (c *computer) matchByName(w *want) (*Group, string) {
	for _, n := range w.matchNames {
		var found []*Group
		for _, g := range c.byName[strings.ToLower(strings.TrimSpace(n))] {
			if !c.claimed[strings.ToLower(g.ID)] {
				found = append(found, g)
			}
		}
		if len(found) == 1 {
			return found[0], found[0].DisplayName
		}
	}
	return nil, ""
}

func (c *computer) payload(w *want, addO, addM, remO, remM []string) Payload {
	pl := Payload{Type: w.typ, Unified: w.cfg.Kind != tenant.GroupKindSecurity, AddOwners: addO, AddMembers: addM, RemoveOwners: remO, RemoveMembers: remM}
	if pl.Unified {
		pl.Visibility = w.cfg.Visibility
		if w.cfg.WelcomeEmailDisabled {
			pl.Options = append(pl.Options, "WelcomeEmailDisabled")
		}
		if w.cfg.HideGroupInOutlook {
			pl.Options = append(pl.Options, "HideGroupInOutlook")
		}
	}
	return pl
}

// reconcile brings an existing group's owners and members (and, when the
// profile says so, its name) to what the roster wants.
func (c *computer) reconcile(w *want, g *Group, action plan.Action, reason plan.Reason, detail string) {
	addO, remO := diff(lower(g.Owners), w.owners)
	addM, remM := diff(lower(g.Members), w.members)
	var before, after map[string]string
	if c.rules.RenameWithMIS && w.name != "" && g.DisplayName != w.name {
		before, after = map[string]string{"displayName": g.DisplayName}, map[string]string{"displayName": w.name}
	}
	changed := len(addO)+len(remO)+len(addM)+len(remM) > 0 || after != nil
	if action == plan.Update && !changed {
		c.p.Matched++
		return
	}
	if action == plan.Update {
		var parts []string
		if after != nil {
			reason = UpdateBecauseRenamed
			parts = append(parts, "renamed in the MIS")
		}
		for _, p := range []struct {
			n    int
			what string
		}{{len(addO), "owner(s) to add"}, {len(remO), "owner(s) to remove"}, {len(addM), "member(s) to add"}, {len(remM), "member(s) to remove"}} {
			if p.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
			}
		}
		detail = w.what + ": " + strings.Join(parts, ", ")
	}
	if len(remO)+len(remM) > 0 {
		c.removes++
	}
	ch := plan.Change{Kind: plan.KindGroup, Key: w.key, Action: action, Reason: reason, Detail: detail, TargetID: g.ID, Before: before, After: after}
	c.p.Changes = append(c.p.Changes, withPayload(ch, c.payload(w, addO, addM, remO, remM)))
}

// diff returns what to add to have to reach want, and what to remove.
func diff(have, want []string) (add, remove []string) {
	h := map[string]bool{}
	for _, id := range have {
		h[id] = true
	}
	wm := map[string]bool{}
	for _, id := range want {
		wm[id] = true
		if !h[id] {
			add = append(add, id)
		}
	}
	for _, id := range uniq(have) {
		if !wm[id] {
			remove = append(remove, id)
		}
	}
	return add, remove
}

// tidy decides the linked groups the roster no longer asks for: a group
// rostersync created is deleted or emptied per policy; one it matched is
// never touched, only unlinked and reported. Types switched off are left
// alone.
func (c *computer) tidy(wants []*want) {
	wanted := map[string]bool{}
	for _, w := range wants {
		wanted[w.key] = true
	}
	for _, key := range slices.Sorted(maps.Keys(c.links)) {
		l := c.links[key]
		if wanted[key] || c.in.Excluded[key] || !c.rules.Types[l.Type].Enabled {
			continue
		}
		g := c.byID[strings.ToLower(l.TargetID)]
		if g == nil {
			continue // gone already
		}
		what := fmt.Sprintf("%s %q", typeWord(l.Type), g.DisplayName)
		base := plan.Change{Kind: plan.KindGroup, Key: key, TargetID: g.ID}
		w := &want{typ: l.Type, cfg: c.rules.Types[l.Type]}
		switch {
		case !l.Created():
			base.Action, base.Reason = plan.Unlink, UnlinkBecauseLeftMIS
			base.Detail = what + " left the MIS; rostersync matched it rather than created it, so it is unlinked and kept as it is"
			c.p.Changes = append(c.p.Changes, withPayload(base, c.payload(w, nil, nil, nil, nil)))
		case c.rules.Tidy == tenant.TidyEmpty:
			if len(g.Members) == 0 {
				continue
			}
			base.Action, base.Reason = plan.Update, EmptyBecauseLeftMIS
			base.Detail = what + " left the MIS: emptied (kept, per the profile's tidy-up policy)"
			c.removes++
			c.p.Changes = append(c.p.Changes, withPayload(base, c.payload(w, nil, nil, nil, uniq(lower(g.Members)))))
		default:
			base.Action, base.Reason = plan.Delete, DeleteBecauseLeftMIS
			base.Detail = what + " left the MIS: deleted (restorable for 30 days)"
			base.Before = map[string]string{"displayName": g.DisplayName, "mailNickname": g.MailNickname}
			c.removes++
			c.p.Changes = append(c.p.Changes, withPayload(base, c.payload(w, nil, nil, nil, nil)))
		}
	}
}

// deleteAsked plans the delete button: each group the run is narrowed to
// is deleted (restorable for 30 days) if a link ties it to a group of the
// tenant, whether rostersync made it or matched it, since someone asked;
// the removal guard still applies.
func (c *computer) deleteAsked() {
	for _, key := range slices.Sorted(maps.Keys(c.in.Only)) {
		l, ok := c.links[key]
		var g *Group
		if ok {
			g = c.byID[strings.ToLower(l.TargetID)]
		}
		if g == nil {
			c.p.Unsynced = append(c.p.Unsynced, plan.Unsynced{Key: key, UserType: l.Type, Reason: UnsyncedBecauseNothing,
				Detail: "no group of the tenant is linked to " + key + ": nothing to delete"})
			continue
		}
		ch := plan.Change{Kind: plan.KindGroup, Key: key, TargetID: g.ID, Action: plan.Delete, Reason: DeleteBecauseAsked,
			Detail: fmt.Sprintf("%s %q deleted on request (restorable for 30 days)", typeWord(l.Type), g.DisplayName),
			Before: map[string]string{"displayName": g.DisplayName, "mailNickname": g.MailNickname}}
		c.removes++
		w := &want{typ: l.Type, cfg: c.rules.Types[l.Type]}
		c.p.Changes = append(c.p.Changes, withPayload(ch, c.payload(w, nil, nil, nil, nil)))
	}
}

// keepOnly narrows a "create this group now" plan to the keys asked for.
func (c *computer) keepOnly() {
	c.p.Changes = slices.DeleteFunc(c.p.Changes, func(ch plan.Change) bool { return !c.in.Only[ch.Key] })
	c.p.Unsynced = slices.DeleteFunc(c.p.Unsynced, func(u plan.Unsynced) bool { return !c.in.Only[u.Key] })
	c.removes = 0
	for _, ch := range c.p.Changes {
		if removes(ch) {
			c.removes++
		}
	}
}

// removes reports a change that takes something away: a delete, or a
// membership change removing someone.
func removes(ch plan.Change) bool {
	if ch.Action == plan.Delete {
		return true
	}
	pl, _ := PayloadOf(ch)
	return len(pl.RemoveMembers)+len(pl.RemoveOwners) > 0
}

// guard holds the plan's deletions and emptyings when they exceed the
// larger of the count and the share of linked groups, and every removal
// when the roster shrank suspiciously. Guard.Suspends counts the changes
// that remove something.
func (c *computer) guard() {
	linked := len(c.links)
	limit := max(c.rules.MaxRemoveCount, int(math.Ceil(c.rules.MaxRemovePercent/100*float64(linked))))
	tidy := 0
	for _, ch := range c.p.Changes {
		if ch.Action == plan.Delete || ch.Reason == EmptyBecauseLeftMIS {
			tidy++
		}
	}
	g := plan.Guard{Suspends: c.removes, Limit: limit, RosterShrank: c.in.RosterShrank}
	hold := func(ch plan.Change) bool { return false }
	switch {
	case c.in.RosterShrank && c.removes > 0:
		g.Detail = fmt.Sprintf("the roster shrank suspiciously against the previous feed: %d group change(s) that remove members or groups held until confirmed; everything else is applied", c.removes)
		hold = removes
	case tidy > limit:
		g.Detail = fmt.Sprintf("%d groups to delete or empty exceed the limit of %d (the larger of %d and %g%% of %d linked groups): held until confirmed; everything else is applied",
			tidy, limit, c.rules.MaxRemoveCount, c.rules.MaxRemovePercent, linked)
		hold = func(ch plan.Change) bool { return ch.Action == plan.Delete || ch.Reason == EmptyBecauseLeftMIS }
	}
	for i := range c.p.Changes {
		if hold(c.p.Changes[i]) {
			c.p.Changes[i].Held, g.Held = true, true
		}
	}
	c.p.Guard = g
}
