package userplan

import (
	"encoding/json"
	"slices"

	"github.com/rostersync/rostersync/internal/plan"
)

// PayloadVersion is the version of Payload that changes carry.
const PayloadVersion = 1

// Payload is the users kind's part of a change.
type Payload struct {
	// UserType is student, teacher, staff or parent.
	UserType string `json:"userType,omitempty"`
	// Licenses (SKU ids) and Groups (object ids) a new account gets.
	Licenses []string `json:"licenses,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	// Password says how the initial password is made (strong or words);
	// the password itself never enters a plan.
	Password string `json:"password,omitempty"`
}

// withPayload attaches pl to c, with the change's write estimate: its own
// writes plus a licence and a group membership each (memberships are
// packed, but a plan's estimate stays an upper bound).
func withPayload(c plan.Change, pl Payload) plan.Change {
	data, _ := json.Marshal(pl) // a struct of strings cannot fail to encode
	c.Payload = &plan.Payload{Version: PayloadVersion, Data: data}
	c.Writes = c.Action.Writes() + len(pl.Licenses) + len(pl.Groups)
	return c
}

// PayloadOf reads the users part of a change; a change without one has
// the zero Payload.
func PayloadOf(c plan.Change) (Payload, error) {
	pl, err := plan.DecodePayload[Payload](c, PayloadVersion, "users")
	pl.Licenses, pl.Groups = slices.Clip(pl.Licenses), slices.Clip(pl.Groups)
	return pl, err
}
