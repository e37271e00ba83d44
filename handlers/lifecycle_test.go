package handlers

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/lifecycle"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// lifecycleFixture is an API over an embedded store holding customer oak.
type lifecycleFixture struct {
	api   *API
	store *state.Store
	vault *credentials.Vault
}

func newLifecycleFixture(t *testing.T) lifecycleFixture {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewStore(b, nil)
	key, _ := credentials.ParseKey(credentials.NewKey())
	vault, _ := credentials.NewVault(b, key)
	if err := store.PutCustomer(t.Context(), tenant.Customer{ID: "oak", TenantID: tenantOak, Features: tenant.Features{Users: true}}); err != nil {
		t.Fatal(err)
	}
	return lifecycleFixture{api: NewAPI(store, &fakeStarter{}, vault, testCatalog(), nil), store: store, vault: vault}
}

func (f lifecycleFixture) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/json"
	}
	return serve(f.api, method, path, contentType, body)
}

// TestAPIRemoveConfiguration: DELETE .../configuration disconnects the
// customer, cancels its queued run and answers with the Entra admin
// center's link; without a remover it is 503, an unknown customer 404.
func TestAPIRemoveConfiguration(t *testing.T) {
	f := newLifecycleFixture(t)
	if rec := f.do(t, "DELETE", "/api/customers/oak/configuration", ""); rec.Code != 503 {
		t.Errorf("without a remover: %d, want 503", rec.Code)
	}
	queued := runs.New("r2", "oak", "nightly", runs.TriggerManual, runs.ModeApply, "r2", []string{"users"}, time.Now())
	if _, err := f.store.CreateRun(t.Context(), queued); err != nil {
		t.Fatal(err)
	}
	f.api.SetRemover(lifecycle.New(f.store, f.vault, nil, 0, nil, nil), "app-123")
	rec := f.do(t, "DELETE", "/api/customers/oak/configuration", "")
	var rem lifecycle.Removal
	if err := json.Unmarshal(rec.Body.Bytes(), &rem); err != nil || rec.Code != 200 {
		t.Fatalf("DELETE configuration = %d %s", rec.Code, rec.Body)
	}
	if rem.Status != "disconnected" || len(rem.CancelledRuns) != 1 || rem.CancelledRuns[0] != "r2" ||
		!strings.Contains(rem.RemoveApp.URL, "entra.microsoft.com") || rem.RemoveApp.AppID != "app-123" {
		t.Errorf("removal = %+v", rem)
	}
	c, _ := f.store.GetCustomer(t.Context(), "oak")
	if !c.Disconnected || c.Status != tenant.StatusDisconnected {
		t.Errorf("customer = %+v, want disconnected", c)
	}
	if r, _ := f.store.GetRun(t.Context(), "oak", "r2"); r.Status != runs.StatusCancelled {
		t.Errorf("queued run = %s, want cancelled", r.Status)
	}
	// A PUT of the customer keeps it disconnected.
	if rec := f.do(t, "PUT", "/api/customers/oak", `{"name":"Oak"}`); rec.Code != 200 {
		t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
	}
	if c, _ := f.store.GetCustomer(t.Context(), "oak"); !c.Disconnected {
		t.Error("a PUT reconnected the customer; only a new admin consent may")
	}
	if rec := f.do(t, "DELETE", "/api/customers/nobody/configuration", ""); rec.Code != 404 {
		t.Errorf("unknown customer: %d, want 404", rec.Code)
	}
}

// TestAPICopyProfile: the copy has the new id and name, the original's
// settings, and is disabled; a taken id is 409, a bad one 400.
func TestAPICopyProfile(t *testing.T) {
	f := newLifecycleFixture(t)
	put := `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["users"],"startDate":"2026-09-01","source":{"kind":"csv","path":"feed"}}`
	if rec := f.do(t, "PUT", "/api/customers/oak/profiles/nightly", put); rec.Code != 200 {
		t.Fatalf("PUT profile = %d %s", rec.Code, rec.Body)
	}
	rec := f.do(t, "POST", "/api/customers/oak/profiles/nightly/copy", `{"id":"nightly-2027","name":"Next year"}`)
	var got tenant.Profile
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != 201 {
		t.Fatalf("copy = %d %s", rec.Code, rec.Body)
	}
	if got.ID != "nightly-2027" || got.Name != "Next year" || got.Enabled || got.RunAt != "02:00" || got.StartDate != "2026-09-01" || got.Source.Path != "feed" {
		t.Errorf("copy = %+v", got)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/customers/oak/profiles/nightly-2027" {
		t.Errorf("Location = %q", loc)
	}
	if rec := f.do(t, "POST", "/api/customers/oak/profiles/nightly/copy", `{"id":"nightly-2027"}`); rec.Code != 409 {
		t.Errorf("copy onto a taken id = %d, want 409", rec.Code)
	}
	if rec := f.do(t, "POST", "/api/customers/oak/profiles/nightly/copy", `{"id":"bad id"}`); rec.Code != 400 {
		t.Errorf("copy with a bad id = %d, want 400", rec.Code)
	}
	if rec := f.do(t, "POST", "/api/customers/oak/profiles/nope/copy", `{"id":"x"}`); rec.Code != 404 {
		t.Errorf("copy of an unknown profile = %d, want 404", rec.Code)
	}
}
