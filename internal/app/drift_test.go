package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// writeCounter counts the writes that reach a store backend: table
// inserts, updates, upserts, deletes and transactions, and blob puts and
// deletes.
type writeCounter struct {
	*embedded.Backend
	n atomic.Int64
}

func (w *writeCounter) Table(ctx context.Context, name string) (state.Table, error) {
	t, err := w.Backend.Table(ctx, name)
	return countedTable{Table: t, n: &w.n}, err
}

func (w *writeCounter) PutBlob(ctx context.Context, name string, data []byte) error {
	w.n.Add(1)
	return w.Backend.PutBlob(ctx, name, data)
}

func (w *writeCounter) DeleteBlob(ctx context.Context, name string) error {
	w.n.Add(1)
	return w.Backend.DeleteBlob(ctx, name)
}

type countedTable struct {
	state.Table
	n *atomic.Int64
}

func (t countedTable) Insert(ctx context.Context, e state.Entity) (state.Entity, error) {
	t.n.Add(1)
	return t.Table.Insert(ctx, e)
}

func (t countedTable) Update(ctx context.Context, e state.Entity) (state.Entity, error) {
	t.n.Add(1)
	return t.Table.Update(ctx, e)
}

func (t countedTable) Upsert(ctx context.Context, e state.Entity) (state.Entity, error) {
	t.n.Add(1)
	return t.Table.Upsert(ctx, e)
}

func (t countedTable) Delete(ctx context.Context, pk, rk, etag string) error {
	t.n.Add(1)
	return t.Table.Delete(ctx, pk, rk, etag)
}

func (t countedTable) Transact(ctx context.Context, ops []state.Op) error {
	t.n.Add(1)
	return t.Table.Transact(ctx, ops)
}

const driftTenant = "sim-drift"

// driftWorld is the product over the simulator and a small school, synced
// once for users, registration groups and classrooms of scheduled classes.
type driftWorld struct {
	t       *testing.T
	app     *App
	sim     *Simulator
	writes  *writeCounter
	cust    tenant.Customer
	profile tenant.Profile
	runs    int
}

func newDriftWorld(t *testing.T) *driftWorld {
	t.Helper()
	ctx := t.Context()
	sim, err := OpenSimulator(ctx, SimulatorOptions{TimeScale: 600})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	// The feed's school year is the one running today: the drift report
	// plans with today's date, as the next run will.
	now := time.Now()
	year := now.Year()
	if now.Month() < time.September {
		year--
	}
	feeds := t.TempDir()
	r := sample.Generate(sample.Options{Seed: 7, Students: 24, Staff: 5, StartYear: year})
	if err := oneroster.WriteDir(filepath.Join(feeds, "day1"), r, nil); err != nil {
		t.Fatal(err)
	}
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	w := &writeCounter{Backend: b}
	sender := queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil })
	a, err := Build(ctx, Options{Backend: w, Sender: sender, Simulator: sim, CredentialsKey: mustKey(t), FeedDir: feeds, LocalSources: true})
	if err != nil {
		t.Fatal(err)
	}
	c := tenant.Customer{ID: "oak", Name: "Oak", TenantID: driftTenant, Domains: []string{"oak.example"}, Education: true,
		Features: tenant.Features{Users: true, Groups: true, Classrooms: true}}
	reg := tenant.GroupTypeConfig{Enabled: true, Kind: tenant.GroupKindUnified, WelcomeEmailDisabled: true}
	p := tenant.Profile{CustomerID: c.ID, ID: "nightly", Name: "Nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London",
		Entities:   []string{tenant.EntityUsers, tenant.EntityGroups, tenant.EntityClassrooms},
		Source:     tenant.RosterSource{Kind: tenant.SourceCSV, Path: "day1"},
		Groups:     &tenant.GroupsConfig{Types: map[string]tenant.GroupTypeConfig{tenant.GroupRegistration: reg}},
		Classrooms: &tenant.ClassroomsConfig{Mode: tenant.ClassroomsGroupSubject}}
	if err := a.Store.PutCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := a.Store.SaveProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	return &driftWorld{t: t, app: a, sim: sim, writes: w, cust: c, profile: p}
}

// sync runs every entity of the profile to its end, as one night would.
func (w *driftWorld) sync() {
	w.t.Helper()
	w.runs++
	run := runs.Run{ID: fmt.Sprintf("run-%d", w.runs), CustomerID: w.cust.ID, ProfileID: w.profile.ID, Mode: runs.ModeApply}
	for _, name := range w.profile.Entities {
		in := pipeline.EntityInput{Job: queue.Job{Entity: name}, Customer: w.cust, Run: run, Profile: w.profile, Now: time.Now()}
		for step := 0; ; step++ {
			if step == 300 {
				w.t.Fatalf("%s did not finish", name)
			}
			out, err := w.app.Registry[name].Sync(w.t.Context(), in)
			if err != nil {
				w.t.Fatalf("sync %s: %v", name, err)
			}
			for k, n := range out.Counts {
				if strings.HasPrefix(k, "failed.") && n > 0 {
					w.t.Fatalf("sync %s failed %d changes: %v", name, n, out.Counts)
				}
			}
			if !out.More {
				break
			}
			time.Sleep(min(out.RequeueAfter, time.Second))
			in.Job.Step++
			in.Job.Cursor = out.Cursor
		}
	}
}

// drift asks the API for the drift, page by page, counting the writes it
// made to the tenant and to the store.
func (w *driftWorld) drift() (all []plan.Drift, tenantWrites, storeWrites int64) {
	w.t.Helper()
	before, err := w.sim.Stats(w.t.Context(), driftTenant)
	if err != nil {
		w.t.Fatal(err)
	}
	stored := w.writes.n.Load()
	path := "/api/customers/oak/drift?top=2"
	for path != "" {
		rec := httptest.NewRecorder()
		w.app.API.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			w.t.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
		var page struct {
			Value    []plan.Drift `json:"value"`
			NextLink string       `json:"nextLink"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			w.t.Fatal(err)
		}
		all, path = append(all, page.Value...), page.NextLink
	}
	after, _ := w.sim.Stats(w.t.Context(), driftTenant)
	if after.HTTPRequests == before.HTTPRequests {
		w.t.Errorf("the drift report read nothing from the tenant")
	}
	return all, after.Writes - before.Writes, w.writes.n.Load() - stored
}

func (w *driftWorld) links(kind string) []state.Mapping {
	w.t.Helper()
	ms, err := w.app.Store.ListMappings(w.t.Context(), w.cust.ID, kind)
	if err != nil || len(ms) < 2 {
		w.t.Fatalf("%s links: %d, %v; want at least 2", kind, len(ms), err)
	}
	slices.SortFunc(ms, func(a, b state.Mapping) int { return strings.Compare(a.SourceID, b.SourceID) })
	return ms
}

// TestDriftReport: after a night, the tenant is as rostersync keeps it
// and the report is empty; then, by hand in the tenant, an account is
// disabled and another renamed, a member removed from a group and another
// added, and a class team archived. The report lists each with what the
// next run does about it, and computing it writes nothing, to the tenant
// or to the store.
func TestDriftReport(t *testing.T) {
	w := newDriftWorld(t)
	w.sync()

	if got, tw, sw := w.drift(); len(got) != 0 || tw != 0 || sw != 0 {
		t.Fatalf("after a night: drift %+v (%d tenant writes, %d store writes), want none", got, tw, sw)
	}

	users, groups, classes := w.links(reconcile.MappingUser), w.links(reconcile.MappingGroup), w.links(reconcile.MappingClass)
	byAccount := map[string]string{}
	for _, m := range users {
		byAccount[strings.ToLower(m.TargetID)] = m.SourceID
	}
	ts, ok := w.sim.Embedded().ExportTenant(driftTenant)
	if !ok {
		t.Fatal("no simulated tenant")
	}
	objects := map[string]map[string]any{}
	for _, o := range append(slices.Clone(ts.Users), ts.Groups...) {
		objects[strings.ToLower(fmt.Sprint(o["id"]))] = o
	}
	disabled, renamed := users[0], users[1]
	objects[strings.ToLower(disabled.TargetID)]["accountEnabled"] = false
	wantName := fmt.Sprint(objects[strings.ToLower(renamed.TargetID)]["displayName"])
	objects[strings.ToLower(renamed.TargetID)]["displayName"] = "Renamed By Hand"

	group := groups[0]
	g := objects[strings.ToLower(group.TargetID)]
	members, owners := g["members"].([]string), g["owners"].([]string)
	var removed, added string
	for _, m := range members {
		if !slices.Contains(owners, m) && m != strings.ToLower(disabled.TargetID) && m != strings.ToLower(renamed.TargetID) {
			removed = m
			break
		}
	}
	for _, u := range users {
		if id := strings.ToLower(u.TargetID); !slices.Contains(members, id) && u != disabled && u != renamed {
			added = id
			break
		}
	}
	if removed == "" || added == "" {
		t.Fatalf("group %s: no pupil to remove (%v) or account to add", group.SourceID, members)
	}
	g["members"] = append(slices.DeleteFunc(slices.Clone(members), func(m string) bool { return m == removed }), added)

	var class state.Mapping
	for _, c := range classes {
		if tm, ok := objects[strings.ToLower(c.TargetID)]["team"].(map[string]any); ok && tm["isArchived"] == false {
			class = c
			tm["isArchived"] = true
			break
		}
	}
	if class.SourceID == "" {
		t.Fatal("no class with a team to archive")
	}
	if err := w.sim.Embedded().Load(graphsim.State{FormatVersion: graphsim.StateFormatVersion, Tenants: []graphsim.TenantState{ts}}); err != nil {
		t.Fatal(err)
	}

	got, tenantWrites, storeWrites := w.drift()
	if tenantWrites != 0 || storeWrites != 0 {
		t.Errorf("computing the drift wrote %d times to the tenant and %d times to the store, want none", tenantWrites, storeWrites)
	}
	want := []plan.Drift{
		{Entity: tenant.EntityUsers, ProfileID: "nightly", Kind: plan.KindUser, Key: disabled.SourceID, TargetID: disabled.TargetID,
			Differences: []plan.Difference{{Field: "accountEnabled", Tenant: "false", Rostersync: "true"}},
			Next:        plan.NextRun{Action: plan.LeaveAlone, Reason: plan.KeptBecauseDisabledOutsideMIS}},
		{Entity: tenant.EntityUsers, ProfileID: "nightly", Kind: plan.KindUser, Key: renamed.SourceID, TargetID: renamed.TargetID,
			Differences: []plan.Difference{{Field: "displayName", Tenant: "Renamed By Hand", Rostersync: wantName}},
			Next:        plan.NextRun{Action: plan.Update, Reason: plan.UpdateBecauseMappedChanged}},
		{Entity: tenant.EntityGroups, ProfileID: "nightly", Kind: plan.KindGroup, Key: group.SourceID, TargetID: group.TargetID,
			Differences: []plan.Difference{
				{Field: "members", Member: removed, MemberSourcedID: byAccount[removed], Tenant: plan.Absent, Rostersync: plan.Present},
				{Field: "members", Member: added, MemberSourcedID: byAccount[added], Tenant: plan.Present, Rostersync: plan.Absent}},
			Next: plan.NextRun{Action: plan.Update, Reason: "update_because_membership_differs"}},
		{Entity: tenant.EntityClassrooms, ProfileID: "nightly", Kind: "class", Key: class.SourceID, TargetID: class.TargetID,
			Differences: []plan.Difference{{Field: "archived", Tenant: "true", Rostersync: "false"}},
			Next:        plan.NextRun{Action: plan.Update, Reason: "unarchive_because_class_back_in_session"}},
	}
	if len(got) != len(want) {
		t.Fatalf("drift = %s\nwant the %d differences made by hand", show(got), len(want))
	}
	for i := range want {
		g := got[i]
		g.Next.Detail = "" // sentences for people; the reason is the contract
		if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", want[i]) {
			t.Errorf("drift[%d] = %s\nwant %s", i, show([]plan.Drift{got[i]}), show(want[i:i+1]))
		}
		if got[i].Next.Detail == "" {
			t.Errorf("drift[%d] next run has no sentence: %+v", i, got[i].Next)
		}
	}

}

func show(ds []plan.Drift) string {
	b, _ := json.MarshalIndent(ds, "", "  ")
	return string(b)
}
