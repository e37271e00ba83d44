package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/egress"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/reconcile"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// runServe is what the Functions host starts (host.json: arguments
// ["serve"]). It answers the host on FUNCTIONS_CUSTOMHANDLER_PORT.
func runServe(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	log, err := newHostLogger(env.stdout, env.stderr, env.getenv)
	if err != nil {
		return err
	}
	addr, err := handlers.ListenAddr(env.getenv)
	if err != nil {
		return err
	}
	backend, where, closeBackend, err := openBackend(env.getenv, ".state")
	if err != nil {
		return err
	}
	defer closeBackend()
	maxDelivery, err := config.LookupInt(env.getenv, config.SyncQueueMaxDelivery, 5)
	if err != nil {
		return err
	}
	sender, senderDesc, closeSender, err := openSender(ctx, env.getenv)
	if err != nil {
		return err
	}
	defer closeSender()
	secretSource, secretsDesc, err := openSecrets(env.getenv)
	if err != nil {
		return err
	}
	// Nothing below reaches the network before the listener is up: Key
	// Vault and Graph open on first use (lazy.go), storage and Service Bus
	// clients dial on first call.
	graphClients := lazyFactory{lazyGraph(env.getenv, secretSource)}
	sourcePolicy, err := egress.FromSettings(env.getenv)
	if err != nil {
		return err
	}
	// Production reads feeds from storage: a csv path source is refused
	// unless the deployment is local (the zero FileSource refuses).
	var files reconcile.FileSource
	if sourcePolicy.Local {
		files.Root = config.Lookup(env.getenv, config.CsvRoot, ".feeds")
	}
	store := state.NewStore(backend, nil)
	ttl, err := exportTTL(env.getenv)
	if err != nil {
		return err
	}
	vault := newLazyVault(secretSource, backend, credentials.WithExportTTL(ttl))
	users := &reconcile.Users{
		Source:      reconcile.Sources{Files: files, REST: reconcile.RESTSource{Secrets: secretSource, Egress: sourcePolicy}},
		Tenants:     graphTenants{factory: graphClients},
		Store:       store,
		Credentials: vault,
		Passwords:   credentials.Generate,
	}
	entities := pipeline.DefaultRegistry()
	entities[tenant.EntityUsers] = users
	p := pipeline.New(store, sender, clock.Real{}, entities, log,
		pipeline.Options{QueueName: queueName(env.getenv), MaxDeliveryCount: maxDelivery})
	ticker := exportPurger{Pipeline: p, vault: vault, log: log}
	api := handlers.NewAPI(store, p, vault, log)
	api.SetSourcePolicy(sourcePolicy)
	// Manual links are checked against the customer's tenant through Graph.
	if objects, ok := users.Tenants.(handlers.ObjectChecker); ok {
		api.SetObjectChecker(objects)
	}
	srv := &http.Server{
		Handler:           handlers.NewServer(ticker, api, clock.Real{}, log),
		ReadHeaderTimeout: 30 * time.Second,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("custom handler listening", "addr", addr, "state", where, "queue", senderDesc, "secrets", secretsDesc, "roster_sources", sourcePolicy.String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	vault.warm(ctx, log)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("custom handler stopped")
	return nil
}
