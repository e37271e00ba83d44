package devhost_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/devhost"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/membroker"
)

// The host-contract suite: the same real-format invocations go to the
// handler `serve` runs, once as the Functions host sends them (the
// fixtures in testdata/invoke) and once through the local host, and must
// come out the same.

type recorder struct {
	mu         sync.Mutex
	deliveries []queue.Delivery
	ticks      []time.Time
	outcome    pipeline.Outcome
}

func (r *recorder) Tick(ctx context.Context, now time.Time) (pipeline.TickReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ticks = append(r.ticks, now)
	return pipeline.TickReport{At: now}, nil
}

func (r *recorder) Handle(ctx context.Context, d queue.Delivery) pipeline.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries = append(r.deliveries, d)
	return r.outcome
}

func (r *recorder) last() queue.Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deliveries[len(r.deliveries)-1]
}

// stack is the handler on loopback and a local host in front of it.
type stack struct {
	rec     *recorder
	handler *httptest.Server
	broker  *membroker.Broker
	host    *devhost.Host
	hostLog *bytes.Buffer
	queue   string
}

func newStack(t *testing.T, root string, outcome pipeline.Outcome) *stack {
	t.Helper()
	rec := &recorder{outcome: outcome}
	api := http.NewServeMux()
	api.HandleFunc("GET /api/customers/{customer}", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.PathValue("customer")) })
	api.HandleFunc("POST /api/echo", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(w, r.Body) })
	st := &stack{rec: rec, broker: membroker.New(clock.Real{}), hostLog: &bytes.Buffer{}, queue: "sync-jobs"}
	var mu sync.Mutex
	hostLog := slog.New(slog.NewTextHandler(lockedWriter{&mu, st.hostLog}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st.handler = httptest.NewUnstartedServer(nil)
	var err error
	st.host, err = devhost.New(devhost.Options{Root: root, FunctionsDir: filepath.Join(root, "functions"), HandlerURL: "http://" + st.handler.Listener.Addr().String(),
		Broker: st.broker, QueueOptions: membroker.QueueOptions{MaxDeliveryCount: 3, LockDuration: time.Minute},
		Getenv: func(k string) string { return map[string]string{"SyncQueueName": st.queue}[k] }, HTTPAddr: "127.0.0.1:0", Log: hostLog})
	if err != nil {
		t.Fatal(err)
	}
	st.handler.Config.Handler = handlers.NewServer(rec, api, nil, slog.New(handlers.NewLogHandler(st.host.Stdout(), st.host.Stderr(), nil)))
	st.handler.Start()
	t.Cleanup(st.handler.Close)
	// Start opens the listener before Run, so URL is known and Run does
	// not open it a second time.
	if err := st.host.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.host.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return st
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// direct POSTs a fixture to the handler as the Functions host would.
func (st *stack) direct(t *testing.T, function, fixture string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "invoke", fixture))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(st.handler.URL+"/"+function, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// viaHost sends msg and waits until the local host has settled it.
func (st *stack) viaHost(t *testing.T, msg queue.Message) {
	t.Helper()
	if err := st.broker.Sender(st.queue).Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.host.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func fixtureJob() queue.Job {
	return queue.Job{Version: 1, CustomerID: "oakfield", ProfileID: "nightly", RunID: "20261121T020000Z-0a1b2c3d4e", Entity: "noop", Window: "2026-11-21"}
}

func TestContractServiceBus(t *testing.T) {
	for _, tt := range []struct {
		name       string
		outcome    pipeline.Outcome
		wantStatus int
	}{
		{"completed", pipeline.Outcome{Log: []string{"job done"}}, http.StatusOK},
		{"failed", pipeline.Outcome{Disposition: pipeline.Retry, Err: context.DeadlineExceeded, Log: []string{"job failed"}}, http.StatusInternalServerError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := newStack(t, "../..", tt.outcome)
			if got := st.direct(t, "SyncJob", "servicebus.json"); got != tt.wantStatus {
				t.Fatalf("fixture: status %d, want %d", got, tt.wantStatus)
			}
			fromFixture := st.rec.last()
			m, err := fixtureJob().Message(time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			st.viaHost(t, m)
			viaHost := st.rec.deliveries[1] // the local host's first delivery
			if viaHost.MessageID != fromFixture.MessageID || viaHost.SessionID != fromFixture.SessionID || viaHost.ContentType != fromFixture.ContentType || viaHost.DeliveryCount != 1 {
				t.Errorf("via the local host %+v, from the fixture %+v", viaHost, fromFixture)
			}
			a, errA := queue.DecodeJob(fromFixture.Body)
			b, errB := queue.DecodeJob(viaHost.Body)
			if errA != nil || errB != nil || a != b {
				t.Errorf("jobs: fixture %+v (%v), local host %+v (%v)", a, errA, b, errB)
			}
			stats, _ := st.broker.Stats(st.queue)
			dead, _ := st.broker.DeadLetters(st.queue)
			if tt.wantStatus == http.StatusOK && (stats.Active != 0 || len(dead) != 0) {
				t.Errorf("a 200 must complete the message: stats %+v, dead %d", stats, len(dead))
			}
			if tt.wantStatus != http.StatusOK {
				if len(dead) != 1 || len(st.rec.deliveries) != 1+3 {
					t.Errorf("a 500 must abandon (3 deliveries, then dead-letter): %d deliveries, %d dead", len(st.rec.deliveries)-1, len(dead))
				}
				// The host drops Logs on a non-2xx: the reason reaches the
				// host's log only through the handler's stderr.
				if strings.Contains(st.hostLog.String(), "job failed") {
					t.Errorf("the local host recorded Logs of a failed invocation:\n%s", st.hostLog)
				}
				if !strings.Contains(st.hostLog.String(), "level=ERROR msg=\"time=") || !strings.Contains(st.hostLog.String(), "deadline exceeded") {
					t.Errorf("the handler's failure line did not reach the host log at Error:\n%s", st.hostLog)
				}
			}
		})
	}
}

// TestCollidingBodyFieldCannotChangeMetadata: the local host merges a JSON
// body's top-level fields into the metadata as the extension does; a job
// body, namespaced, cannot change the session the handler sees.
func TestCollidingBodyFieldCannotChangeMetadata(t *testing.T) {
	st := newStack(t, "../..", pipeline.Outcome{})
	m, err := fixtureJob().Message(time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	st.viaHost(t, m)
	if got := st.rec.last().SessionID; got != "oakfield" {
		t.Errorf("namespaced job: SessionID %q, want oakfield", got)
	}
	// The hazard it avoids: a top-level body field named like a metadata
	// key replaces it (this is why jobs are namespaced).
	flat := m
	flat.MessageID, flat.Body = "flat", []byte(`{"v":1,"customer":"oakfield","sessionId":"other-school"}`)
	st.viaHost(t, flat)
	if got := st.rec.last().SessionID; got != "other-school" {
		t.Errorf("flat body with sessionId: SessionID %q; the local host no longer merges body fields like the extension", got)
	}
}

func TestContractTimer(t *testing.T) {
	st := newStack(t, "../..", pipeline.Outcome{})
	if got := st.direct(t, "Scheduler", "timer.json"); got != http.StatusOK {
		t.Fatalf("fixture: %d", got)
	}
	inv, err := st.host.FireTimer(context.Background(), "Scheduler")
	if err != nil || !inv.Succeeded() {
		t.Fatalf("FireTimer = %+v, %v", inv, err)
	}
	if len(st.rec.ticks) != 2 || st.rec.ticks[1].IsZero() {
		t.Errorf("ticks = %v, want two with the host's UtcNow", st.rec.ticks)
	}
}

// TestContractHTTP: a path segment the host cannot carry intact is refused
// by the handler when proxied, and misrouted by the legacy forwarding, as
// in Azure.
func TestContractHTTP(t *testing.T) {
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st := newStack(t, "../..", pipeline.Outcome{})
	if code, _ := get(t, st.handler.URL+"/api/customers/a%3Fb"); code != http.StatusBadRequest {
		t.Errorf("direct: %d, want 400", code)
	}
	if code, _ := get(t, st.host.URL()+"/api/customers/a%3Fb"); code != http.StatusBadRequest {
		t.Errorf("proxied: %d, want the handler's 400", code)
	}
	// The host's routes are case-insensitive, so this reaches the handler,
	// whose own routes are not.
	if code, body := get(t, st.host.URL()+"/API/Customers/oakfield"); code != http.StatusNotFound || strings.Contains(body, "no HTTP function") {
		t.Errorf("proxied, other case: %d %q, want the handler's 404", code, body)
	}
	if code, body := get(t, st.host.URL()+"/api/customers/oakfield"); code != http.StatusOK || body != "oakfield" {
		t.Errorf("proxied: %d %q", code, body)
	}
	legacy := forwardingRoot(t)
	fst := newStack(t, legacy, pipeline.Outcome{})
	if code, body := get(t, fst.host.URL()+"/api/customers/a%3Fb"); code != http.StatusOK || body != "a" {
		t.Errorf("forwarded: %d %q, want the host's misrouting to customer \"a\"", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, fst.host.URL()+"/api/echo", io.MultiReader(strings.NewReader("{}")))
	req.ContentLength = -1 // chunked
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(b) != 0 {
		t.Errorf("forwarded chunked body: %d %q, want it dropped as the host drops it", resp.StatusCode, b)
	}
}

// forwardingRoot copies host.json and the functions with the legacy
// enableForwardingHttpRequest instead of proxying.
func forwardingRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, rel := range []string{"host.json", "functions/Api/function.json", "functions/Scheduler/function.json", "functions/SyncJob/function.json"} {
		b, err := os.ReadFile(filepath.Join("..", "..", rel))
		if err != nil {
			t.Fatal(err)
		}
		if rel == "host.json" {
			b = bytes.Replace(b, []byte("enableProxyingHttpRequest"), []byte("enableForwardingHttpRequest"), 1)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestInfoNeverOnStderr: the handler's INFO lines reach the host's log at
// Information, never at Error.
func TestInfoNeverOnStderr(t *testing.T) {
	st := newStack(t, "../..", pipeline.Outcome{})
	st.direct(t, "Scheduler", "timer.json") // logs nothing at INFO itself; use the logger directly
	log := slog.New(handlers.NewLogHandler(st.host.Stdout(), st.host.Stderr(), nil))
	log.Info("tick done", "run", "r1")
	log.Warn("graph throttled", "customer", "oakfield")
	out := st.hostLog.String()
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "tick done") && !strings.HasPrefix(strings.SplitN(line, "level=", 2)[1], "INFO") {
			t.Errorf("INFO line recorded as %q", line)
		}
		if strings.Contains(line, "graph throttled") && !strings.Contains(line, "level=WARN msg=") {
			t.Errorf("WARN line recorded as %q", line)
		}
	}
	if !strings.Contains(out, "tick done") {
		t.Errorf("INFO line missing from the host log:\n%s", out)
	}
}

// TestReadinessLimit: a handler that never answers GET / fails the start,
// as the host gives up after its initialization timeout.
func TestReadinessLimit(t *testing.T) {
	ln := httptest.NewUnstartedServer(nil) // reserved, never served
	addr := ln.Listener.Addr().String()
	ln.Listener.Close()
	h, err := devhost.New(devhost.Options{Root: "../..", FunctionsDir: "../../functions", HandlerURL: "http://" + addr, Broker: membroker.New(clock.Real{}),
		Getenv: func(string) string { return "sync-jobs" }, ReadinessTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "initialization timeout") {
		t.Errorf("Run = %v, want the readiness limit", err)
	}
}

// TestDrainUntilLeavesLaterMessages: DrainUntil returns once the caller's
// work has ended and nothing is due, though a message scheduled an hour
// ahead keeps Drain waiting; until the work has ended it keeps waiting.
func TestDrainUntilLeavesLaterMessages(t *testing.T) {
	st := newStack(t, "../..", pipeline.Outcome{Log: []string{"job done"}})
	later, err := fixtureJob().Message(time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.broker.Sender(st.queue).Send(context.Background(), later); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := st.host.DrainUntil(short, 10*time.Millisecond, func(context.Context) bool { return false }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DrainUntil before the work ended = %v; want it still waiting when the context ends", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := st.host.DrainUntil(ctx, 10*time.Millisecond, func(context.Context) bool { return true }); err != nil {
		t.Fatalf("DrainUntil after the work ended = %v; want nil with only a later message left", err)
	}
}
