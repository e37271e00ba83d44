// Package plan holds the value a sync computes and an apply consumes: an
// ordered list of changes, each with the rule that produced it, bound to the
// customer's tenant and run. A plan can be printed, stored, diffed and
// applied later; nothing recomputes it while applying (simulate computes and
// stores a plan; a real run applies one).
package plan

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// FormatVersion is written into every stored plan; readers refuse newer
// major versions instead of misreading them.
const FormatVersion = "2.0"

// Kind is the sort of object a change touches.
type Kind string

const (
	KindUser  Kind = "user"
	KindGroup Kind = "group"
)

// Action is what apply does. Apply switches on Action only; Reason and
// Detail are for people.
type Action string

const (
	Create     Action = "create"
	Update     Action = "update"
	Suspend    Action = "suspend"
	Reactivate Action = "reactivate"
	// Link records an existing account as the person's, writing nothing to
	// the account itself beyond what an Update would.
	Link Action = "link"
	// Delete removes the object (a group rostersync created whose source
	// left the MIS); Unlink forgets the link and writes nothing.
	Delete Action = "delete"
	Unlink Action = "unlink"
)

// Symbol prints an action in a plan listing.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Suspend:
		return "-"
	case Reactivate:
		return "^"
	case Link:
		return "="
	case Delete:
		return "x"
	case Unlink:
		return "/"
	}
	return "?"
}

// Writes is how many Graph writes the action takes at most, for pacing and
// for the run's estimate.
func (a Action) Writes() int {
	switch a {
	case Suspend:
		return 2 // disable, revoke sessions
	case Create, Update, Reactivate, Link, Delete:
		return 1
	}
	return 0
}

// Reason names the rule that produced a change, in snake_case so it is
// stable in stored plans and reports.
type Reason string

const (
	CreateBecauseNew              Reason = "create_because_new_in_mis"
	LinkBecauseMatched            Reason = "link_because_matched"
	UpdateBecauseMappedChanged    Reason = "update_because_mapped_fields_differ"
	SuspendBecauseLeftMIS         Reason = "suspend_because_left_mis"
	SuspendBecauseDisabledInMIS   Reason = "suspend_because_disabled_in_mis"
	ReactivateBecauseReturned     Reason = "reactivate_because_returned_to_mis"
	UnsyncedBecauseExcluded       Reason = "unsynced_because_excluded"
	UnsyncedBecauseSyncOnly       Reason = "unsynced_because_sync_only_unmatched"
	UnsyncedBecauseActionOff      Reason = "unsynced_because_action_off_for_user_type"
	UnsyncedBecauseBeforeStart    Reason = "unsynced_because_enrolled_before_sync_start"
	UnsyncedBecauseAmbiguous      Reason = "unsynced_because_match_ambiguous"
	UnsyncedBecauseClaimed        Reason = "unsynced_because_account_claimed_by_another_person"
	UnsyncedBecauseNoUsername     Reason = "unsynced_because_no_usable_username"
	UnsyncedBecauseNoDomain       Reason = "unsynced_because_no_verified_domain"
	UnsyncedBecauseNoEnrolments   Reason = "unsynced_because_no_current_enrolments"
	UnsyncedBecauseNotVisibleYet  Reason = "unsynced_because_linked_account_not_visible_yet"
	KeptBecauseDisabledOutsideMIS Reason = "kept_because_disabled_outside_rostersync"
)

// Change is one planned change to one object.
type Change struct {
	Kind Kind `json:"kind"`
	// Key is the MIS sourcedId: the stable sort key and the journal key.
	Key    string `json:"key"`
	Action Action `json:"action"`
	Reason Reason `json:"reason"`
	// Detail explains the rule for people, e.g. "matched by work email".
	Detail string `json:"detail"`
	// TargetID is the Microsoft 365 object id, empty for a create.
	TargetID string `json:"targetId,omitempty"`
	// Before and After hold only the fields that differ (for a create,
	// After holds every field set).
	Before map[string]string `json:"before,omitempty"`
	After  map[string]string `json:"after,omitempty"`
	// Payload is the entity kind's own part of the change (a new
	// account's licences and groups, say).
	Payload *Payload `json:"payload,omitempty"`
	// Writes estimates the change's Graph writes; 0 means Action.Writes().
	Writes int `json:"writes,omitempty"`
	// Held marks a change a guard withheld (too many suspensions, a feed
	// that shrank): apply leaves it until the run is confirmed, and the
	// rest of the plan goes ahead.
	Held bool `json:"held,omitempty"`
}

// Payload is an entity kind's own part of a change, typed and versioned by
// the kind: the engine stores and carries it without reading it, and only
// the kind's expander and link function decode it. A reader meeting a
// version it does not know refuses the change rather than guess.
type Payload struct {
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// DecodePayload reads a change's payload as the kind's type T, refusing a
// version other than the one this build writes; a change without a payload
// gives T's zero value. what names the kind in errors.
func DecodePayload[T any](c Change, version int, what string) (T, error) {
	var pl T
	if c.Payload == nil {
		return pl, nil
	}
	if c.Payload.Version != version {
		return pl, fmt.Errorf("%s change %s: payload version %d, this build reads %d", what, c.Key, c.Payload.Version, version)
	}
	if err := json.Unmarshal(c.Payload.Data, &pl); err != nil {
		return pl, fmt.Errorf("%s change %s: payload: %w", what, c.Key, err)
	}
	return pl, nil
}

// Membership is what one change does to one account's place in the group
// or class the change is about: the person status lists them.
type Membership struct {
	Role   MembershipRole   `json:"role"`
	Change MembershipChange `json:"change"`
}

// MembershipRole is a place in a group or class: a class's teachers are
// its owners.
type MembershipRole string

// MembershipChange is a membership added or removed.
type MembershipChange string

const (
	RoleMember MembershipRole = "member"
	RoleOwner  MembershipRole = "owner"

	MembershipAdd    MembershipChange = "add"
	MembershipRemove MembershipChange = "remove"
)

// MembershipsOf lists the memberships of account among lists of object
// ids, each with the role and change it stands for, in the lists' order.
func MembershipsOf(account string, lists ...MembershipList) []Membership {
	var out []Membership
	for _, l := range lists {
		if slices.ContainsFunc(l.IDs, func(id string) bool { return strings.EqualFold(id, account) }) {
			out = append(out, Membership{Role: l.Role, Change: l.Change})
		}
	}
	return out
}

// MembershipList is one list of a change's payload: object ids that take
// Role by Change.
type MembershipList struct {
	IDs    []string
	Role   MembershipRole
	Change MembershipChange
}

// Unsynced is a person the plan leaves alone, with why.
type Unsynced struct {
	Key      string `json:"key"`
	UserType string `json:"userType,omitempty"`
	Reason   Reason `json:"reason"`
	Detail   string `json:"detail"`
}

// Quarantined is one problem of a feed row left out of the plan. Value is
// empty for personal columns.
type Quarantined struct {
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
	Column    string `json:"column,omitempty"`
	Value     string `json:"value,omitempty"`
	SourcedID string `json:"sourcedId,omitempty"`
	Reason    string `json:"reason"`
}

// Guard is the accidental-deletion verdict: a plan that suspends more than
// the limit is held until someone confirms it.
type Guard struct {
	Suspends int  `json:"suspends"`
	Limit    int  `json:"limit"`
	Held     bool `json:"held"`
	// RosterShrank is set when the feed shrank suspiciously; such a plan
	// suspends nobody at all.
	RosterShrank bool   `json:"rosterShrank,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// Plan is the whole computed change set of one run of one profile.
type Plan struct {
	FormatVersion string `json:"formatVersion"`
	CustomerID    string `json:"customerId"`
	TenantID      string `json:"tenantId"`
	ProfileID     string `json:"profileId"`
	RunID         string `json:"runId"`
	// Entity is the entity kind whose plan this is (users, groups, …).
	Entity    string    `json:"entity,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Matched counts people already linked or matched to an account whose
	// state needs no change.
	Matched  int        `json:"matched"`
	Changes  []Change   `json:"changes"`
	Unsynced []Unsynced `json:"unsynced,omitempty"`
	// Quarantined are the feed's rows left out before planning, each with
	// where it was and why (a contradictory enrolment, a person with no
	// school); the rest of the feed was planned.
	Quarantined []Quarantined `json:"quarantined,omitempty"`
	Guard       Guard         `json:"guard"`
	// Errors are problems that stop the plan being applied at all.
	Errors []string `json:"errors,omitempty"`
}

// Errored reports a plan that must not be applied.
func (p *Plan) Errored() bool { return len(p.Errors) > 0 }

// Held counts the changes that wait for a confirmation.
func (p *Plan) Held() int {
	n := 0
	for _, c := range p.Changes {
		if c.Held {
			n++
		}
	}
	return n
}

// Sort orders changes by (Kind, Key, Action) and unsynced people by key, so
// two plans of the same input are byte-identical.
func (p *Plan) Sort() {
	slices.SortStableFunc(p.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Action, b.Action))
	})
	slices.SortStableFunc(p.Unsynced, func(a, b Unsynced) int { return cmp.Compare(a.Key, b.Key) })
}

// AllUnsyncedForOneReason reports a plan that syncs nobody: no person of
// the feed matched, created, linked, updated or reactivated, and every
// person left unsynced for one and the same reason. Such a run is a wrong
// session, a wrong date or a misread feed far more often than a real
// school, and must fail with that reason rather than succeed having done
// nothing. Suspensions do not count as syncing anyone (they are people
// who left). Reasons that are the profile's own choice for everyone
// (exclusions, a sync start date after everyone's enrolment) do not trip.
func (p *Plan) AllUnsyncedForOneReason() (Reason, bool) {
	if p.Matched > 0 || len(p.Unsynced) == 0 {
		return "", false
	}
	for _, c := range p.Changes {
		if c.Action != Suspend {
			return "", false
		}
	}
	r := p.Unsynced[0].Reason
	for _, u := range p.Unsynced[1:] {
		if u.Reason != r {
			return "", false
		}
	}
	switch r {
	case UnsyncedBecauseExcluded, UnsyncedBecauseBeforeStart:
		return "", false
	}
	return r, true
}

// Summary counts changes by action, and unsynced people by reason.
type Summary struct {
	Matched  int            `json:"matched"`
	Actions  map[Action]int `json:"actions"`
	Unsynced map[Reason]int `json:"unsynced,omitempty"`
	Writes   int            `json:"writes"`
}

// Summarize counts the plan.
func (p *Plan) Summarize() Summary {
	s := Summary{Matched: p.Matched, Actions: map[Action]int{}}
	for _, c := range p.Changes {
		s.Actions[c.Action]++
		if c.Writes > 0 {
			s.Writes += c.Writes
		} else {
			s.Writes += c.Action.Writes()
		}
	}
	if len(p.Unsynced) > 0 {
		s.Unsynced = map[Reason]int{}
		for _, u := range p.Unsynced {
			s.Unsynced[u.Reason]++
		}
	}
	return s
}

// Errors of Decode.
var (
	ErrFormat = errors.New("unsupported plan format")
)

// Encode writes the plan as indented JSON with sorted map keys (encoding/json
// sorts map keys), so stored plans and golden files are stable.
func Encode(p *Plan) ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode plan of run %s: %w", p.RunID, err)
	}
	return append(b, '\n'), nil
}

// Decode reads a plan, refusing other major format versions.
func Decode(b []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	if major(p.FormatVersion) != major(FormatVersion) {
		return nil, fmt.Errorf("%w %q: this build reads %s.x", ErrFormat, p.FormatVersion, major(FormatVersion))
	}
	return &p, nil
}

func major(v string) string {
	for i, c := range v {
		if c == '.' {
			return v[:i]
		}
	}
	return v
}

// DiffFields returns the keys of want whose value differs from have, with
// both sides, in key order; a missing have key counts as "".
func DiffFields(have, want map[string]string) (before, after map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if have[k] == want[k] {
			continue
		}
		if before == nil {
			before, after = map[string]string{}, map[string]string{}
		}
		before[k], after[k] = have[k], want[k]
	}
	return before, after
}
