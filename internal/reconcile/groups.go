package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// GroupsReader is what the groups planner reads of a tenant.
type GroupsReader interface {
	GroupsSnapshot(ctx context.Context) (groupplan.Directory, error)
}

// GroupsDeltaReader is a GroupsReader that can read only the changes since
// an earlier read: from that read's directory and cursor (empty: read
// everything) to the new directory and the cursor of the next read.
type GroupsDeltaReader interface {
	GroupsSnapshotSince(ctx context.Context, prev groupplan.Directory, cursor string) (groupplan.Directory, string, error)
}

// MappingGroup is the mapping kind of group-key↔group links. A class's
// group is keyed by the class's sourcedId; derived groups by a stable key
// (year:{school}:{grade}, students:{school}, staff:{school},
// subject:{school}:{subject}, dept:{org}).
const MappingGroup = "group"

// Groups is the groups entity: the engine with the groups kind.
type Groups = Engine[groupplan.Directory]

// GroupsKind is the groups entity's part: its snapshot, planner, expander
// and links. It reads the users links to know people's accounts.
func GroupsKind() Kind[groupplan.Directory] {
	return Kind[groupplan.Directory]{
		LinkKind:     MappingGroup,
		Snapshot:     groupsSnapshot,
		Plan:         planGroups,
		Expand:       groupplan.Expand,
		Link:         groupLink,
		FeedSize:     groupsFeedSize,
		RelatedLinks: []string{MappingUser},
		Drift:        groupsDrift,
	}
}

// groupsSnapshot reads the tenant's groups and finds the accounts of the
// profile's admins named by UPN.
func groupsSnapshot(ctx context.Context, d Directory, p tenant.Profile, cache SnapshotCache) (groupplan.Directory, error) {
	dir, err := readGroups(ctx, d, cache)
	if err != nil {
		return dir, err
	}
	for _, a := range p.GroupsConfig().Admins {
		if !strings.Contains(a, "@") {
			continue // an object id already
		}
		id, found, err := d.FindCreated(ctx, plan.KindUser, a)
		if err != nil {
			return dir, fmt.Errorf("find group admin by userPrincipalName: %w", err)
		}
		if dir.Admins == nil {
			dir.Admins = map[string]string{}
		}
		if found {
			dir.Admins[strings.ToLower(a)] = id
		} else {
			dir.Admins[strings.ToLower(a)] = ""
		}
	}
	return dir, nil
}

// readGroups reads the tenant's groups: from the cached ones and the
// changes since when the tenant can (a night with no change is one
// request instead of a page per hundred groups), in full otherwise
// (readCached).
func readGroups(ctx context.Context, d Directory, cache SnapshotCache) (groupplan.Directory, error) {
	dr, ok := d.(GroupsDeltaReader)
	if !ok || cache == nil {
		r, ok := d.(GroupsReader)
		if !ok {
			return groupplan.Directory{}, fmt.Errorf("tenant %T offers no groups snapshot", d)
		}
		return r.GroupsSnapshot(ctx)
	}
	return readCached(ctx, cache, "groups",
		func(prev []groupplan.Group, cursor string) (groupplan.Directory, string, error) {
			return dr.GroupsSnapshotSince(ctx, groupplan.Directory{Groups: prev}, cursor)
		},
		func(d groupplan.Directory) []groupplan.Group { return d.Groups })
}

func planGroups(in PlanInput[groupplan.Directory]) *plan.Plan {
	links := make([]groupplan.Link, 0, len(in.Links))
	for _, m := range in.Links {
		links = append(links, groupplan.Link{Key: m.SourceID, TargetID: m.TargetID, How: m.How, Type: m.Type})
	}
	accounts := map[string]string{}
	for _, m := range in.Related[MappingUser] {
		if m.TargetID != "" {
			accounts[m.SourceID] = m.TargetID
		}
	}
	return groupplan.Compute(groupplan.Input{View: in.View, Dir: in.Snapshot, Links: links, Accounts: accounts, Excluded: in.Excluded,
		Rules: in.Profile.GroupsConfig(), RosterShrank: in.RosterShrank, Only: in.Only, Action: in.Action})
}

// groupsFeedSize counts the session's classes: a truncated export loses
// classes before it loses people.
func groupsFeedSize(v *roster.View, _ tenant.Profile) int { return len(v.Classes()) }

// groupLink is the link an entry's progress makes: a created group as
// soon as it exists, a matched one when its change is done; a deleted or
// unlinked group's link is kept as history (the planner ignores it), so
// the group is never planned for again under that link. The group type
// rides in the link's Type.
func groupLink(e state.Entry) (state.Mapping, bool) {
	pl, _ := groupplan.PayloadOf(e.Change)
	m := state.Mapping{Kind: MappingGroup, SourceID: e.Key, TargetID: e.TargetID, Type: pl.Type}
	switch {
	case e.Action == plan.Create && e.Created != "":
		m.TargetID, m.How = e.Created, groupplan.HowCreated
		if e.Existing {
			m.How = groupplan.HowCreated + " (found after a retried create)"
		}
	case e.Status != state.EntryDone:
		return m, false
	case e.Action == plan.Link:
		m.How = groupplan.HowMatched
	case e.Action == plan.Delete && e.Reason == groupplan.DeleteBecauseAsked:
		m.How = groupplan.HowDeletedOnRequest
	case e.Action == plan.Delete:
		m.How = groupplan.HowDeleted
	case e.Action == plan.Unlink:
		m.How = groupplan.HowUnlinked
	default:
		return m, false
	}
	return m, true
}
