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
	"github.com/rostersync/rostersync/internal/app"
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
	backend, where, closeBackend, err := app.OpenBackend(env.getenv, ".state")
	if err != nil {
		return err
	}
	defer closeBackend()
	sender, senderDesc, closeSender, err := app.OpenSender(ctx, env.getenv)
	if err != nil {
		return err
	}
	defer closeSender()
	// Nothing here reaches the network before the listener is up: Key
	// Vault and Graph open on first use, storage and Service Bus clients
	// dial on first call.
	product, err := app.Build(ctx, app.Options{Getenv: env.getenv, Backend: backend, Sender: sender, Log: log})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           product.Handler,
		ReadHeaderTimeout: 30 * time.Second,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	log.Info("custom handler listening", "addr", addr, "state", where, "queue", senderDesc, "secrets", product.Secrets, "roster_sources", product.Sources.String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	product.Warm(ctx, log)
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
