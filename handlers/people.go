package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// PersonStatus answers the school admin's question "why has this pupil got
// no account / not in this group?" in one call: the account the person is
// linked to, the last change the users plan made to them and why, why they
// are left alone if they are, and what the latest groups plan does with
// their account.
type PersonStatus struct {
	SourcedID string `json:"sourcedId"`
	// State is one word for the UI's badge: linked, suspended, excluded,
	// unsynced or unknown (no link and no plan mentions them).
	State     string         `json:"state"`
	Account   *PersonAccount `json:"account,omitempty"`
	Excluded  *Exclusion     `json:"excluded,omitempty"`
	LastRunID string         `json:"lastRunId,omitempty"`
	// LastChange is the latest users plan's change to the person, with
	// its reason and apply progress.
	LastChange *state.Entry    `json:"lastChange,omitempty"`
	Unsynced   *plan.Unsynced  `json:"unsynced,omitempty"`
	Groups     []PersonInGroup `json:"groups"`
}

// PersonAccount is the tenant account a person is linked to.
type PersonAccount struct {
	ObjectID string `json:"objectId"`
	How      string `json:"how,omitempty"`
	UserType string `json:"userType,omitempty"`
	// Enabled is false when rostersync suspended the account.
	Enabled   bool      `json:"enabled"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// PersonInGroup is one change of the latest groups plan touching the
// person's account: joined or left a group, as member or owner.
type PersonInGroup struct {
	SourcedID string      `json:"sourcedId"`
	ObjectID  string      `json:"objectId,omitempty"`
	Role      string      `json:"role"`
	Change    string      `json:"change"`
	Reason    plan.Reason `json:"reason"`
	Status    string      `json:"status,omitempty"`
}

// Person states.
const (
	personLinked    = "linked"
	personSuspended = "suspended"
	personExcluded  = "excluded"
	personUnsynced  = "unsynced"
	personUnknown   = "unknown"
)

// groupMembership is the part of a groups change's payload naming whose
// membership it changes (object ids); read generically so that the API
// knows no entity's package.
type groupMembership struct {
	AddOwners     []string `json:"addOwners"`
	AddMembers    []string `json:"addMembers"`
	RemoveOwners  []string `json:"removeOwners"`
	RemoveMembers []string `json:"removeMembers"`
}

func (a *API) personStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	customer, source := r.PathValue("customer"), r.PathValue("sourcedId")
	if _, err := a.store.GetCustomer(ctx, customer); err != nil {
		a.fail(w, r, err)
		return
	}
	out := PersonStatus{SourcedID: source, State: personUnknown, Groups: []PersonInGroup{}}
	m, err := a.store.GetMapping(ctx, customer, LinkKindUser, source)
	switch {
	case err == nil:
		out.Account = &PersonAccount{ObjectID: m.TargetID, How: m.How, UserType: m.Type, Enabled: !m.Suspended, UpdatedAt: m.UpdatedAt}
		out.State = personLinked
		if m.Suspended {
			out.State = personSuspended
		}
	case !errors.Is(err, state.ErrNotFound):
		a.fail(w, r, err)
		return
	}
	xs, err := a.store.ListExclusions(ctx, customer, LinkKindUser)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if i := slices.IndexFunc(xs, func(x state.Exclusion) bool { return x.SourceID == source }); i >= 0 {
		out.Excluded = &Exclusion{Entity: tenant.EntityUsers, SourcedID: source, Reason: xs[i].Reason}
		out.State = personExcluded
	}
	runID, err := a.latestRun(ctx, customer, tenant.EntityUsers)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if runID != "" {
		out.LastRunID = runID
		p, entries, err := a.store.LoadPlan(ctx, customer, runID, tenant.EntityUsers)
		switch {
		case err == nil:
			if i := slices.IndexFunc(entries, func(e state.Entry) bool { return e.Key == source }); i >= 0 {
				out.LastChange = &entries[i]
			}
			if i := slices.IndexFunc(p.Unsynced, func(u plan.Unsynced) bool { return u.Key == source }); i >= 0 {
				out.Unsynced = &p.Unsynced[i]
				if out.State != personExcluded {
					out.State = personUnsynced
				}
			}
		case !errors.Is(err, state.ErrNotFound):
			a.fail(w, r, err)
			return
		}
	}
	if out.Account != nil {
		groups, err := a.personGroups(ctx, customer, out.Account.ObjectID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out.Groups = groups
	}
	writeJSON(w, http.StatusOK, out)
}

// latestRun is the run that last planned entity for any of the customer's
// profiles ("" when none did).
func (a *API) latestRun(ctx context.Context, customer, entity string) (string, error) {
	ps, err := a.store.ListProfiles(ctx, customer)
	if err != nil {
		return "", err
	}
	var best state.SyncState
	for _, p := range ps {
		st, err := a.store.GetSyncState(ctx, customer, p.ID, entity)
		switch {
		case errors.Is(err, state.ErrNotFound):
			continue
		case err != nil:
			return "", err
		}
		if st.LastRunID != "" && (best.LastRunID == "" || st.LastSync.After(best.LastSync)) {
			best = st
		}
	}
	return best.LastRunID, nil
}

// personGroups reads the latest groups plan for the changes touching the
// account objectID. The groups entity may be switched off or not yet run:
// then the answer is empty.
func (a *API) personGroups(ctx context.Context, customer, objectID string) ([]PersonInGroup, error) {
	out := []PersonInGroup{}
	e, ok := a.entities.Entity(tenant.EntityGroups)
	if !ok {
		return out, nil
	}
	runID, err := a.latestRun(ctx, customer, e.Name)
	if err != nil || runID == "" {
		return out, err
	}
	_, entries, err := a.store.LoadPlan(ctx, customer, runID, e.Name)
	if errors.Is(err, state.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, en := range entries {
		if en.Payload == nil {
			continue
		}
		var gm groupMembership
		if json.Unmarshal(en.Payload.Data, &gm) != nil {
			continue // another version's payload: not ours to guess at
		}
		for _, c := range []struct {
			ids          []string
			role, change string
		}{
			{gm.AddMembers, "member", "add"}, {gm.AddOwners, "owner", "add"},
			{gm.RemoveMembers, "member", "remove"}, {gm.RemoveOwners, "owner", "remove"},
		} {
			if slices.Contains(c.ids, objectID) {
				out = append(out, PersonInGroup{SourcedID: en.Key, ObjectID: en.TargetID, Role: c.role, Change: c.change, Reason: en.Reason, Status: en.Status})
			}
		}
	}
	return out, nil
}
