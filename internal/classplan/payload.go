package classplan

import (
	"encoding/json"

	"github.com/rostersync/rostersync/internal/plan"
)

// PayloadVersion is the version of Payload that changes carry.
const PayloadVersion = 1

// Payload is the classrooms kind's part of a change, as object ids.
type Payload struct {
	// Teachers (the class's owners) and members to add and remove. A
	// teacher is in AddMembers too: teachers must be in both collections
	// (educationclass.md).
	AddTeachers    []string `json:"addTeachers,omitempty"`
	AddMembers     []string `json:"addMembers,omitempty"`
	RemoveTeachers []string `json:"removeTeachers,omitempty"`
	RemoveMembers  []string `json:"removeMembers,omitempty"`
	// Team asks for the class team (educationClass template); Archive and
	// Unarchive archive or unarchive it.
	Team      bool `json:"team,omitempty"`
	Archive   bool `json:"archive,omitempty"`
	Unarchive bool `json:"unarchive,omitempty"`
}

// withPayload attaches pl to c with its write estimate: one write per
// class create, per enrolment $ref, per team create and per
// (un)archive; polls are reads.
func withPayload(c plan.Change, pl Payload) plan.Change {
	data, _ := json.Marshal(pl) // strings and bools cannot fail to encode
	c.Payload = &plan.Payload{Version: PayloadVersion, Data: data}
	w := len(pl.AddTeachers) + len(pl.AddMembers) + len(pl.RemoveTeachers) + len(pl.RemoveMembers)
	if c.Action == plan.Create {
		w++
	}
	for _, b := range []bool{pl.Team, pl.Archive, pl.Unarchive} {
		if b {
			w++
		}
	}
	c.Writes = w
	return c
}

// PayloadOf reads the classrooms part of a change.
func PayloadOf(c plan.Change) (Payload, error) {
	return plan.DecodePayload[Payload](c, PayloadVersion, "classrooms")
}

// Memberships says what change c does to account's place in its class:
// teachers are the class's owners. A payload this build cannot read says
// nothing.
func Memberships(c plan.Change, account string) []plan.Membership {
	pl, err := PayloadOf(c)
	if err != nil {
		return nil
	}
	return plan.MembershipsOf(account,
		plan.MembershipList{IDs: pl.AddMembers, Role: plan.RoleMember, Change: plan.MembershipAdd},
		plan.MembershipList{IDs: pl.AddTeachers, Role: plan.RoleOwner, Change: plan.MembershipAdd},
		plan.MembershipList{IDs: pl.RemoveMembers, Role: plan.RoleMember, Change: plan.MembershipRemove},
		plan.MembershipList{IDs: pl.RemoveTeachers, Role: plan.RoleOwner, Change: plan.MembershipRemove})
}
