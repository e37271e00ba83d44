package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/rostersync/rostersync/internal/pipeline"
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
}

var _ APIStore = (*state.Store)(nil)

// RunStarter starts manual runs; *pipeline.Pipeline has it.
type RunStarter interface {
	StartRun(ctx context.Context, customerID, profileID, mode string) (runs.Run, error)
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
	log     *slog.Logger
	mux     *http.ServeMux
}

// NewAPI builds the API.
func NewAPI(store APIStore, starter RunStarter, log *slog.Logger) *API {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &API{store: store, starter: starter, log: log, mux: http.NewServeMux()}
	a.mux.HandleFunc("GET /api/health", a.health)
	a.mux.HandleFunc("GET /api/customers/{customer}", a.getCustomer)
	a.mux.HandleFunc("PUT /api/customers/{customer}", a.putCustomer)
	a.mux.HandleFunc("GET /api/customers/{customer}/profiles", a.listProfiles)
	a.mux.HandleFunc("GET /api/customers/{customer}/profiles/{profile}", a.getProfile)
	a.mux.HandleFunc("PUT /api/customers/{customer}/profiles/{profile}", a.putProfile)
	a.mux.HandleFunc("POST /api/customers/{customer}/profiles/{profile}/runs", a.startRun)
	a.mux.HandleFunc("GET /api/customers/{customer}/runs", a.listRuns)
	a.mux.HandleFunc("GET /api/customers/{customer}/runs/{run}", a.getRun)
	a.mux.HandleFunc("GET /api/customers/{customer}/runs/{run}/log", a.runLog)
	return a
}

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

func (a *API) startRun(w http.ResponseWriter, r *http.Request) {
	mode := runs.ModeApply
	if s := r.URL.Query().Get("simulate"); s != "" {
		sim, err := strconv.ParseBool(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "BadRequest", fmt.Sprintf("simulate=%q: want true or false", s))
			return
		}
		if sim {
			mode = runs.ModeSimulate
		}
	}
	run, err := a.starter.StartRun(r.Context(), r.PathValue("customer"), r.PathValue("profile"), mode)
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
	default:
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeError(w, http.StatusInternalServerError, "InternalError", "the request failed; see the service log")
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "TooLarge", fmt.Sprintf("body over %d bytes", tooBig.Limit))
			return false
		}
		writeError(w, http.StatusBadRequest, "BadRequest", "body: "+err.Error())
		return false
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
