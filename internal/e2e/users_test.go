package e2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

const tenantID = "sim-e2e"

type env struct {
	t        testing.TB
	sim      *graphsim.Server
	requests atomic.Int64
	factory  *graph.Factory
	dir      string
	backend  *embedded.Backend
	store    *state.Store
	vault    *credentials.Vault
	key      []byte
	scale    float64
	runs     int
	// wrap, when set, wraps each step's directory (fault injection).
	wrap func(reconcile.Directory) reconcile.Directory
	// roundSize is the applier's RoundSize (0: its default).
	roundSize int
	// wrapBackend, when set, wraps the store's backend at the next open.
	wrapBackend func(state.Backend) state.Backend
}

func newEnv(t testing.TB, scale float64, limits *graphsim.Limits, seed ...func(*graphsim.TenantState)) *env {
	t.Helper()
	return newEnvOpts(t, graphsim.Options{TimeScale: scale, Limits: limits}, seed...)
}

// newEnvOpts is newEnv with every simulator option (team delays, faults).
func newEnvOpts(t testing.TB, opts graphsim.Options, seed ...func(*graphsim.TenantState)) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), scale: opts.TimeScale}
	e.sim = graphsim.New(opts)
	ts := graphsim.TenantState{ID: tenantID, DisplayName: "E2E",
		Edition: graphsim.EditionEducation, Domains: []graphsim.Domain{{ID: "oak.example", IsVerified: true, IsDefault: true}}}
	for _, f := range seed {
		f(&ts)
	}
	st := graphsim.State{FormatVersion: graphsim.StateFormatVersion, Tenants: []graphsim.TenantState{ts}}
	if err := e.sim.Load(st); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(countRequests(&e.requests, e.sim))
	t.Cleanup(srv.Close)
	f, err := graph.NewFactory(graph.Config{Mode: graph.ModeStatic, BaseURL: srv.URL + "/v1.0"})
	if err != nil {
		t.Fatal(err)
	}
	e.factory = f
	e.key, _ = credentials.ParseKey(credentials.NewKey())
	e.open()
	t.Cleanup(func() { e.backend.Close() })
	return e
}

// open (re)opens the store from disk, as a restarted process would.
func (e *env) open() {
	b, err := embedded.Open(filepath.Join(e.dir, "store"))
	if err != nil {
		e.t.Fatal(err)
	}
	var sb state.Backend = b
	if e.wrapBackend != nil {
		sb = e.wrapBackend(b)
	}
	e.backend, e.store = b, state.NewStore(sb, nil)
	e.vault, _ = credentials.NewVault(sb, e.key)
}

func (e *env) Directory(ctx context.Context, c tenant.Customer) (reconcile.Directory, error) {
	client, err := e.factory.Client(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	var d reconcile.Directory = struct {
		*graph.Client
		*graph.Executor
	}{client, graph.NewExecutor(client, graph.ExecutorOptions{TimeScale: e.scale})}
	if e.wrap != nil {
		d = e.wrap(d)
	}
	return d, nil
}

type source struct{ r *roster.Roster }

func (s source) Load(ctx context.Context, c tenant.Customer, p tenant.Profile) (reconcile.Feed, error) {
	return reconcile.Feed{Roster: s.r, Session: s.r.Sessions[0].SourcedID}, nil
}

func school(students, staff int) *roster.Roster {
	r := sample.Generate(sample.Options{Seed: 3, Students: students, Staff: staff, StartYear: 2026})
	for i := range r.Sessions { // the school-year session first
		if r.Sessions[i].Type == roster.SessionSchoolYear {
			r.Sessions[0], r.Sessions[i] = r.Sessions[i], r.Sessions[0]
		}
	}
	return r
}

func (e *env) users(r *roster.Roster) *reconcile.Users {
	return &reconcile.Users{Kind: reconcile.UsersKind(), Source: source{r}, Tenants: e, Store: e.store, Credentials: e.vault, Passwords: credentials.Generate,
		Apply: apply.Options{MaxWait: time.Second, Budget: 10 * time.Second, RoundSize: e.roundSize}, IntentWindow: 2 * time.Second}
}

var customer = tenant.Customer{ID: "oak", TenantID: tenantID, Domains: []string{"oak.example"}, Features: tenant.Features{Users: true}}

func (e *env) input(mode string) pipeline.EntityInput {
	e.runs++
	return pipeline.EntityInput{Job: queue.Job{Entity: tenant.EntityUsers}, Customer: customer,
		Run:     runs.Run{ID: fmt.Sprintf("run-%02d", e.runs), CustomerID: customer.ID, Mode: mode},
		Profile: tenant.Profile{ID: "nightly", CustomerID: customer.ID}, Now: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)}
}

// step runs steps from in until the entity finishes or stop says so,
// sleeping RequeueAfter between them as the scheduled message would.
func (e *env) steps(ctx context.Context, u *reconcile.Users, in pipeline.EntityInput, maxSteps int) (pipeline.EntityInput, map[string]int, bool, error) {
	counts := map[string]int{}
	for range maxSteps {
		out, err := u.Sync(ctx, in)
		if err != nil {
			return in, counts, false, err
		}
		runs.MergeCounts(counts, out.Counts)
		if !out.More {
			return in, counts, true, nil
		}
		time.Sleep(min(out.RequeueAfter, 2*time.Second))
		in.Job.Step++
		in.Job.Cursor = out.Cursor
	}
	return in, counts, false, nil
}

func (e *env) sync(r *roster.Roster, mode string) map[string]int {
	e.t.Helper()
	_, counts, done, err := e.steps(context.Background(), e.users(r), e.input(mode), 200)
	if err != nil || !done {
		e.t.Fatalf("sync: done %t, %v", done, err)
	}
	return counts
}

func (e *env) stats() graphsim.Stats {
	s, _ := e.sim.Stats(tenantID)
	return s
}

// tenantUsers returns the simulated tenant's users by UPN.
func (e *env) tenantUsers() map[string]map[string]any {
	ts, _ := e.sim.ExportTenant(tenantID)
	out := map[string]map[string]any{}
	for _, u := range ts.Users {
		upn := strings.ToLower(fmt.Sprint(u["userPrincipalName"]))
		if _, dup := out[upn]; dup {
			e.t.Errorf("duplicate account %s in the tenant", upn)
		}
		out[upn] = u
	}
	return out
}

// checkEveryoneOnce asserts that every synced person has exactly one
// account, linked, and that no account is linked twice.
func (e *env) checkEveryoneOnce(r *roster.Roster, wantPeople int) {
	e.t.Helper()
	links, err := e.store.ListMappings(context.Background(), customer.ID, reconcile.MappingUser)
	if err != nil {
		e.t.Fatal(err)
	}
	byTarget := map[string]string{}
	for _, l := range links {
		if other, dup := byTarget[l.TargetID]; dup {
			e.t.Errorf("account %s linked to %s and %s", l.TargetID, other, l.SourceID)
		}
		byTarget[l.TargetID] = l.SourceID
	}
	users := e.tenantUsers()
	if len(links) != wantPeople || len(users) != wantPeople {
		e.t.Errorf("links %d, tenant accounts %d; want %d of each", len(links), len(users), wantPeople)
	}
}

func countRequests(n *atomic.Int64, h *graphsim.Server) *countingHandler {
	return &countingHandler{n: n, h: h}
}

func TestUsersEndToEnd(t *testing.T) {
	e := newEnv(t, 60, nil)
	day1 := school(300, 30)
	view, _ := roster.NewView(day1, day1.Sessions[0].SourcedID, 0)
	people := len(view.ActivePeople())

	sim := e.sync(day1, runs.ModeSimulate)
	if sim["plan.create"] != people || e.stats().Writes != 0 {
		t.Fatalf("simulation planned %d creates (want %d) and wrote %d", sim["plan.create"], people, e.stats().Writes)
	}

	counts := e.sync(day1, runs.ModeApply)
	if counts["applied.create"] != people {
		t.Fatalf("day 1 created %d, want %d (counts %v)", counts["applied.create"], people, counts)
	}
	e.checkEveryoneOnce(day1, people)

	before, reqBefore := e.stats(), e.requests.Load()
	counts = e.sync(day1, runs.ModeApply)
	after := e.stats()
	// Accounts created moments ago may not show in reads yet: they are
	// left alone (never recreated), and nothing is written.
	if w := after.Writes - before.Writes; w != 0 || counts["matched"]+counts["unsynced"]-unenrolled(day1) != people {
		t.Errorf("no-change run: %d writes, %d matched, %d unsynced; want 0 writes and everyone matched or waiting", w, counts["matched"], counts["unsynced"])
	}
	if n := e.requests.Load() - reqBefore; n > 10 {
		t.Errorf("no-change run made %d Graph requests, want at most 10", n)
	}

	day2, leaver, renamed := nextDay(day1)
	before = e.stats()
	counts = e.sync(day2, runs.ModeApply)
	after = e.stats()
	want := map[string]int{"applied.create": 1, "applied.update": 1, "applied.suspend": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("day 2 %s = %d, want %d (counts %v)", k, counts[k], n, counts)
		}
	}
	// create 1 + update 1 + suspend 2 (disable, revoke) = 4 writes, no more.
	if w := after.Writes - before.Writes; w != 4 {
		t.Errorf("day 2 made %d writes, want exactly 4", w)
	}
	users := e.tenantUsers()
	suspended, renamedOK := false, false
	links, _ := e.store.ListMappings(context.Background(), customer.ID, reconcile.MappingUser)
	for _, l := range links {
		for _, u := range users {
			if u["id"] != l.TargetID {
				continue
			}
			if l.SourceID == leaver && u["accountEnabled"] == false {
				suspended = true
			}
			if l.SourceID == renamed && strings.HasSuffix(fmt.Sprint(u["surname"]), "-Okafor") {
				renamedOK = true
			}
		}
	}
	if !suspended || !renamedOK {
		t.Errorf("day 2 in the tenant: leaver suspended %t, surname changed %t", suspended, renamedOK)
	}
}

func unenrolled(r *roster.Roster) int {
	v, _ := roster.NewView(r, r.Sessions[0].SourcedID, 0)
	return len(v.Unenrolled())
}

// nextDay is day1 a day later: the first pupil left, a pupil joined, the
// second pupil's surname changed.
func nextDay(r *roster.Roster) (*roster.Roster, string, string) {
	next := *r
	next.People = slices.Clone(r.People)
	next.Demographics = nil
	var pupils []int
	for i, p := range next.People {
		if p.Role == roster.RoleStudent && p.Enabled {
			pupils = append(pupils, i)
		}
	}
	leaver, renamed := next.People[pupils[0]], next.People[pupils[1]].SourcedID
	next.People[pupils[1]].FamilyName += "-Okafor"
	joiner := leaver
	joiner.SourcedID, joiner.GivenName, joiner.FamilyName, joiner.Agents = "joiner-1", "Niamh", "Ó Briain", nil
	next.People = append(slices.Delete(next.People, pupils[0], pupils[0]+1), joiner)
	next.Enrollments = slices.Clone(r.Enrollments)
	for i := range next.Enrollments {
		if next.Enrollments[i].Person == leaver.SourcedID {
			next.Enrollments[i].Person = joiner.SourcedID
		}
	}
	next.Sort()
	return &next, leaver.SourcedID, renamed
}

// crashingDirectory lets a number of Execute calls through, then performs
// the next one and loses its answers (as if the process died before it
// could journal them), and fails every later call as a dead process would.
// usersDirectory is a tenant with its users and groups reads: a wrapper
// keeps them all.
type usersDirectory interface {
	reconcile.Directory
	reconcile.UsersReader
	reconcile.GroupsReader
}

type crashingDirectory struct {
	usersDirectory
	calls *atomic.Int32
	after int32
}

func (c crashingDirectory) Execute(ctx context.Context, ops []apply.Op) []apply.Result {
	n := c.calls.Add(1)
	switch {
	case n <= c.after:
		return c.usersDirectory.Execute(ctx, ops)
	case n == c.after+1:
		c.usersDirectory.Execute(ctx, ops) // the writes happen...
		fallthrough
	default:
		out := make([]apply.Result, len(ops)) // ...but nobody hears back
		for i, op := range ops {
			out[i] = apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: 1500 * time.Millisecond}
		}
		return out
	}
}

func TestKilledMidwayResumesWithoutDuplicates(t *testing.T) {
	e := newEnv(t, 60, nil)
	day1 := school(500, 40)
	view, _ := roster.NewView(day1, day1.Sessions[0].SourcedID, 0)
	people := len(view.ActivePeople())

	var calls atomic.Int32
	e.wrap = func(d reconcile.Directory) reconcile.Directory {
		return crashingDirectory{usersDirectory: d.(usersDirectory), calls: &calls, after: 1}
	}
	in, _, done, err := e.steps(context.Background(), e.users(day1), e.input(runs.ModeApply), 3)
	if err != nil || done {
		t.Fatalf("the crashing run finished (%t, %v); it should have been cut short", done, err)
	}
	created := len(e.tenantUsers())
	if created == 0 || created >= people {
		t.Fatalf("after the crash the tenant has %d of %d accounts; the test needs a partial run", created, people)
	}

	// The process restarts: the store is read back from disk and the
	// follow-up message delivers the same step again.
	e.backend.Close()
	e.open()
	e.wrap = nil
	_, counts, done, err := e.steps(context.Background(), e.users(day1), in, 100)
	if err != nil || !done {
		t.Fatalf("resumed run: done %t, %v", done, err)
	}
	e.checkEveryoneOnce(day1, people)
	if counts["failed.create"] != 0 {
		t.Errorf("resumed run failed %d creates", counts["failed.create"])
	}
}

func TestHeavyThrottlingLosesNothing(t *testing.T) {
	limits := graphsim.DefaultLimits()
	limits.AppTenantWrites = 60 // a tiny quota: most writes meet a 429 first
	e := newEnv(t, 600, &limits)
	day1 := school(200, 20)
	view, _ := roster.NewView(day1, day1.Sessions[0].SourcedID, 0)
	people := len(view.ActivePeople())
	counts := e.sync(day1, runs.ModeApply)
	if counts["applied.create"] != people {
		t.Errorf("created %d under throttling, want %d", counts["applied.create"], people)
	}
	if e.stats().Throttled == 0 {
		t.Error("the run was never throttled; the test proves nothing")
	}
	e.checkEveryoneOnce(day1, people)
}
