package lifecycle

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

type forgot []string

func (f *forgot) Forget(tenantID string) { *f = append(*f, tenantID) }

// TestRemoveThenPurge: removal disconnects, cancels the unfinished run,
// destroys the sealed passwords and forgets the tenant's tokens at once;
// links and runs stay through the retention and go after it, with every
// customer's plans past it; the purge runs once.
func TestRemoveThenPurge(t *testing.T) {
	ctx := t.Context()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	clk := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	st := state.NewStore(b, clk.now)
	key, _ := credentials.ParseKey(credentials.NewKey())
	vault, err := credentials.NewVault(b, key)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []tenant.Customer{{ID: "oak", TenantID: "11111111-1111-1111-1111-111111111111", Status: tenant.StatusConnected}, {ID: "elm"}} {
		if err := st.PutCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
		if err := st.PutMappings(ctx, state.Mapping{CustomerID: c.ID, Kind: "user", SourceID: "s1", TargetID: "t1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.AppendAudit(ctx, state.AuditRecord{CustomerID: c.ID, Actor: "admin", Action: "link.put", SourcedID: "s1"}); err != nil {
			t.Fatal(err)
		}
	}
	audit := func(customer string) []string {
		t.Helper()
		recs, _, err := st.AuditPage(ctx, customer, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, r := range recs {
			actions = append(actions, r.Action)
		}
		return actions
	}
	done := runs.New(runs.ManualID(clk.t.Add(-time.Hour)), "oak", "p1", runs.TriggerManual, runs.ModeApply, "w", []string{"users"}, clk.t)
	done.Entities[0].Status = runs.StatusSucceeded
	done.Finish(clk.t)
	queued := runs.New(runs.ManualID(clk.t), "oak", "p1", runs.TriggerManual, runs.ModeApply, "w", []string{"users", "groups"}, clk.t)
	underway := runs.New(runs.ManualID(clk.t), "oak", "p2", runs.TriggerManual, runs.ModeApply, "w", []string{"users"}, clk.t)
	underway.Entities[0].Status, underway.Status = runs.StatusRunning, runs.StatusRunning
	for _, r := range []runs.Run{done, queued, underway} {
		if _, err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	elmRun := runs.ManualID(clk.t)
	if err := st.SavePlan(ctx, &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "elm", RunID: elmRun, Entity: "users"}); err != nil {
		t.Fatal(err)
	}
	if err := vault.PutCredential(ctx, "oak", done.ID, "s1", "a@oak.example", "pw"); err != nil {
		t.Fatal(err)
	}
	var tokens forgot
	svc := New(st, vault, &tokens, 90*24*time.Hour, clk.now, nil)

	rem, err := svc.Remove(ctx, "oak", "app-id-1")
	if err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if len(rem.CancelledRuns) != 1 || rem.CancelledRuns[0] != queued.ID || rem.CredentialsDestroyed != 1 ||
		len(rem.StoppingRuns) != 1 || rem.StoppingRuns[0] != underway.ID {
		t.Errorf("Remove = %+v; want run %s cancelled, %s stopping (the runner ends it) and 1 credential destroyed", rem, queued.ID, underway.ID)
	}
	if got, _ := st.GetRun(ctx, "oak", underway.ID); got.Status != runs.StatusRunning {
		t.Errorf("run with a step under way = %s; the runner, not Remove, ends it once the step stops", got.Status)
	}
	if !strings.HasPrefix(rem.RemoveApp.URL, "https://entra.microsoft.com/") || !strings.Contains(rem.RemoveApp.Instructions, "app-id-1") {
		t.Errorf("RemoveApp = %+v; want the Entra admin center and the app id", rem.RemoveApp)
	}
	if len(tokens) != 1 || tokens[0] != "11111111-1111-1111-1111-111111111111" {
		t.Errorf("tokens forgotten for %v, want oak's tenant", tokens)
	}
	c, _ := st.GetCustomer(ctx, "oak")
	if !c.Disconnected || c.Status != tenant.StatusDisconnected || !c.DisconnectedAt.Equal(clk.t) {
		t.Errorf("customer after Remove = %+v", c)
	}
	got, _ := st.GetRun(ctx, "oak", queued.ID)
	if got.Status != runs.StatusCancelled || got.Entities[0].Status != runs.StatusCancelled || got.Entities[1].Status != runs.StatusCancelled {
		t.Errorf("queued run after Remove = %s %+v, want cancelled throughout", got.Status, got.Entities)
	}
	if got, _ := st.GetRun(ctx, "oak", done.ID); got.Status != runs.StatusSucceeded {
		t.Errorf("finished run after Remove = %s, want it untouched", got.Status)
	}
	if n, _ := vault.Count(ctx, "oak", done.ID); n != 0 {
		t.Errorf("%d sealed credentials left", n)
	}

	// Within the retention: nothing of oak goes; elm's plan is young.
	clk.t = clk.t.Add(89 * 24 * time.Hour)
	rep, err := svc.Purge(ctx, clk.t)
	if err != nil || len(rep.Customers) != 0 || rep.Plans != 0 {
		t.Fatalf("Purge within retention = %+v, %v; want nothing", rep, err)
	}
	if ms, _ := st.ListMappings(ctx, "oak", "user"); len(ms) != 1 {
		t.Errorf("oak's links within the retention = %d, want kept", len(ms))
	}
	if a := audit("oak"); len(a) != 1 {
		t.Errorf("oak's audit trail within the retention = %q, want kept", a)
	}
	// After it: oak's links and runs go, elm's plan goes, elm's links stay.
	clk.t = clk.t.Add(2 * 24 * time.Hour)
	rep, err = svc.Purge(ctx, clk.t)
	if err != nil || len(rep.Customers) != 1 || rep.Plans != 1 {
		t.Fatalf("Purge after retention = %+v, %v; want oak and elm's plan", rep, err)
	}
	if ms, _ := st.ListMappings(ctx, "oak", "user"); len(ms) != 0 {
		t.Errorf("oak's links after the retention = %d, want none", len(ms))
	}
	if rs, _ := st.ListRuns(ctx, "oak", "", 0); len(rs) != 0 {
		t.Errorf("oak's runs after the retention = %d, want none", len(rs))
	}
	if ms, _ := st.ListMappings(ctx, "elm", "user"); len(ms) != 1 {
		t.Errorf("elm's links = %d, want kept: elm is connected", len(ms))
	}
	if a := audit("oak"); len(a) != 0 {
		t.Errorf("oak's audit trail after the retention = %q, want purged with its data", a)
	}
	if a := audit("elm"); len(a) != 1 {
		t.Errorf("elm's audit trail = %q, want kept: elm is connected and its record is young", a)
	}
	if _, _, err := st.LoadPlan(ctx, "elm", elmRun, "users"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("elm's old plan: %v, want purged", err)
	}
	if c, _ := st.GetCustomer(ctx, "oak"); !c.PurgedAt.Equal(clk.t) {
		t.Errorf("oak PurgedAt = %v, want %v", c.PurgedAt, clk.t)
	}
	if rep, err := svc.Purge(ctx, clk.t.Add(time.Hour)); err != nil || len(rep.Customers) != 0 {
		t.Errorf("second Purge = %+v, %v; want nothing more", rep, err)
	}

	// A connected customer's trail is kept for AuditRetention: a year
	// after elm's first record, it goes and a later one stays.
	if _, err := st.AppendAudit(ctx, state.AuditRecord{CustomerID: "elm", Actor: "admin", Action: "exclusion.put", SourcedID: "s2"}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(AuditRetention + time.Hour)
	rep, err = svc.Purge(ctx, at)
	if err != nil || rep.AuditRecords != 1 {
		t.Errorf("Purge a year on = %+v, %v; want elm's first audit record purged", rep, err)
	}
	if a := audit("elm"); len(a) != 1 || a[0] != "exclusion.put" {
		t.Errorf("elm's audit trail a year on = %q, want the later record alone", a)
	}
}
