package graph

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	kiotaazure "github.com/microsoft/kiota-authentication-azure-go"
)

// IdentityOptions configure every azidentity credential the factory builds.
type IdentityOptions struct {
	// ClientOptions sets the cloud (authority host) for sovereign clouds,
	// and the transport and retry policy. Tests point Cloud at a fake
	// token endpoint.
	ClientOptions azcore.ClientOptions
	// DisableInstanceDiscovery skips Entra's instance metadata request.
	// Only for private clouds and fake authorities: it makes the caller
	// responsible for the authority being trustworthy.
	DisableInstanceDiscovery bool
}

// newAssertionSource builds the credential whose token for
// TokenExchangeScope is the client assertion in federated mode: the
// user-assigned managed identity the app registration trusts. One serves
// every tenant, so its token cache is shared.
func newAssertionSource(s *settings, idOpts IdentityOptions) (azcore.TokenCredential, error) {
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{
		ClientOptions: idOpts.ClientOptions,
		ID:            azidentity.ClientID(s.ManagedIdentityClientID),
	})
	if err != nil {
		return nil, fmt.Errorf("managed identity %s: %w", s.ManagedIdentityClientID, err)
	}
	return mi, nil
}

// newCredential builds the app's credential in one customer tenant. Each
// tenant gets its own because kiota never sets TokenRequestOptions.TenantID,
// and a credential bound to the tenant keeps its own MSAL token cache.
func newCredential(s *settings, idOpts IdentityOptions, assertion azcore.TokenCredential, tenantID string) (azcore.TokenCredential, error) {
	switch s.Mode {
	case ModeFederated:
		getAssertion := func(ctx context.Context) (string, error) {
			tok, err := assertion.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{TokenExchangeScope}})
			if err != nil {
				return "", fmt.Errorf("managed identity token for %s: %w", TokenExchangeScope, err)
			}
			return tok.Token, nil
		}
		return azidentity.NewClientAssertionCredential(tenantID, s.AppClientID, getAssertion,
			&azidentity.ClientAssertionCredentialOptions{
				ClientOptions:            idOpts.ClientOptions,
				DisableInstanceDiscovery: idOpts.DisableInstanceDiscovery,
			})
	case ModeSecret:
		return azidentity.NewClientSecretCredential(tenantID, s.AppClientID, s.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{
				ClientOptions:            idOpts.ClientOptions,
				DisableInstanceDiscovery: idOpts.DisableInstanceDiscovery,
			})
	case ModeCertificate:
		return azidentity.NewClientCertificateCredential(tenantID, s.AppClientID, s.certs, s.key,
			&azidentity.ClientCertificateCredentialOptions{
				ClientOptions:            idOpts.ClientOptions,
				DisableInstanceDiscovery: idOpts.DisableInstanceDiscovery,
			})
	}
	// validate admits no other mode; static mode never gets here.
	return nil, fmt.Errorf("no credential for mode %q", s.Mode)
}

// newAuthProvider returns the kiota authentication provider for one tenant
// and the credential behind it (nil in static mode).
//
// Tokens go only to the base URL's host. That is also why the factory never
// uses NewGraphServiceClientWithCredentials: its fixed list of Graph hosts
// makes every request to another base URL go out without a token, silently.
func newAuthProvider(s *settings, idOpts IdentityOptions, assertion azcore.TokenCredential, tenantID string) (absauth.AuthenticationProvider, azcore.TokenCredential, error) {
	hosts := []string{s.base.Hostname()}
	if s.Mode == ModeStatic {
		validator, err := absauth.NewAllowedHostsValidatorErrorCheck(hosts)
		if err != nil {
			return nil, nil, fmt.Errorf("allowed hosts: %w", err)
		}
		p := &staticTokenProvider{
			token: strings.ReplaceAll(s.StaticToken, TenantPlaceholder, tenantID),
			hosts: validator,
		}
		return absauth.NewBaseBearerTokenAuthenticationProvider(p), nil, nil
	}
	cred, err := newCredential(s, idOpts, assertion, tenantID)
	if err != nil {
		return nil, nil, fmt.Errorf("%s credential: %w", s.Mode, err)
	}
	auth, err := kiotaazure.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{DefaultScope}, hosts)
	if err != nil {
		return nil, nil, fmt.Errorf("authentication provider: %w", err)
	}
	return auth, cred, nil
}

// staticTokenProvider hands out a fixed token, for the local simulator. Like
// kiota's Azure provider, it returns no token for hosts other than the base
// URL's, so a nextLink to another host cannot carry it away.
type staticTokenProvider struct {
	token string
	hosts *absauth.AllowedHostsValidator
}

var _ absauth.AccessTokenProvider = (*staticTokenProvider)(nil)

func (p *staticTokenProvider) GetAuthorizationToken(_ context.Context, u *url.URL, _ map[string]any) (string, error) {
	if !p.hosts.IsUrlHostValid(u) {
		return "", nil
	}
	return p.token, nil
}

func (p *staticTokenProvider) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	return p.hosts
}

// String keeps the token out of logs and %v output.
func (p *staticTokenProvider) String() string { return "graph.staticTokenProvider([redacted])" }
