package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/config"
	"github.com/rostersync/rostersync/internal/consent"
	"github.com/rostersync/rostersync/internal/graph"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/secrets"
	"github.com/rostersync/rostersync/internal/tenant"
)

// consentKeySecret names the secret holding the key that signs admin
// consent states (base64, at least 32 bytes); locally a file in the state
// folder made on first use, as the credentials key is.
const consentKeySecret = "consent-state-key"

// Local defaults of the consent settings: the dev host's address.
const (
	localConsentRedirect = "http://127.0.0.1:7071" + "/api/" + config.ConsentCallbackRoute
	localConsentReturn   = "http://127.0.0.1:7071/consent-done"
)

// ParseConsentKey decodes a consent state key (base64 of 32 or more bytes).
func ParseConsentKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("consent state key: not base64: %w", err)
	}
	if len(k) < consent.MinKeyBytes {
		return nil, fmt.Errorf("consent state key: %d bytes, want at least %d", len(k), consent.MinKeyBytes)
	}
	return k, nil
}

// consentSettings reads the consent settings; local runs default the
// redirect and return URLs to the dev host's and the client id to a
// placeholder the simulator does not check.
func consentSettings(getenv func(string) string, local bool) (consent.Settings, error) {
	minutes, err := config.LookupInt(getenv, config.ConsentStateMinutes, 30)
	if err != nil || minutes < 1 || minutes > 24*60 {
		return consent.Settings{}, fmt.Errorf("setting %s: want 1 to 1440 minutes (%v)", config.ConsentStateMinutes, err)
	}
	s := consent.Settings{
		ClientID:    config.Lookup(getenv, config.GraphAppClientID, ""),
		RedirectURI: config.Lookup(getenv, config.ConsentRedirectURI, ""),
		ReturnURL:   config.Lookup(getenv, config.ConsentReturnURL, ""),
		TTL:         time.Duration(minutes) * time.Minute,
	}
	if local {
		if s.ClientID == "" {
			s.ClientID = "00000000-0000-0000-0000-00000000c0de"
		}
		if s.RedirectURI == "" {
			s.RedirectURI = localConsentRedirect
		}
		if s.ReturnURL == "" {
			s.ReturnURL = localConsentReturn
		}
	}
	return s, nil
}

// consentKeyFunc returns the signing key: the given one (local), else the
// secret, read on first use (lazily, like the credential vault's).
func consentKeyFunc(key []byte, src secrets.Source) func(context.Context) ([]byte, error) {
	if key != nil {
		return func(context.Context) ([]byte, error) { return key, nil }
	}
	l := &lazy[[]byte]{name: "key vault", open: func(ctx context.Context) ([]byte, error) {
		raw, err := src.Secret(ctx, consentKeySecret)
		if errors.Is(err, secrets.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w: secret %s: %v", errNotConfigured, consent.ErrNotConfigured, consentKeySecret, err)
		}
		if err != nil {
			return nil, err
		}
		k, err := ParseConsentKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: %w: secret %s unusable: %v", errNotConfigured, consent.ErrNotConfigured, consentKeySecret, err)
		}
		return k, nil
	}}
	return l.get
}

// Details reads a tenant through its Graph client: acquiring the token is
// what confirms the tenant. A refused token is consent.ErrConsentRevoked.
func (t graphTenants) Details(ctx context.Context, c tenant.Customer, tenantID string) (tenant.TenantInfo, error) {
	if t.factory == nil {
		return tenant.TenantInfo{}, fmt.Errorf("customer %s: graph is not configured", c.ID)
	}
	client, err := t.factory.Client(ctx, tenantID)
	if err != nil {
		return tenant.TenantInfo{}, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	d, err := client.TenantDetails(ctx)
	if graph.ConsentRevoked(err) {
		return tenant.TenantInfo{}, fmt.Errorf("customer %s: %w: %v", c.ID, consent.ErrConsentRevoked, err)
	}
	if err != nil {
		return tenant.TenantInfo{}, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return tenant.TenantInfo{DisplayName: d.DisplayName, VerifiedDomains: d.VerifiedDomains, SKUs: d.SKUs, Education: d.Education}, nil
}

// Details binds, locally, the simulated tenant the callback names: it is
// created on first use with the customer's domains.
func (t simTenants) Details(ctx context.Context, c tenant.Customer, tenantID string) (tenant.TenantInfo, error) {
	if _, err := t.sim.EnsureTenant(ctx, tenantID, c.Domains); err != nil {
		return tenant.TenantInfo{}, fmt.Errorf("customer %s: %w", c.ID, err)
	}
	return t.graphTenants.Details(ctx, c, tenantID)
}

// errConsentRevoked refuses a run of a customer whose consent was
// revoked: terminal, so no job retries against a tenant that refuses the
// app until a new admin consent (or tenant check) clears the status.
func errConsentRevoked(c tenant.Customer) error {
	return queue.Terminal(fmt.Errorf("customer %s: %w: give admin consent again, then check the tenant", c.ID, consent.ErrConsentRevoked))
}
