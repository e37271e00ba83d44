package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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
// (tenant.json) and the key that seals initial credentials.
type world struct {
	dir      string
	feedDir  string // the one folder feeds are read from
	tenantID string
	sim      *graphsim.Server
	simURL   string
	requests atomic.Int64 // HTTP requests that reached the simulator
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
	if err := w.startSimulator(o); err != nil {
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

func (w *world) startSimulator(o worldOptions) error {
	st, err := graphsim.ReadStateFile(filepath.Join(o.dir, simTenantFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		st = graphsim.State{FormatVersion: graphsim.StateFormatVersion, Tenants: []graphsim.TenantState{newSimTenant(o.tenantID, o.domain)}}
	case err != nil:
		return err
	}
	sim := graphsim.New(graphsim.Options{TimeScale: o.timeScale})
	if err := sim.Load(st); err != nil {
		return fmt.Errorf("load the simulated tenant: %w", err)
	}
	w.sim = sim
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		sim.ServeHTTP(rw, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	w.simURL = "http://" + ln.Addr().String()
	w.closers = append(w.closers, srv.Close)
	return nil
}

func newSimTenant(id, domain string) graphsim.TenantState {
	initial := strings.SplitN(domain, ".", 2)[0] + ".onmicrosoft.com"
	return graphsim.TenantState{ID: id, DisplayName: "Simulated school tenant", Edition: graphsim.EditionEducation,
		Domains: []graphsim.Domain{{ID: domain, IsVerified: true, IsDefault: true}, {ID: initial, IsVerified: true, IsInitial: true}}}
}

// saveTenant writes the simulated tenant next to the store, atomically.
func (w *world) saveTenant() error {
	path := filepath.Join(w.dir, simTenantFile)
	tmp, err := os.CreateTemp(w.dir, simTenantFile+".*")
	if err != nil {
		return err
	}
	if err := graphsim.WriteState(tmp, w.sim.Export()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
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
