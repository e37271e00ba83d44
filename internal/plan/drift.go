package plan

// Drift is one object rostersync manages (it is linked) that differs in
// the tenant from what rostersync keeps it at: an account disabled or
// renamed outside rostersync, group members added or removed by hand, a
// class team archived by hand. Next says what the next run does about it,
// read from the plan that run would make; a drift report computes that
// plan and stores nothing, so it is a simulation, never an apply.
type Drift struct {
	// Entity is the entity kind ("users") and ProfileID the profile whose
	// next run the plan is.
	Entity    string `json:"entity"`
	ProfileID string `json:"profileId"`
	Kind      Kind   `json:"kind"`
	// Key is the object's sourcedId (or group key) and TargetID its
	// object id in the tenant.
	Key         string       `json:"sourcedId"`
	TargetID    string       `json:"objectId"`
	Differences []Difference `json:"differences"`
	Next        NextRun      `json:"next"`
}

// Difference is one field of a managed object whose value in the tenant
// is not the one rostersync keeps there. Membership differences name the
// member: Field "members" with Tenant "absent" and Rostersync "present" is
// a member removed by hand.
type Difference struct {
	Field string `json:"field"`
	// Member is the member's object id (an account), and MemberSourcedID
	// the person linked to it, for membership fields.
	Member          string `json:"member,omitempty"`
	MemberSourcedID string `json:"memberSourcedId,omitempty"`
	// Tenant is the value in the tenant; Rostersync the one rostersync
	// keeps there, which the next run writes unless Next says otherwise.
	Tenant     string `json:"tenant"`
	Rostersync string `json:"rostersync"`
}

// Values of a membership Difference, and of a Difference about whether
// the object is there at all (Field "exists").
const (
	Present = "present"
	Absent  = "absent"
)

// LeaveAlone is NextRun.Action when the next run changes nothing about
// the drift (an account disabled outside rostersync stays disabled). It
// is never the action of a plan's change.
const LeaveAlone Action = "none"

// NextRun is what the next run does about a drift: the change of its plan
// for the object (action, reason, the sentence, and whether a guard holds
// it), or LeaveAlone with the reason it is left so.
type NextRun struct {
	Action Action `json:"action"`
	Reason Reason `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	Held   bool   `json:"held,omitempty"`
}

// NextFor reads what p does to the object keyed key: its change (the
// first, in plan order), or LeaveAlone with the reason p leaves it
// unsynced, or LeaveAlone with no reason when p does not mention it.
func (p *Plan) NextFor(key string) NextRun {
	for _, c := range p.Changes {
		if c.Key == key {
			return NextRun{Action: c.Action, Reason: c.Reason, Detail: c.Detail, Held: c.Held}
		}
	}
	for _, u := range p.Unsynced {
		if u.Key == key {
			return NextRun{Action: LeaveAlone, Reason: u.Reason, Detail: u.Detail}
		}
	}
	return NextRun{Action: LeaveAlone, Detail: "the next run changes nothing about it"}
}
