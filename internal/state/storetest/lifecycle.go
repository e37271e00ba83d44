package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
)

// testProfilesConcurrent: enabled profiles saved at once, all sharing a
// day, never end up more than one enabled; the losers get ErrOverlap.
func testProfilesConcurrent(t *testing.T, s *state.Store) {
	ctx := t.Context()
	const n = 8
	for round := range 3 {
		customer := fmt.Sprintf("race%d", round)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				p := profile(fmt.Sprintf("p%d", i), "2026-01-01", "2026-12-31", true)
				p.CustomerID = customer
				errs[i] = s.SaveProfile(ctx, p)
			})
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, state.ErrOverlap) && !errors.Is(err, state.ErrConflict):
				t.Errorf("save p%d: %v, want nil, ErrOverlap or ErrConflict", i, err)
			}
		}
		list, err := s.ListProfiles(ctx, customer)
		if err != nil {
			t.Fatal(err)
		}
		enabled := 0
		for _, p := range list {
			if p.Enabled {
				enabled++
			}
		}
		if ok != 1 || enabled != 1 || len(list) != 1 {
			t.Errorf("round %d: %d saves succeeded, %d profiles stored (%d enabled); want exactly one", round, ok, len(list), enabled)
		}
	}
	// CreateProfile refuses a taken id and leaves the first.
	p := profile("copy", "2030-01-01", "", false)
	if err := s.CreateProfile(ctx, p); err != nil {
		t.Fatalf("CreateProfile: %v", err)
	}
	p.Name = "second"
	if err := s.CreateProfile(ctx, p); !errors.Is(err, state.ErrConflict) {
		t.Errorf("CreateProfile of a taken id = %v, want ErrConflict", err)
	}
	if got, err := s.GetProfile(ctx, p.CustomerID, "copy"); err != nil || got.Name == "second" {
		t.Errorf("GetProfile(copy) = %+v, %v; want the first one", got, err)
	}
	if _, err := s.GetProfile(ctx, p.CustomerID, "_saves"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("GetProfile(_saves) = %v, want ErrNotFound: the marker row is no profile", err)
	}
}

// testPurge: PurgeCustomer deletes one customer's links, runs, logs, sync
// state, plans and audit trail and nothing of another's; PurgePlans deletes only plans
// of runs older than the cutoff, and keeps a body another plan names.
func testPurge(t *testing.T, s *state.Store) {
	ctx := t.Context()
	old := runs.ManualID(time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC))
	recent := runs.ManualID(time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC))
	for _, c := range []string{"gone", "kept"} {
		if err := s.PutMappings(ctx, state.Mapping{CustomerID: c, Kind: "user", SourceID: "s1", TargetID: "t1"}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutIntents(ctx, state.Intent{CustomerID: c, Kind: "user", SourceID: "s2"}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddExclusion(ctx, state.Exclusion{CustomerID: c, Kind: "user", SourceID: "s3"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendAudit(ctx, state.AuditRecord{CustomerID: c, Actor: "admin", Action: "exclusion.put", SourcedID: "s3"}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{old, recent} {
			if _, err := s.CreateRun(ctx, runs.New(id, c, "p1", runs.TriggerManual, runs.ModeApply, id, []string{"users"}, time.Now())); err != nil {
				t.Fatal(err)
			}
			if err := s.AppendRunLog(ctx, c, id, runs.LogEntry{Level: "info", Message: "x"}); err != nil {
				t.Fatal(err)
			}
			p := storedPlan(2)
			p.CustomerID, p.RunID = c, id
			if c == "gone" {
				p.Changes[0].Key = "only-gone-" + id // a body of its own
			}
			if err := s.SavePlan(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.SaveSyncState(ctx, state.SyncState{CustomerID: c, ProfileID: "p1", Entity: "users", LastRunID: recent}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeCustomer(ctx, "gone")
	if err != nil {
		t.Fatalf("PurgeCustomer: %v", err)
	}
	if n[state.TableRuns] != 2 || n[state.TableMappings] != 2 || n[state.TableRunLog] != 2 || n[state.TableAudit] != 1 {
		t.Errorf("PurgeCustomer counts = %v, want 2 runs, 2 mapping rows (a link and an intent), 2 log rows, 1 audit record", n)
	}
	check := func(c string, want bool) {
		t.Helper()
		ms, _ := s.ListMappings(ctx, c, "user")
		in, _ := s.ListIntents(ctx, c, "user")
		xs, _ := s.ListExclusions(ctx, c, "user")
		rs, _ := s.ListRuns(ctx, c, "", 0)
		log, _ := s.RunLog(ctx, c, recent)
		_, st := s.GetSyncState(ctx, c, "p1", "users")
		_, _, pl := s.LoadPlan(ctx, c, recent, "users")
		audit, _, _ := s.AuditPage(ctx, c, 10, "")
		has := []bool{len(ms) > 0, len(in) > 0, len(xs) > 0, len(rs) > 0, len(log) > 0, st == nil, pl == nil, len(audit) > 0}
		for i, h := range has {
			if h != want {
				t.Errorf("customer %s: record %d present=%t, want %t", c, i, h, want)
			}
		}
	}
	check("gone", false)
	check("kept", true)

	plans, err := s.PurgePlans(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || plans != 1 {
		t.Errorf("PurgePlans = %d, %v; want the one old plan of kept", plans, err)
	}
	if _, _, err := s.LoadPlan(ctx, "kept", old, "users"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("old plan after PurgePlans: %v, want ErrNotFound", err)
	}
	// The recent plan, and its body, stay.
	if p, _, err := s.LoadPlan(ctx, "kept", recent, "users"); err != nil || len(p.Changes) != 2 {
		t.Errorf("recent plan after PurgePlans: %v, %v; want it whole", p, err)
	}
}
