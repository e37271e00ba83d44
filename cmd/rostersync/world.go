package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/rostersync/rostersync/internal/app"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/localstack"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/membroker"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// world is rostersync running locally — the product as internal/app builds
// it, behind the local Functions host — against simulated tenants, all
// kept in one state folder:
//
//	store/            the embedded store (unless Table Storage is configured)
//	tenant.json       the simulated tenants, and their write log
//	tenant.json.log   (durable per write, as Microsoft 365 is)
//	credentials.key   the key that seals initial credentials
//	consent-state.key the key that signs admin-consent states
//	feeds/            dev: one csv feed folder per customer (CsvRoot)
//
// With a graph URL the tenants live in a standalone simulator instead.
type world struct {
	dir      string
	feedDir  string // sync and demo: the one folder feeds are read from
	tenantID string // sync and demo: the one customer's tenant
	sim      *app.Simulator
	app      *app.App
	stack    *localstack.Stack
	closers  []func() error
}

type worldOptions struct {
	dir       string
	root      string // holds host.json and functions/
	timeScale float64
	log       *slog.Logger
	// getenv are the settings (dev: local.settings.json over the
	// environment); nil reads none.
	getenv func(string) string
	// scheduler keeps the Scheduler timer on its schedule (dev); the
	// one-shot commands start their runs by hand.
	scheduler   bool
	httpAddr    string // the HTTP functions' address ("" = off)
	functionKey string
	// backend is the state backend; nil opens the embedded store in dir.
	backend state.Backend
	// tenantID and domain: a tenant created in the simulator if missing
	// (sync and demo); dev creates each customer's on first use.
	tenantID, domain string
	// edition is the edition of the tenant made when it is missing
	// (sync --edition); empty is education. A tenant of another edition
	// already there is refused.
	edition  graphsim.Edition
	feedDir  string // sync and demo: the folder feeds are read from
	csvRoot  string // dev: one feed folder per customer
	graphURL string // a running simulator to use instead of an embedded one
	seed     *graphsim.State
	// clock is the whole world's clock (app, pipeline, queue); nil is the
	// wall clock. sync --today shifts it.
	clock clock.Clock
}

const (
	simTenantFile  = "tenant.json"
	storeDir       = "store"
	credentialsKey = "credentials.key"
)

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
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	w := &world{dir: o.dir, feedDir: o.feedDir, tenantID: o.tenantID}
	ok := false
	defer func() {
		if !ok {
			_ = w.close()
		}
	}()
	var err error
	w.sim, err = app.OpenSimulator(ctx, app.SimulatorOptions{StateFile: filepath.Join(o.dir, simTenantFile), Seed: o.seed,
		TimeScale: o.timeScale, URL: o.graphURL, Warn: func(msg string) { o.log.Warn("simulated tenant", "warning", msg) }})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.sim.Close)
	if o.tenantID != "" {
		if _, err := w.sim.EnsureTenantEdition(ctx, o.tenantID, []string{o.domain}, o.edition); err != nil {
			if errors.Is(err, app.ErrEditionMismatch) {
				return nil, usageError{fmt.Sprintf("--edition %s: %v; the edition is chosen when the tenant is made (use a new --state or another --tenant)", o.edition, err)}
			}
			return nil, err
		}
	}
	backend := o.backend
	if backend == nil {
		b, err := embedded.Open(filepath.Join(o.dir, storeDir))
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, b.Close)
		backend = b
	}
	key, err := localKey(filepath.Join(o.dir, credentialsKey))
	if err != nil {
		return nil, err
	}
	consentKey, err := localConsentKey(filepath.Join(o.dir, consentKeyFile))
	if err != nil {
		return nil, err
	}
	getenv := o.getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	settings := func(k string) string {
		if k == "AzureWebJobs.Scheduler.Disabled" && !o.scheduler {
			return "true" // one-shot runs are started by hand
		}
		return getenv(k)
	}
	queueOpts := membroker.QueueOptions{LockDuration: 5 * time.Minute, DuplicateDetectionWindow: time.Hour}
	if queueOpts.MaxDeliveryCount, err = app.MaxDeliveryCount(settings); err != nil {
		return nil, err
	}
	w.stack, err = localstack.Start(ctx, localstack.Options{
		Root: o.root, FunctionsDir: filepath.Join(o.root, "functions"), Getenv: settings, Clock: o.clock,
		QueueName: app.QueueName(settings), Queue: queueOpts, HTTPAddr: o.httpAddr, FunctionKey: o.functionKey,
		Handler: func(ctx context.Context, sender queue.Sender, log *slog.Logger) (http.Handler, error) {
			a, err := app.Build(ctx, app.Options{Getenv: settings, Backend: backend, Sender: sender, Log: log,
				MaxDeliveryCount: queueOpts.MaxDeliveryCount, Simulator: w.sim, CredentialsKey: key, ConsentKey: consentKey, Clock: o.clock,
				LocalSources: true, CsvRoot: o.csvRoot, FeedDir: o.feedDir})
			if err != nil {
				return nil, err
			}
			w.app = a
			return a.Handler, nil
		},
		Log: o.log,
	})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.stack.Stop)
	ok = true
	return w, nil
}

// simTenant is the one customer's simulated tenant as the simulator
// exports it.
func (w *world) simTenant(ctx context.Context) (graphsim.TenantState, bool, error) {
	return w.sim.Tenant(ctx, w.tenantID)
}

// saveTenant folds the simulated tenants' write log into tenant.json. The
// tenants are durable without it (every write is logged as it is
// accepted); this only keeps the log short.
func (w *world) saveTenant() error { return w.sim.Compact() }

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
		return nil, fmt.Errorf("read the credentials key %s: %w", path, err)
	}
	return credentials.ParseKey(string(b))
}
