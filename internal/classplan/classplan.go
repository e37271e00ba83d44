// Package classplan is the classrooms planner: which MIS classes become
// Teams classes (an education class with its team from the educationClass
// template), who teaches and who belongs, and which classes' teams are
// archived or unarchived. It is pure: roster view + tenant snapshot +
// links + profile → plan.
package classplan

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Kind is the plan kind (and link kind) of classrooms.
const Kind plan.Kind = "class"

// Link provenances.
const (
	HowCreated = "created"
	HowMatched = "matched by mailNickname"
	HowManual  = "manual"
)

// Reasons of the classrooms plan beyond the shared ones.
const (
	UpdateBecauseEnrolmentsChanged plan.Reason = "update_because_enrolments_differ"
	CreateTeamBecauseMissing       plan.Reason = "create_team_because_class_has_none"
	ArchiveBecauseNotInSession     plan.Reason = "archive_because_class_not_in_session"
	UnarchiveBecauseBackInSession  plan.Reason = "unarchive_because_class_back_in_session"
)

// ErrNotEducation: the tenant is not an education tenant; classrooms
// need the education API and the educationClass team template.
var ErrNotEducation = errors.New("not an education tenant")

// Class is an education class of the tenant as the planner sees it.
type Class struct {
	ID           string `json:"id"`
	DisplayName  string `json:"displayName"`
	MailNickname string `json:"mailNickname"`
	ExternalID   string `json:"externalId,omitempty"`
	// Teachers and Members are object ids, sorted.
	Teachers []string `json:"teachers,omitempty"`
	Members  []string `json:"members,omitempty"`
	// Team: the class has its team; Archived: the team is archived.
	Team     bool `json:"team,omitempty"`
	Archived bool `json:"archived,omitempty"`
}

// Directory is the snapshot the planner reads.
type Directory struct {
	Classes []Class `json:"classes"`
	// Nicknames are every group's mailNickname in the tenant (classes
	// among them), so a new class never takes one.
	Nicknames []string `json:"nicknames,omitempty"`
}

// Link is a stored class link: a classroom key to a class (group) id.
type Link struct {
	Key, TargetID, How string
}

// Input is everything Compute reads.
type Input struct {
	View *roster.View
	Dir  Directory
	// Education: the tenant is an education tenant (customer record or
	// the education endpoint).
	Education bool
	Links     []Link
	// Accounts maps people's sourcedIds to their account object ids (the
	// users links).
	Accounts     map[string]string
	Excluded     map[string]bool
	Rules        tenant.ClassroomsConfig
	RosterShrank bool
	Only         map[string]bool
}

// want is one classroom the roster asks for.
type want struct {
	key         string
	displayName string
	nickname    string
	description string
	teachers    []string // object ids, owners
	members     []string // object ids, teachers among them
}

// Compute plans the classrooms.
func Compute(in Input) *plan.Plan {
	rules := in.Rules.WithDefaults()
	p := &plan.Plan{FormatVersion: plan.FormatVersion}
	if !in.Education {
		p.Errors = append(p.Errors, ErrNotEducation.Error()+": Teams classes need an education tenant (an education SKU, or the education API answering); classrooms are not synced here")
		return p
	}
	wants := wanted(in.View, rules, in.Accounts)
	byID := map[string]*Class{}
	taken := map[string]bool{}
	byNick := map[string]*Class{}
	for i := range in.Dir.Classes {
		c := &in.Dir.Classes[i]
		byID[strings.ToLower(c.ID)] = c
		byNick[strings.ToLower(c.MailNickname)] = c
		taken[strings.ToLower(c.MailNickname)] = true
	}
	for _, n := range in.Dir.Nicknames {
		taken[strings.ToLower(n)] = true
	}
	links := map[string]Link{}
	linkedIDs := map[string]bool{}
	for _, l := range in.Links {
		links[l.Key] = l
		linkedIDs[strings.ToLower(l.TargetID)] = true
	}
	wantKeys := map[string]bool{}
	for _, w := range wants {
		wantKeys[w.key] = true
		if in.Excluded[w.key] || (in.Only != nil && !in.Only[w.key]) {
			continue
		}
		l, linked := links[w.key]
		var c *Class
		if linked {
			c = byID[strings.ToLower(l.TargetID)]
		}
		switch {
		case c != nil:
			if ch, ok := update(w, *c, rules, plan.Update); ok {
				p.Changes = append(p.Changes, ch)
			} else {
				p.Matched++
			}
		case !linked && byNick[strings.ToLower(w.nickname)] != nil && !linkedIDs[strings.ToLower(byNick[strings.ToLower(w.nickname)].ID)]:
			// The class this planner would have made is there (made by
			// an earlier run whose link was lost, or by hand under the
			// same name): link it, never make a second.
			ch, _ := update(w, *byNick[strings.ToLower(w.nickname)], rules, plan.Link)
			ch.Reason, ch.Detail = plan.LinkBecauseMatched, "matched by mailNickname "+w.nickname+"; "+ch.Detail
			p.Changes = append(p.Changes, ch)
		default:
			nick := allocate(taken, w.nickname)
			pl := Payload{AddTeachers: w.teachers, AddMembers: w.members, Team: len(w.teachers) > 0}
			detail := fmt.Sprintf("new class: %d teacher(s), %d member(s)", len(w.teachers), len(w.members))
			if !pl.Team {
				detail += "; no teacher yet, so no team until one is enrolled (a team needs an owner)"
			}
			p.Changes = append(p.Changes, withPayload(plan.Change{Kind: Kind, Key: w.key, Action: plan.Create, Reason: plan.CreateBecauseNew, Detail: detail,
				After: map[string]string{"displayName": w.displayName, "mailNickname": nick, "description": w.description}}, pl))
		}
	}
	archives(p, in, rules, wantKeys, links, byID)
	slices.SortFunc(p.Changes, func(a, b plan.Change) int { return cmp.Compare(a.Key, b.Key) })
	return p
}

// update compares a class with what the roster wants of it.
func update(w want, c Class, rules tenant.ClassroomsConfig, action plan.Action) (plan.Change, bool) {
	pl := Payload{AddTeachers: missing(w.teachers, c.Teachers), AddMembers: missing(w.members, c.Members)}
	if !rules.KeepPreviousEnrolments {
		pl.RemoveTeachers = missing(c.Teachers, w.teachers)
		pl.RemoveMembers = missing(c.Members, w.members)
	}
	teachers := len(c.Teachers) - len(pl.RemoveTeachers) + len(pl.AddTeachers)
	pl.Team = !c.Team && teachers > 0
	pl.Unarchive = c.Team && c.Archived
	var parts []string
	reason := UpdateBecauseEnrolmentsChanged
	if n := len(pl.AddTeachers) + len(pl.AddMembers) + len(pl.RemoveTeachers) + len(pl.RemoveMembers); n > 0 {
		parts = append(parts, fmt.Sprintf("enrol %d teacher(s) and %d member(s), unenrol %d teacher(s) and %d member(s)", len(pl.AddTeachers), len(pl.AddMembers), len(pl.RemoveTeachers), len(pl.RemoveMembers)))
	}
	if pl.Team {
		parts, reason = append(parts, "the class has no team: create it"), CreateTeamBecauseMissing
	}
	if pl.Unarchive {
		parts, reason = append(parts, "the class is in session again: unarchive its team"), UnarchiveBecauseBackInSession
	}
	if len(parts) == 0 && action != plan.Link {
		return plan.Change{}, false
	}
	if action == plan.Link {
		reason = plan.LinkBecauseMatched
	}
	ch := plan.Change{Kind: Kind, Key: w.key, Action: action, Reason: reason, TargetID: c.ID, Detail: strings.Join(parts, "; ")}
	return withPayload(ch, pl), true
}

// archives plans the teams of linked classes no longer in session for
// archiving (read-only, name kept), held beyond the profile's limit or
// when the feed shrank.
func archives(p *plan.Plan, in Input, rules tenant.ClassroomsConfig, wantKeys map[string]bool, links map[string]Link, byID map[string]*Class) {
	var out []plan.Change
	for _, key := range slices.Sorted(maps.Keys(links)) {
		l := links[key]
		c := byID[strings.ToLower(l.TargetID)]
		if wantKeys[key] || c == nil || !c.Team || c.Archived || in.Excluded[key] || (in.Only != nil && !in.Only[key]) {
			continue
		}
		out = append(out, withPayload(plan.Change{Kind: Kind, Key: key, Action: plan.Suspend, Reason: ArchiveBecauseNotInSession, TargetID: c.ID,
			Detail: "the class is not in the session: archive its team (read-only, name kept)"}, Payload{Archive: true}))
	}
	if len(out) == 0 {
		return
	}
	limit := max(rules.MaxArchiveCount, int(float64(len(links))*rules.MaxArchivePercent/100))
	held := in.RosterShrank || len(out) > limit
	if held {
		for i := range out {
			out[i].Held = true
		}
		why := fmt.Sprintf("%d class team(s) would be archived, over the limit of %d", len(out), limit)
		if in.RosterShrank {
			why = fmt.Sprintf("the feed shrank: %d class team archive(s) held", len(out))
		}
		p.Guard = plan.Guard{Suspends: len(out), Limit: limit, Held: true, RosterShrank: in.RosterShrank, Detail: why + "; confirm the run to archive them"}
	}
	p.Changes = append(p.Changes, out...)
}

// missing lists the ids of a not in b, in a's order.
func missing(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.ContainsFunc(b, func(y string) bool { return strings.EqualFold(x, y) }) {
			out = append(out, x)
		}
	}
	return out
}

var tokenRE = regexp.MustCompile(`\{([A-Za-z]+)\}`)

func render(tmpl string, tokens map[string]string) string {
	return tokenRE.ReplaceAllStringFunc(tmpl, func(m string) string { return tokens[m[1:len(m)-1]] })
}

// allocate hands out a nickname no group of the tenant or earlier create
// of the plan holds, case-insensitively ("-2", "-3", … when taken).
func allocate(taken map[string]bool, base string) string {
	if base == "" {
		base = "class"
	}
	nick := base
	for i := 2; taken[strings.ToLower(nick)]; i++ {
		suffix := "-" + strconv.Itoa(i)
		nick = strings.TrimRight(base[:min(len(base), groupplan.MaxNickname-len(suffix))], "-") + suffix
	}
	taken[strings.ToLower(nick)] = true
	return nick
}

// wanted lists the classrooms the roster asks for under the profile's
// mode, keyed by class sourcedId (or course:{sourcedId} in subject mode),
// in key order.
func wanted(v *roster.View, rules tenant.ClassroomsConfig, accounts map[string]string) []want {
	if rules.Mode == tenant.ClassroomsNone {
		return nil
	}
	r := v.Roster()
	tokens := map[string]string{}
	if s := v.Session(); s != nil {
		sy := s
		if s.Parent != "" {
			if ps := r.Session(s.Parent); ps != nil {
				sy = ps
			}
		}
		tokens["yearStart"], tokens["yearEnd"] = strconv.Itoa(sy.Start.Year()), strconv.Itoa(sy.End.Year())
	}
	staffOwner := rules.OtherStaff == tenant.StaffAsOwner
	type acc struct {
		w        want
		teachers map[string]bool
		members  map[string]bool
	}
	byKey := map[string]*acc{}
	for _, cl := range v.Classes() {
		var key, name, code string
		switch {
		case cl.Type == roster.ClassHomeroom && (rules.Mode == tenant.ClassroomsAll || rules.Mode == tenant.ClassroomsGroup):
			key, name, code = cl.SourcedID, cl.Title, cl.Code
		case cl.Type == roster.ClassScheduled && (rules.Mode == tenant.ClassroomsAll || rules.Mode == tenant.ClassroomsGroupSubject):
			key, name, code = cl.SourcedID, cl.Title, cl.Code
		case cl.Type == roster.ClassScheduled && rules.Mode == tenant.ClassroomsSubject && cl.Course != "":
			co := r.Course(cl.Course)
			if co == nil {
				continue
			}
			key, name, code = "course:"+co.SourcedID, co.Title, co.Code
		default:
			continue
		}
		a := byKey[key]
		if a == nil {
			t := maps.Clone(tokens)
			t["name"], t["code"] = name, cmp.Or(code, name)
			if o := r.Org(cl.School); o != nil {
				t["school"], t["schoolName"] = cmp.Or(o.Identifier, o.SourcedID), o.Name
			}
			if len(cl.Grades) > 0 {
				t["grade"] = cl.Grades[0]
			}
			a = &acc{w: want{key: key, displayName: groupplan.DisplayName(render(rules.NameTemplate, t)),
				nickname: groupplan.Nickname(render(rules.NicknameTemplate, t)), description: name},
				teachers: map[string]bool{}, members: map[string]bool{}}
			byKey[key] = a
		}
		for _, m := range v.Members(cl.SourcedID) {
			id := accounts[m.Person.SourcedID]
			if id == "" {
				continue // no account yet: enrolled once the users entity makes it
			}
			switch m.Enrollment.Role {
			case roster.RoleTeacher:
				a.teachers[id], a.members[id] = true, true
			case roster.RoleStudent:
				a.members[id] = true
			case roster.RoleGuardian, roster.RoleParent, roster.RoleRelative:
				// never in a class
			default: // aide, proctor, administrator: per profile
				a.members[id] = true
				if staffOwner {
					a.teachers[id] = true
				}
			}
		}
	}
	out := make([]want, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		a := byKey[k]
		a.w.teachers = slices.Sorted(maps.Keys(a.teachers))
		a.w.members = slices.Sorted(maps.Keys(a.members))
		out = append(out, a.w)
	}
	return out
}
