package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// runStore exercises the typed state.Store over a backend: the Store's
// table names are fixed, so each subtest gets a backend of its own.
func runStore(t *testing.T, newBackend func(t *testing.T) state.Backend) {
	newStore := func(t *testing.T) *state.Store { return state.NewStore(newBackend(t), nil) }
	t.Run("Customers", func(t *testing.T) { testCustomers(t, newStore(t)) })
	t.Run("Profiles", func(t *testing.T) { testProfiles(t, newStore(t)) })
	t.Run("SyncState", func(t *testing.T) { testSyncState(t, newStore(t)) })
	t.Run("Runs", func(t *testing.T) { testRuns(t, newStore(t)) })
	t.Run("RunLog", func(t *testing.T) { testRunLog(t, newStore(t)) })
	t.Run("RunLogStoppedClock", func(t *testing.T) {
		// A fake clock that does not move between appends, as in tests of
		// the pipeline: every append must still land, in order.
		at := time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)
		testRunLog(t, state.NewStore(newBackend(t), func() time.Time { return at }))
	})
	t.Run("Mappings", func(t *testing.T) { testMappings(t, newStore(t)) })
	t.Run("Exclusions", func(t *testing.T) { testExclusions(t, newStore(t)) })
	t.Run("Failures", func(t *testing.T) { testFailures(t, newStore(t)) })
	t.Run("Intents", func(t *testing.T) { testIntents(t, newStore(t)) })
	t.Run("Confirmations", func(t *testing.T) { testConfirmations(t, newStore(t)) })
	t.Run("Consent", func(t *testing.T) { testConsent(t, newStore(t)) })
	t.Run("Plans", func(t *testing.T) { testPlans(t, newBackend(t)) })
	t.Run("Journal", func(t *testing.T) { testJournal(t, newBackend(t)) })
	t.Run("ProfilesConcurrent", func(t *testing.T) { testProfilesConcurrent(t, newStore(t)) })
	t.Run("Purge", func(t *testing.T) { testPurge(t, newStore(t)) })
	t.Run("Audit", func(t *testing.T) { testAudit(t, newBackend) })
}

// RunPlans runs the plan cases alone, for a backend whose blobs are kept
// apart from its tables (state.WithBlobs over Blob Storage): newBackend
// must return a backend that shares no tables or blobs with another.
func RunPlans(t *testing.T, newBackend func(t *testing.T) state.Backend) {
	testPlans(t, newBackend(t))
}

func storedPlan(changes int) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "cust1", RunID: "r1", Entity: "users",
		Unsynced: []plan.Unsynced{{Key: "u1", Reason: plan.UnsyncedBecauseExcluded, Detail: "excluded"}}}
	for i := range changes {
		p.Changes = append(p.Changes, plan.Change{Kind: plan.KindUser, Key: fmt.Sprintf("s%04d", i), Action: plan.Create,
			After: map[string]string{"userPrincipalName": fmt.Sprintf("p%04d@oak.example", i), "displayName": strings.Repeat("x", 200)}})
	}
	return p
}

// testPlans: a plan is saved body first, header last; a plan without its
// header does not exist, one whose body is missing is refused, and journal
// rows come back merged with the plan's changes.
func testPlans(t *testing.T, b state.Backend) {
	ctx := t.Context()
	s := state.NewStore(b, nil)
	// Large enough that its body spans several rows where blobs are rows.
	p := storedPlan(3000)
	if _, _, err := s.LoadPlan(ctx, "cust1", "r1", "users"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("LoadPlan before any save = %v, want ErrNotFound", err)
	}
	// A save that died after the body and before the header: no plan.
	// The failing store keeps its blobs where b keeps them, so the body
	// really is written before the header fails.
	var failingBackend state.Backend = headerFails{b}
	if blobs, ok := b.(state.Blobs); ok {
		failingBackend = state.WithBlobs(failingBackend, blobs)
	}
	failing := state.NewStore(failingBackend, nil)
	if err := failing.SavePlan(ctx, p); err == nil {
		t.Fatal("SavePlan with a failing header write succeeded")
	}
	if _, _, err := s.LoadPlan(ctx, "cust1", "r1", "users"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("LoadPlan after a save without header = %v, want ErrNotFound (the step plans again)", err)
	}
	if err := s.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, entries, err := s.LoadPlan(ctx, "cust1", "r1", "users")
	if err != nil || len(got.Changes) != 3000 || len(entries) != 3000 || len(got.Unsynced) != 1 || entries[7].Status != state.EntryPending {
		t.Fatalf("LoadPlan = %d changes, %d entries, %v", len(got.Changes), len(entries), err)
	}
	// A second save (a redelivered plan step) keeps the first.
	other := storedPlan(2)
	if err := s.SavePlan(ctx, other); err != nil {
		t.Fatal(err)
	}
	e := entries[7]
	e.Status, e.OpsDone = state.EntryDone, []string{"user:s0007#create"}
	if err := s.SaveEntries(ctx, "cust1", "r1", "users", []state.Entry{e}); err != nil {
		t.Fatal(err)
	}
	got, entries, err = s.LoadPlan(ctx, "cust1", "r1", "users")
	if err != nil || len(got.Changes) != 3000 || entries[7].Status != state.EntryDone || entries[8].Status != state.EntryPending {
		t.Fatalf("after a second save and a journal write: %d changes, entry 7 %s, %v", len(got.Changes), entries[7].Status, err)
	}
	// Another entity's plan of the same run is its own.
	if _, _, err := s.LoadPlan(ctx, "cust1", "r1", "groups"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("LoadPlan(groups) = %v, want ErrNotFound", err)
	}
}

// headerFails fails every insert into the plans table: the header write.
type headerFails struct{ state.Backend }

func (h headerFails) Table(ctx context.Context, name string) (state.Table, error) {
	t, err := h.Backend.Table(ctx, name)
	if name != state.TablePlans {
		return t, err
	}
	return insertFails{t}, err
}

type insertFails struct{ state.Table }

func (i insertFails) Insert(ctx context.Context, e state.Entity) (state.Entity, error) {
	return state.Entity{}, errors.New("storage went away")
}

func testIntents(t *testing.T, s *state.Store) {
	ctx := t.Context()
	at := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)
	var in []state.Intent
	for i := range 130 {
		in = append(in, state.Intent{CustomerID: "cust1", Kind: "user", SourceID: fmt.Sprintf("s%03d", i), Key: fmt.Sprintf("p%03d@oak.example", i), RunID: "r1", At: at})
	}
	if err := s.PutIntents(ctx, in...); err != nil {
		t.Fatalf("PutIntents(130): %v", err)
	}
	// Intents live apart from links: listing links never meets them.
	if err := s.PutMappings(ctx, state.Mapping{CustomerID: "cust1", Kind: "user", SourceID: "s000", TargetID: "obj"}); err != nil {
		t.Fatal(err)
	}
	if ms, err := s.ListMappings(ctx, "cust1", "user"); err != nil || len(ms) != 1 {
		t.Fatalf("ListMappings beside intents = %d, %v; want the 1 link only", len(ms), err)
	}
	got, err := s.ListIntents(ctx, "cust1", "user")
	if err != nil || len(got) != 130 || got[5].Key != "p005@oak.example" || !got[5].At.Equal(at) {
		t.Fatalf("ListIntents = %d, %v; first %+v", len(got), err, got[0])
	}
	// Settling is idempotent: a row already gone does not fail the rest.
	if err := s.DeleteIntents(ctx, "cust1", "user", "s000", "s001"); err != nil {
		t.Fatal(err)
	}
	ids := []string{"s000", "s001"}
	for i := 2; i < 120; i++ {
		ids = append(ids, fmt.Sprintf("s%03d", i))
	}
	if err := s.DeleteIntents(ctx, "cust1", "user", ids...); err != nil {
		t.Fatalf("DeleteIntents with two already settled: %v", err)
	}
	if got, err := s.ListIntents(ctx, "cust1", "user"); err != nil || len(got) != 10 || got[0].SourceID != "s120" {
		t.Fatalf("ListIntents after settling 120 = %d, %v", len(got), err)
	}
	if other, err := s.ListIntents(ctx, "cust2", "user"); err != nil || len(other) != 0 {
		t.Fatalf("another customer's intents = %d, %v", len(other), err)
	}
}

func testConfirmations(t *testing.T, s *state.Store) {
	ctx := t.Context()
	if _, err := s.GetConfirmation(ctx, "cust1", "r1", "users"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("GetConfirmation before any = %v, want ErrNotFound", err)
	}
	first := state.Confirmation{CustomerID: "cust1", RunID: "r1", Entity: "users", Actor: "admin@school"}
	if err := s.SaveConfirmation(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConfirmation(ctx, state.Confirmation{CustomerID: "cust1", RunID: "r1", Entity: "users", Actor: "someone else"}); err != nil {
		t.Fatalf("confirming twice: %v", err)
	}
	c, err := s.GetConfirmation(ctx, "cust1", "r1", "users")
	if err != nil || c.Actor != "admin@school" || c.At.IsZero() {
		t.Fatalf("GetConfirmation = %+v, %v; want the first, stamped", c, err)
	}
	if _, err := s.GetConfirmation(ctx, "cust1", "r1", "groups"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("another entity's confirmation = %v, want ErrNotFound", err)
	}
	if err := s.DeleteConfirmation(ctx, "cust1", "r1", "users"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConfirmation(ctx, "cust1", "r1", "users"); err != nil {
		t.Fatalf("withdrawing twice: %v", err)
	}
	if _, err := s.GetConfirmation(ctx, "cust1", "r1", "users"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("GetConfirmation after withdrawal = %v", err)
	}
}

func testCustomers(t *testing.T, s *state.Store) {
	ctx := t.Context()
	for _, c := range []tenant.Customer{
		{ID: "school-b", Name: "B", Domains: []string{"b.example"}, Features: tenant.Features{Users: true}},
		{ID: "acme.trust", Name: "Acme", Education: true},
		{ID: "School_C", Name: "C"},
	} {
		if err := s.PutCustomer(ctx, c); err != nil {
			t.Fatalf("PutCustomer(%s): %v", c.ID, err)
		}
	}
	if err := s.PutCustomer(ctx, tenant.Customer{ID: "bad/id"}); !errors.Is(err, tenant.ErrInvalid) {
		t.Errorf("PutCustomer(bad/id) = %v, want tenant.ErrInvalid", err)
	}
	got, err := s.GetCustomer(ctx, "school-b")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "B" || !slices.Equal(got.Domains, []string{"b.example"}) || !got.Features.Users {
		t.Errorf("GetCustomer(school-b) = %+v", got)
	}
	// Put replaces.
	got.Name = "B renamed"
	if err := s.PutCustomer(ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, err := s.GetCustomer(ctx, "school-b"); err != nil || again.Name != "B renamed" {
		t.Errorf("GetCustomer after Put = %+v, %v; want the new name", again, err)
	}
	if _, err := s.GetCustomer(ctx, "nobody"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetCustomer(nobody) = %v, want ErrNotFound", err)
	}
	all, err := s.ListCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range all {
		ids = append(ids, c.ID)
	}
	if want := []string{"School_C", "acme.trust", "school-b"}; !slices.Equal(ids, want) {
		t.Errorf("ListCustomers ids = %q, want %q (id order)", ids, want)
	}
}

func profile(id, start, end string, enabled bool) tenant.Profile {
	return tenant.Profile{CustomerID: "cust1", ID: id, Name: "Profile " + id, Enabled: enabled,
		StartDate: start, EndDate: end, RunAt: "02:30", TimeZone: "Europe/London",
		Entities: []string{tenant.EntityUsers, tenant.EntityGroups}}
}

func testProfiles(t *testing.T, s *state.Store) {
	ctx := t.Context()
	steps := []struct {
		name    string
		p       tenant.Profile
		wantErr error
	}{
		{"first enabled profile", profile("p1", "2025-09-01", "2026-07-31", true), nil},
		{"overlapping enabled profile", profile("p2", "2026-07-01", "2027-07-31", true), state.ErrOverlap},
		{"overlapping but disabled", profile("p2", "2026-07-01", "2027-07-31", false), nil},
		{"open-ended overlapping", profile("p3", "", "", true), state.ErrOverlap},
		{"adjacent, not overlapping", profile("p3", "2026-08-01", "", true), nil},
		{"re-saving a profile does not overlap itself", profile("p1", "2025-09-01", "2026-07-30", true), nil},
		{"enabling the overlapping one", profile("p2", "2026-07-01", "2027-07-31", true), state.ErrOverlap},
		{"invalid profile", profile("p4", "2026-01-01", "2025-01-01", true), tenant.ErrInvalid},
	}
	for _, st := range steps {
		err := s.SaveProfile(ctx, st.p)
		checkErr(t, fmt.Sprintf("SaveProfile(%s: %s)", st.name, st.p.ID), err, st.wantErr)
	}
	got, err := s.GetProfile(ctx, "cust1", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.EndDate != "2026-07-30" || !got.Enabled || got.RunAt != "02:30" || !slices.Equal(got.Entities, []string{"users", "groups"}) {
		t.Errorf("GetProfile(p1) = %+v, want the re-saved profile", got)
	}
	p2, err := s.GetProfile(ctx, "cust1", "p2")
	if err != nil || p2.Enabled {
		t.Errorf("GetProfile(p2) = %+v, %v; want the disabled version (enabling it was refused)", p2, err)
	}
	if _, err := s.GetProfile(ctx, "cust1", "p9"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetProfile(p9) = %v, want ErrNotFound", err)
	}
	list, err := s.ListProfiles(ctx, "cust1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	if want := []string{"p1", "p2", "p3"}; !slices.Equal(ids, want) {
		t.Errorf("ListProfiles ids = %q, want %q", ids, want)
	}
	if other, err := s.ListProfiles(ctx, "cust2"); err != nil || len(other) != 0 {
		t.Errorf("ListProfiles(cust2) = %v, %v; want none", other, err)
	}
}

func testSyncState(t *testing.T, s *state.Store) {
	ctx := t.Context()
	for _, entity := range []string{tenant.EntityUsers, state.ScheduleEntity} {
		t.Run(entity, func(t *testing.T) {
			zero, err := s.GetSyncState(ctx, "cust1", "p1", entity)
			if !errors.Is(err, state.ErrNotFound) || zero.ETag != "" || zero.Entity != entity {
				t.Fatalf("GetSyncState before any save = %+v, %v; want a zero state and ErrNotFound", zero, err)
			}
			zero.LastWindow = "2026-01-01"
			created, err := s.SaveSyncState(ctx, zero)
			if err != nil {
				t.Fatalf("SaveSyncState(create): %v", err)
			}
			if created.ETag == "" {
				t.Fatalf("SaveSyncState(create) returned no ETag")
			}
			// A second job that also read "nothing saved" must lose.
			if _, err := s.SaveSyncState(ctx, zero); !errors.Is(err, state.ErrConflict) {
				t.Errorf("second SaveSyncState(create) = %v, want ErrConflict", err)
			}
			next := created
			next.LastWindow = "2026-01-02"
			next.LastRunID = "run2"
			next.LastSync = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			updated, err := s.SaveSyncState(ctx, next)
			if err != nil {
				t.Fatalf("SaveSyncState(update): %v", err)
			}
			if updated.ETag == created.ETag {
				t.Errorf("SaveSyncState(update) kept ETag %s", updated.ETag)
			}
			// A job still holding the first version must lose too.
			stale := created
			stale.LastWindow = "2026-01-03"
			if _, err := s.SaveSyncState(ctx, stale); !errors.Is(err, state.ErrConflict) {
				t.Errorf("SaveSyncState with a stale ETag = %v, want ErrConflict", err)
			}
			got, err := s.GetSyncState(ctx, "cust1", "p1", entity)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastWindow != "2026-01-02" || got.LastRunID != "run2" || !got.LastSync.Equal(next.LastSync) || got.ETag != updated.ETag {
				t.Errorf("GetSyncState = %+v, want the update (etag %s)", got, updated.ETag)
			}
		})
	}
}

func testRuns(t *testing.T, s *state.Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)
	var created []runs.Run
	for i, p := range []string{"p1", "p2", "p1"} {
		at := t0.Add(time.Duration(i) * time.Hour)
		r := runs.New(runs.ScheduledID("cust1", p, at.Format("2006-01-02T15"), at), "cust1", p,
			runs.TriggerTimer, runs.ModeApply, at.Format("2006-01-02"), []string{tenant.EntityUsers}, at)
		c, err := s.CreateRun(ctx, r)
		if err != nil {
			t.Fatalf("CreateRun(%s): %v", r.ID, err)
		}
		if c.ETag == "" {
			t.Errorf("CreateRun(%s) returned no ETag", r.ID)
		}
		created = append(created, c)
	}
	if _, err := s.CreateRun(ctx, created[0]); !errors.Is(err, state.ErrExists) {
		t.Errorf("CreateRun with a taken id = %v, want ErrExists", err)
	}
	first := created[0]
	got, err := s.GetRun(ctx, "cust1", first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != first.ID || got.Status != runs.StatusQueued || got.ETag != first.ETag || len(got.Entities) != 1 {
		t.Errorf("GetRun = %+v, want the created run", got)
	}
	got.Status = runs.StatusRunning
	got.StartedAt = t0.Add(time.Minute)
	saved, err := s.SaveRun(ctx, got)
	if err != nil {
		t.Fatalf("SaveRun: %v", err)
	}
	if saved.ETag == got.ETag {
		t.Errorf("SaveRun kept ETag %s", saved.ETag)
	}
	stale := got // holds the ETag from before the save
	stale.Status = runs.StatusFailed
	if _, err := s.SaveRun(ctx, stale); !errors.Is(err, state.ErrConflict) {
		t.Errorf("SaveRun with a stale ETag = %v, want ErrConflict", err)
	}
	noETag := saved
	noETag.ETag = ""
	if _, err := s.SaveRun(ctx, noETag); err == nil {
		t.Errorf("SaveRun without an ETag = nil error, want an error")
	}
	if again, err := s.GetRun(ctx, "cust1", first.ID); err != nil || again.Status != runs.StatusRunning {
		t.Errorf("GetRun after the refused saves = %+v, %v; want status running", again, err)
	}
	if _, err := s.GetRun(ctx, "cust1", "nope"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetRun(nope) = %v, want ErrNotFound", err)
	}
	ids := func(rs []runs.Run) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	cases := []struct {
		profile string
		limit   int
		want    []string
	}{
		{"", 0, []string{created[2].ID, created[1].ID, created[0].ID}},
		{"", 2, []string{created[2].ID, created[1].ID}},
		{"p1", 0, []string{created[2].ID, created[0].ID}},
		{"p1", 1, []string{created[2].ID}},
		{"p9", 0, nil},
	}
	for _, tc := range cases {
		list, err := s.ListRuns(ctx, "cust1", tc.profile, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(list), tc.want) {
			t.Errorf("ListRuns(cust1, %q, %d) = %q, want %q (newest first)", tc.profile, tc.limit, ids(list), tc.want)
		}
		for _, r := range list {
			if r.ETag == "" {
				t.Errorf("ListRuns returned run %s without an ETag", r.ID)
			}
		}
	}
	// Paged: each page reads top index rows after the continuation,
	// newest first; a profile's page may come short, but walking to the
	// end yields each of its runs once.
	pages := []struct {
		profile string
		top     int
		want    [][]string
	}{
		{"", 2, [][]string{{created[2].ID, created[1].ID}, {created[0].ID}}},
		{"", 3, [][]string{{created[2].ID, created[1].ID, created[0].ID}, nil}},
		{"", 5, [][]string{{created[2].ID, created[1].ID, created[0].ID}}},
		{"p1", 1, [][]string{{created[2].ID}, nil, {created[0].ID}, nil}},
		{"p2", 2, [][]string{{created[1].ID}, nil}},
	}
	for _, tc := range pages {
		after := ""
		var got [][]string
		for range 10 {
			list, next, err := s.ListRunsPage(ctx, "cust1", tc.profile, tc.top, after)
			if err != nil {
				t.Fatalf("ListRunsPage(%q, %d, %q): %v", tc.profile, tc.top, after, err)
			}
			got = append(got, ids(list))
			if next == "" {
				break
			}
			if next == after {
				t.Fatalf("ListRunsPage(%q, %d, %q) answered its own continuation", tc.profile, tc.top, after)
			}
			after = next
		}
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("ListRunsPage(cust1, %q, top %d) pages = %q, want %q", tc.profile, tc.top, got, tc.want)
		}
	}
	if _, _, err := s.ListRunsPage(ctx, "cust1", "", 0, ""); err == nil {
		t.Errorf("ListRunsPage with top 0 = nil error, want an error")
	}
}

func testRunLog(t *testing.T, s *state.Store) {
	ctx := t.Context()
	var want []string
	appendN := func(n int) {
		t.Helper()
		entries := make([]runs.LogEntry, n)
		for i := range entries {
			msg := fmt.Sprintf("line %03d", len(want))
			want = append(want, msg)
			entries[i] = runs.LogEntry{Level: "info", Entity: tenant.EntityUsers, Message: msg}
		}
		if err := s.AppendRunLog(ctx, "cust1", "run1", entries...); err != nil {
			t.Fatalf("AppendRunLog(%d entries): %v", n, err)
		}
	}
	appendN(150) // two transactions
	appendN(1)
	appendN(101)
	if err := s.AppendRunLog(ctx, "cust1", "run1"); err != nil {
		t.Errorf("AppendRunLog with no entries: %v", err)
	}
	if err := s.AppendRunLog(ctx, "cust1", "run2", runs.LogEntry{Level: "info", Message: "other run"}); err != nil {
		t.Fatal(err)
	}
	log, err := s.RunLog(ctx, "cust1", "run1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range log {
		got = append(got, e.Message)
		if e.Time.IsZero() {
			t.Errorf("log entry %q has no time", e.Message)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("RunLog returned %d entries, want %d in append order; first difference at %d", len(got), len(want), firstDiff(got, want))
	}
	if other, err := s.RunLog(ctx, "cust1", "run2"); err != nil || len(other) != 1 {
		t.Errorf("RunLog(run2) = %v, %v; want its one entry", other, err)
	}
	// Paged by 100: three pages, the same entries in the same order.
	var paged []string
	after, pageCount := "", 0
	for {
		page, next, err := s.RunLogPage(ctx, "cust1", "run1", 100, after)
		if err != nil {
			t.Fatalf("RunLogPage(after %q): %v", after, err)
		}
		pageCount++
		if len(page) > 100 {
			t.Errorf("RunLogPage(top 100) returned %d entries", len(page))
		}
		for _, e := range page {
			paged = append(paged, e.Message)
		}
		if next == "" || pageCount > 5 {
			break
		}
		after = next
	}
	if !slices.Equal(paged, want) || pageCount != 3 {
		t.Errorf("RunLogPage walk returned %d entries in %d pages, want %d in 3; first difference at %d", len(paged), pageCount, len(want), firstDiff(paged, want))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testMappings(t *testing.T, s *state.Store) {
	ctx := t.Context()
	var ms []state.Mapping
	for i := range 250 {
		ms = append(ms, state.Mapping{CustomerID: "cust1", Kind: "user", SourceID: fmt.Sprintf("s%03d", i), TargetID: fmt.Sprintf("t%03d", i), How: "created"})
	}
	// Another kind and a source id with characters keys cannot hold.
	ms = append(ms, state.Mapping{CustomerID: "cust1", Kind: "group", SourceID: "class/7#A?", TargetID: "g1"})
	if err := s.PutMappings(ctx, ms...); err != nil {
		t.Fatalf("PutMappings(251): %v", err)
	}
	users, err := s.ListMappings(ctx, "cust1", "user")
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 250 || users[0].SourceID != "s000" || users[249].SourceID != "s249" || users[0].UpdatedAt.IsZero() {
		t.Fatalf("ListMappings(user) returned %d, first %+v", len(users), users[0])
	}
	g, err := s.GetMapping(ctx, "cust1", "group", "class/7#A?")
	if err != nil || g.TargetID != "g1" {
		t.Errorf("GetMapping(group, class/7#A?) = %+v, %v", g, err)
	}
	// The last write of a row wins, also within one call.
	if err := s.PutMappings(ctx,
		state.Mapping{CustomerID: "cust1", Kind: "user", SourceID: "s007", TargetID: "first"},
		state.Mapping{CustomerID: "cust1", Kind: "user", SourceID: "s007", TargetID: "second", How: "manual"},
	); err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetMapping(ctx, "cust1", "user", "s007"); err != nil || m.TargetID != "second" || m.How != "manual" {
		t.Errorf("GetMapping(s007) = %+v, %v; want the last write", m, err)
	}
	if err := s.DeleteMappings(ctx, "cust1", "user", "s000", "s001", "s999-missing"); err != nil {
		t.Errorf("DeleteMappings with one missing id: %v", err)
	}
	if _, err := s.GetMapping(ctx, "cust1", "user", "s000"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetMapping(s000) after delete = %v, want ErrNotFound", err)
	}
	users, err = s.ListMappings(ctx, "cust1", "user")
	if err != nil || len(users) != 248 {
		t.Errorf("ListMappings(user) after deleting 2 = %d, %v; want 248", len(users), err)
	}
	if other, err := s.ListMappings(ctx, "cust2", "user"); err != nil || len(other) != 0 {
		t.Errorf("ListMappings(cust2) = %d, %v; want none", len(other), err)
	}
}

func testExclusions(t *testing.T, s *state.Store) {
	ctx := t.Context()
	for _, id := range []string{"u2", "u1", "odd/id#1"} {
		if err := s.AddExclusion(ctx, state.Exclusion{CustomerID: "cust1", Kind: "user", SourceID: id, Reason: "test"}); err != nil {
			t.Fatalf("AddExclusion(%s): %v", id, err)
		}
	}
	if err := s.AddExclusion(ctx, state.Exclusion{CustomerID: "cust1", Kind: "user", SourceID: "u1", Reason: "again"}); err != nil {
		t.Errorf("AddExclusion twice: %v", err)
	}
	list, err := s.ListExclusions(ctx, "cust1", "user")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range list {
		ids = append(ids, x.SourceID)
		if x.CreatedAt.IsZero() {
			t.Errorf("exclusion %s has no CreatedAt", x.SourceID)
		}
	}
	// Compared as sets: the order is that of the encoded keys.
	if want := []string{"u1", "u2", "odd/id#1"}; !slices.Equal(sortedCopy(ids), sortedCopy(want)) {
		t.Errorf("ListExclusions = %q, want %q", ids, want)
	}
	if err := s.RemoveExclusion(ctx, "cust1", "user", "odd/id#1"); err != nil {
		t.Errorf("RemoveExclusion: %v", err)
	}
	if err := s.RemoveExclusion(ctx, "cust1", "user", "odd/id#1"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("RemoveExclusion twice = %v, want ErrNotFound", err)
	}
	if list, err := s.ListExclusions(ctx, "cust1", "user"); err != nil || len(list) != 2 {
		t.Errorf("ListExclusions after remove = %d, %v; want 2", len(list), err)
	}
	if list, err := s.ListExclusions(ctx, "cust1", "group"); err != nil || len(list) != 0 {
		t.Errorf("ListExclusions(group) = %d, %v; want none", len(list), err)
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func testFailures(t *testing.T, s *state.Store) {
	ctx := t.Context()
	big := strings.Repeat("b", 20000)
	for _, f := range []state.Failure{
		{Queue: "sync-jobs", MessageID: "m2", DeliveryCount: 1, Reason: "timeout", Body: "{}"},
		{Queue: "sync-jobs", MessageID: "m1", DeliveryCount: 1, Reason: "poison", Body: big},
		{Queue: "sync-jobs", MessageID: "m2", DeliveryCount: 5, Reason: "timeout again", Final: true},
		{Queue: "other", MessageID: "x/1", DeliveryCount: 1, Reason: "r"},
	} {
		if err := s.RecordFailure(ctx, f); err != nil {
			t.Fatalf("RecordFailure(%s): %v", f.MessageID, err)
		}
	}
	list, err := s.Failures(ctx, "sync-jobs")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("Failures(sync-jobs) returned %d, want 2", len(list))
	}
	m1, m2 := list[0], list[1]
	if m1.MessageID != "m1" || len(m1.Body) >= len(big) || !strings.HasSuffix(m1.Body, "(truncated)") {
		t.Errorf("Failures[0] = %s with a %d-byte body, want m1 with its body truncated", m1.MessageID, len(m1.Body))
	}
	if m2.MessageID != "m2" || m2.DeliveryCount != 5 || !m2.Final || m2.At.IsZero() {
		t.Errorf("Failures[1] = %+v, want the last record of m2", m2)
	}
	if other, err := s.Failures(ctx, "other"); err != nil || len(other) != 1 || other[0].MessageID != "x/1" {
		t.Errorf("Failures(other) = %+v, %v", other, err)
	}
}
