package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

type fakeStarter struct {
	started []pipeline.RunRequest
	resumed []string
	fail    error // Resume's answer when set
}

func (f *fakeStarter) StartRun(ctx context.Context, req pipeline.RunRequest) (runs.Run, error) {
	f.started = append(f.started, req)
	// A run as the pipeline answers it: the contract check reads every field.
	return runs.New("r-new", req.CustomerID, req.ProfileID, runs.TriggerManual, req.Mode, "r-new", req.Entities, time.Now()), nil
}

func (f *fakeStarter) Resume(ctx context.Context, customerID, runID, entity, cursor string) (runs.Run, error) {
	f.resumed = append(f.resumed, runID+"/"+entity+"/"+cursor)
	if f.fail != nil {
		return runs.Run{}, f.fail
	}
	r := runs.New(runID, customerID, "nightly", runs.TriggerManual, runs.ModeApply, runID, []string{entity}, time.Now())
	r.Status = runs.StatusRunning
	return r, nil
}

// fakeObjects is the tenants' users by tenant id, for ObjectChecker.
type fakeObjects map[string][]string

func (f fakeObjects) UserExists(ctx context.Context, c tenant.Customer, objectID string) (bool, error) {
	for _, id := range f[c.TenantID] {
		if strings.EqualFold(id, objectID) {
			return true, nil
		}
	}
	return false, nil
}

// Tenants of the fixture's customers: oak's holds acc-1 and acc-2; elm's
// holds elm-1.
const (
	tenantOak = "0a0a0a0a-0000-4000-8000-00000000000a"
	tenantElm = "0e0e0e0e-0000-4000-8000-00000000000e"
)

type apiFixture struct {
	// api is raw behind the contract checker: every request and answer
	// is checked against docs/openapi.yaml.
	api     http.Handler
	raw     *API
	store   *state.Store
	starter *fakeStarter
	vault   *credentials.Vault
}

func newAPIFixture(t *testing.T) apiFixture {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewStore(b, nil)
	key, _ := credentials.ParseKey(credentials.NewKey())
	vault, _ := credentials.NewVault(b, key)
	ctx := context.Background()
	for _, c := range []tenant.Customer{
		{ID: "oak", TenantID: tenantOak, Domains: []string{"oak.example"}, Features: tenant.Features{Users: true}},
		{ID: "elm", TenantID: tenantElm},
	} {
		if err := store.PutCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	held := runs.New("r1", "oak", "nightly", runs.TriggerManual, runs.ModeApply, "r1", []string{"users", "groups"}, time.Now())
	held.Entities[0].Status, held.Entities[0].Held = runs.StatusHeld, "1 change awaits confirmation"
	held.Entities[1].Status = runs.StatusSucceeded
	held.Finish(time.Now())
	if _, err := store.CreateRun(ctx, held); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oak", RunID: "r1", Entity: "users",
		Changes: []plan.Change{{Kind: plan.KindUser, Key: "s1", Action: plan.Suspend, Reason: plan.SuspendBecauseLeftMIS, TargetID: "a1"}},
		Unsynced: []plan.Unsynced{{Key: "s9", Reason: plan.UnsyncedBecauseExcluded, Detail: "excluded"},
			{Key: "s8", Reason: plan.UnsyncedBecauseAmbiguous, Detail: "two accounts match"}},
		Guard: plan.Guard{Suspends: 1, Limit: 0, Held: true, Detail: "1 suspension exceeds the limit of 0"}}
	if err := store.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := store.AddExclusion(ctx, state.Exclusion{CustomerID: "oak", Kind: "user", SourceID: "s9", Reason: "excluded"}); err != nil {
		t.Fatal(err)
	}
	starter := &fakeStarter{}
	api := NewAPI(store, starter, vault, testCatalog(), nil)
	api.SetObjectChecker(fakeObjects{tenantOak: {"acc-1", "acc-2"}, tenantElm: {"elm-1"}})
	return apiFixture{api: checkContract(t, api), raw: api, store: store, starter: starter, vault: vault}
}

// do sends body as application/json (when there is one).
func (f apiFixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return f.doType(t, method, path, contentType, body)
}

func (f apiFixture) doType(t *testing.T, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	return serve(f.api, method, path, contentType, body)
}

func serve(h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	h.ServeHTTP(rec, req)
	return rec
}

func TestAPIPlanAndConfirm(t *testing.T) {
	f := newAPIFixture(t)
	rec := f.do(t, "GET", "/api/customers/oak/runs/r1/entities/users/plan", "")
	var view struct {
		Plan    plan.Plan
		Summary plan.Summary
		Entries []state.Entry
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &view); err != nil || rec.Code != 200 {
		t.Fatalf("GET plan = %d %s", rec.Code, rec.Body)
	}
	if len(view.Entries) != 1 || view.Entries[0].Reason != plan.SuspendBecauseLeftMIS || view.Summary.Actions[plan.Suspend] != 1 || !view.Plan.Guard.Held {
		t.Errorf("plan view = %+v", view)
	}
	if rec := f.do(t, "GET", "/api/customers/oak/runs/r1/entities/users/unsynced", ""); !strings.Contains(rec.Body.String(), "unsynced_because_excluded") {
		t.Errorf("unsynced = %s", rec.Body)
	}
	// A resume that cannot start withdraws the confirmation: the run
	// stays held and says why.
	f.starter.fail = errors.New("service bus unavailable")
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/entities/users/confirm", ""); rec.Code < 500 || !strings.Contains(rec.Body.String(), "stays held") {
		t.Fatalf("confirm with a failing resume = %d %s", rec.Code, rec.Body)
	}
	if _, err := f.store.GetConfirmation(context.Background(), "oak", "r1", "users"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("a failed resume left a confirmation on file: %v", err)
	}
	f.starter.fail = nil
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/entities/users/confirm", ""); rec.Code != http.StatusAccepted || len(f.starter.resumed) != 2 {
		t.Fatalf("confirm = %d %s", rec.Code, rec.Body)
	}
	if c, err := f.store.GetConfirmation(context.Background(), "oak", "r1", "users"); err != nil || c.RunID != "r1" {
		t.Fatalf("confirmation record = %+v, %v", c, err)
	}
	if p, _, _ := f.store.LoadPlan(context.Background(), "oak", "r1", "users"); !p.Guard.Held {
		t.Error("confirm rewrote the stored plan; it must stay as it was saved")
	}
	run, _ := f.store.GetRun(context.Background(), "oak", "r1")
	run.Entities[0].Status = runs.StatusSucceeded
	run.Finish(time.Now())
	if _, err := f.store.SaveRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/entities/users/confirm", ""); rec.Code != http.StatusConflict {
		t.Errorf("confirm of a run no longer held = %d, want 409", rec.Code)
	}
	if rec := f.do(t, "GET", "/api/customers/oak/runs/nope/entities/users/plan", ""); rec.Code != http.StatusNotFound {
		t.Errorf("plan of unknown run = %d, want 404", rec.Code)
	}
}

// Exporting used to delete what it returned, in separate transactions
// before the CSV was written: two concurrent exports answered 404 and lost
// most passwords. Now an export deletes nothing, concurrent exports get the
// same id and rows, and only acknowledging the id destroys them.
func TestAPICredentialsExportThenAcknowledge(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	creds := make([]credentials.Credential, 150)
	for i := range creds {
		k := fmt.Sprintf("s%03d", i)
		creds[i] = credentials.Credential{Key: k, UPN: k + "@oak.example", Password: "Secret-" + k}
	}
	if err := f.vault.PutCredentials(ctx, "oak", "r1", creds); err != nil {
		t.Fatal(err)
	}
	const exporters = 4
	recs := make([]*httptest.ResponseRecorder, exporters)
	var wg sync.WaitGroup
	for i := range exporters {
		wg.Go(func() { recs[i] = f.do(t, "GET", "/api/customers/oak/runs/r1/credentials", "") })
	}
	wg.Wait()
	id := recs[0].Header().Get("Export-Id")
	for i, rec := range recs {
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Export-Id") != id || id == "" {
			t.Fatalf("export %d = %d, headers %v; export 0 id %q", i, rec.Code, rec.Header(), id)
		}
		rows, err := csv.NewReader(strings.NewReader(rec.Body.String())).ReadAll()
		if err != nil || len(rows) != 1+len(creds) || rows[1][2] != "Secret-s000" {
			t.Fatalf("export %d: %d csv rows, %v", i, len(rows), err)
		}
	}
	if _, err := time.Parse(time.RFC3339, recs[0].Header().Get("Export-Expires")); err != nil {
		t.Errorf("Export-Expires: %v", err)
	}
	base := "/api/customers/oak/runs/r1/credentials/exports/" + id
	steps := []struct {
		method, path string
		want         int
		wantRows     int    // CSV rows after the header, when the answer is CSV
		wantBody     string // in a JSON answer
	}{
		{"GET", base, 200, len(creds), ""},
		{"POST", base + "/acknowledge", 200, -1, `"destroyed": 150`},
		{"POST", base + "/acknowledge", 200, -1, `"destroyed": 0`},
		{"GET", base, 410, -1, "acknowledged"},
		{"GET", "/api/customers/oak/runs/r1/credentials", 200, 0, ""},
		{"POST", "/api/customers/oak/runs/r1/credentials/exports/ffffffffffffffffffffffffffffffff/acknowledge", 404, -1, ""},
	}
	for _, s := range steps {
		rec := f.do(t, s.method, s.path, "")
		if rec.Code != s.want || !strings.Contains(rec.Body.String(), s.wantBody) {
			t.Errorf("%s %s = %d %s, want %d with %q", s.method, s.path, rec.Code, rec.Body, s.want, s.wantBody)
			continue
		}
		if s.wantRows >= 0 {
			rows, _ := csv.NewReader(rec.Body).ReadAll()
			if len(rows) != 1+s.wantRows {
				t.Errorf("%s %s: %d rows after the header, want %d", s.method, s.path, len(rows)-1, s.wantRows)
			}
		}
	}
}

func TestAPILinksAndExclusions(t *testing.T) {
	f := newAPIFixture(t)
	steps := []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/api/customers/oak/entities/users/links/s1", `{"objectId":"acc-1"}`, 200},
		{"PUT", "/api/customers/oak/entities/users/links/s2", `{"objectId":"ACC-1"}`, 409},
		{"PUT", "/api/customers/oak/entities/users/links/s2", `{}`, 400},
		{"PUT", "/api/customers/oak/entities/users/exclusions/s7", `{"reason":"safeguarding"}`, 200},
		{"PUT", "/api/customers/oak/entities/users/exclusions/s8", ``, 200},
		{"DELETE", "/api/customers/oak/entities/users/exclusions/s8", ``, 204},
		{"DELETE", "/api/customers/oak/entities/users/exclusions/s8", ``, 404},
		{"POST", "/api/customers/oak/profiles/nightly/runs?simulate=true", `{"entities":["users"],"only":["s1","s2"]}`, 202},
		{"POST", "/api/customers/oak/profiles/nightly/runs", `{"bogus":1}`, 400},
	}
	for _, s := range steps {
		if rec := f.do(t, s.method, s.path, s.body); rec.Code != s.want {
			t.Errorf("%s %s %s = %d, want %d: %s", s.method, s.path, s.body, rec.Code, s.want, rec.Body)
		}
	}
	rec := f.do(t, "GET", "/api/customers/oak/entities/users/exclusions", "")
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "safeguarding") || strings.Contains(string(body), `"s8"`) {
		t.Errorf("exclusions = %s", body)
	}
	if len(f.starter.started) != 1 || f.starter.started[0].Mode != runs.ModeSimulate || len(f.starter.started[0].Only) != 2 {
		t.Errorf("started = %+v", f.starter.started)
	}
	rec = f.do(t, "GET", "/api/customers/oak/entities/users/links", "")
	if !strings.Contains(rec.Body.String(), `"how": "manual"`) {
		t.Errorf("links = %s", rec.Body)
	}
}

// Bodies are read strictly, since what the API drops silently is a setting
// the caller believes was saved; the tenant binding cannot be moved by a
// PUT; a manual link must point at a user of the customer's own tenant.
func TestAPIStrictInput(t *testing.T) {
	f := newAPIFixture(t)
	if err := f.store.PutCustomer(context.Background(), tenant.Customer{ID: "birch"}); err != nil {
		t.Fatal(err)
	}
	const profile = `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["noop"]}`
	tests := []struct {
		name, method, path, contentType, body string
		want                                  int
		wantMsg                               string
	}{
		{"text/plain body", "PUT", "/api/customers/oak", "text/plain", `{"name":"Oak"}`, 415, "application/json"},
		{"form body", "PUT", "/api/customers/oak/profiles/nightly", "application/x-www-form-urlencoded", profile, 415, "application/json"},
		{"no content type", "PUT", "/api/customers/oak/entities/users/links/s5", "", `{"objectId":"acc-2"}`, 415, "application/json"},
		{"text/plain run request", "POST", "/api/customers/oak/profiles/nightly/runs", "text/plain", `{"entities":["users"]}`, 415, "application/json"},
		{"json with charset", "PUT", "/api/customers/oak/entities/users/exclusions/s6", "application/json; charset=utf-8", `{"reason":"left"}`, 200, "left"},
		{"trailing JSON", "PUT", "/api/customers/oak", "application/json", `{"tenantId":"` + tenantOak + `"}{"tenantId":"x"}`, 400, "more than one JSON value"},
		{"trailing garbage", "PUT", "/api/customers/oak/profiles/nightly", "application/json", profile + ` ]`, 400, "body"},
		{"unknown field in customer", "PUT", "/api/customers/oak", "application/json", `{"tenantId":"` + tenantOak + `","featurs":{"users":true}}`, 400, "unknown field"},
		{"unknown field in profile", "PUT", "/api/customers/oak/profiles/nightly", "application/json", `{"runAtt":"02:00","timeZone":"Europe/London","entities":["noop"]}`, 400, "unknown field"},
		{"unknown field in link", "PUT", "/api/customers/oak/entities/users/links/s5", "application/json", `{"objectId":"acc-2","userTyp":"student"}`, 400, "unknown field"},
		{"unknown field in exclusion", "PUT", "/api/customers/oak/entities/users/exclusions/s5", "application/json", `{"reasn":"x"}`, 400, "unknown field"},
		{"null customer", "PUT", "/api/customers/oak", "application/json", `null`, 400, "JSON object"},
		{"null profile", "PUT", "/api/customers/oak/profiles/nightly", "application/json", ` null `, 400, "JSON object"},
		{"null link", "PUT", "/api/customers/oak/entities/users/links/s5", "application/json", `null`, 400, "JSON object"},
		{"array for an object", "PUT", "/api/customers/oak", "application/json", `[]`, 400, "JSON object"},
		{"tenant id changed", "PUT", "/api/customers/oak", "application/json", `{"tenantId":"0b0b0b0b-0000-4000-8000-00000000000b"}`, 409, "cannot be changed"},
		{"tenant id of another customer", "PUT", "/api/customers/ash", "application/json", `{"tenantId":"` + tenantElm + `"}`, 409, "bound to customer elm"},
		{"tenant id of another customer, other case", "PUT", "/api/customers/ash", "application/json", `{"tenantId":"` + strings.ToUpper(tenantElm) + `"}`, 409, "bound to customer elm"},
		{"link to a user that does not exist", "PUT", "/api/customers/oak/entities/users/links/s5", "application/json", `{"objectId":"acc-404"}`, 400, "no user"},
		{"link to a user of another customer's tenant", "PUT", "/api/customers/oak/entities/users/links/s5", "application/json", `{"objectId":"elm-1"}`, 400, "no user"},
		{"link for an unknown customer", "PUT", "/api/customers/ash/entities/users/links/s5", "application/json", `{"objectId":"acc-2"}`, 404, ""},
		{"link for a customer with no tenant yet", "PUT", "/api/customers/birch/entities/users/links/s5", "application/json", `{"objectId":"acc-2"}`, 409, "no tenant"},
		{"link to a user of the tenant", "PUT", "/api/customers/oak/entities/users/links/s5", "application/json", `{"objectId":"acc-2"}`, 200, "manual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.doType(t, tt.method, tt.path, tt.contentType, tt.body)
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.wantMsg) {
				t.Errorf("%s %s (%s) %s = %d %s; want %d with %q", tt.method, tt.path, tt.contentType, tt.body, rec.Code, rec.Body, tt.want, tt.wantMsg)
			}
			if tt.want >= 400 {
				checkProblem(t, rec, tt.want, "")
			}
		})
	}
	// Nothing above moved or wiped oak; a PUT without tenantId keeps it.
	c, err := f.store.GetCustomer(context.Background(), "oak")
	if err != nil || c.TenantID != tenantOak || len(c.Domains) != 1 || !c.Features.Users {
		t.Fatalf("oak after the refused PUTs = %+v, %v", c, err)
	}
	if rec := f.do(t, "PUT", "/api/customers/oak", `{"name":"Oak Academy","domains":["oak.example"]}`); rec.Code != 200 {
		t.Fatalf("PUT without tenantId = %d %s", rec.Code, rec.Body)
	}
	if c, _ := f.store.GetCustomer(context.Background(), "oak"); c.TenantID != tenantOak || c.Name != "Oak Academy" {
		t.Errorf("PUT without tenantId: %+v, want the tenant kept", c)
	}
	if _, err := f.store.GetCustomer(context.Background(), "ash"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("customer ash was created with another customer's tenant: %v", err)
	}
}

func TestAPILinksNeedAnObjectChecker(t *testing.T) {
	f := newAPIFixture(t)
	api := NewAPI(f.store, f.starter, nil, testCatalog(), nil)
	if rec := serve(api, "PUT", "/api/customers/oak/entities/users/links/s5", "application/json", `{"objectId":"acc-2"}`); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("link without an object checker = %d %s, want 503", rec.Code, rec.Body)
	}
}

// A second "sync now" while the first is running answers 409 naming it.
func TestAPISecondSyncNowConflicts(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	prof := tenant.Profile{CustomerID: "oak", ID: "nightly", Name: "Nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{"noop"}}
	if err := f.store.SaveProfile(ctx, prof); err != nil {
		t.Fatal(err)
	}
	sent := 0
	p := pipeline.New(f.store, queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error { sent += len(msgs); return nil }), nil, nil, nil, pipeline.Options{})
	api := NewAPI(f.store, p, nil, testCatalog(), nil)
	first := serve(api, "POST", "/api/customers/oak/profiles/nightly/runs", "", "")
	var run runs.Run
	if err := json.Unmarshal(first.Body.Bytes(), &run); first.Code != http.StatusAccepted || err != nil {
		t.Fatalf("first sync now = %d %s", first.Code, first.Body)
	}
	second := serve(api, "POST", "/api/customers/oak/profiles/nightly/runs", "", "")
	if second.Code != http.StatusConflict || !strings.Contains(second.Body.String(), run.ID) {
		t.Errorf("second sync now = %d %s; want 409 naming run %s", second.Code, second.Body, run.ID)
	}
	if sent != 1 {
		t.Errorf("%d jobs sent, want only the first run's", sent)
	}
}

// TestOpenAPIDescribesEveryRoute keeps docs/openapi.yaml in step with the
// routes the API serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var path string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "  /api/") {
			path = strings.TrimSuffix(strings.TrimSpace(line), ":")
			continue
		}
		for _, m := range []string{"get", "put", "post", "delete"} {
			if strings.HasPrefix(line, "    "+m+":") && path != "" {
				documented[strings.ToUpper(m)+" "+path] = true
			}
		}
	}
	api := NewAPI(nil, nil, nil, testCatalog(), nil)
	for _, r := range api.Routes() {
		if !documented[r] {
			t.Errorf("route %s is not in docs/openapi.yaml", r)
		}
		delete(documented, r)
	}
	for r := range documented {
		t.Errorf("docs/openapi.yaml describes %s, which the API does not serve", r)
	}
}
