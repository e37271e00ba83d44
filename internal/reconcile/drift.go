package reconcile

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/internal/classplan"
	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
	"github.com/rostersync/rostersync/internal/userplan"
)

// Drift reports how the objects the kind manages (the linked ones) differ
// in the customer's tenant from what rostersync keeps them at, each with
// what the profile's next run would do about it. That run's plan is made
// as a simulation makes it, by the same reads and the same pure planner,
// and kept nowhere: nothing is written to the tenant or to the store (the
// tenant is read whole, past any snapshot cache, the feed's size is not
// recorded, a failed snapshot is not learnt from, interrupted creates are
// not resolved).
// entity is the name the kind is registered under. A kind without a Drift
// hook, or one the customer cannot have (Kind.Refuse), reports none.
//
// A field the MIS changed since the last run differs from the tenant the
// same way as one changed by hand, and is listed too: what rostersync
// keeps is what the next run writes, and who changed the tenant's side is
// not recorded anywhere.
func (e *Engine[S]) Drift(ctx context.Context, c tenant.Customer, p tenant.Profile, entity string) ([]plan.Drift, error) {
	if e.Kind.Drift == nil {
		return nil, nil
	}
	if e.Kind.Refuse != nil && e.Kind.Refuse(c) != nil {
		return nil, nil
	}
	dir, err := e.Tenants.Directory(ctx, c)
	if err != nil {
		return nil, err
	}
	now := e.clock().Now()
	in := pipeline.EntityInput{Job: queue.Job{Entity: entity}, Customer: c, Profile: p, Now: now,
		Run: runs.Run{ID: "drift", CustomerID: c.ID, ProfileID: p.ID, Mode: runs.ModeSimulate}}
	// No snapshot cache: the tenant is read whole, as it is now, rather
	// than as the cache and the changes since its cursor say it is.
	pl, pin, err := e.makePlan(ctx, in, dir, nil, false)
	if err != nil {
		return nil, err
	}
	out := e.Kind.Drift(pin, pl)
	for i := range out {
		out[i].Entity, out[i].ProfileID = entity, p.ID
		if out[i].Next.Action == "" {
			out[i].Next = pl.NextFor(out[i].Key)
		}
	}
	slices.SortFunc(out, func(a, b plan.Drift) int { return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key)) })
	return out, nil
}

// Field names of differences beyond the objects' own properties.
const (
	fieldExists   = "exists"
	fieldEnabled  = "accountEnabled"
	fieldMembers  = "members"
	fieldOwners   = "owners"
	fieldTeachers = "teachers"
	fieldArchived = "archived"
	fieldTeam     = "team"
)

// usersDrift: a linked account disabled (or enabled) other than as
// rostersync left it, its mapped fields changed (renamed), or gone. An
// excluded person's account is no longer rostersync's to keep, and a link
// made moments ago may not show in reads yet (userplan.NotVisibleWindow).
func usersDrift(in PlanInput[userplan.Directory], p *plan.Plan) []plan.Drift {
	accounts := make(map[string]*userplan.Account, len(in.Snapshot.Accounts))
	for i := range in.Snapshot.Accounts {
		accounts[strings.ToLower(in.Snapshot.Accounts[i].ID)] = &in.Snapshot.Accounts[i]
	}
	updates := map[string]plan.Change{}
	for _, c := range p.Changes {
		if c.Action == plan.Update {
			updates[c.Key] = c
		}
	}
	var out []plan.Drift
	for _, l := range in.Links {
		if l.TargetID == "" || in.Excluded[l.SourceID] {
			continue
		}
		var diffs []plan.Difference
		a := accounts[strings.ToLower(l.TargetID)]
		switch {
		case a == nil && !in.Now.IsZero() && in.Now.Sub(l.UpdatedAt) < userplan.NotVisibleWindow:
			continue
		case a == nil:
			diffs = append(diffs, plan.Difference{Field: fieldExists, Tenant: plan.Absent, Rostersync: plan.Present})
		default:
			if a.AccountEnabled == l.Suspended {
				diffs = append(diffs, plan.Difference{Field: fieldEnabled, Tenant: strconv.FormatBool(a.AccountEnabled), Rostersync: strconv.FormatBool(!l.Suspended)})
			}
			if c, ok := updates[l.SourceID]; ok && strings.EqualFold(c.TargetID, l.TargetID) {
				diffs = append(diffs, fieldDiffs(c)...)
			}
		}
		if len(diffs) > 0 {
			out = append(out, plan.Drift{Kind: plan.KindUser, Key: l.SourceID, TargetID: l.TargetID, Differences: diffs})
		}
	}
	return out
}

// fieldDiffs are a change's Before/After as differences, in field order.
func fieldDiffs(c plan.Change) []plan.Difference {
	var out []plan.Difference
	for _, k := range slices.Sorted(maps.Keys(c.After)) {
		out = append(out, plan.Difference{Field: k, Tenant: c.Before[k], Rostersync: c.After[k]})
	}
	return out
}

// members lists membership differences: ids to add are absent from the
// tenant, ids to remove present there against what rostersync keeps.
// people maps account ids (lower case) to the people linked to them.
func members(field string, add, remove []string, people map[string]string) []plan.Difference {
	var out []plan.Difference
	for _, id := range add {
		out = append(out, plan.Difference{Field: field, Member: id, MemberSourcedID: people[strings.ToLower(id)], Tenant: plan.Absent, Rostersync: plan.Present})
	}
	for _, id := range remove {
		out = append(out, plan.Difference{Field: field, Member: id, MemberSourcedID: people[strings.ToLower(id)], Tenant: plan.Present, Rostersync: plan.Absent})
	}
	return out
}

// peopleByAccount maps account ids (lower case) to the people the users
// links tie them to.
func peopleByAccount[S any](in PlanInput[S]) map[string]string {
	out := map[string]string{}
	for _, m := range in.Related[MappingUser] {
		if m.TargetID != "" {
			out[strings.ToLower(m.TargetID)] = m.SourceID
		}
	}
	return out
}

// linkedTargets maps the keys of live links to their object ids: a
// deleted or unlinked group's link is history (groupplan.Link), and a
// link with no object is no object to compare.
func linkedTargets[S any](in PlanInput[S]) map[string]string {
	out := map[string]string{}
	for _, m := range in.Links {
		if m.TargetID == "" || strings.HasPrefix(m.How, groupplan.HowDeleted) || strings.HasPrefix(m.How, groupplan.HowUnlinked) {
			continue
		}
		out[m.SourceID] = m.TargetID
	}
	return out
}

// groupsDrift: a linked group's owners or members changed by hand (the
// update the planner makes to bring them back), its name changed when the
// profile keeps names with the MIS, or the group gone.
func groupsDrift(in PlanInput[groupplan.Directory], p *plan.Plan) []plan.Drift {
	linked, people := linkedTargets(in), peopleByAccount(in)
	var out []plan.Drift
	for _, c := range p.Changes {
		target, ok := linked[c.Key]
		if c.Action != plan.Update || !ok || !strings.EqualFold(target, c.TargetID) {
			continue
		}
		pl, err := groupplan.PayloadOf(c)
		if err != nil {
			continue // this build made the change: it reads its payload
		}
		diffs := fieldDiffs(c)
		diffs = append(diffs, members(fieldOwners, pl.AddOwners, pl.RemoveOwners, people)...)
		diffs = append(diffs, members(fieldMembers, pl.AddMembers, pl.RemoveMembers, people)...)
		if len(diffs) > 0 {
			out = append(out, plan.Drift{Kind: plan.KindGroup, Key: c.Key, TargetID: c.TargetID, Differences: diffs})
		}
	}
	for _, u := range p.Unsynced {
		if target, ok := linked[u.Key]; ok && u.Reason == groupplan.UnsyncedBecauseMissing {
			out = append(out, plan.Drift{Kind: plan.KindGroup, Key: u.Key, TargetID: target,
				Differences: []plan.Difference{{Field: fieldExists, Tenant: plan.Absent, Rostersync: plan.Present}}})
		}
	}
	return out
}

// classroomsDrift: a linked class's teachers or members changed by hand,
// its team archived by hand while the class is in session (or gone), or
// the class itself gone.
func classroomsDrift(in PlanInput[classplan.Directory], p *plan.Plan) []plan.Drift {
	linked, people := linkedTargets(in), peopleByAccount(in)
	inTenant := make(map[string]bool, len(in.Snapshot.Classes))
	for _, c := range in.Snapshot.Classes {
		inTenant[strings.ToLower(c.ID)] = true
	}
	var out []plan.Drift
	for _, key := range slices.Sorted(maps.Keys(linked)) {
		if !inTenant[strings.ToLower(linked[key])] && !in.Excluded[key] && (in.Only == nil || in.Only[key]) {
			out = append(out, plan.Drift{Kind: classplan.Kind, Key: key, TargetID: linked[key],
				Differences: []plan.Difference{{Field: fieldExists, Tenant: plan.Absent, Rostersync: plan.Present}}})
		}
	}
	for _, c := range p.Changes {
		target, ok := linked[c.Key]
		if c.Action != plan.Update || !ok || !strings.EqualFold(target, c.TargetID) {
			continue
		}
		pl, err := classplan.PayloadOf(c)
		if err != nil {
			continue
		}
		diffs := members(fieldTeachers, pl.AddTeachers, pl.RemoveTeachers, people)
		diffs = append(diffs, members(fieldMembers, pl.AddMembers, pl.RemoveMembers, people)...)
		if pl.Unarchive {
			diffs = append(diffs, plan.Difference{Field: fieldArchived, Tenant: "true", Rostersync: "false"})
		}
		if pl.Team {
			diffs = append(diffs, plan.Difference{Field: fieldTeam, Tenant: plan.Absent, Rostersync: plan.Present})
		}
		if len(diffs) > 0 {
			out = append(out, plan.Drift{Kind: classplan.Kind, Key: c.Key, TargetID: c.TargetID, Differences: diffs})
		}
	}
	return out
}
