package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/report/reporttest"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// checkDemoReport opens the report the demo wrote (state in dir) from its
// file, as the admin would, in headless Chromium: the page runs without a
// console error, its chart has a point for each sample the run recorded,
// and filtering by action and searching for a person change the rows
// shown, as the stored plan says they should.
func checkDemoReport(t *testing.T, dir, path string) {
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`<title>rostersync run ([^<]+)</title>`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("%s names no run", path)
	}
	runID := string(m[1])
	b, err := embedded.Open(filepath.Join(dir, "state", storeDir))
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewStore(b, nil)
	ctx := context.Background()
	run, err := store.GetRun(ctx, syncCustomer, runID)
	if err != nil {
		t.Fatalf("the report's run: %v", err)
	}
	p, _, err := store.LoadPlan(ctx, syncCustomer, runID, tenant.EntityUsers)
	if err != nil {
		t.Fatal(err)
	}
	// The page lists every entity's plan.
	var entries []state.Entry
	for _, e := range run.Entities {
		_, es, err := store.LoadPlan(ctx, syncCustomer, runID, e.Entity)
		if err != nil {
			t.Fatalf("plan of %s: %v", e.Entity, err)
		}
		entries = append(entries, es...)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	samples, creates := 0, 0
	for _, e := range run.Entities {
		samples += len(e.Samples)
	}
	for _, e := range entries {
		if e.Action == plan.Create {
			creates++
		}
	}
	if samples == 0 {
		t.Fatalf("the demo's last run (an apply that wrote) recorded no samples to chart")
	}
	if creates == 0 || len(entries) == creates {
		t.Fatalf("the demo's last run planned %d creates of %d changes; the filter check needs both kinds", creates, len(entries))
	}

	pg := reporttest.Open(t, "file://"+path)
	if got := pg.Points(); got != samples {
		t.Errorf("chart draws %d points, want %d (the run's samples)", got, samples)
	}
	if got := pg.Changes(); got != len(entries) {
		t.Errorf("%d changes shown, want the plan's %d", got, len(entries))
	}
	pg.FilterAction(string(plan.Create))
	if got := pg.Changes(); got != creates {
		t.Errorf("filtered by create: %d changes shown, want %d", got, creates)
	}
	pg.FilterAction("")
	// The day-2 joiner, by sourcedId and by name.
	for _, q := range []string{"demo-joiner-1", "Niamh"} {
		pg.Search(q)
		if got := pg.Changes(); got != 1 {
			t.Errorf("search %q: %d changes shown, want 1", q, got)
		}
	}
	if len(p.Unsynced) > 0 {
		pg.Search(p.Unsynced[0].Key)
		if got := pg.Unsynced(); got != 1 {
			t.Errorf("search %q: %d unsynced shown, want 1", p.Unsynced[0].Key, got)
		}
	}
	if problems := pg.Problems(); len(problems) > 0 {
		t.Errorf("the demo's report wrote errors to the console:\n%v", problems)
	}
}
