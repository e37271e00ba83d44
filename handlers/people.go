package handlers

import (
	"context"
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
	LastChange *state.Entry   `json:"lastChange,omitempty"`
	Unsynced   *plan.Unsynced `json:"unsynced,omitempty"`
	// Memberships are what the latest plans of the kinds holding people
	// (groups, classrooms) do with the person's account.
	Memberships []PersonMembership `json:"memberships"`
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

// PersonMembership is one change of an entity's latest plan touching the
// person's account: joining or leaving a group or class, as member or
// owner (a class's teachers are its owners).
type PersonMembership struct {
	Entity    string                `json:"entity"`
	SourcedID string                `json:"sourcedId"`
	ObjectID  string                `json:"objectId,omitempty"`
	Role      plan.MembershipRole   `json:"role"`
	Change    plan.MembershipChange `json:"change"`
	Reason    plan.Reason           `json:"reason"`
	Status    string                `json:"status,omitempty"`
}

// Person states.
const (
	personLinked    = "linked"
	personSuspended = "suspended"
	personExcluded  = "excluded"
	personUnsynced  = "unsynced"
	personUnknown   = "unknown"
)

func (a *API) personStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	customer, source := r.PathValue("customer"), r.PathValue("sourcedId")
	if _, err := a.store.GetCustomer(ctx, customer); err != nil {
		a.fail(w, r, err)
		return
	}
	out := PersonStatus{SourcedID: source, State: personUnknown, Memberships: []PersonMembership{}}
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
	profiles, err := a.store.ListProfiles(ctx, customer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	runID, err := a.latestRun(ctx, customer, profiles, tenant.EntityUsers)
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
		ms, err := a.personMemberships(ctx, customer, profiles, out.Account.ObjectID)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out.Memberships = ms
	}
	writeJSON(w, http.StatusOK, out)
}

// latestRun is the run that last planned entity for any of the customer's
// profiles ("" when none did).
func (a *API) latestRun(ctx context.Context, customer string, profiles []tenant.Profile, entity string) (string, error) {
	var best state.SyncState
	for _, p := range profiles {
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

// personMemberships reads, for every kind whose objects hold people, its
// latest plan's changes touching the account. A kind switched off or not
// yet run adds nothing.
func (a *API) personMemberships(ctx context.Context, customer string, profiles []tenant.Profile, account string) ([]PersonMembership, error) {
	out := []PersonMembership{}
	for _, e := range a.entities.Entities() {
		if e.Memberships == nil {
			continue
		}
		runID, err := a.latestRun(ctx, customer, profiles, e.Name)
		if err != nil {
			return nil, err
		}
		if runID == "" {
			continue
		}
		_, entries, err := a.store.LoadPlan(ctx, customer, runID, e.Name)
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, en := range entries {
			for _, m := range e.Memberships(en.Change, account) {
				out = append(out, PersonMembership{Entity: e.Name, SourcedID: en.Key, ObjectID: en.TargetID, Role: m.Role, Change: m.Change, Reason: en.Reason, Status: en.Status})
			}
		}
	}
	return out, nil
}
