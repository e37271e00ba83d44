package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/tenant"
)

// DriftReporter compares a customer's tenant with what rostersync keeps
// there: every linked object that differs (an account disabled or renamed
// outside rostersync, group members added or removed by hand, a class
// team archived by hand), each with what the next run of its profile does
// about it. It writes nothing, to the tenant or the store. profileID ""
// means every enabled profile; a profile that does not exist is
// state.ErrNotFound. The order is stable: profile, entity, object.
type DriftReporter interface {
	Drift(ctx context.Context, c tenant.Customer, profileID string) ([]plan.Drift, error)
}

// ErrCannotPlan is wrapped by a DriftReporter's error when the next run's
// plan cannot be made at all (the feed is rejected, the tenant refuses
// the entity): the API answers 409 with the reason.
var ErrCannotPlan = errors.New("the next run cannot be planned")

// SetDriftReporter sets how GET .../drift is computed; without one it
// answers 503. Call it before serving.
func (a *API) SetDriftReporter(d DriftReporter) { a.drift = d }

// customerDrift lists the drift, paged. Each page is computed afresh from
// the tenant (nothing is kept between requests); the continuation is the
// offset in the stable order, so a tenant changed between pages may shift
// the list by what changed.
func (a *API) customerDrift(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	pg, ok := readPage(w, r)
	if !ok {
		return
	}
	c, ok := a.customerWithTenant(w, r, r.PathValue("customer"), "there is nothing to compare")
	if !ok {
		return
	}
	if a.drift == nil {
		writeProblem(w, r, ProblemUnavailable, "drift cannot be computed: Graph is not configured")
		return
	}
	profile := r.URL.Query().Get("profile")
	all, err := a.drift.Drift(ctx, c, profile)
	if errors.Is(err, ErrCannotPlan) {
		writeProblem(w, r, ProblemConflict, err.Error())
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, next, err := slicePage(pg, all)
	if err != nil {
		writeProblem(w, r, ProblemValidation, "continuation: "+err.Error())
		return
	}
	a.log.InfoContext(ctx, "drift reported", "customer", c.ID, "profile", profile, "drifted", len(all))
	writeJSON(w, http.StatusOK, newPage(r, out, next))
}
