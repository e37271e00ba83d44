package localstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/app"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/membroker"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// recorder is a set of entities that note when they run.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) entity(name string, fail error) pipeline.Entity {
	return pipeline.EntityFunc(func(ctx context.Context, in pipeline.EntityInput) (pipeline.EntityOutcome, error) {
		r.mu.Lock()
		r.calls = append(r.calls, in.Job.CustomerID+"/"+name)
		r.mu.Unlock()
		if fail != nil {
			return pipeline.EntityOutcome{}, fail
		}
		return pipeline.EntityOutcome{Counts: map[string]int{name: 1}}, nil
	})
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

type fixture struct {
	stack *Stack
	app   *app.App
	clock *clock.Fake
	rec   *recorder
}

// startProduct starts the stack running the product as internal/app
// builds it, on an in-memory embedded store; entities, when set, replace
// the registered ones (these tests are about the pipeline's machinery).
func startProduct(t *testing.T, opts Options, entities pipeline.Registry) (*Stack, *app.App) {
	t.Helper()
	backend, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	var built *app.App
	opts.Handler = func(ctx context.Context, sender queue.Sender, log *slog.Logger) (http.Handler, error) {
		a, err := app.Build(ctx, app.Options{Getenv: opts.Getenv, Backend: backend, Sender: sender, Clock: opts.Clock, Log: log,
			MaxDeliveryCount: opts.Queue.MaxDeliveryCount, LocalSources: true, Entities: entities})
		if err != nil {
			return nil, err
		}
		built = a
		return a.Handler, nil
	}
	stack, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stack.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return stack, built
}

func start(t *testing.T, entities pipeline.Registry, rec *recorder) fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 21, 2, 5, 0, 0, time.UTC))
	stack, a := startProduct(t, Options{
		Root: "../..", FunctionsDir: "../../functions", Clock: clk,
		// The test fires the timer itself; the schedule would race it.
		Getenv: func(k string) string {
			if k == "AzureWebJobs.Scheduler.Disabled" {
				return "true"
			}
			return ""
		},
		Queue: membroker.QueueOptions{MaxDeliveryCount: 3, LockDuration: time.Minute, DuplicateDetectionWindow: time.Hour},
	}, entities)
	return fixture{stack: stack, app: a, clock: clk, rec: rec}
}

func (f fixture) seed(t *testing.T, customerID string, entities ...string) {
	t.Helper()
	ctx := context.Background()
	if err := f.app.Store.PutCustomer(ctx, tenant.Customer{ID: customerID, Name: "Test school"}); err != nil {
		t.Fatal(err)
	}
	p := tenant.Profile{CustomerID: customerID, ID: "nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London",
		Entities: entities, CreatedAt: time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)}
	if err := f.app.Store.SaveProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
}

func (f fixture) tick(t *testing.T) (enqueued, already int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inv, err := f.stack.Host.FireTimer(ctx, "Scheduler")
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Succeeded() {
		t.Fatalf("Scheduler invocation status %d, logs %q", inv.Status, inv.Logs)
	}
	var ret struct{ Enqueued, AlreadyEnqueued int }
	if err := json.Unmarshal(inv.Return, &ret); err != nil {
		t.Fatalf("ReturnValue %s: %v", inv.Return, err)
	}
	if err := f.stack.Host.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	return ret.Enqueued, ret.AlreadyEnqueued
}

func TestNightlyRunEndToEnd(t *testing.T) {
	rec := &recorder{}
	f := start(t, pipeline.Registry{"alpha": rec.entity("alpha", nil), "beta": rec.entity("beta", nil), tenant.EntityNoop: pipeline.Noop}, rec)
	f.seed(t, "oakfield", "alpha", "beta", tenant.EntityNoop)
	ctx := context.Background()

	if enq, _ := f.tick(t); enq != 1 {
		t.Fatalf("first tick enqueued %d runs, want 1", enq)
	}
	if got, want := strings.Join(rec.got(), ","), "oakfield/alpha,oakfield/beta"; got != want {
		t.Errorf("entities ran %s, want %s (in profile order)", got, want)
	}
	rs, err := f.app.Store.ListRuns(ctx, "oakfield", "", 0)
	if err != nil || len(rs) != 1 {
		t.Fatalf("ListRuns = %d runs, %v; want 1", len(rs), err)
	}
	run := rs[0]
	if run.Status != runs.StatusSucceeded || run.Trigger != runs.TriggerTimer || run.Window != "2026-11-21" {
		t.Errorf("run = status %s trigger %s window %s, want succeeded timer 2026-11-21", run.Status, run.Trigger, run.Window)
	}
	if run.Counts["alpha"] != 1 || run.Counts["beta"] != 1 || run.Counts["checked"] != 1 || run.EndedAt.IsZero() {
		t.Errorf("run counts %v ended %v", run.Counts, run.EndedAt)
	}
	for _, entity := range []string{"alpha", "beta", tenant.EntityNoop, pipeline.ProfileEntity} {
		st, err := f.app.Store.GetSyncState(ctx, "oakfield", "nightly", entity)
		if err != nil {
			t.Fatalf("sync state %s: %v", entity, err)
		}
		if !st.LastSync.Equal(f.clock.Now()) || st.LastRunID != run.ID || st.LastStatus != string(runs.StatusSucceeded) {
			t.Errorf("sync state %s = %+v, want last sync now by run %s", entity, st, run.ID)
		}
	}

	// Same window: the timer fires again (a restart, a second instance).
	f.clock.Advance(5 * time.Minute)
	enq, already := f.tick(t)
	if enq != 0 || already != 1 {
		t.Errorf("second tick enqueued %d (already %d), want 0 (1)", enq, already)
	}
	if n := len(rec.got()); n != 2 {
		t.Errorf("entities ran %d times after the second tick, want still 2", n)
	}
	if rs, _ := f.app.Store.ListRuns(ctx, "oakfield", "", 0); len(rs) != 1 {
		t.Errorf("runs after second tick = %d, want 1", len(rs))
	}

	// The next night is a new window.
	f.clock.Advance(24 * time.Hour)
	if enq, _ := f.tick(t); enq != 1 {
		t.Errorf("next night's tick enqueued %d runs, want 1", enq)
	}
}

func TestCustomersRunInTheirOwnSessions(t *testing.T) {
	rec := &recorder{}
	f := start(t, pipeline.Registry{"alpha": rec.entity("alpha", nil), "beta": rec.entity("beta", nil)}, rec)
	for _, c := range []string{"elm", "oak", "ash"} {
		f.seed(t, c, "alpha", "beta")
	}
	if enq, _ := f.tick(t); enq != 3 {
		t.Fatalf("tick enqueued %d runs, want 3", enq)
	}
	perCustomer := map[string][]string{}
	for _, call := range rec.got() {
		c, e, _ := strings.Cut(call, "/")
		perCustomer[c] = append(perCustomer[c], e)
	}
	for _, c := range []string{"elm", "oak", "ash"} {
		if got := strings.Join(perCustomer[c], ","); got != "alpha,beta" {
			t.Errorf("customer %s ran %s, want alpha,beta", c, got)
		}
	}
}

func TestFailingEntityDeadLettersWithReason(t *testing.T) {
	rec := &recorder{}
	f := start(t, pipeline.Registry{"alpha": rec.entity("alpha", errors.New("graph answered 503")), "beta": rec.entity("beta", nil)}, rec)
	f.seed(t, "oakfield", "alpha", "beta")
	f.tick(t)
	ctx := context.Background()

	dead, err := f.stack.Broker.DeadLetters("sync-jobs")
	if err != nil || len(dead) != 1 {
		t.Fatalf("dead letters = %d, %v; want 1", len(dead), err)
	}
	if dead[0].Reason != membroker.ReasonMaxDeliveryCountExceeded || dead[0].DeliveryCount != 3 {
		t.Errorf("dead letter = %s after %d deliveries, want %s after 3", dead[0].Reason, dead[0].DeliveryCount, membroker.ReasonMaxDeliveryCountExceeded)
	}
	fails, err := f.app.Store.Failures(ctx, "sync-jobs")
	if err != nil || len(fails) != 1 || !fails[0].Final || !strings.Contains(fails[0].Reason, "503") {
		t.Fatalf("recorded failures = %+v, %v; want one final failure naming the 503", fails, err)
	}
	rs, _ := f.app.Store.ListRuns(ctx, "oakfield", "", 0)
	run := rs[0]
	if run.Status != runs.StatusFailed || run.Entities[0].Status != runs.StatusFailed || run.Entities[1].Status != runs.StatusSkipped {
		t.Errorf("run %s entities %s/%s, want failed with alpha failed and beta skipped", run.Status, run.Entities[0].Status, run.Entities[1].Status)
	}
	if got := len(rec.got()); got != 3 {
		t.Errorf("alpha ran %d times, want 3 (one per delivery)", got)
	}
}

func TestPoisonMessageIsDeadLetteredWithReason(t *testing.T) {
	f := start(t, nil, nil)
	ctx := context.Background()
	poison := queue.Message{MessageID: "garbage-1", SessionID: "oakfield", Body: []byte(`{"not":"a job"}`)}
	if err := f.stack.Broker.Sender("sync-jobs").Send(ctx, poison); err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := f.stack.Host.Drain(dctx); err != nil {
		t.Fatal(err)
	}
	dead, _ := f.stack.Broker.DeadLetters("sync-jobs")
	if len(dead) != 1 || dead[0].MessageID != "garbage-1" {
		t.Fatalf("dead letters = %+v, want the poison message", dead)
	}
	fails, _ := f.app.Store.Failures(ctx, "sync-jobs")
	if len(fails) != 1 || !fails[0].Final || !strings.Contains(fails[0].Reason, "bad job message") || fails[0].Body == "" {
		t.Errorf("failures = %+v, want the final reason and the body kept", fails)
	}
}

func TestManualRunThroughTheAPI(t *testing.T) {
	stack, _ := startProduct(t, Options{Root: "../..", FunctionsDir: "../../functions",
		HTTPAddr: "127.0.0.1:0", FunctionKey: "local-key", Queue: membroker.QueueOptions{MaxDeliveryCount: 3}}, nil)
	base := stack.Host.URL()
	do := func(method, path, key, body string) *http.Response {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("x-functions-key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := do("GET", "/api/customers/oakfield", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key: status %d, want 401", resp.StatusCode)
	}
	steps := []struct {
		method, path, body string
		want               int
	}{
		{"PUT", "/api/customers/oakfield", `{"name":"Oakfield Academy","features":{"users":true}}`, 200},
		{"PUT", "/api/customers/oakfield/profiles/nightly", `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["noop"]}`, 200},
		{"PUT", "/api/customers/oakfield/profiles/second", `{"name":"Clash","enabled":true,"runAt":"03:00","timeZone":"Europe/London","entities":["noop"]}`, 409},
		{"PUT", "/api/customers/oakfield/profiles/bad", `{"runAt":"3pm","timeZone":"Europe/London","entities":["noop"]}`, 400},
		{"PUT", "/api/customers/oakfield/profiles/bad", `{"unknownField":1}`, 400},
		{"GET", "/api/customers/nobody/runs/x", "", 404},
		{"POST", "/api/customers/oakfield/profiles/nightly/runs?simulate=maybe", "", 400},
	}
	for _, s := range steps {
		if resp := do(s.method, s.path, "local-key", s.body); resp.StatusCode != s.want {
			t.Errorf("%s %s = %d, want %d", s.method, s.path, resp.StatusCode, s.want)
		}
	}
	resp := do("POST", "/api/customers/oakfield/profiles/nightly/runs", "local-key", "")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start run = %d, want 202", resp.StatusCode)
	}
	var run runs.Run
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := stack.Host.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	resp = do("GET", fmt.Sprintf("/api/customers/oakfield/runs/%s", run.ID), "local-key", "")
	var got runs.Run
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.Status != runs.StatusSucceeded || got.Trigger != runs.TriggerManual {
		t.Errorf("run after drain = %s %s, want succeeded manual", got.Status, got.Trigger)
	}
	resp = do("GET", fmt.Sprintf("/api/customers/oakfield/runs/%s/log", run.ID), "local-key", "")
	var log struct{ Value []runs.LogEntry }
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil || len(log.Value) == 0 {
		t.Errorf("run log = %+v, %v; want entries", log, err)
	}
}
