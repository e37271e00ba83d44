package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/consent"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Onboarding is admin consent and tenant checks; *consent.Service has it.
type Onboarding interface {
	Start(ctx context.Context, customerID string) (string, time.Time, error)
	Callback(ctx context.Context, q url.Values) string
	Check(ctx context.Context, customerID string) (tenant.Customer, error)
}

var _ Onboarding = (*consent.Service)(nil)

// ConsentCallbackPath is where the identity platform sends the admin's
// browser back: the anonymous Consent function's route.
const ConsentCallbackPath = "/api/" + config.ConsentCallbackRoute

// SetOnboarding sets the consent service; without one the consent routes
// answer 503. Call it before serving.
func (a *API) SetOnboarding(o Onboarding) { a.onboarding = o }

func (a *API) startConsent(w http.ResponseWriter, r *http.Request) {
	if a.onboarding == nil {
		writeProblem(w, r, ProblemUnavailable, "admin consent is not configured")
		return
	}
	u, expires, err := a.onboarding.Start(r.Context(), r.PathValue("customer"))
	if err != nil {
		a.failConsent(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"url": u, "expires": expires.UTC().Format(time.RFC3339)})
}

// consentCallback is the anonymous function's: whatever happens, the
// browser goes back to the vendor UI with the outcome.
func (a *API) consentCallback(w http.ResponseWriter, r *http.Request) {
	if a.onboarding == nil {
		writeProblem(w, r, ProblemUnavailable, "admin consent is not configured")
		return
	}
	loc := a.onboarding.Callback(r.Context(), r.URL.Query())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, loc, http.StatusFound)
}

func (a *API) checkTenant(w http.ResponseWriter, r *http.Request) {
	if a.onboarding == nil {
		writeProblem(w, r, ProblemUnavailable, "tenant checks are not configured")
		return
	}
	c, err := a.onboarding.Check(r.Context(), r.PathValue("customer"))
	if err != nil {
		a.failConsent(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *API) failConsent(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, consent.ErrNotConfigured):
		a.log.WarnContext(r.Context(), "admin consent is not configured", "error", err)
		writeProblem(w, r, ProblemUnavailable, err.Error())
	case errors.Is(err, consent.ErrNoTenant):
		writeProblem(w, r, ProblemConflict, err.Error())
	default:
		a.fail(w, r, err)
	}
}
