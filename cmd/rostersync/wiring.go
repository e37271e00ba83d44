package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/queue/servicebus"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/state/tablestore"
)

// newHostLogger is serve's logger: the Functions host records a custom
// handler's stdout lines as Information and its stderr lines as Error (or
// Warning when they say "warn"), so INFO and DEBUG go to stdout and WARN
// and ERROR to stderr, one line per record (handlers.NewLogHandler).
func newHostLogger(stdout, stderr io.Writer, getenv func(string) string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Lookup(getenv, config.LogLevel, "info"))); err != nil {
		return nil, fmt.Errorf("setting %s: %w", config.LogLevel, err)
	}
	return slog.New(handlers.NewLogHandler(stdout, stderr, &slog.HandlerOptions{Level: level})), nil
}

func newLogger(w io.Writer, getenv func(string) string) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(config.Lookup(getenv, config.LogLevel, "info"))); err != nil {
		return nil, fmt.Errorf("setting %s: %w", config.LogLevel, err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})), nil
}

// openBackend picks the state backend from the settings: a Table Storage
// connection string (Azurite), a Table Storage endpoint with the managed
// identity, or else the embedded store in StateDir.
func openBackend(getenv func(string) string, defaultDir string) (state.Backend, string, func() error, error) {
	noClose := func() error { return nil }
	if cs := config.Lookup(getenv, config.TablesConnection, ""); cs != "" {
		b, err := tablestore.FromConnectionString(cs)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.TablesConnection, err)
		}
		return b, "table storage (connection string)", noClose, nil
	}
	if ep := config.Lookup(getenv, config.TablesEndpoint, ""); ep != "" {
		cred, err := managedIdentity(getenv)
		if err != nil {
			return nil, "", nil, err
		}
		b, err := tablestore.New(ep, cred)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.TablesEndpoint, err)
		}
		return b, "table storage " + ep, noClose, nil
	}
	dir := config.Lookup(getenv, config.StateDir, defaultDir)
	b, err := embedded.Open(dir)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open embedded state in %s: %w", dir, err)
	}
	return b, "embedded store in " + dir, b.Close, nil
}

func managedIdentity(getenv func(string) string) (*azidentity.ManagedIdentityCredential, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if id := config.Lookup(getenv, config.ManagedIdentityClient, ""); id != "" {
		opts.ID = azidentity.ClientID(id)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, fmt.Errorf("managed identity (%s): %w", config.ManagedIdentityClient, err)
	}
	return cred, nil
}

// errNoServiceBus is what a handler without a Service Bus setting answers
// when it has to send: it can serve readiness and idle ticks, not fan out.
var errNoServiceBus = errors.New("no Service Bus configured: set " + config.ServiceBusNamespace + " (or " + config.ServiceBusConnString + "), or use `rostersync dev`")

func unconfiguredSender() queue.Sender {
	return queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error { return errNoServiceBus })
}

func queueName(getenv func(string) string) string {
	return config.Lookup(getenv, config.SyncQueueName, "sync-jobs")
}

// envFromMap layers settings over the process environment.
func envFromMap(values map[string]string, fallback func(string) string) func(string) string {
	return func(k string) string {
		if v, ok := values[k]; ok && strings.TrimSpace(v) != "" {
			return v
		}
		return fallback(k)
	}
}

// openSender picks the job queue sender: Service Bus by namespace with the
// managed identity, by connection string, or none (the handler then serves
// readiness and idle ticks but cannot fan out, and says so).
func openSender(ctx context.Context, getenv func(string) string) (queue.Sender, string, func() error, error) {
	name := queueName(getenv)
	if cs := config.Lookup(getenv, config.ServiceBusConnString, ""); cs != "" {
		s, err := servicebus.NewFromConnectionString(cs, name, nil)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.ServiceBusConnString, err)
		}
		return s, "service bus queue " + name + " (connection string)", func() error { return s.Close(context.Background()) }, nil
	}
	if ns := config.Lookup(getenv, config.ServiceBusNamespace, ""); ns != "" {
		cred, err := managedIdentity(getenv)
		if err != nil {
			return nil, "", nil, err
		}
		s, err := servicebus.New(ns, cred, name, nil)
		if err != nil {
			return nil, "", nil, fmt.Errorf("setting %s: %w", config.ServiceBusNamespace, err)
		}
		return s, "service bus " + ns + " queue " + name, func() error { return s.Close(context.Background()) }, nil
	}
	return unconfiguredSender(), "none (no Service Bus setting)", func() error { return nil }, nil
}
