package summary

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

var update = flag.Bool("update", false, "rewrite the golden summaries")

// nightRun is a nightly run as the runner records it: users created and
// suspended some accounts, one create failed, groups held a deletion.
func nightRun() runs.Run {
	at := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	r := runs.New(runs.ScheduledID("oakfield", "nightly", "2026-03-02", at), "oakfield", "nightly",
		runs.TriggerTimer, runs.ModeApply, "2026-03-02", []string{tenant.EntityUsers, tenant.EntityGroups}, at)
	r.Entities[0] = runs.EntityRun{Entity: tenant.EntityUsers, Status: runs.StatusSucceeded, StartedAt: at, EndedAt: at.Add(4 * time.Minute), Steps: 3,
		Counts: map[string]int{"plan.create": 12, "applied.create": 11, "failed.create": 1, "plan.suspend": 2, "applied.suspend": 2, "unsynced": 3, "quarantined": 1}}
	r.Entities[1] = runs.EntityRun{Entity: tenant.EntityGroups, Status: runs.StatusHeld, StartedAt: at.Add(4 * time.Minute), EndedAt: at.Add(6 * time.Minute), Steps: 2,
		Counts: map[string]int{"plan.create": 4, "applied.create": 4, "plan.delete": 9, "held": 9, "unsynced": 1},
		Held:   "9 group deletions exceed the removal guard (5); confirm them in the run's report"}
	r.Finish(at.Add(6 * time.Minute))
	return r
}

// simulateRun is a manual simulation of another profile the same day.
func simulateRun() runs.Run {
	at := time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)
	r := runs.New("20260302T143000Z-0a1b2c3d4e", "oakfield", "sixth-form", runs.TriggerManual, runs.ModeSimulate,
		"20260302T143000Z-0a1b2c3d4e", []string{tenant.EntityUsers}, at)
	r.Entities[0] = runs.EntityRun{Entity: tenant.EntityUsers, Status: runs.StatusFailed, StartedAt: at, EndedAt: at.Add(time.Minute),
		Counts: map[string]int{"plan.create": 40}, Error: "roster feed refused: 12% of users.csv rows quarantined (max 5%) <see report>"}
	r.Finish(at.Add(time.Minute))
	return r
}

func TestComposeGolden(t *testing.T) {
	customer := tenant.Customer{ID: "oakfield", Name: "Oakfield Academy", SummaryEmail: "it-logs@oakfield.example", Status: tenant.StatusConnected}
	revoked := customer
	revoked.Status = tenant.StatusConsentRevoked
	profiles := map[string]string{"nightly": "Nightly sync", "sixth-form": "Sixth form"}
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"day-with-runs", Input{Customer: customer, Day: "2026-03-02", Profiles: profiles,
			Runs: []runs.Run{simulateRun(), nightRun()}, RunURL: "https://portal.vendor.example/rostersync"}},
		{"consent-revoked", Input{Customer: revoked, Day: "2026-03-02", Profiles: profiles}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := Compose(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			for ext, got := range map[string]string{"html": msg.HTML, "txt": "Subject: " + msg.Subject + "\n\n" + msg.Text} {
				path := filepath.Join("testdata", tc.name+"."+ext)
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got != string(want) {
					t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", ext, path, got)
				}
			}
		})
	}
}

func TestComposeEscapesAndLinks(t *testing.T) {
	msg, err := Compose(Input{Customer: tenant.Customer{ID: "oak field"}, Day: "2026-03-02",
		Runs: []runs.Run{simulateRun()}, RunURL: "https://api.example/api/"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg.HTML, "<see report>") || !strings.Contains(msg.HTML, "&lt;see report&gt;") {
		t.Errorf("HTML does not escape the run's error:\n%s", msg.HTML)
	}
	if want := `href="https://api.example/api/customers/oakfield/runs/20260302T143000Z-0a1b2c3d4e"`; !strings.Contains(msg.HTML, want) {
		t.Errorf("HTML lacks the run link %s:\n%s", want, msg.HTML)
	}
	if !strings.Contains(msg.Text, "would: create 40") {
		t.Errorf("a simulation's planned changes are not shown as such:\n%s", msg.Text)
	}
}

// --- sending

type fakeMailer struct {
	mu   sync.Mutex
	sent []Mail
	fail error
}

func (m *fakeMailer) SendMail(_ context.Context, mail Mail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.sent = append(m.sent, mail)
	return nil
}

func (m *fakeMailer) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sent)
}

// fixture is a store with the Oakfield customer, its London profile and
// the given runs.
func fixture(t *testing.T, rs ...runs.Run) *state.Store {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewStore(b, time.Now)
	ctx := t.Context()
	if err := st.PutCustomer(ctx, tenant.Customer{ID: "oakfield", Name: "Oakfield Academy", SummaryEmail: "it-logs@oakfield.example",
		Status: tenant.StatusConnected, Features: tenant.Features{Users: true, Groups: true}}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutCustomer(ctx, tenant.Customer{ID: "no-address", Features: tenant.Features{Users: true}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"oakfield", "no-address"} {
		if err := st.CreateProfile(ctx, tenant.Profile{CustomerID: c, ID: "nightly", Name: "Nightly sync", Enabled: true, RunAt: "02:00",
			TimeZone: "Europe/London", Entities: []string{tenant.EntityUsers, tenant.EntityGroups}, Source: tenant.RosterSource{Kind: tenant.SourceCSV, Path: "feed"}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		if _, err := st.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestSentOncePerDay(t *testing.T) {
	st := fixture(t, nightRun())
	mail := &fakeMailer{}
	job := New(st, mail, Options{RunURL: "https://portal.vendor.example"}).TickJob()
	ctx := t.Context()
	// The run's day, still going on: nothing yet.
	for i, at := range []time.Time{
		time.Date(2026, 3, 2, 23, 55, 0, 0, time.UTC), // 23:55 London, same day
		time.Date(2026, 3, 3, 0, 5, 0, 0, time.UTC),   // the next day: sends
		time.Date(2026, 3, 3, 0, 10, 0, 0, time.UTC),  // the tick after: does not
		time.Date(2026, 3, 4, 0, 5, 0, 0, time.UTC),   // a day with no run: does not
	} {
		lines, err := job.Run(ctx, at)
		if err != nil {
			t.Fatalf("tick %d: %v", i, err)
		}
		want := map[int]int{0: 0, 1: 1, 2: 1, 3: 1}[i]
		if got := mail.count(); got != want {
			t.Fatalf("after tick %d (%v, lines %q): %d mails sent, want %d", i, at, lines, got, want)
		}
	}
	got := mail.sent[0]
	if got.To != "it-logs@oakfield.example" || !strings.Contains(got.Subject, "2026-03-02") || !strings.Contains(got.HTML, "create 11") || !strings.Contains(got.Text, "create 11") {
		t.Errorf("sent %+v", got)
	}
	m, err := st.GetSyncState(ctx, "oakfield", MarkerProfile, MarkerEntity)
	if err != nil || m.LastWindow != "2026-03-03" || m.LastStatus != markNoRuns {
		t.Errorf("marker = %+v, %v; want day 2026-03-03 marked %q", m, err, markNoRuns)
	}
}

func TestNothingSentForADayWithNoRuns(t *testing.T) {
	st := fixture(t)
	mail := &fakeMailer{}
	outs, err := New(st, mail, Options{}).Send(t.Context(), time.Date(2026, 3, 3, 0, 5, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if mail.count() != 0 {
		t.Fatalf("sent %d mails for a day with no runs", mail.count())
	}
	if len(outs) != 1 || outs[0].Reason != markNoRuns {
		t.Errorf("outcomes = %+v, want oakfield's day with no runs (the customer with no address not considered)", outs)
	}
}

func TestWaitsForTheDaysRunsToEnd(t *testing.T) {
	r := nightRun()
	r.Status, r.EndedAt = runs.StatusRunning, time.Time{}
	r.Entities[1].Status = runs.StatusRunning
	st := fixture(t, r)
	mail := &fakeMailer{}
	svc := New(st, mail, Options{})
	ctx := t.Context()
	at := time.Date(2026, 3, 3, 0, 5, 0, 0, time.UTC)
	if _, err := svc.Send(ctx, at); err != nil || mail.count() != 0 {
		t.Fatalf("with a run still going: %d sent, %v; want none", mail.count(), err)
	}
	cur, err := st.GetRun(ctx, "oakfield", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Entities[1].Status = runs.StatusSucceeded
	cur.Finish(at)
	if _, err := st.SaveRun(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, at.Add(5*time.Minute)); err != nil || mail.count() != 1 {
		t.Fatalf("once the run ended: %d sent, %v; want 1", mail.count(), err)
	}
}

func TestFailedSendIsRetriedAndConcurrentTicksSendOnce(t *testing.T) {
	st := fixture(t, nightRun())
	mail := &fakeMailer{fail: errors.New("503 from graph")}
	ctx := t.Context()
	at := time.Date(2026, 3, 3, 0, 5, 0, 0, time.UTC)
	if _, err := New(st, mail, Options{}).Send(ctx, at); err == nil {
		t.Fatal("a failed send reported no error")
	}
	mail.fail = nil
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = New(st, mail, Options{}).Send(ctx, at.Add(5*time.Minute))
		}()
	}
	wg.Wait()
	if mail.count() != 1 {
		t.Fatalf("after a failed send and four concurrent ticks: %d sent, want exactly 1", mail.count())
	}
}
