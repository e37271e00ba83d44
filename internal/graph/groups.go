package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/internal/groupplan"
)

// groupsSnapshotQuery reads every group with what the groups planner
// needs, and its members and owners, in one paged pass. A full round of
// groups/delta with members and owners in $select is the cheapest
// documented way to read a whole tenant's membership: ⌈groups/page⌉
// requests, where a per-group read is two requests per group and
// $expand=members on a list returns at most 20 members per group
// (graph.md §3.5, §4.2). A large group may come on several pages with
// different slices of members@delta, which are merged by group id.
const groupsSnapshotQuery = "$select=id,displayName,mailNickname,mail,groupTypes,securityEnabled,members,owners"

// GroupsSnapshot reads the tenant as the groups planner needs it. Groups
// are sorted by id, their members and owners by id.
func (c *Client) GroupsSnapshot(ctx context.Context) (groupplan.Directory, error) {
	dir, _, err := c.GroupsSnapshotSince(ctx, groupplan.Directory{}, "")
	return dir, err
}

// GroupsSnapshotSince reads the tenant as GroupsSnapshot does, from a
// previous read: given the directory it returned and its cursor, it GETs
// the round's deltaLink and applies the changes since — groups added,
// changed and removed, members@delta and owners@delta — so a night with
// no change costs one request. With no cursor, an expired one (410 Gone:
// directory delta tokens last 7 days) or one it cannot use, it reads the
// whole tenant. It returns the directory and the cursor of the next read.
func (c *Client) GroupsSnapshotSince(ctx context.Context, prev groupplan.Directory, cursor string) (groupplan.Directory, string, error) {
	if link, ok := c.usableCursor(cursor, groupsSnapshotQuery, "/groups/delta"); ok {
		dir, next, err := c.groupsDelta(ctx, prev, link, true)
		if !errors.Is(err, errResync) {
			return dir, next, err
		}
	}
	return c.groupsDelta(ctx, groupplan.Directory{}, c.adapter.GetBaseUrl()+"/groups/delta?"+groupsSnapshotQuery, false)
}

// groupsDelta pages a groups/delta round from first, applying its items
// to prev, and returns the result with the round's cursor. An incremental
// round (from a stored deltaLink) that cannot go on says errResync.
func (c *Client) groupsDelta(ctx context.Context, prev groupplan.Directory, first string, incremental bool) (groupplan.Directory, string, error) {
	byID := make(map[string]*groupplan.Group, len(prev.Groups))
	for _, g := range prev.Groups {
		g.Members, g.Owners = slices.Clone(g.Members), slices.Clone(g.Owners)
		byID[strings.ToLower(g.ID)] = &g
	}
	deltaLink, err := c.deltaRound(ctx, "groups", first, incremental, func(raw json.RawMessage) error { return mergeGroup(byID, raw) })
	if err != nil {
		return groupplan.Directory{}, "", err
	}
	out := groupplan.Directory{Groups: make([]groupplan.Group, 0, len(byID))}
	for _, g := range byID {
		slices.Sort(g.Members)
		slices.Sort(g.Owners)
		g.Members, g.Owners = slices.Compact(g.Members), slices.Compact(g.Owners)
		out.Groups = append(out.Groups, *g)
	}
	slices.SortFunc(out.Groups, func(a, b groupplan.Group) int { return strings.Compare(a.ID, b.ID) })
	return out, deltaCursor{Query: groupsSnapshotQuery, DeltaLink: deltaLink}.encode(), nil
}

// deltaGroup is one group of a groups/delta page.
type deltaGroup struct {
	ID              string           `json:"id"`
	DisplayName     *string          `json:"displayName"`
	MailNickname    *string          `json:"mailNickname"`
	Mail            *string          `json:"mail"`
	GroupTypes      []string         `json:"groupTypes"`
	SecurityEnabled *bool            `json:"securityEnabled"`
	Members         []deltaReference `json:"members@delta"`
	Owners          []deltaReference `json:"owners@delta"`
	Removed         *struct {
		Reason string `json:"reason"`
	} `json:"@removed"`
}

type deltaReference struct {
	ID      string    `json:"id"`
	Removed *struct{} `json:"@removed"`
}

// mergeGroup folds one delta item into the groups read so far: a group on
// a second page adds its slice of members and owners.
func mergeGroup(byID map[string]*groupplan.Group, raw json.RawMessage) error {
	var d deltaGroup
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("decode group: %w", err)
	}
	if d.ID == "" {
		return errors.New("a group without an id")
	}
	id := strings.ToLower(d.ID)
	if d.Removed != nil {
		delete(byID, id) // a deleted group is no group to plan for
		return nil
	}
	g := byID[id]
	if g == nil {
		g = &groupplan.Group{ID: d.ID}
		byID[id] = g
	}
	if d.DisplayName != nil {
		g.DisplayName = *d.DisplayName
	}
	if d.MailNickname != nil {
		g.MailNickname = *d.MailNickname
	}
	if d.Mail != nil {
		g.Mail = *d.Mail
	}
	if d.GroupTypes != nil {
		g.GroupTypes = d.GroupTypes
	}
	if d.SecurityEnabled != nil {
		g.SecurityEnabled = *d.SecurityEnabled
	}
	g.Members = applyRefs(g.Members, d.Members)
	g.Owners = applyRefs(g.Owners, d.Owners)
	return nil
}

func applyRefs(have []string, refs []deltaReference) []string {
	for _, r := range refs {
		id := strings.ToLower(r.ID)
		if r.Removed != nil {
			have = slices.DeleteFunc(have, func(x string) bool { return x == id })
			continue
		}
		have = append(have, id)
	}
	return have
}
