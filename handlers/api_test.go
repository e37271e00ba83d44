package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
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
}

func (f *fakeStarter) StartRun(ctx context.Context, req pipeline.RunRequest) (runs.Run, error) {
	f.started = append(f.started, req)
	return runs.Run{ID: "r-new", CustomerID: req.CustomerID, Status: runs.StatusQueued}, nil
}

func (f *fakeStarter) Resume(ctx context.Context, customerID, runID, entity, cursor string) (runs.Run, error) {
	f.resumed = append(f.resumed, runID+"/"+entity+"/"+cursor)
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
	if _, err := store.CreateRun(ctx, runs.New("r1", "oak", "nightly", runs.TriggerManual, runs.ModeApply, "r1", []string{"users"}, time.Now())); err != nil {
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
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/confirm", ""); rec.Code != http.StatusAccepted || len(f.starter.resumed) != 1 {
		t.Fatalf("confirm = %d %s", rec.Code, rec.Body)
	}
	p, _, _ := f.store.LoadPlan(context.Background(), "oak", "r1")
	if p.Guard.Held {
		t.Error("confirm left the plan held")
	}
	if rec := f.do(t, "POST", "/api/customers/oak/runs/r1/confirm", ""); rec.Code != http.StatusConflict {
		t.Errorf("second confirm = %d, want 409", rec.Code)
	}
	if rec := f.do(t, "GET", "/api/customers/oak/runs/nope/plan", ""); rec.Code != http.StatusNotFound {
		t.Errorf("plan of unknown run = %d, want 404", rec.Code)
	}
}

func TestAPICredentialsHandedOverOnce(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	_ = f.vault.PutCredential(ctx, "oak", "r1", "s1", "amy.pond@oak.example", "Secret-123-Pw")
	_ = f.vault.PutCredential(ctx, "oak", "r1", "s2", "rory@oak.example", "Other-456-Pw")
	rec := f.do(t, "GET", "/api/customers/oak/runs/r1/credentials", "")
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("export = %d, headers %v", rec.Code, rec.Header())
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil || len(rows) != 3 || rows[1][2] != "Secret-123-Pw" {
		t.Fatalf("csv = %v, %v", rows, err)
	}
	rec = f.do(t, "GET", "/api/customers/oak/runs/r1/credentials", "")
	rows, _ = csv.NewReader(rec.Body).ReadAll()
	if len(rows) != 1 {
		t.Errorf("second export returned %d rows, want only the header", len(rows))
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
