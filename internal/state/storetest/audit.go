package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/state"
)

// testAudit: a customer's trail lists newest first, pages by top with
// continuations that walk it exactly once, never shows another customer's
// records, and is purged before a cutoff (then whole) one customer at a
// time. The clock stands still, as a test's does: records must still be
// told apart and kept in the order they were made.
func testAudit(t *testing.T, newBackend func(t *testing.T) state.Backend) {
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	now := at
	s := state.NewStore(newBackend(t), func() time.Time { return now })

	var want []string // actions, newest first
	for i := range 7 {
		action := fmt.Sprintf("link.put-%d", i)
		rec, err := s.AppendAudit(ctx, state.AuditRecord{CustomerID: "oak", Actor: "admin-1", Action: action, SourcedID: fmt.Sprintf("s%d", i)})
		if err != nil {
			t.Fatalf("AppendAudit(%s): %v", action, err)
		}
		if rec.ID == "" || !rec.At.Equal(at) {
			t.Errorf("AppendAudit(%s) = id %q at %v; want an id and the clock's time", action, rec.ID, rec.At)
		}
		want = slices.Insert(want, 0, action)
	}
	if _, err := s.AppendAudit(ctx, state.AuditRecord{CustomerID: "elm", Actor: "admin-2", Action: "run.confirm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, state.AuditRecord{CustomerID: "oak"}); err == nil {
		t.Error("AppendAudit without an action succeeded")
	}

	var got []string
	after, pages := "", 0
	for {
		page, next, err := s.AuditPage(ctx, "oak", 3, after)
		if err != nil {
			t.Fatalf("AuditPage(after %q): %v", after, err)
		}
		pages++
		for _, r := range page {
			if r.CustomerID != "oak" || r.Actor != "admin-1" || r.At.IsZero() || r.ID == "" {
				t.Errorf("oak's trail holds %+v", r)
			}
			got = append(got, r.Action)
		}
		if next == "" || pages > 5 {
			break
		}
		after = next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("AuditPage walk = %q in %d pages, want %q (newest first) in 3", got, pages, want)
	}
	elm, _, err := s.AuditPage(ctx, "elm", 100, "")
	if err != nil || len(elm) != 1 || elm[0].Action != "run.confirm" {
		t.Errorf("AuditPage(elm) = %+v, %v; want its one record", elm, err)
	}

	// Records made a day later survive a purge at that day; the older go,
	// and only oak's.
	now = at.Add(24 * time.Hour)
	if _, err := s.AppendAudit(ctx, state.AuditRecord{CustomerID: "oak", Actor: "admin-1", Action: "exclusion.put"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeAudit(ctx, "oak", now)
	if err != nil || n != len(want) {
		t.Errorf("PurgeAudit(oak, a day later) = %d, %v; want the %d older records", n, err, len(want))
	}
	left, _, _ := s.AuditPage(ctx, "oak", 100, "")
	if len(left) != 1 || left[0].Action != "exclusion.put" {
		t.Errorf("oak's trail after the purge = %+v; want the later record alone", left)
	}
	if n, err := s.PurgeAudit(ctx, "oak", time.Time{}); err != nil || n != 1 {
		t.Errorf("PurgeAudit(oak, all) = %d, %v; want 1", n, err)
	}
	if elm, _, _ := s.AuditPage(ctx, "elm", 100, ""); len(elm) != 1 {
		t.Errorf("purging oak's trail touched elm's: %+v", elm)
	}
}
