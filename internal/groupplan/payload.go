package groupplan

import (
	"encoding/json"

	"github.com/rostersync/rostersync/internal/plan"
)

// PayloadVersion is the version of Payload that changes carry.
const PayloadVersion = 1

// Payload is the groups kind's part of a change: what the expander needs
// to write, as object ids.
type Payload struct {
	// Type is the group type (tenant.GroupYear, …).
	Type string `json:"type"`
	// Unified is a Microsoft 365 group; false is a security group.
	Unified bool `json:"unified,omitempty"`
	// Visibility and Options (resourceBehaviorOptions) are set at
	// creation only.
	Visibility string   `json:"visibility,omitempty"`
	Options    []string `json:"options,omitempty"`
	// Owners and members to add and remove, object ids in order. A
	// create adds all of its owners and members.
	AddOwners     []string `json:"addOwners,omitempty"`
	AddMembers    []string `json:"addMembers,omitempty"`
	RemoveOwners  []string `json:"removeOwners,omitempty"`
	RemoveMembers []string `json:"removeMembers,omitempty"`
}

// MaxCreateBinds is how many owner and member references Graph takes in
// one POST /groups.
const MaxCreateBinds = 20

// withPayload attaches pl to c with its write estimate: the create (with
// up to 20 binds), the adds packed 20 to a PATCH, one write per removal,
// per owner beyond the create's binds, and per rename.
func withPayload(c plan.Change, pl Payload) plan.Change {
	data, _ := json.Marshal(pl) // a struct of strings cannot fail to encode
	c.Payload = &plan.Payload{Version: PayloadVersion, Data: data}
	owners, members := len(pl.AddOwners), len(pl.AddMembers)
	w := 0
	switch c.Action {
	case plan.Create:
		w = 1
		bound := min(owners, MaxCreateBinds)
		owners -= bound
		bound = min(members, MaxCreateBinds-bound)
		members -= bound
	case plan.Delete:
		w = 1
	}
	if _, ok := c.After["displayName"]; ok && c.Action != plan.Create {
		w++
	}
	w += owners + (members+MaxCreateBinds-1)/MaxCreateBinds + len(pl.RemoveOwners) + len(pl.RemoveMembers)
	c.Writes = w
	return c
}

// PayloadOf reads the groups part of a change; a change without one has
// the zero Payload.
func PayloadOf(c plan.Change) (Payload, error) {
	return plan.DecodePayload[Payload](c, PayloadVersion, "groups")
}

// Memberships says what change c does to account's place in its group.
// A payload this build cannot read says nothing.
func Memberships(c plan.Change, account string) []plan.Membership {
	pl, err := PayloadOf(c)
	if err != nil {
		return nil
	}
	return plan.MembershipsOf(account,
		plan.MembershipList{IDs: pl.AddMembers, Role: plan.RoleMember, Change: plan.MembershipAdd},
		plan.MembershipList{IDs: pl.AddOwners, Role: plan.RoleOwner, Change: plan.MembershipAdd},
		plan.MembershipList{IDs: pl.RemoveMembers, Role: plan.RoleMember, Change: plan.MembershipRemove},
		plan.MembershipList{IDs: pl.RemoveOwners, Role: plan.RoleOwner, Change: plan.MembershipRemove})
}
