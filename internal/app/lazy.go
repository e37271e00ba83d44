package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/secrets"
	"github.com/rostersync/rostersync/internal/state"
)

// serve listens before it connects: the Functions host waits only 30
// seconds for GET / (HttpWorkerOptions.InitializationTimeout), and a
// dependency fetched at start (Key Vault secrets) that failed once used to
// stay off until a restart. Dependencies are opened on first use instead,
// with a few quick retries, and a failure is not remembered: the next
// invocation tries again.

// errNotConfigured marks a dependency that cannot open until someone
// changes configuration (a missing secret, an unusable key): retrying at
// once does not help, and the failure is not a transient one.
var errNotConfigured = errors.New("not configured")

// lazy opens a value on first use. A failure is returned as a
// *handlers.DependencyError (transient) unless it wraps errNotConfigured;
// either way the next get tries again.
type lazy[T any] struct {
	name     string
	open     func(ctx context.Context) (T, error)
	attempts int           // per get; 0 means 3
	delay    time.Duration // before the second attempt, doubling; 0 means 200ms

	mu   sync.Mutex
	v    T
	done bool
}

// opened returns the value if it was opened, without opening it.
func (l *lazy[T]) opened() (T, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.v, l.done
}

func (l *lazy[T]) get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return l.v, nil
	}
	attempts, delay := l.attempts, l.delay
	if attempts == 0 {
		attempts = 3
	}
	if delay == 0 {
		delay = 200 * time.Millisecond
	}
	var zero T
	var err error
	for i := 1; ; i++ {
		var v T
		if v, err = l.open(ctx); err == nil {
			l.v, l.done = v, true
			return v, nil
		}
		if errors.Is(err, errNotConfigured) {
			return zero, fmt.Errorf("%s: %w", l.name, err)
		}
		if i == attempts {
			break
		}
		select {
		case <-ctx.Done():
			return zero, &handlers.DependencyError{Dependency: l.name, Err: errors.Join(err, ctx.Err())}
		case <-time.After(delay):
		}
		delay *= 2
	}
	return zero, &handlers.DependencyError{Dependency: l.name, Err: err}
}

// lazyGraph opens the Graph client factory on first use (its secret, in
// secret or certificate mode, comes from Key Vault).
func lazyGraph(getenv func(string) string, src secrets.Source) *lazy[*graph.Factory] {
	return &lazy[*graph.Factory]{name: "graph", open: func(ctx context.Context) (*graph.Factory, error) {
		cfg, err := graphConfig(ctx, getenv, src)
		if errors.Is(err, secrets.ErrNotFound) || errors.Is(err, secrets.ErrInvalidName) {
			return nil, fmt.Errorf("%w: %v", errNotConfigured, err)
		}
		if err != nil {
			return nil, err
		}
		f, err := graph.NewFactory(cfg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errNotConfigured, err)
		}
		return f, nil
	}}
}

// lazyFactory adapts a lazy factory to graphTenants.
type lazyFactory struct{ l *lazy[*graph.Factory] }

func (f lazyFactory) Client(ctx context.Context, tenantID string) (*graph.Client, error) {
	factory, err := f.l.get(ctx)
	if err != nil {
		return nil, err
	}
	return factory.Client(ctx, tenantID)
}

// Forget forgets the tenant in the factory if it was ever opened: one
// never opened holds no token.
func (f lazyFactory) Forget(tenantID string) {
	if factory, ok := f.l.opened(); ok {
		factory.Forget(tenantID)
	}
}

// lazyVault is the sealed credential store, opened on first use with the
// key from the secret source. Without the key no account is created: the
// error wraps apply.ErrNoCredentialStore, as a missing store does.
type lazyVault struct{ l *lazy[*credentials.Vault] }

func newLazyVault(src secrets.Source, b state.Backend, opts ...credentials.Option) *lazyVault {
	return &lazyVault{l: &lazy[*credentials.Vault]{name: "key vault", open: func(ctx context.Context) (*credentials.Vault, error) {
		raw, err := src.Secret(ctx, credentialsKeySecret)
		if errors.Is(err, secrets.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w: secret %s: %v", errNotConfigured, apply.ErrNoCredentialStore, credentialsKeySecret, err)
		}
		if err != nil {
			return nil, err
		}
		key, err := credentials.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w: secret %s unusable: %v", errNotConfigured, apply.ErrNoCredentialStore, credentialsKeySecret, err)
		}
		v, err := credentials.NewVault(b, key, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w: %w: %v", errNotConfigured, apply.ErrNoCredentialStore, err)
		}
		return v, nil
	}}}
}

// warm opens the vault in the background at start so a problem is logged
// at once; it never delays readiness.
func (v *lazyVault) warm(ctx context.Context, log *slog.Logger) {
	go func() {
		if _, err := v.l.get(ctx); err != nil && ctx.Err() == nil {
			log.Warn("credential store not open yet: account creation fails (and is retried) until it opens", "secret", credentialsKeySecret, "error", err)
		}
	}()
}

func (v *lazyVault) PutCredentials(ctx context.Context, customerID, runID string, creds []credentials.Credential) error {
	vault, err := v.l.get(ctx)
	if err != nil {
		return err
	}
	return vault.PutCredentials(ctx, customerID, runID, creds)
}

func (v *lazyVault) Export(ctx context.Context, customerID, runID string, keys []string) (credentials.Export, error) {
	vault, err := v.l.get(ctx)
	if err != nil {
		return credentials.Export{}, err
	}
	return vault.Export(ctx, customerID, runID, keys)
}

func (v *lazyVault) ExportByID(ctx context.Context, customerID, runID, exportID string) (credentials.Export, error) {
	vault, err := v.l.get(ctx)
	if err != nil {
		return credentials.Export{}, err
	}
	return vault.ExportByID(ctx, customerID, runID, exportID)
}

func (v *lazyVault) Acknowledge(ctx context.Context, customerID, runID, exportID string) (int, error) {
	vault, err := v.l.get(ctx)
	if err != nil {
		return 0, err
	}
	return vault.Acknowledge(ctx, customerID, runID, exportID)
}

// DestroyCustomer destroys a customer's sealed credentials; with no
// credentials key configured none were ever stored.
func (v *lazyVault) DestroyCustomer(ctx context.Context, customerID string) (int, error) {
	vault, err := v.l.get(ctx)
	if errors.Is(err, errNotConfigured) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return vault.DestroyCustomer(ctx, customerID)
}

// Purge destroys expired exports; with no credentials key configured
// there is nothing to purge.
func (v *lazyVault) Purge(ctx context.Context, now time.Time) (credentials.PurgeReport, error) {
	vault, err := v.l.get(ctx)
	if errors.Is(err, errNotConfigured) {
		return credentials.PurgeReport{}, nil
	}
	if err != nil {
		return credentials.PurgeReport{}, err
	}
	return vault.Purge(ctx, now)
}

var (
	_ apply.Credentials           = (*lazyVault)(nil)
	_ handlers.CredentialExporter = (*lazyVault)(nil)
)
