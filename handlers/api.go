package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// APIStore is the state the HTTP API reads and writes; *state.Store has it.
type APIStore interface {
	GetCustomer(ctx context.Context, id string) (tenant.Customer, error)
	PutCustomer(ctx context.Context, c tenant.Customer) error
	ListProfiles(ctx context.Context, customerID string) ([]tenant.Profile, error)
	GetProfile(ctx context.Context, customerID, profileID string) (tenant.Profile, error)
	SaveProfile(ctx context.Context, p tenant.Profile) error
	GetSyncState(ctx context.Context, customerID, profileID, entity string) (state.SyncState, error)
	GetRun(ctx context.Context, customerID, runID string) (runs.Run, error)
	ListRuns(ctx context.Context, customerID, profileID string, limit int) ([]runs.Run, error)
	RunLog(ctx context.Context, customerID, runID string) ([]runs.LogEntry, error)
	ListMappings(ctx context.Context, customerID, kind string) ([]state.Mapping, error)
	PutMappings(ctx context.Context, ms ...state.Mapping) error
	DeleteMappings(ctx context.Context, customerID, kind string, sourceIDs ...string) error
	ListExclusions(ctx context.Context, customerID, kind string) ([]state.Exclusion, error)
	AddExclusion(ctx context.Context, x state.Exclusion) error
	RemoveExclusion(ctx context.Context, customerID, kind, sourceID string) error
	LoadPlan(ctx context.Context, customerID, runID, entity string) (*plan.Plan, []state.Entry, error)
	SaveConfirmation(ctx context.Context, c state.Confirmation) error
	DeleteConfirmation(ctx context.Context, customerID, runID, entity string) error
}

var _ APIStore = (*state.Store)(nil)

// RunStarter starts and resumes manual runs; *pipeline.Pipeline has it.
type RunStarter interface {
	StartRun(ctx context.Context, req pipeline.RunRequest) (runs.Run, error)
	Resume(ctx context.Context, customerID, runID, entity, cursor string) (runs.Run, error)
}

// CredentialExporter hands initial credentials over: an export returns
// them with an id and deletes nothing; acknowledging the id destroys them;
// *credentials.Vault has it.
type CredentialExporter interface {
	Export(ctx context.Context, customerID, runID string, keys []string) (credentials.Export, error)
	ExportByID(ctx context.Context, customerID, runID, exportID string) (credentials.Export, error)
	Acknowledge(ctx context.Context, customerID, runID, exportID string) (int, error)
}

// ObjectChecker says whether an object exists in a customer's tenant, so
// a manual link cannot point at an account that is not there (or is in
// another tenant). cmd/rostersync implements it over the per-tenant Graph
// client.
type ObjectChecker interface {
	UserExists(ctx context.Context, customer tenant.Customer, objectID string) (bool, error)
}

// maxAPIBody bounds request bodies of the API.
const maxAPIBody = 1 << 20

// API serves the vendor UI's buttons under /api/. Authentication is the
// Functions host's: the Api function has authLevel "function", so the host
// (or the local host, see internal/devhost) checks the function key before
// the request is forwarded here.
type API struct {
	store   APIStore
	starter RunStarter
	creds   CredentialExporter
	objects ObjectChecker
	sources egress.Policy
	log     *slog.Logger
	mux     *http.ServeMux
	routes  []string
}

func (a *API) handle(pattern string, h http.HandlerFunc) {
	a.routes = append(a.routes, pattern)
	a.mux.HandleFunc(pattern, h)
}

// Routes lists the API's "METHOD /path" patterns; docs/openapi.yaml must
// describe each one (a test checks).
func (a *API) Routes() []string { return slices.Clone(a.routes) }

// NewAPI builds the API; creds may be nil when no credential store is
// configured (the export then answers 503).
func NewAPI(store APIStore, starter RunStarter, creds CredentialExporter, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &API{store: store, starter: starter, creds: creds, log: log, mux: http.NewServeMux()}
	a.handle("GET /api/health", a.health)
	a.handle("GET /api/customers/{customer}", a.getCustomer)
	a.handle("PUT /api/customers/{customer}", a.putCustomer)
	a.handle("GET /api/customers/{customer}/profiles", a.listProfiles)
	a.handle("GET /api/customers/{customer}/profiles/{profile}", a.getProfile)
	a.handle("PUT /api/customers/{customer}/profiles/{profile}", a.putProfile)
	a.handle("POST /api/customers/{customer}/profiles/{profile}/runs", a.startRun)
	a.handle("GET /api/customers/{customer}/runs", a.listRuns)
	a.handle("GET /api/customers/{customer}/runs/{run}", a.getRun)
	a.handle("GET /api/customers/{customer}/runs/{run}/log", a.runLog)
	a.handle("GET /api/customers/{customer}/runs/{run}/plan", a.runPlan)
	a.handle("GET /api/customers/{customer}/runs/{run}/unsynced", a.runUnsynced)
	a.handle("POST /api/customers/{customer}/runs/{run}/confirm", a.confirmRun)
	a.handle("GET /api/customers/{customer}/runs/{run}/credentials", a.exportCredentials)
	a.handle("GET /api/customers/{customer}/runs/{run}/credentials/exports/{export}", a.refetchExport)
	a.handle("POST /api/customers/{customer}/runs/{run}/credentials/exports/{export}/acknowledge", a.acknowledgeExport)
	a.handle("GET /api/customers/{customer}/links", a.listLinks)
	a.handle("PUT /api/customers/{customer}/links/{source}", a.putLink)
	a.handle("DELETE /api/customers/{customer}/links/{source}", a.deleteLink)
	a.handle("GET /api/customers/{customer}/exclusions", a.listExclusions)
	a.handle("PUT /api/customers/{customer}/exclusions/{source}", a.putExclusion)
	a.handle("DELETE /api/customers/{customer}/exclusions/{source}", a.deleteExclusion)
	return a
}

// SetSourcePolicy sets where profile sources may send credentials (see
// internal/egress); without it the API applies production's policy. Call
// it before serving.
func (a *API) SetSourcePolicy(p egress.Policy) { a.sources = p }

// SetObjectChecker sets how manual links are checked against the
// customer's tenant; without one, PUT .../links answers 503. Call it before
// serving.
func (a *API) SetObjectChecker(c ObjectChecker) { a.objects = c }

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
	a.mux.ServeHTTP(w, r)
}

func (a *API) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) getCustomer(w http.ResponseWriter, r *http.Request) {
	c, err := a.store.GetCustomer(r.Context(), r.PathValue("customer"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (a *API) putCustomer(w http.ResponseWriter, r *http.Request) {
	var c tenant.Customer
	if !decodeBody(w, r, &c) {
		return
	}
	if c.ID == "" {
		c.ID = r.PathValue("customer")
	}
	if c.ID != r.PathValue("customer") {
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("body id %q does not match the path's customer %q", c.ID, r.PathValue("customer")))
		return
	}
	// The tenant binding decides whose accounts a sync writes: once set it
	// is not changed or removed by a PUT (onboarding records it at admin
	// consent). An empty tenantId keeps the bound one.
	old, err := a.store.GetCustomer(r.Context(), c.ID)
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		a.fail(w, r, err)
		return
	case old.TenantID != "" && c.TenantID == "":
		c.TenantID, c.ConsentedAt = old.TenantID, old.ConsentedAt
	case old.TenantID != "" && !strings.EqualFold(old.TenantID, c.TenantID):
		writeError(w, http.StatusConflict, "Conflict", fmt.Sprintf("customer %s is bound to tenant %s; the tenant id cannot be changed by PUT", c.ID, old.TenantID))
		return
	}
	if err := a.store.PutCustomer(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// profileView is a profile with its last run, as the UI's list shows it.
type profileView struct {
	tenant.Profile
	LastRun *state.SyncState `json:"lastRun,omitempty"`
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request) {
	customer := r.PathValue("customer")
	if _, err := a.store.GetCustomer(r.Context(), customer); err != nil {
		a.fail(w, r, err)
		return
	}
	ps, err := a.store.ListProfiles(r.Context(), customer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]profileView, 0, len(ps))
	for _, p := range ps {
		v := profileView{Profile: p}
		st, err := a.store.GetSyncState(r.Context(), customer, p.ID, pipeline.ProfileEntity)
		switch {
		case err == nil:
			v.LastRun = &st
		case !errors.Is(err, state.ErrNotFound):
			a.fail(w, r, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.store.GetProfile(r.Context(), r.PathValue("customer"), r.PathValue("profile"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *API) putProfile(w http.ResponseWriter, r *http.Request) {
	var p tenant.Profile
	if !decodeBody(w, r, &p) {
		return
	}
	customer, id := r.PathValue("customer"), r.PathValue("profile")
	if p.CustomerID == "" {
		p.CustomerID = customer
	}
	if p.ID == "" {
		p.ID = id
	}
	if p.CustomerID != customer || p.ID != id {
		writeError(w, http.StatusBadRequest, "BadRequest", "body customerId/id do not match the path")
		return
	}
	if _, err := a.store.GetCustomer(r.Context(), customer); err != nil {
		a.fail(w, r, err)
		return
	}
	// The store checks what holds in every deployment; this adds whether
	// this one is local and its host allow-list.
	if err := p.ValidateSource(a.sources); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.store.SaveProfile(r.Context(), p); err != nil {
		a.fail(w, r, err)
		return
	}
	saved, err := a.store.GetProfile(r.Context(), customer, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, saved)
}

// runRequestBody is the optional body of POST .../runs.
type runRequestBody struct {
	// Entities narrows the run, e.g. ["users"] for "sync users now".
	Entities []string `json:"entities,omitempty"`
	// Only narrows it to these people: "create selected people now".
	Only []string `json:"only,omitempty"`
}

func (a *API) startRun(w http.ResponseWriter, r *http.Request) {
	req := pipeline.RunRequest{CustomerID: r.PathValue("customer"), ProfileID: r.PathValue("profile"), Mode: runs.ModeApply}
	if s := r.URL.Query().Get("simulate"); s != "" {
		sim, err := strconv.ParseBool(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("simulate=%q: want true or false", s))
			return
		}
		if sim {
			req.Mode = runs.ModeSimulate
		}
	}
	if r.ContentLength != 0 {
		var body runRequestBody
		if !decodeBody(w, r, &body) {
			return
		}
		req.Entities, req.Only = body.Entities, body.Only
	}
	run, err := a.starter.StartRun(r.Context(), req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/customers/%s/runs/%s", run.CustomerID, run.ID))
	writeJSON(w, http.StatusAccepted, run)
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("limit=%q: want 1 to 1000", s))
			return
		}
		limit = n
	}
	rs, err := a.store.ListRuns(r.Context(), r.PathValue("customer"), r.URL.Query().Get("profile"), limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if rs == nil {
		rs = []runs.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": rs})
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := a.store.GetRun(r.Context(), r.PathValue("customer"), r.PathValue("run"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (a *API) runLog(w http.ResponseWriter, r *http.Request) {
	customer, id := r.PathValue("customer"), r.PathValue("run")
	if _, err := a.store.GetRun(r.Context(), customer, id); err != nil {
		a.fail(w, r, err)
		return
	}
	entries, err := a.store.RunLog(r.Context(), customer, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": entries})
}

// planView is a stored plan with each change's apply progress.
type planView struct {
	Plan    *plan.Plan    `json:"plan"`
	Summary plan.Summary  `json:"summary"`
	Entries []state.Entry `json:"entries"`
}

func (a *API) runPlan(w http.ResponseWriter, r *http.Request) {
	p, entries, err := a.store.LoadPlan(r.Context(), r.PathValue("customer"), r.PathValue("run"), tenant.EntityUsers)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if status := r.URL.Query().Get("status"); status != "" {
		entries = slices.DeleteFunc(entries, func(e state.Entry) bool { return e.Status != status })
	}
	if entries == nil {
		entries = []state.Entry{}
	}
	summary := p.Summarize()
	p.Changes = nil // the entries carry them, with progress
	writeJSON(w, http.StatusOK, planView{Plan: p, Summary: summary, Entries: entries})
}

func (a *API) runUnsynced(w http.ResponseWriter, r *http.Request) {
	p, _, err := a.store.LoadPlan(r.Context(), r.PathValue("customer"), r.PathValue("run"), tenant.EntityUsers)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := p.Unsynced
	if out == nil {
		out = []plan.Unsynced{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// confirmRun lifts the deletion guard of a held plan and applies it.
func (a *API) confirmRun(w http.ResponseWriter, r *http.Request) {
	const entity = "users"
	customer, id := r.PathValue("customer"), r.PathValue("run")
	run, err := a.store.GetRun(r.Context(), customer, id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if i := run.Entity(entity); i < 0 || run.Entities[i].Status != runs.StatusHeld {
		writeError(w, http.StatusConflict, "Conflict", "nothing of run "+id+" is held")
		return
	}
	// The plan stays as stored; the confirmation is a record of its own,
	// which apply reads. It is withdrawn when the resume cannot start, so
	// the run never reads confirmed while nothing applies it.
	c := state.Confirmation{CustomerID: customer, RunID: id, Entity: entity, Actor: r.Header.Get("x-rostersync-actor")}
	if err := a.store.SaveConfirmation(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	resumed, err := a.starter.Resume(r.Context(), customer, id, entity, "apply")
	if err != nil {
		if werr := a.store.DeleteConfirmation(r.Context(), customer, id, entity); werr != nil {
			err = errors.Join(err, werr)
		}
		a.log.ErrorContext(r.Context(), "confirmed plan could not be resumed", "customer", customer, "run", id, "entity", entity, "error", err)
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "the run stays held: applying it could not be started; confirm again later")
		return
	}
	a.log.InfoContext(r.Context(), "held plan confirmed", "customer", customer, "run", id, "entity", entity)
	writeJSON(w, http.StatusAccepted, resumed)
}

// Headers of a credential export: its id, to acknowledge it with, and
// when it expires unacknowledged.
const (
	headerExportID      = "Export-Id"
	headerExportExpires = "Export-Expires"
)

// exportCredentials returns a run's initial credentials as CSV with the id
// of an export covering exactly those rows. Nothing is deleted until the
// export is acknowledged, so a dropped connection or a concurrent export
// loses nothing; nothing is logged but counts.
func (a *API) exportCredentials(w http.ResponseWriter, r *http.Request) {
	if a.creds == nil {
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "no credential store is configured")
		return
	}
	var keys []string
	if k := r.URL.Query().Get("people"); k != "" {
		keys = strings.Split(k, ",")
	}
	customer, id := r.PathValue("customer"), r.PathValue("run")
	if _, err := a.store.GetRun(r.Context(), customer, id); err != nil {
		a.fail(w, r, err)
		return
	}
	ex, err := a.creds.Export(r.Context(), customer, id, keys)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "credentials exported", "customer", customer, "run", id, "export", ex.ID, "count", len(ex.Credentials))
	writeCredentialsCSV(w, id, ex)
}

// refetchExport returns an unacknowledged export again, e.g. after the
// first download was lost.
func (a *API) refetchExport(w http.ResponseWriter, r *http.Request) {
	if a.creds == nil {
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "no credential store is configured")
		return
	}
	customer, id := r.PathValue("customer"), r.PathValue("run")
	ex, err := a.creds.ExportByID(r.Context(), customer, id, r.PathValue("export"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "credentials export fetched again", "customer", customer, "run", id, "export", ex.ID, "count", len(ex.Credentials))
	writeCredentialsCSV(w, id, ex)
}

// acknowledgeExport destroys the credentials an export handed over. It is
// idempotent; after a failure part way, calling it again finishes.
func (a *API) acknowledgeExport(w http.ResponseWriter, r *http.Request) {
	if a.creds == nil {
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "no credential store is configured")
		return
	}
	customer, id, export := r.PathValue("customer"), r.PathValue("run"), r.PathValue("export")
	n, err := a.creds.Acknowledge(r.Context(), customer, id, export)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "credentials export acknowledged", "customer", customer, "run", id, "export", export, "destroyed", n)
	writeJSON(w, http.StatusOK, map[string]any{"exportId": export, "destroyed": n})
}

func writeCredentialsCSV(w http.ResponseWriter, runID string, ex credentials.Export) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "credentials-"+runID+".csv"))
	if ex.ID != "" {
		w.Header().Set(headerExportID, ex.ID)
		w.Header().Set(headerExportExpires, ex.Expires.UTC().Format(time.RFC3339))
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"sourcedId", "userPrincipalName", "password"})
	for _, c := range ex.Credentials {
		_ = cw.Write([]string{c.Key, c.UPN, c.Password})
	}
	cw.Flush()
}

func (a *API) listLinks(w http.ResponseWriter, r *http.Request) {
	ms, err := a.store.ListMappings(r.Context(), r.PathValue("customer"), "user")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if ms == nil {
		ms = []state.Mapping{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": ms})
}

// putLink is the manual match: this person is that existing account. It
// refuses an account already linked to someone else.
func (a *API) putLink(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TargetID string `json:"targetId"`
		UserType string `json:"userType,omitempty"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	customer, source := r.PathValue("customer"), r.PathValue("source")
	if body.TargetID == "" {
		writeError(w, http.StatusBadRequest, "BadRequest", "targetId (the account's object id) is required")
		return
	}
	if a.objects == nil {
		writeError(w, http.StatusServiceUnavailable, "Unavailable", "links cannot be checked: Graph is not configured")
		return
	}
	c, err := a.store.GetCustomer(r.Context(), customer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if c.TenantID == "" {
		writeError(w, http.StatusConflict, "Conflict", fmt.Sprintf("customer %s has no tenant yet: a link can only point at an account in it", customer))
		return
	}
	exists, err := a.objects.UserExists(r.Context(), c, body.TargetID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if !exists {
		writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("targetId %s: no user with that object id in the customer's tenant", body.TargetID))
		return
	}
	ms, err := a.store.ListMappings(r.Context(), customer, "user")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	for _, m := range ms {
		if strings.EqualFold(m.TargetID, body.TargetID) && m.SourceID != source {
			writeError(w, http.StatusConflict, "Conflict", fmt.Sprintf("account %s is already linked to %s", body.TargetID, m.SourceID))
			return
		}
	}
	m := state.Mapping{CustomerID: customer, Kind: "user", SourceID: source, TargetID: body.TargetID, How: "manual", UserType: body.UserType}
	if err := a.store.PutMappings(r.Context(), m); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (a *API) deleteLink(w http.ResponseWriter, r *http.Request) {
	if err := a.store.DeleteMappings(r.Context(), r.PathValue("customer"), "user", r.PathValue("source")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) listExclusions(w http.ResponseWriter, r *http.Request) {
	xs, err := a.store.ListExclusions(r.Context(), r.PathValue("customer"), "user")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if xs == nil {
		xs = []state.Exclusion{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": xs})
}

func (a *API) putExclusion(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &body) {
		return
	}
	x := state.Exclusion{CustomerID: r.PathValue("customer"), Kind: "user", SourceID: r.PathValue("source"), Reason: body.Reason}
	if err := a.store.AddExclusion(r.Context(), x); err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (a *API) deleteExclusion(w http.ResponseWriter, r *http.Request) {
	if err := a.store.RemoveExclusion(r.Context(), r.PathValue("customer"), "user", r.PathValue("source")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail maps domain errors to HTTP statuses; anything unknown is a 500 whose
// detail goes to the log, not to the caller.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, state.ErrNotFound):
		writeError(w, http.StatusNotFound, "NotFound", err.Error())
	case errors.Is(err, tenant.ErrInvalid), errors.Is(err, state.ErrInvalidKey), errors.Is(err, state.ErrTooLarge):
		writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
	case errors.Is(err, state.ErrOverlap), errors.Is(err, state.ErrConflict), errors.Is(err, pipeline.ErrNotRunnable):
		writeError(w, http.StatusConflict, "Conflict", err.Error())
	case errors.Is(err, pipeline.ErrRunActive):
		writeError(w, http.StatusConflict, "RunInProgress", err.Error())
	case errors.Is(err, credentials.ErrAcknowledged):
		writeError(w, http.StatusGone, "Gone", err.Error())
	default:
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "InternalError", "the request failed; see the service log")
	}
}

// decodeBody reads a request body strictly, since whatever it drops
// silently is a setting the caller believes was saved: the media type must
// be application/json, the body exactly one JSON object (not null, nothing
// after it), and every field known to v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "UnsupportedMediaType", fmt.Sprintf("body of type %q: want application/json", r.Header.Get("Content-Type")))
		return false
	}
	bad := func(err error) bool {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "TooLarge", fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "BadRequest", "body: "+err.Error())
		return false
	}
	dec := json.NewDecoder(r.Body)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return bad(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return bad(err)
	}
	if first := strings.TrimLeftFunc(string(raw), unicode.IsSpace); !strings.HasPrefix(first, "{") {
		return bad(fmt.Errorf("want a JSON object, not %.20s", first))
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		return bad(err)
	}
	return true
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e apiError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
