package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/secrets"
	"github.com/rostersync/rostersync/internal/secrets/keyvault"
)

// openSecrets picks Key Vault when KeyVaultUri is set (production, with the
// managed identity), else the local source: SecretsDir, then environment
// variables prefixed ROSTERSYNC_SECRET_.
func openSecrets(getenv func(string) string) (secrets.Source, string, error) {
	if uri := config.Lookup(getenv, config.KeyVaultURI, ""); uri != "" {
		cred, err := managedIdentity(getenv)
		if err != nil {
			return nil, "", err
		}
		kv, err := keyvault.New(uri, cred, nil)
		if err != nil {
			return nil, "", fmt.Errorf("setting %s: %w", config.KeyVaultURI, err)
		}
		return kv, "key vault " + uri, nil
	}
	dir := config.Lookup(getenv, config.SecretsDir, ".secrets")
	local, err := secrets.NewLocal(secrets.LocalOptions{Dir: dir, EnvPrefix: "ROSTERSYNC_SECRET_",
		LookupEnv: func(k string) (string, bool) { v := getenv(k); return v, v != "" }})
	if err != nil {
		return nil, "", fmt.Errorf("local secrets in %s: %w", dir, err)
	}
	return local, "local secrets (" + dir + ")", nil
}

// graphConfig reads the Graph settings, fetching the client secret or
// certificate from the secret source in the modes that need one.
func graphConfig(ctx context.Context, getenv func(string) string, src secrets.Source) (graph.Config, error) {
	cfg := graph.Config{
		Mode:        config.Lookup(getenv, config.GraphAuthMode, graph.ModeFederated),
		AppClientID: config.Lookup(getenv, config.GraphAppClientID, ""),
		BaseURL:     config.Lookup(getenv, config.GraphBaseURL, graph.DefaultBaseURL),
		StaticToken: config.Lookup(getenv, config.GraphStaticToken, ""),
	}
	if cfg.Mode == graph.ModeFederated {
		cfg.ManagedIdentityClientID = config.Lookup(getenv, config.ManagedIdentityClient, "")
	}
	if cfg.Mode == graph.ModeSecret || cfg.Mode == graph.ModeCertificate {
		name := config.Lookup(getenv, config.GraphClientSecretName, "graph-client-secret")
		v, err := src.Secret(ctx, name)
		if err != nil {
			return cfg, fmt.Errorf("graph %s mode: secret %s: %w", cfg.Mode, name, err)
		}
		if cfg.Mode == graph.ModeSecret {
			cfg.ClientSecret = v
		} else {
			cfg.CertificatePEM = []byte(v)
		}
	}
	return cfg, nil
}

// openGraph builds the per-tenant Graph client factory. A handler started
// without Graph settings still serves the platform (readiness, ticks, runs
// of entities that need no Graph); it logs why Graph is off instead of
// refusing to start, and entities that need Graph fail with that reason.
func openGraph(ctx context.Context, getenv func(string) string, src secrets.Source, log *slog.Logger) (*graph.Factory, error) {
	cfg, err := graphConfig(ctx, getenv, src)
	if err == nil {
		var f *graph.Factory
		if f, err = graph.NewFactory(cfg); err == nil {
			log.Info("graph client factory ready", "mode", cfg.Mode, "baseUrl", cfg.BaseURL)
			return f, nil
		}
	}
	log.Warn("graph is not configured; entities that call Graph will fail", "error", err)
	return nil, err
}

// credentialsKeySecret names the secret holding the key that seals initial
// passwords (base64, 32 bytes); in Azure it is the one Key Vault secret.
const credentialsKeySecret = "credentials-key"

// exportTTL reads how long an unacknowledged credential export stays
// fetchable (CredentialExportDays).
func exportTTL(getenv func(string) string) (time.Duration, error) {
	days, err := config.LookupInt(getenv, config.CredentialExportDays, 7)
	if err != nil {
		return 0, err
	}
	if days < 1 || days > 90 {
		return 0, fmt.Errorf("setting %s=%d: want 1 to 90 days", config.CredentialExportDays, days)
	}
	return time.Duration(days) * 24 * time.Hour, nil
}

// exportPurger is the pipeline with the credential vault's purge added to
// each timer tick: exports never acknowledged are destroyed once expired.
type exportPurger struct {
	*pipeline.Pipeline
	vault interface {
		Purge(ctx context.Context, now time.Time) (credentials.PurgeReport, error)
	}
	log *slog.Logger
}

var _ handlers.Pipeline = exportPurger{}

// Tick runs the scheduler, then the purge. A failed purge is logged, not
// returned: the next tick (five minutes on) tries again, and the scheduler's
// report must not read as failed because of it.
func (p exportPurger) Tick(ctx context.Context, now time.Time) (pipeline.TickReport, error) {
	rep, err := p.Pipeline.Tick(ctx, now)
	purged, perr := p.vault.Purge(ctx, now)
	if perr != nil {
		p.log.ErrorContext(ctx, "purge of expired credential exports failed", "exports", purged.Exports, "credentials", purged.Credentials, "error", perr)
	} else if purged.Exports > 0 {
		p.log.InfoContext(ctx, "expired credential exports purged", "exports", purged.Exports, "credentials", purged.Credentials)
	}
	return rep, err
}
