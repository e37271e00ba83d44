// Package app is rostersync's composition root: Build turns the settings
// into the running product (store, queue sender, tenants, roster sources,
// secrets, credential vault and every registered entity) behind the
// custom handler. serve, dev, demo, sync and the end-to-end tests all
// build it here, so they run the same product.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/consent"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/lifecycle"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/summary"
	"github.com/rostersync/rostersync/internal/tenant"
)

// Options are what the settings do not say: how this process hosts the
// product.
type Options struct {
	// Getenv reads the settings (app settings, local.settings.json).
	Getenv  func(string) string
	Backend state.Backend
	// Sender is the job queue: Service Bus in Azure, the in-memory broker
	// locally.
	Sender queue.Sender
	Clock  clock.Clock
	// Log is the handler's log.
	Log *slog.Logger
	// MaxDeliveryCount is the job queue's; 0 reads SyncQueueMaxDeliveryCount.
	MaxDeliveryCount int
	// Simulator, when set, stands in for Microsoft Graph: every customer's
	// tenant lives there, created on first use. Nil opens Graph from the
	// settings on first use.
	Simulator *Simulator
	// CredentialsKey, when set, seals initial credentials (a local key
	// file's); nil reads the credentials-key secret on first use.
	CredentialsKey []byte
	// ConsentKey, when set, signs admin-consent states (a local key
	// file's); nil reads the consent-state-key secret on first use.
	ConsentKey []byte
	// LocalSources puts roster sources in local mode whatever the settings
	// say: the local stack is one machine, whose test servers listen on
	// loopback over plain http, and whose csv feeds are on its disk.
	LocalSources bool
	// CsvRoot, in local mode, holds one feed folder per customer
	// ({CsvRoot}/{customerId}); empty reads the CsvRoot setting.
	CsvRoot string
	// FeedDir, when set, is the one folder every customer's csv feeds are
	// read from (the one-shot sync and the demo keep one customer).
	FeedDir string
	// Entities, when set, replaces the registered entities: for tests of
	// the pipeline's own machinery only.
	Entities pipeline.Registry
}

// App is the product, built.
type App struct {
	Store    *state.Store
	Pipeline *pipeline.Pipeline
	API      *handlers.API
	// Lifecycle removes configurations and purges what is past retention.
	Lifecycle *lifecycle.Service
	// Summary sends the daily summary emails; nil without SummarySender.
	Summary *summary.Service
	// Handler is the custom handler the Functions host invokes.
	Handler *handlers.Server
	// Entities are the registered kinds; Registry is what the pipeline runs.
	Entities []EntityKind
	Registry pipeline.Registry
	// Vault is the credential vault when it was built with a local key.
	Vault *credentials.Vault
	// Sources is the roster source policy; CsvRoot where local csv feeds
	// are read from ("" when they are not).
	Sources egress.Policy
	CsvRoot string
	// Secrets describes the secret source, for the start-up line.
	Secrets string

	lazyVault *lazyVault
}

// credentialStore is the vault as the entities, the API and the timer use
// it: *credentials.Vault, or the lazily opened one serve uses.
type credentialStore interface {
	apply.Credentials
	handlers.CredentialExporter
	Purge(ctx context.Context, now time.Time) (credentials.PurgeReport, error)
	DestroyCustomer(ctx context.Context, customerID string) (int, error)
}

// Build assembles the product from the settings and o.
func Build(ctx context.Context, o Options) (*App, error) {
	if o.Backend == nil || o.Sender == nil {
		return nil, errors.New("app: a state backend and a job queue sender are required")
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	maxDelivery := o.MaxDeliveryCount
	if maxDelivery == 0 {
		var err error
		if maxDelivery, err = MaxDeliveryCount(getenv); err != nil {
			return nil, err
		}
	}
	a := &App{Store: state.NewStore(o.Backend, o.Clock.Now)}
	secretSource, secretsDesc, err := openSecrets(getenv)
	if err != nil {
		return nil, err
	}
	a.Secrets = secretsDesc
	if a.Sources, err = egress.FromSettings(getenv); err != nil {
		return nil, err
	}
	if o.LocalSources {
		a.Sources.Local = true
	}
	// Production reads feeds from storage: a csv path source is refused
	// unless the deployment is local (a FileSource without a folder
	// refuses).
	files := reconcile.FileSource{Dir: o.FeedDir, Clock: o.Clock}
	if a.Sources.Local && o.FeedDir == "" {
		a.CsvRoot = o.CsvRoot
		if a.CsvRoot == "" {
			a.CsvRoot = config.Lookup(getenv, config.CsvRoot, ".feeds")
		}
		files.Root = a.CsvRoot
	}
	// Blob roster sources read the deployment's drop container; without
	// Blob Storage settings BlobSource refuses them, saying which to set.
	drops := reconcile.BlobSource{Container: tenant.DropContainer, Clock: o.Clock}
	if acct, _, err := OpenBlobs(getenv); err != nil {
		return nil, err
	} else if acct != nil {
		drops.Drops = acct
	}
	ttl, err := exportTTL(getenv)
	if err != nil {
		return nil, err
	}
	var creds credentialStore
	if o.CredentialsKey != nil {
		if a.Vault, err = credentials.NewVault(o.Backend, o.CredentialsKey, credentials.WithExportTTL(ttl)); err != nil {
			return nil, err
		}
		creds = a.Vault
	} else {
		a.lazyVault = newLazyVault(secretSource, o.Backend, credentials.WithExportTTL(ttl))
		creds = a.lazyVault
	}
	var tenants interface {
		reconcile.Tenants
		customerClients
		consent.Tenants
		lifecycle.TokenForgetter
	}
	var simFactory *graph.Factory
	if o.Simulator != nil {
		factory, err := graph.NewFactory(graph.Config{Mode: graph.ModeStatic, BaseURL: o.Simulator.URL + "/v1.0"})
		if err != nil {
			return nil, fmt.Errorf("graph client for the simulator: %w", err)
		}
		tenants = simTenants{graphTenants: graphTenants{factory: factory, exec: graph.ExecutorOptions{TimeScale: o.Simulator.TimeScale}}, sim: o.Simulator}
		simFactory = factory
	} else {
		// Nothing here reaches the network: Key Vault and Graph open on
		// first use (lazy.go), so serve is ready before they answer.
		tenants = graphTenants{factory: lazyFactory{lazyGraph(getenv, secretSource)}}
	}
	maxAttempts, err := config.LookupInt(getenv, config.MaxOpAttempts, 50)
	if err != nil || maxAttempts < 1 {
		return nil, fmt.Errorf("setting %s: want a whole number of at least 1 (%v)", config.MaxOpAttempts, err)
	}
	var intentWindow time.Duration
	if o.Simulator != nil && o.Simulator.TimeScale > 1 {
		// The window is Graph time: a simulator running N times faster
		// replicates N times sooner.
		intentWindow = time.Duration(float64(reconcile.DefaultIntentWindow) / o.Simulator.TimeScale)
	}
	a.Entities = Entities(Deps{
		Apply:        apply.Options{MaxAttempts: maxAttempts},
		IntentWindow: intentWindow,
		Store:        a.Store,
		Source:       reconcile.Sources{Files: files, REST: reconcile.RESTSource{Secrets: secretSource, Egress: a.Sources, Clock: o.Clock}, Blobs: drops},
		Tenants:      tenants,
		Credentials:  creds,
		Clock:        o.Clock,
	})
	a.Registry = o.Entities
	if a.Registry == nil {
		a.Registry = Registry(a.Entities)
	}
	bounds, err := runBounds(getenv)
	if err != nil {
		return nil, err
	}
	bounds.QueueName, bounds.MaxDeliveryCount = QueueName(getenv), maxDelivery
	a.Pipeline = pipeline.New(a.Store, o.Sender, o.Clock, a.Registry, o.Log, bounds)
	a.API = handlers.NewAPI(a.Store, a.Pipeline, creds, catalog(a.Entities), o.Log)
	a.API.SetSourcePolicy(a.Sources)
	// Manual links and match files are checked against the customer's
	// own tenant.
	a.API.SetObjectLookup(tenantObjects{tenants: tenants, kinds: a.Entities})
	// The drift report plans the next run of each entity, writing nothing.
	a.API.SetDriftReporter(driftReporter{store: a.Store, kinds: a.Entities, log: o.Log})
	consentSet, err := consentSettings(getenv, o.Simulator != nil)
	if err != nil {
		return nil, err
	}
	a.API.SetOnboarding(consent.New(a.Store, tenants, consentKeyFunc(o.ConsentKey, secretSource), consentSet, o.Clock.Now, o.Log))
	retention, err := config.LookupInt(getenv, config.RetentionDays, 90)
	if err != nil || retention < 1 {
		return nil, fmt.Errorf("setting %s: want a whole number of days, at least 1 (%v)", config.RetentionDays, err)
	}
	// Remove configuration, and the purge of what is past retention on
	// every tick.
	a.Lifecycle = lifecycle.New(a.Store, creds, tenants, time.Duration(retention)*24*time.Hour, o.Clock.Now, o.Log)
	a.API.SetRemover(a.Lifecycle, consentSet.ClientID)
	a.Pipeline.AddTickJob(a.Lifecycle.TickJob())
	// The daily summary email, once the previous local day's runs ended.
	if a.Summary, err = summaryService(getenv, secretSource, simFactory, a.Store, o.Log); err != nil {
		return nil, err
	}
	if a.Summary != nil {
		a.Pipeline.AddTickJob(a.Summary.TickJob())
	}
	ticker := exportPurger{Pipeline: a.Pipeline, vault: creds, log: o.Log}
	a.Handler = handlers.NewServer(ticker, a.API, o.Clock, o.Log)
	return a, nil
}

// Warm opens the credential store in the background when it is opened
// lazily, so a problem is logged at once; it never delays readiness.
func (a *App) Warm(ctx context.Context, log *slog.Logger) {
	if a.lazyVault != nil {
		a.lazyVault.warm(ctx, log)
	}
}

// Entity returns the registered kind called name.
func (a *App) Entity(name string) (EntityKind, bool) {
	for _, k := range a.Entities {
		if k.Name == name {
			return k, true
		}
	}
	return EntityKind{}, false
}
