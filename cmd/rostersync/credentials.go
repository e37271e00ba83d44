package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/secrets"
	"github.com/rostersync/rostersync/internal/secrets/keyvault"
	"github.com/rostersync/rostersync/internal/state"
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

// openVault opens the sealed credential store. Without its key no account
// can be created (the applier refuses), so the problem is logged loudly.
func openVault(ctx context.Context, getenv func(string) string, src secrets.Source, b state.Backend, log *slog.Logger) *credentials.Vault {
	raw, err := src.Secret(ctx, credentialsKeySecret)
	if err != nil {
		log.Warn("no credentials key: new accounts cannot be created until secret "+credentialsKeySecret+" exists", "error", err)
		return nil
	}
	key, err := credentials.ParseKey(raw)
	if err == nil {
		var v *credentials.Vault
		if v, err = credentials.NewVault(b, key); err == nil {
			return v
		}
	}
	log.Warn("credentials key unusable: new accounts cannot be created", "secret", credentialsKeySecret, "error", err)
	return nil
}
