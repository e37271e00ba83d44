package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/localstack"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue/membroker"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// world is rostersync running locally against a simulated tenant, all
// persisted in one folder: the store (store/), the simulated tenant
// (tenant.json and its write log tenant.json.log, durable per write as
// Microsoft 365 is) and the key that seals initial credentials. With
// graphURL the tenant lives in a standalone simulator instead.
type world struct {
	dir      string
	feedDir  string // the one folder feeds are read from
	tenantID string
	sim      *graphsim.Server // the in-process simulator, nil with a remote one
	remote   *graphsim.Remote // the standalone simulator (--graph-url), or nil
	simURL   string
	stack    *localstack.Stack
	vault    *credentials.Vault
	closers  []func() error
}

type worldOptions struct {
	dir       string
	tenantID  string
	domain    string
	timeScale float64
	root      string // holds host.json and functions/
	feedDir   string // the folder syncOnce may read feeds from
	graphURL  string // a running simulator to use instead of an in-process one
	log       *slog.Logger
}

const simTenantFile = "tenant.json"

func openWorld(ctx context.Context, o worldOptions) (*world, error) {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	if o.feedDir != "" {
		abs, err := filepath.Abs(o.feedDir)
		if err != nil {
			return nil, err
		}
		o.feedDir = abs
	}
	w := &world{dir: o.dir, feedDir: o.feedDir, tenantID: o.tenantID}
	ok := false
	defer func() {
		if !ok {
			_ = w.close()
		}
	}()
	if err := w.startSimulator(ctx, o); err != nil {
		return nil, err
	}
	backend, err := embedded.Open(filepath.Join(o.dir, "store"))
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, backend.Close)
	key, err := localKey(filepath.Join(o.dir, "credentials.key"))
	if err != nil {
		return nil, err
	}
	if w.vault, err = credentials.NewVault(backend, key); err != nil {
		return nil, err
	}
	factory, err := graph.NewFactory(graph.Config{Mode: graph.ModeStatic, BaseURL: w.simURL + "/v1.0"})
	if err != nil {
		return nil, err
	}
	clk := clock.Real{}
	users := &reconcile.Users{
		Source:      reconcile.FileSource{Dir: o.feedDir, Clock: clk},
		Tenants:     graphTenants{factory: factory, exec: graph.ExecutorOptions{TimeScale: o.timeScale}},
		Credentials: w.vault,
		Passwords:   credentials.Generate,
		Clock:       clk,
	}
	w.stack, err = localstack.Start(ctx, localstack.Options{
		Root: o.root, FunctionsDir: filepath.Join(o.root, "functions"), Backend: backend,
		Getenv: func(k string) string {
			if k == "AzureWebJobs.Scheduler.Disabled" {
				return "true" // one-shot runs are started by hand
			}
			return ""
		},
		Queue:       membroker.QueueOptions{MaxDeliveryCount: 5, LockDuration: 5 * time.Minute, DuplicateDetectionWindow: time.Hour},
		Entities:    pipeline.Registry{tenant.EntityUsers: users, tenant.EntityNoop: pipeline.Noop},
		Credentials: w.vault,
		Log:         o.log,
	})
	if err != nil {
		return nil, err
	}
	users.Store = w.stack.Store
	w.closers = append(w.closers, w.stack.Stop)
	ok = true
	return w, nil
}

func (w *world) startSimulator(ctx context.Context, o worldOptions) error {
	if o.graphURL != "" {
		return w.useRemoteSimulator(ctx, o)
	}
	path := filepath.Join(o.dir, simTenantFile)
	st, found, err := graphsim.ReadDurableState(path, func(msg string) { o.log.Warn("simulated tenant", "warning", msg) })
	if err != nil {
		return err
	}
	if !found {
		st = graphsim.State{FormatVersion: graphsim.StateFormatVersion, Tenants: []graphsim.TenantState{newSimTenant(o.tenantID, o.domain)}}
	}
	sim := graphsim.New(graphsim.Options{TimeScale: o.timeScale})
	if err := sim.Load(st); err != nil {
		return fmt.Errorf("load the simulated tenant: %w", err)
	}
	// Every write the tenant accepts is on disk before it is answered, so
	// a killed sync leaves the tenant as Microsoft 365 would: changed.
	if err := sim.Persist(path, graphsim.PersistOptions{}); err != nil {
		return fmt.Errorf("persist the simulated tenant: %w", err)
	}
	w.sim = sim
	w.closers = append(w.closers, sim.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	w.simURL = "http://" + ln.Addr().String()
	w.closers = append(w.closers, srv.Close)
	return nil
}

// useRemoteSimulator points the world at a running "rostersync graphsim",
// adding the tenant there if the simulator does not have it.
func (w *world) useRemoteSimulator(ctx context.Context, o worldOptions) error {
	u, err := url.Parse(o.graphURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--graph-url %q: want the simulator's http://HOST:PORT", o.graphURL)
	}
	w.remote = &graphsim.Remote{BaseURL: o.graphURL}
	w.simURL = strings.TrimSuffix(strings.TrimRight(o.graphURL, "/"), "/v1.0")
	_, found, err := w.remote.ExportTenant(ctx, o.tenantID)
	if err != nil || found {
		return err
	}
	return w.remote.Load(ctx, graphsim.State{FormatVersion: graphsim.StateFormatVersion,
		Tenants: []graphsim.TenantState{newSimTenant(o.tenantID, o.domain)}})
}

// simTenant is the simulated tenant as the simulator exports it.
func (w *world) simTenant(ctx context.Context) (graphsim.TenantState, bool, error) {
	if w.remote != nil {
		return w.remote.ExportTenant(ctx, w.tenantID)
	}
	ts, found := w.sim.ExportTenant(w.tenantID)
	return ts, found, nil
}

// simStats are the simulated tenant's request counters.
func (w *world) simStats(ctx context.Context) (graphsim.Stats, error) {
	if w.remote != nil {
		st, _, err := w.remote.Stats(ctx, w.tenantID)
		return st, err
	}
	st, _ := w.sim.Stats(w.tenantID)
	return st, nil
}

func newSimTenant(id, domain string) graphsim.TenantState {
	initial := strings.SplitN(domain, ".", 2)[0] + ".onmicrosoft.com"
	return graphsim.TenantState{ID: id, DisplayName: "Simulated school tenant", Edition: graphsim.EditionEducation,
		Domains: []graphsim.Domain{{ID: domain, IsVerified: true, IsDefault: true}, {ID: initial, IsVerified: true, IsInitial: true}}}
}

// saveTenant folds the simulated tenant's write log into tenant.json. The
// tenant is durable without it (every write is logged as it is accepted);
// this only keeps the log short.
func (w *world) saveTenant() error {
	if w.sim == nil {
		return nil
	}
	return w.sim.Compact()
}

func (w *world) close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		errs = append(errs, w.closers[i]())
	}
	w.closers = nil
	return errors.Join(errs...)
}

// localKey reads the credential sealing key, making one on first use. In
// Azure the key is a Key Vault secret; locally it is a 0600 file.
func localKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := credentials.NewKey()
		if err := os.WriteFile(path, []byte(k+"\n"), 0o600); err != nil {
			return nil, err
		}
		return credentials.ParseKey(k)
	}
	if err != nil {
		return nil, err
	}
	return credentials.ParseKey(string(b))
}
