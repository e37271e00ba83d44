package storetest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// testJournal: apply progress is journalled as one row per SaveEntries
// call (a round), however many entries it holds; rounds read back in the
// order they were written, the latest progress of a change winning, also
// when two stores (two processes) take turns; a journal row of the old
// layout (one row per change) is still read, and a later round overrides
// it.
func testJournal(t *testing.T, b state.Backend) {
	ctx := t.Context()
	s := state.NewStore(b, nil)
	p := storedPlan(3000)
	if err := s.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	tb := openTable(t, b, state.TablePlans)
	pk := state.EncodeKey("cust1", "r1", "users")
	journalRows := func() int {
		rows, err := tb.List(ctx, state.Query{PartitionKey: pk})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rows {
			if !strings.HasPrefix(r.RowKey, "_") {
				n++
			}
		}
		return n
	}
	_, entries, err := s.LoadPlan(ctx, "cust1", "r1", "users")
	if err != nil {
		t.Fatal(err)
	}

	// A round that moved every change (a relink of a whole plan): a few
	// rows at most, not 3,000.
	for i := range entries {
		entries[i].Attempts = 1
	}
	if err := s.SaveEntries(ctx, "cust1", "r1", "users", entries); err != nil {
		t.Fatal(err)
	}
	if n := journalRows(); n < 1 || n > 3 {
		t.Fatalf("journal of one round of 3000 entries: %d rows, want 1 to 3", n)
	}

	// Rounds from two stores in turn; the latest word on a change wins.
	other := state.NewStore(b, nil)
	e7, e8 := entries[7], entries[8]
	e7.Status, e7.OpsDone = state.EntryDone, []string{"user:s0007#create"}
	e8.Attempts = 2
	if err := s.SaveEntries(ctx, "cust1", "r1", "users", []state.Entry{e7, e8}); err != nil {
		t.Fatal(err)
	}
	e8.Status, e8.Error, e8.Attempts = state.EntryFailed, "gave up", 3
	if err := other.SaveEntries(ctx, "cust1", "r1", "users", []state.Entry{e8}); err != nil {
		t.Fatal(err)
	}
	e8b := e8
	e8b.Attempts = 4
	// Within one call the last entry of a change is the one meant.
	if err := s.SaveEntries(ctx, "cust1", "r1", "users", []state.Entry{e8, e8b}); err != nil {
		t.Fatal(err)
	}
	rowsBefore := journalRows()
	_, got, err := other.LoadPlan(ctx, "cust1", "r1", "users")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case got[7].Status != state.EntryDone || len(got[7].OpsDone) != 1 || got[7].Attempts != 1:
		t.Fatalf("entry 7 = %s ops %v attempts %d, want done, its op, 1 attempt", got[7].Status, got[7].OpsDone, got[7].Attempts)
	case got[8].Status != state.EntryFailed || got[8].Attempts != 4 || got[8].Error != "gave up":
		t.Fatalf("entry 8 = %s attempts %d %q, want the last round's failed, 4 attempts", got[8].Status, got[8].Attempts, got[8].Error)
	case got[9].Status != state.EntryPending || got[9].Attempts != 1:
		t.Fatalf("entry 9 = %s attempts %d, want the first round's pending, 1 attempt", got[9].Status, got[9].Attempts)
	case got[7].After["userPrincipalName"] != p.Changes[7].After["userPrincipalName"]:
		t.Fatalf("entry 7's change = %v, want the plan's", got[7].After)
	}
	if rowsBefore > 6 {
		t.Fatalf("journal of four rounds: %d rows", rowsBefore)
	}

	// Rows of the old layout (one change, its whole entry as data) in a
	// plan journalled before this layout, then a round over one of them.
	p2 := storedPlan(20)
	p2.RunID = "r2"
	if err := s.SavePlan(ctx, p2); err != nil {
		t.Fatal(err)
	}
	pk = state.EncodeKey("cust1", "r2", "users")
	if _, entries, err = s.LoadPlan(ctx, "cust1", "r2", "users"); err != nil {
		t.Fatal(err)
	}
	old := entries[10]
	old.Status, old.OpsDone = state.EntryDone, []string{"user:s0010#create"}
	data, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	rk := "c|" + state.EncodeKey(string(plan.KindUser), old.Key, string(plan.Create))
	if _, err := tb.Upsert(ctx, state.Entity{PartitionKey: pk, RowKey: rk, Props: map[string]string{"Data": string(data)}}); err != nil {
		t.Fatal(err)
	}
	// Entry 11's old row is overridden by a later round.
	old11 := entries[11]
	old11.Status = state.EntryDone
	if data, err = json.Marshal(old11); err != nil {
		t.Fatal(err)
	}
	rk11 := "c|" + state.EncodeKey(string(plan.KindUser), old11.Key, string(plan.Create))
	if _, err := tb.Upsert(ctx, state.Entity{PartitionKey: pk, RowKey: rk11, Props: map[string]string{"Data": string(data)}}); err != nil {
		t.Fatal(err)
	}
	e11 := entries[11]
	e11.Status, e11.Error = state.EntryFailed, "refused"
	if err := s.SaveEntries(ctx, "cust1", "r2", "users", []state.Entry{e11}); err != nil {
		t.Fatal(err)
	}
	if _, got, err = s.LoadPlan(ctx, "cust1", "r2", "users"); err != nil {
		t.Fatal(err)
	}
	if got[10].Status != state.EntryDone || len(got[10].OpsDone) != 1 {
		t.Fatalf("entry 10 from an old-layout row = %s %v, want done", got[10].Status, got[10].OpsDone)
	}
	if got[11].Status != state.EntryFailed {
		t.Fatalf("entry 11 = %s, want the later round's failed over the old-layout row's done", got[11].Status)
	}
}
