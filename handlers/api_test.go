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
	return runs.Run{ID: "r-new", CustomerID: req.CustomerID, Status: runs.StatusQueued}, nil
}

func (f *fakeStarter) Resume(ctx context.Context, customerID, runID, entity, cursor string) (runs.Run, error) {
	f.resumed = append(f.resumed, runID+"/"+entity+"/"+cursor)
	if f.fail != nil {
		return runs.Run{}, f.fail
	}
	return runs.Run{ID: runID, CustomerID: customerID, Status: runs.StatusRunning}, nil
}

type apiFixture struct {
	api     http.Handler
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
	if err := store.PutCustomer(ctx, tenant.Customer{ID: "oak"}); err != nil {
		t.Fatal(err)
	}
	held := runs.New("r1", "oak", "nightly", runs.TriggerManual, runs.ModeApply, "r1", []string{"users"}, time.Now())
	held.Entities[0].Status, held.Entities[0].Held = runs.StatusHeld, "1 change awaits confirmation"
	held.Finish(time.Now())
	if _, err := store.CreateRun(ctx, held); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oak", RunID: "r1",
		Changes:  []plan.Change{{Kind: plan.KindUser, Key: "s1", Action: plan.Suspend, Reason: plan.SuspendBecauseLeftMIS, TargetID: "a1"}},
		Unsynced: []plan.Unsynced{{Key: "s9", Reason: plan.UnsyncedBecauseExcluded, Detail: "excluded"}},
		Guard:    plan.Guard{Suspends: 1, Limit: 0, Held: true, Detail: "1 suspension exceeds the limit of 0"}}
	if err := store.SavePlan(ctx, "oak", p); err != nil {
		t.Fatal(err)
	}
	starter := &fakeStarter{}
	return apiFixture{api: NewAPI(store, starter, vault, nil), store: store, starter: starter, vault: vault}
}

func (f apiFixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	f.api.ServeHTTP(rec, req)
	return rec
}

func TestAPIPlanAndConfirm(t *testing.T) {
	f := newAPIFixture(t)
	rec := f.do(t, "GET", "/api/customers/oak/runs/r1/plan", "")
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
	if rec := f.do(t, "GET", "/api/customers/oak/runs/r1/unsynced", ""); !strings.Contains(rec.Body.String(), "unsynced_because_excluded") {
		t.Errorf("unsynced = %s", rec.Body)
	}
	// A resume that cannot start withdraws the confirmation: the run
	// stays held and says why.
	f.starter.fail = errors.New("service bus unavailable")
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/confirm", ""); rec.Code < 500 || !strings.Contains(rec.Body.String(), "stays held") {
		t.Fatalf("confirm with a failing resume = %d %s", rec.Code, rec.Body)
	}
	if _, err := f.store.GetConfirmation(context.Background(), "oak", "r1", "users"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("a failed resume left a confirmation on file: %v", err)
	}
	f.starter.fail = nil
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/confirm", ""); rec.Code != http.StatusAccepted || len(f.starter.resumed) != 2 {
		t.Fatalf("confirm = %d %s", rec.Code, rec.Body)
	}
	if c, err := f.store.GetConfirmation(context.Background(), "oak", "r1", "users"); err != nil || c.RunID != "r1" {
		t.Fatalf("confirmation record = %+v, %v", c, err)
	}
	if p, _, _ := f.store.LoadPlan(context.Background(), "oak", "r1"); !p.Guard.Held {
		t.Error("confirm rewrote the stored plan; it must stay as it was saved")
	}
	run, _ := f.store.GetRun(context.Background(), "oak", "r1")
	run.Entities[0].Status = runs.StatusSucceeded
	run.Finish(time.Now())
	if _, err := f.store.SaveRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/confirm", ""); rec.Code != http.StatusConflict {
		t.Errorf("confirm of a run no longer held = %d, want 409", rec.Code)
	}
	if rec := f.do(t, "GET", "/api/customers/oak/runs/nope/plan", ""); rec.Code != http.StatusNotFound {
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
		{"PUT", "/api/customers/oak/links/s1", `{"targetId":"acc-1"}`, 200},
		{"PUT", "/api/customers/oak/links/s2", `{"targetId":"ACC-1"}`, 409},
		{"PUT", "/api/customers/oak/links/s2", `{}`, 400},
		{"PUT", "/api/customers/oak/exclusions/s7", `{"reason":"safeguarding"}`, 200},
		{"PUT", "/api/customers/oak/exclusions/s8", ``, 200},
		{"DELETE", "/api/customers/oak/exclusions/s8", ``, 204},
		{"DELETE", "/api/customers/oak/exclusions/s8", ``, 404},
		{"POST", "/api/customers/oak/profiles/nightly/runs?simulate=true", `{"entities":["users"],"only":["s1","s2"]}`, 202},
		{"POST", "/api/customers/oak/profiles/nightly/runs", `{"bogus":1}`, 400},
	}
	for _, s := range steps {
		if rec := f.do(t, s.method, s.path, s.body); rec.Code != s.want {
			t.Errorf("%s %s %s = %d, want %d: %s", s.method, s.path, s.body, rec.Code, s.want, rec.Body)
		}
	}
	rec := f.do(t, "GET", "/api/customers/oak/exclusions", "")
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "safeguarding") || strings.Contains(string(body), `"s8"`) {
		t.Errorf("exclusions = %s", body)
	}
	if len(f.starter.started) != 1 || f.starter.started[0].Mode != runs.ModeSimulate || len(f.starter.started[0].Only) != 2 {
		t.Errorf("started = %+v", f.starter.started)
	}
	rec = f.do(t, "GET", "/api/customers/oak/links", "")
	if !strings.Contains(rec.Body.String(), `"how": "manual"`) {
		t.Errorf("links = %s", rec.Body)
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
	api := NewAPI(nil, nil, nil, nil)
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
