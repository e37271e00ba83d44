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
	ListRunsPage(ctx context.Context, customerID, profileID string, top int, after string) ([]runs.Run, string, error)
	RunLogPage(ctx context.Context, customerID, runID string, top int, after string) ([]runs.LogEntry, string, error)
	GetMapping(ctx context.Context, customerID, kind, sourceID string) (state.Mapping, error)
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

// maxAPIBody bounds request bodies of the API.
const maxAPIBody = 1 << 20

// API serves the vendor UI's buttons under /api/. Authentication is the
// Functions host's: the Api function has authLevel "function", so the host
// (or the local host, see internal/devhost) checks the function key before
// the request is forwarded here.
type API struct {
	store    APIStore
	starter  RunStarter
	creds    CredentialExporter
	entities EntityCatalog
	objects  ObjectLookup
	sources  egress.Policy
	// onboarding is admin consent and tenant checks (consent.go).
	onboarding Onboarding
	// remover and appID serve Remove configuration (lifecycle.go).
	remover Remover
	// drift compares the tenant with what rostersync keeps (drift.go).
	drift  DriftReporter
	appID  string
	log    *slog.Logger
	mux    *http.ServeMux
	routes []string
}

func (a *API) handle(pattern string, h http.HandlerFunc) {
	a.routes = append(a.routes, pattern)
	a.mux.HandleFunc(pattern, h)
}

// Routes lists the API's "METHOD /path" patterns; docs/openapi.yaml must
// describe each one (a test checks).
func (a *API) Routes() []string { return slices.Clone(a.routes) }

// NewAPI builds the API; creds may be nil when no credential store is
// configured (the export then answers 503). entities says which entity
// kinds the per-entity routes serve; nil serves none (DefaultCatalog is
// today's).
func NewAPI(store APIStore, starter RunStarter, creds CredentialExporter, entities EntityCatalog, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if entities == nil {
		entities = StaticCatalog()
	}
	a := &API{store: store, starter: starter, creds: creds, entities: entities, log: log, mux: http.NewServeMux()}
	// Routes that change something, or hand out passwords, are
	// registered with handleAudited and record who asked (audit.go).
	a.handle("GET /api/health", a.health)
	a.handle("GET /api/customers/{customer}", a.getCustomer)
	a.handleAudited("PUT /api/customers/{customer}", a.putCustomer)
	a.handle("POST /api/customers/{customer}/consent", a.startConsent)
	a.handle("POST /api/customers/{customer}/tenant/check", a.checkTenant)
	a.handleAudited("DELETE /api/customers/{customer}/configuration", a.removeConfiguration)
	a.handle("GET "+ConsentCallbackPath, a.consentCallback)
	a.handle("GET /api/customers/{customer}/profiles", a.listProfiles)
	a.handle("GET /api/customers/{customer}/profiles/{profile}", a.getProfile)
	a.handleAudited("PUT /api/customers/{customer}/profiles/{profile}", a.putProfile)
	a.handleAudited("POST /api/customers/{customer}/profiles/{profile}/copy", a.copyProfile)
	a.handleAudited("POST /api/customers/{customer}/profiles/{profile}/runs", a.startRun)
	a.handle("GET /api/customers/{customer}/runs", a.listRuns)
	a.handle("GET /api/customers/{customer}/runs/{run}", a.getRun)
	a.handle("GET /api/customers/{customer}/runs/{run}/log", a.runLog)
	a.handle("GET /api/customers/{customer}/runs/{run}/report", a.runReport)
	a.handleAudited("GET /api/customers/{customer}/runs/{run}/credentials", a.exportCredentials)
	a.handleAudited("GET /api/customers/{customer}/runs/{run}/credentials/exports/{export}", a.refetchExport)
	a.handleAudited("POST /api/customers/{customer}/runs/{run}/credentials/exports/{export}/acknowledge", a.acknowledgeExport)
	// Per entity: what the catalog declares decides which exist.
	a.handle("GET /api/customers/{customer}/runs/{run}/entities/{entity}/plan", a.entityPlan)
	a.handle("GET /api/customers/{customer}/runs/{run}/entities/{entity}/unsynced", a.entityUnsynced)
	a.handleAudited("POST /api/customers/{customer}/runs/{run}/entities/{entity}/confirm", a.confirmEntity)
	a.handle("GET /api/customers/{customer}/entities/{entity}/links", a.listLinks)
	a.handleAudited("PUT /api/customers/{customer}/entities/{entity}/links/{sourcedId}", a.putLink)
	a.handleAudited("DELETE /api/customers/{customer}/entities/{entity}/links/{sourcedId}", a.deleteLink)
	a.handleAudited("POST /api/customers/{customer}/entities/{entity}/matches", a.matchEntity)
	a.handle("GET /api/customers/{customer}/entities/{entity}/exclusions", a.listExclusions)
	a.handleAudited("PUT /api/customers/{customer}/entities/{entity}/exclusions/{sourcedId}", a.putExclusion)
	a.handleAudited("DELETE /api/customers/{customer}/entities/{entity}/exclusions/{sourcedId}", a.deleteExclusion)
	a.handleAudited("POST /api/customers/{customer}/entities/{entity}/objects/{sourcedId}/{action}", a.objectAction)
	a.handle("GET /api/customers/{customer}/people/{sourcedId}", a.personStatus)
	a.handle("GET /api/customers/{customer}/drift", a.customerDrift)
	a.handle("GET /api/customers/{customer}/audit", a.listAudit)
	return a
}

// SetSourcePolicy sets where profile sources may send credentials (see
// internal/egress); without it the API applies production's policy. Call
// it before serving.
func (a *API) SetSourcePolicy(p egress.Policy) { a.sources = p }

// SetObjectLookup sets how manual links are checked against the
// customer's tenant; without one, PUT .../links/{sourcedId} answers 503.
// Call it before serving.
func (a *API) SetObjectLookup(l ObjectLookup) { a.objects = l }

// SetObjectChecker is SetObjectLookup(UserObjects(c)): links of users are
// checked through c, links of other kinds answer 501.
func (a *API) SetObjectChecker(c ObjectChecker) {
	if c == nil {
		a.objects = nil
		return
	}
	a.objects = UserObjects(c)
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
	if h, pattern := a.mux.Handler(r); pattern == "" {
		// No route: the mux would answer in text/plain; every error of
		// the API is a problem document.
		unrouted(w, r, h)
		return
	}
	a.mux.ServeHTTP(w, r)
}

// unrouted answers a request no route matched: the mux's own answer (404,
// 405 with Allow, or a redirect to the clean path) becomes a problem
// document, and anything else passes through.
func unrouted(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &headRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		writeProblem(w, r, ProblemNotFound, fmt.Sprintf("no route %s %s", r.Method, r.URL.EscapedPath()))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeProblem(w, r, ProblemMethodNotAllowed, fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, rec.header.Get("Allow")))
	default:
		for k, vs := range rec.header {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
	}
}

// headRecorder records what the mux's fallback handler answers.
type headRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (h *headRecorder) Header() http.Header { return h.header }

func (h *headRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *headRecorder) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.body.Write(b)
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
		writeProblem(w, r, ProblemValidation, fmt.Sprintf("body id %q does not match the path's customer %q", c.ID, r.PathValue("customer")))
		return
	}
	// The tenant binding decides whose accounts a sync writes: once set it
	// is not changed or removed by a PUT (onboarding records it at admin
	// consent). An empty tenantId keeps the bound one.
	old, err := a.store.GetCustomer(r.Context(), c.ID)
	// Status and tenant details are the service's (admin consent and
	// tenant checks write them), whatever the body says.
	c.Status, c.Tenant = old.Status, old.Tenant
	// So is whether the configuration was removed (lifecycle.go): only a
	// new admin consent reconnects.
	c.Disconnected, c.DisconnectedAt, c.PurgedAt = old.Disconnected, old.DisconnectedAt, old.PurgedAt
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		a.fail(w, r, err)
		return
	case old.TenantID != "" && c.TenantID == "":
		c.TenantID, c.ConsentedAt = old.TenantID, old.ConsentedAt
	case old.TenantID != "" && !strings.EqualFold(old.TenantID, c.TenantID):
		writeProblem(w, r, ProblemConflict, fmt.Sprintf("customer %s is bound to tenant %s; the tenant id cannot be changed by PUT", c.ID, old.TenantID))
		return
	}
	if err := a.store.PutCustomer(r.Context(), c); err != nil {
		a.fail(w, r, err)
		return
	}
	_ = a.audit(r, c.ID, AuditCustomerPut, AuditDetails{})
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
		writeProblem(w, r, ProblemValidation, "body customerId/id do not match the path")
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
	_ = a.audit(r, customer, AuditProfilePut, AuditDetails{ProfileID: id})
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
			writeProblem(w, r, ProblemValidation, fmt.Sprintf("simulate=%q: want true or false", s))
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
	_ = a.audit(r, req.CustomerID, AuditRunStart, AuditDetails{ProfileID: req.ProfileID, RunID: run.ID})
	w.Header().Set("Location", fmt.Sprintf("/api/customers/%s/runs/%s", run.CustomerID, run.ID))
	writeJSON(w, http.StatusAccepted, run)
}

// listRuns pages a customer's runs in the order they were created, so a
// list reads one page of the history, not all of it.
func (a *API) listRuns(w http.ResponseWriter, r *http.Request) {
	p, ok := readPage(w, r)
	if !ok {
		return
	}
	rs, next, err := a.store.ListRunsPage(r.Context(), r.PathValue("customer"), r.URL.Query().Get("profile"), p.top, p.after)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(r, rs, next))
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
	p, ok := readPage(w, r)
	if !ok {
		return
	}
	entries, next, err := a.store.RunLogPage(r.Context(), customer, id, p.top, p.after)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newPage(r, entries, next))
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
		writeProblem(w, r, ProblemUnavailable, "no credential store is configured")
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
	// Passwords leave only once it is recorded who took them; the export
	// deleted nothing, so asking again later loses nothing.
	if err := a.audit(r, customer, AuditCredentialsExport, AuditDetails{RunID: id, ExportID: ex.ID, Count: len(ex.Credentials)}); err != nil {
		writeProblem(w, r, ProblemUnavailable, "the export could not be recorded in the audit trail; try again later")
		return
	}
	a.log.InfoContext(r.Context(), "credentials exported", "customer", customer, "run", id, "export", ex.ID, "count", len(ex.Credentials))
	writeCredentialsCSV(w, id, ex)
}

// refetchExport returns an unacknowledged export again, e.g. after the
// first download was lost.
func (a *API) refetchExport(w http.ResponseWriter, r *http.Request) {
	if a.creds == nil {
		writeProblem(w, r, ProblemUnavailable, "no credential store is configured")
		return
	}
	customer, id := r.PathValue("customer"), r.PathValue("run")
	ex, err := a.creds.ExportByID(r.Context(), customer, id, r.PathValue("export"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.audit(r, customer, AuditCredentialsRefetch, AuditDetails{RunID: id, ExportID: ex.ID, Count: len(ex.Credentials)}); err != nil {
		writeProblem(w, r, ProblemUnavailable, "the export could not be recorded in the audit trail; try again later")
		return
	}
	a.log.InfoContext(r.Context(), "credentials export fetched again", "customer", customer, "run", id, "export", ex.ID, "count", len(ex.Credentials))
	writeCredentialsCSV(w, id, ex)
}

// acknowledgeExport destroys the credentials an export handed over. It is
// idempotent; after a failure part way, calling it again finishes.
func (a *API) acknowledgeExport(w http.ResponseWriter, r *http.Request) {
	if a.creds == nil {
		writeProblem(w, r, ProblemUnavailable, "no credential store is configured")
		return
	}
	customer, id, export := r.PathValue("customer"), r.PathValue("run"), r.PathValue("export")
	n, err := a.creds.Acknowledge(r.Context(), customer, id, export)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "credentials export acknowledged", "customer", customer, "run", id, "export", export, "destroyed", n)
	_ = a.audit(r, customer, AuditCredentialsAcknowledge, AuditDetails{RunID: id, ExportID: export, Count: n})
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

// customerWithTenant reads the customer for a request that needs its
// tenant, answering the request itself (and reporting false) when the
// customer is missing or has no tenant yet; why says what the tenant was
// needed for.
func (a *API) customerWithTenant(w http.ResponseWriter, r *http.Request, customer, why string) (tenant.Customer, bool) {
	c, err := a.store.GetCustomer(r.Context(), customer)
	if err != nil {
		a.fail(w, r, err)
		return c, false
	}
	if c.TenantID == "" {
		writeProblem(w, r, ProblemConflict, fmt.Sprintf("customer %s has no tenant yet: %s", customer, why))
		return c, false
	}
	return c, true
}

// fail maps domain errors to HTTP statuses; anything unknown is a 500 whose
// detail goes to the log, not to the caller.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, state.ErrNotFound):
		writeProblem(w, r, ProblemNotFound, err.Error())
	case errors.Is(err, tenant.ErrInvalid), errors.Is(err, state.ErrInvalidKey), errors.Is(err, state.ErrTooLarge):
		writeProblem(w, r, ProblemValidation, err.Error())
	case errors.Is(err, state.ErrOverlap), errors.Is(err, state.ErrConflict), errors.Is(err, pipeline.ErrNotRunnable):
		writeProblem(w, r, ProblemConflict, err.Error())
	case errors.Is(err, pipeline.ErrRunActive):
		writeProblem(w, r, ProblemRunInProgress, err.Error())
	case errors.Is(err, credentials.ErrAcknowledged):
		writeProblem(w, r, ProblemGone, err.Error())
	case errors.Is(err, ErrUnsupportedKind):
		writeProblem(w, r, ProblemUnsupported, err.Error())
	case errors.Is(err, ErrDependencyUnavailable):
		// The cause (an address, a token error) stays in the log.
		a.log.WarnContext(r.Context(), "api request met an unavailable dependency", "method", r.Method, "path", r.URL.Path, "error", err)
		what := "a dependency"
		var dep *DependencyError
		if errors.As(err, &dep) {
			what = dep.Dependency
		}
		writeProblem(w, r, ProblemUnavailable, what+" is unavailable; try again later")
	default:
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, r, ProblemInternal, "the request failed; see the service log")
	}
}

// decodeBody reads a request body strictly, since whatever it drops
// silently is a setting the caller believes was saved: the media type must
// be application/json, the body exactly one JSON object (not null, nothing
// after it), and every field known to v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeProblem(w, r, ProblemUnsupportedMediaType, fmt.Sprintf("body of type %q: want application/json", r.Header.Get("Content-Type")))
		return false
	}
	bad := func(err error) bool {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeProblem(w, r, ProblemPayloadTooLarge, fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return false
		}
		writeProblem(w, r, ProblemValidation, "body: "+err.Error())
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

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
