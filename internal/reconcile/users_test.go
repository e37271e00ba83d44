package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
	"github.com/rostersync/rostersync/internal/userplan"
)

// memTenant is a tiny in-memory directory that counts writes.
type memTenant struct {
	mu       sync.Mutex
	accounts map[string]*userplan.Account
	writes   int
	next     int
}

func (m *memTenant) Directory(ctx context.Context, c tenant.Customer) (Directory, error) {
	return m, nil
}

func (m *memTenant) Snapshot(ctx context.Context) (userplan.Directory, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := userplan.Directory{Domains: []string{"oak.example"}}
	for _, a := range m.accounts {
		cp := *a
		cp.Props = map[string]string{}
		for k, v := range a.Props {
			cp.Props[k] = v
		}
		d.Accounts = append(d.Accounts, cp)
	}
	return d, nil
}

func (m *memTenant) FindCreated(ctx context.Context, kind plan.Kind, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, a := range m.accounts {
		if strings.EqualFold(a.UserPrincipalName, key) {
			return id, true, nil
		}
	}
	return "", false, nil
}

func (m *memTenant) Execute(ctx context.Context, ops []apply.Op) []apply.Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []apply.Result
	for _, op := range ops {
		m.writes++
		switch op.Kind {
		case apply.OpCreateUser:
			m.next++
			id := fmt.Sprintf("u%d", m.next)
			props := map[string]string{}
			for k, v := range op.Props {
				if k != "userPrincipalName" && k != "mailNickname" && k != "usageLocation" {
					props[k] = v
				}
			}
			m.accounts[id] = &userplan.Account{ID: id, UserPrincipalName: op.Props["userPrincipalName"], AccountEnabled: true, Props: props}
			out = append(out, apply.Result{ID: op.ID, Status: apply.Done, TargetID: id})
		case apply.OpPatchUser:
			a := m.accounts[op.TargetID]
			for k, v := range op.Props {
				if k == "accountEnabled" {
					a.AccountEnabled = v == "true"
					continue
				}
				a.Props[k] = v
			}
			out = append(out, apply.Result{ID: op.ID, Status: apply.Done})
		default:
			out = append(out, apply.Result{ID: op.ID, Status: apply.Done})
		}
	}
	return out
}

type fixedSource struct{ r *roster.Roster }

func (s fixedSource) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (Feed, error) {
	if s.r == nil {
		return Feed{}, fmt.Errorf("%w: users.csv line 3, column 2: value \"\": want a sourcedId", ErrBadFeed)
	}
	return Feed{Roster: s.r, Session: "y2026"}, nil
}

func school(people ...[4]string) *roster.Roster {
	r := &roster.Roster{
		Orgs:     []roster.Org{{SourcedID: "sch", Name: "Oak", Type: roster.OrgSchool}},
		Sessions: []roster.Session{{SourcedID: "y2026", Type: roster.SessionSchoolYear, SchoolYear: "2026"}},
		Classes:  []roster.Class{{SourcedID: "c1", Type: roster.ClassHomeroom, School: "sch", Terms: []string{"y2026"}}},
	}
	for _, p := range people {
		r.People = append(r.People, roster.Person{SourcedID: p[0], Role: roster.RoleStudent, Enabled: true, GivenName: p[1], FamilyName: p[2], Grades: []string{p[3]}, Orgs: []string{"sch"}})
		r.Enrollments = append(r.Enrollments, roster.Enrollment{SourcedID: "e" + p[0], Class: "c1", School: "sch", Person: p[0], Role: roster.RoleStudent})
	}
	r.Sort()
	return r
}

type harness struct {
	store  *state.Store
	tenant *memTenant
	vault  *credentials.Vault
	users  *Users
	run    int
	last   pipeline.EntityOutcome // the last step of the last sync
}

func newHarness(t *testing.T) *harness {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := credentials.ParseKey(credentials.NewKey())
	vault, _ := credentials.NewVault(b, key)
	h := &harness{store: state.NewStore(b, nil), tenant: &memTenant{accounts: map[string]*userplan.Account{}}, vault: vault}
	h.users = &Users{Kind: UsersKind(), Tenants: h.tenant, Store: h.store, Credentials: vault, Passwords: credentials.Generate}
	return h
}

// sync runs one users job to the end, step by step, as the pipeline would.
func (h *harness) sync(t *testing.T, r *roster.Roster, mode string) (runs.Run, map[string]int) {
	t.Helper()
	h.run++
	h.users.Source = fixedSource{r}
	ctx := context.Background()
	run := runs.Run{ID: fmt.Sprintf("run%d", h.run), CustomerID: "oak", Mode: mode}
	in := pipeline.EntityInput{
		Job: queue.Job{Entity: tenant.EntityUsers}, Run: run, Now: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC),
		Customer: tenant.Customer{ID: "oak", TenantID: "t-oak", Domains: []string{"oak.example"}},
		Profile:  tenant.Profile{ID: "nightly", CustomerID: "oak"},
	}
	counts := map[string]int{}
	for step := 0; step < 20; step++ {
		out, err := h.users.Sync(ctx, in)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		runs.MergeCounts(counts, out.Counts)
		if !out.More {
			h.last = out
			return run, counts
		}
		in.Job.Step, in.Job.Cursor = step+1, out.Cursor
	}
	t.Fatal("users sync did not finish in 20 steps")
	return run, counts
}

func TestUsersDayOneDayTwo(t *testing.T) {
	h := newHarness(t)
	day1 := school([4]string{"s1", "Amy", "Pond", "07"}, [4]string{"s2", "Rory", "Williams", "07"}, [4]string{"s3", "Clara", "Oswald", "08"})

	run, counts := h.sync(t, day1, runs.ModeSimulate)
	if counts["plan.create"] != 3 || h.tenant.writes != 0 {
		t.Fatalf("simulation: counts %v, writes %d; want 3 planned creates and no writes", counts, h.tenant.writes)
	}
	if _, entries, err := h.store.LoadPlan(context.Background(), "oak", run.ID, tenant.EntityUsers); err != nil || len(entries) != 3 {
		t.Fatalf("stored simulation plan: %d entries, %v", len(entries), err)
	}

	run, counts = h.sync(t, day1, runs.ModeApply)
	if counts["applied.create"] != 3 || len(h.tenant.accounts) != 3 {
		t.Fatalf("day 1: counts %v, accounts %d", counts, len(h.tenant.accounts))
	}
	links, _ := h.store.ListMappings(context.Background(), "oak", MappingUser)
	if len(links) != 3 {
		t.Fatalf("links after day 1 = %d, want 3", len(links))
	}
	ex, err := h.vault.Export(context.Background(), "oak", run.ID, nil)
	if creds := ex.Credentials; err != nil || len(creds) != 3 || creds[0].Password == "" {
		t.Fatalf("credentials of day 1 = %d, %v", len(creds), err)
	}

	before := h.tenant.writes
	_, counts = h.sync(t, day1, runs.ModeApply)
	if h.tenant.writes != before || counts["matched"] != 3 {
		t.Errorf("second run: %d writes, counts %v; want zero writes and 3 matched", h.tenant.writes-before, counts)
	}

	day2 := school([4]string{"s1", "Amy", "Pond-Williams", "07"}, [4]string{"s3", "Clara", "Oswald", "08"}, [4]string{"s4", "Bill", "Potts", "09"})
	_, counts = h.sync(t, day2, runs.ModeApply)
	want := map[string]int{"applied.create": 1, "applied.update": 1, "applied.suspend": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("day 2 %s = %d, want %d (counts %v)", k, counts[k], n, counts)
		}
	}
	links, _ = h.store.ListMappings(context.Background(), "oak", MappingUser)
	for _, l := range links {
		if l.SourceID == "s2" && !l.Suspended {
			t.Error("the leaver's link does not remember the suspension")
		}
	}
	// s2 returns: reactivated, because rostersync suspended them.
	day3 := school([4]string{"s1", "Amy", "Pond-Williams", "07"}, [4]string{"s2", "Rory", "Williams", "07"}, [4]string{"s3", "Clara", "Oswald", "08"}, [4]string{"s4", "Bill", "Potts", "09"})
	if _, counts = h.sync(t, day3, runs.ModeApply); counts["applied.reactivate"] != 1 {
		t.Errorf("returner: counts %v, want one reactivation", counts)
	}
}

func TestUsersBadFeedIsTerminalAndTouchesNothing(t *testing.T) {
	h := newHarness(t)
	h.users.Source = fixedSource{nil}
	_, err := h.users.Sync(context.Background(), pipeline.EntityInput{Run: runs.Run{ID: "r1", Mode: runs.ModeApply},
		Customer: tenant.Customer{ID: "oak"}, Profile: tenant.Profile{ID: "p"}, Now: time.Now()})
	if !queue.IsTerminal(err) || !errors.Is(err, ErrBadFeed) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad feed error = %v, want a terminal located ErrBadFeed", err)
	}
	if h.tenant.writes != 0 {
		t.Error("a bad feed reached the tenant")
	}
}

// A feed that shrank suspiciously applies what is safe and holds its
// suspensions; only a confirmation lets them through.
func TestUsersShrunkFeedHoldsSuspensions(t *testing.T) {
	h := newHarness(t)
	var people [][4]string
	for i := range 10 {
		people = append(people, [4]string{fmt.Sprintf("s%02d", i), "P", fmt.Sprintf("N%d", i), "07"})
	}
	h.sync(t, school(people...), runs.ModeApply)
	run, counts := h.sync(t, school(people[:5]...), runs.ModeApply) // half the school vanished
	if counts["plan.suspend"] != 5 || counts["held"] != 5 || counts["applied.suspend"] != 0 || h.last.Held == "" {
		t.Fatalf("shrunk feed: counts %v, held %q; want 5 suspensions planned and held", counts, h.last.Held)
	}
	if n := h.disabled(); n != 0 {
		t.Fatalf("%d accounts suspended before confirmation", n)
	}
	if err := h.store.SaveConfirmation(context.Background(), state.Confirmation{CustomerID: "oak", RunID: run.ID, Entity: tenant.EntityUsers}); err != nil {
		t.Fatal(err)
	}
	out, err := h.users.Sync(context.Background(), pipeline.EntityInput{Job: queue.Job{Entity: tenant.EntityUsers, Step: 9, Cursor: cursorApply},
		Run: run, Now: time.Now(), Customer: tenant.Customer{ID: "oak", TenantID: "t-oak", Domains: []string{"oak.example"}},
		Profile: tenant.Profile{ID: "nightly", CustomerID: "oak"}})
	if err != nil || out.More || out.Held != "" || out.Counts["applied.suspend"] != 5 || h.disabled() != 5 {
		t.Fatalf("after confirmation: %+v, %v; %d disabled, want 5", out, err, h.disabled())
	}
}

func (h *harness) disabled() int {
	h.tenant.mu.Lock()
	defer h.tenant.mu.Unlock()
	n := 0
	for _, a := range h.tenant.accounts {
		if !a.AccountEnabled {
			n++
		}
	}
	return n
}
