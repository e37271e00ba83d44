package reconcile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// feedNow is a date inside the sample school's 2025/26 year.
var feedNow = time.Date(2025, 11, 21, 2, 0, 0, 0, time.UTC)

// writeSample writes a small generated school, edited, as a OneRoster CSV
// folder, and returns it.
func writeSample(t *testing.T, edit func(r *roster.Roster), editFiles func(dir string)) string {
	t.Helper()
	r := sample.Generate(sample.Options{Seed: 3, Students: 60, Staff: 12, StartYear: 2025, NoDemographics: true})
	if edit != nil {
		edit(r)
	}
	dir := t.TempDir()
	if err := oneroster.WriteDir(dir, r, nil); err != nil {
		t.Fatal(err)
	}
	if editFiles != nil {
		editFiles(dir)
	}
	return dir
}

// simulate runs the users entity's plan step in simulate mode against src.
func simulate(t *testing.T, src Source) (pipeline.EntityOutcome, *plan.Plan, error) {
	t.Helper()
	h := newHarness(t)
	h.users.Source = src
	run := runs.Run{ID: "r1", CustomerID: "oak", Mode: runs.ModeSimulate}
	out, err := h.users.Sync(context.Background(), pipeline.EntityInput{Job: queue.Job{Entity: tenant.EntityUsers}, Run: run, Now: feedNow,
		Customer: tenant.Customer{ID: "oak", TenantID: "t-oak", Domains: []string{"oak.example"}},
		Profile:  tenant.Profile{ID: "nightly", CustomerID: "oak", Source: tenant.RosterSource{Kind: tenant.SourceCSV, Path: "."}}})
	if err != nil {
		return out, nil, err
	}
	p, _, err := h.store.LoadPlan(context.Background(), "oak", run.ID, tenant.EntityUsers)
	return out, p, err
}

// TestUsersRealWorldFeeds: a school whose terms have no parent syncs
// everyone; a feed with one contradictory enrolment syncs everyone else
// and lists the dropped row; a feed that would leave everyone unsynced for
// one reason fails with it.
func TestUsersRealWorldFeeds(t *testing.T) {
	// Every class runs in the terms, whose parents are blank (optional in
	// OneRoster 1.1): only their dates tie them to the school year.
	blankParents := func(r *roster.Roster) {
		var terms []string
		for i := range r.Sessions {
			if r.Sessions[i].Type == roster.SessionTerm {
				r.Sessions[i].Parent = ""
				terms = append(terms, r.Sessions[i].SourcedID)
			}
		}
		if len(terms) == 0 {
			t.Fatal("the sample school has no terms")
		}
		for i := range r.Classes {
			r.Classes[i].Terms = terms
		}
	}
	contradict := func(dir string) {
		p := filepath.Join(dir, "enrollments.csv")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		for i, l := range lines {
			if i > 0 && strings.Contains(l, ",student,") {
				lines[i] = strings.Replace(l, ",student,", ",teacher,", 1)
				break
			}
		}
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nextYear := func(r *roster.Roster) {
		// Every class runs in a later year than the date's.
		r.Sessions = append(r.Sessions, roster.Session{SourcedID: "ay-next", Title: "next", Type: roster.SessionSchoolYear,
			Start: roster.NewDate(2026, 9, 1), End: roster.NewDate(2027, 8, 31), SchoolYear: "2027"})
		for i := range r.Classes {
			r.Classes[i].Terms = []string{"ay-next"}
		}
		for i := range r.Courses {
			r.Courses[i].SchoolYear = "ay-next"
		}
		r.Sort()
	}
	tests := []struct {
		name        string
		edit        func(r *roster.Roster)
		editFiles   func(dir string)
		quarantined int
		failWith    plan.Reason
	}{
		{name: "terms' parents blanked", edit: blankParents},
		{name: "one contradictory enrolment", editFiles: contradict, quarantined: 1},
		{name: "everyone unsynced for one reason", edit: nextYear, failWith: plan.UnsyncedBecauseNoEnrolments},
	}
	// The unedited school is the baseline: a few staff without a
	// timetable are unsynced there too.
	_, base, err := simulate(t, FileSource{Dir: writeSample(t, nil, nil), Clock: clock.NewFake(feedNow)})
	if err != nil {
		t.Fatal(err)
	}
	baseCreates := base.Summarize().Actions[plan.Create]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSample(t, tt.edit, tt.editFiles)
			out, p, err := simulate(t, FileSource{Dir: dir, Clock: clock.NewFake(feedNow)})
			if tt.failWith != "" {
				if !queue.IsTerminal(err) || !errors.Is(err, ErrBadFeed) || !strings.Contains(err.Error(), string(tt.failWith)) {
					t.Fatalf("error = %v, want a terminal ErrBadFeed naming %s", err, tt.failWith)
				}
				return
			}
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			s := p.Summarize()
			if len(p.Unsynced) != len(base.Unsynced) || s.Actions[plan.Create] != baseCreates || baseCreates < 60 {
				t.Errorf("plan: %d creates, unsynced %v; want the %d creates and %d unsynced of the unedited school", s.Actions[plan.Create], s.Unsynced, baseCreates, len(base.Unsynced))
			}
			if len(p.Quarantined) != tt.quarantined || out.Counts["quarantined"] != tt.quarantined {
				t.Errorf("quarantined %v (count %d), want %d", p.Quarantined, out.Counts["quarantined"], tt.quarantined)
			}
			if tt.quarantined > 0 {
				q := p.Quarantined[0]
				if q.File != "enrollments.csv" || q.Line == 0 || q.Column != "role" || !strings.Contains(strings.Join(out.Log, "\n"), "quarantined") {
					t.Errorf("quarantined row %+v, log %q; want enrollments.csv, its line, column role, and a log line", q, out.Log)
				}
			}
		})
	}
}
