package groupplan

import (
	"strings"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/plan"
)

// Expand turns a groups change into its operations. created is the group
// id the change's create produced; a new group's further owners and
// members carry it once known (until then they wait). A create binds up
// to 20 owners (first) and members in its POST; the rest are adds, which
// the executor packs 20 to a PATCH. A change whose payload this build
// cannot read becomes one invalid op, which fails the change.
func Expand(c plan.Change, created string) []apply.Op {
	id := func(suffix string) string { return string(c.Kind) + ":" + c.Key + "#" + suffix }
	pl, err := PayloadOf(c)
	if err != nil {
		return []apply.Op{{ID: id("payload"), Kind: apply.OpPatchGroup, Invalid: err.Error()}}
	}
	group := c.TargetID
	owners, members := pl.AddOwners, pl.AddMembers
	var ops []apply.Op
	switch c.Action {
	case plan.Create:
		group = created
		nb := min(len(owners), MaxCreateBinds)
		mb := min(len(members), MaxCreateBinds-nb)
		props := map[string]string{
			"displayName":  c.After["displayName"],
			"mailNickname": c.After["mailNickname"],
			"unified":      boolString(pl.Unified),
			"visibility":   pl.Visibility,
			"options":      strings.Join(pl.Options, ","),
			"owners":       strings.Join(owners[:nb], ","),
			"members":      strings.Join(members[:mb], ","),
		}
		ops = append(ops, apply.Op{ID: id("create"), Kind: apply.OpCreateGroup, Key: c.After["mailNickname"], Props: props, TargetID: created})
		owners, members = owners[nb:], members[mb:]
	case plan.Delete:
		return []apply.Op{{ID: id("delete"), Kind: apply.OpDeleteGroup, TargetID: group}}
	case plan.Unlink:
		return nil
	}
	if name, ok := c.After["displayName"]; ok && c.Action != plan.Create {
		ops = append(ops, apply.Op{ID: id("rename"), Kind: apply.OpPatchGroup, TargetID: group, Props: map[string]string{"displayName": name}})
	}
	// Ops on a group not created yet wait: no target until it exists.
	on := func(member string) string {
		if group == "" {
			return ""
		}
		return member
	}
	for _, o := range owners {
		ops = append(ops, apply.Op{ID: id("owner:" + o), Kind: apply.OpAddOwner, Ref: group, TargetID: on(o)})
	}
	for _, m := range members {
		ops = append(ops, apply.Op{ID: id("member:" + m), Kind: apply.OpAddMember, Ref: group, TargetID: on(m)})
	}
	for _, o := range pl.RemoveOwners {
		ops = append(ops, apply.Op{ID: id("unowner:" + o), Kind: apply.OpRemoveOwner, Ref: group, TargetID: o})
	}
	for _, m := range pl.RemoveMembers {
		ops = append(ops, apply.Op{ID: id("unmember:" + m), Kind: apply.OpRemoveMember, Ref: group, TargetID: m})
	}
	return ops
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
