package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rostersync/rostersync/internal/lifecycle"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Remover removes a customer's configuration; *lifecycle.Service has it.
type Remover interface {
	Remove(ctx context.Context, customerID, appID string) (lifecycle.Removal, error)
}

var _ Remover = (*lifecycle.Service)(nil)

// SetRemover sets the service behind DELETE .../configuration and the
// app id its instructions name; without one the route answers 503. Call
// it before serving.
func (a *API) SetRemover(r Remover, appID string) { a.remover, a.appID = r, appID }

// removeConfiguration disconnects the customer (see lifecycle.Remove) and
// answers what happened and how the school's admin removes the app.
func (a *API) removeConfiguration(w http.ResponseWriter, r *http.Request) {
	if a.remover == nil {
		writeProblem(w, r, ProblemUnavailable, "removing a configuration is not configured")
		return
	}
	rem, err := a.remover.Remove(r.Context(), r.PathValue("customer"), a.appID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	_ = a.audit(r, rem.CustomerID, AuditConfigurationRemove, AuditDetails{Count: rem.CredentialsDestroyed})
	writeJSON(w, http.StatusOK, rem)
}

// profileCopyBody names a profile's copy.
type profileCopyBody struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// profileCreator creates a profile that must not exist yet; *state.Store
// has it.
type profileCreator interface {
	CreateProfile(ctx context.Context, p tenant.Profile) error
}

// copyProfile saves a copy of a profile under a new id and name,
// disabled: a copy never overlaps the original, and the admin enables it
// once its dates are set. An id already taken is a conflict.
func (a *API) copyProfile(w http.ResponseWriter, r *http.Request) {
	var body profileCopyBody
	if !decodeBody(w, r, &body) {
		return
	}
	creator, ok := a.store.(profileCreator)
	if !ok {
		writeProblem(w, r, ProblemUnavailable, "this store cannot create profiles")
		return
	}
	customer := r.PathValue("customer")
	if err := tenant.ValidateID("profile", body.ID); err != nil {
		a.fail(w, r, err)
		return
	}
	src, err := a.store.GetProfile(r.Context(), customer, r.PathValue("profile"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	cp := src
	cp.ID, cp.Name, cp.Enabled, cp.CreatedAt = body.ID, body.Name, false, time.Time{}
	if cp.Name == "" {
		cp.Name = src.Name + " (copy)"
	}
	if err := cp.ValidateSource(a.sources); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := creator.CreateProfile(r.Context(), cp); err != nil {
		a.fail(w, r, err)
		return
	}
	_ = a.audit(r, customer, AuditProfileCopy, AuditDetails{ProfileID: cp.ID})
	saved, err := a.store.GetProfile(r.Context(), customer, cp.ID)
	if errors.Is(err, nil) {
		w.Header().Set("Location", fmt.Sprintf("/api/customers/%s/profiles/%s", customer, cp.ID))
		writeJSON(w, http.StatusCreated, saved)
		return
	}
	a.fail(w, r, err)
}
