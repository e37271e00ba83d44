package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// tokenRequest is one client-credentials request the fake Entra received.
type tokenRequest struct {
	Tenant string
	Form   map[string]string
}

// fakeEntra answers MSAL's tenant discovery and client-credentials token
// requests for any tenant, issuing "tok-<tenant>". It must be TLS: MSAL
// rejects authorities that are not https.
type fakeEntra struct {
	t    *testing.T
	mu   sync.Mutex
	reqs []tokenRequest
}

func (e *fakeEntra) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) < 2 {
		e.t.Errorf("fake entra: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
		return
	}
	tenant, rest := parts[0], strings.Join(parts[1:], "/")
	base := "https://" + r.Host + "/" + tenant
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && rest == "v2.0/.well-known/openid-configuration":
		json.NewEncoder(w).Encode(map[string]string{
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"issuer":                 base + "/v2.0",
		})
	case r.Method == http.MethodPost && rest == "oauth2/v2.0/token":
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		e.mu.Lock()
		e.reqs = append(e.reqs, tokenRequest{Tenant: tenant, Form: form})
		e.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{
			"token_type":   "Bearer",
			"expires_in":   3600,
			"access_token": "tok-" + tenant,
		})
	default:
		e.t.Errorf("fake entra: unexpected %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

func (e *fakeEntra) requests() []tokenRequest {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]tokenRequest(nil), e.reqs...)
}

// newFakeEntra starts the fake authority and returns the factory option
// that points azidentity at it.
func newFakeEntra(t *testing.T) (*fakeEntra, Option) {
	t.Helper()
	e := &fakeEntra{t: t}
	srv := httptest.NewTLSServer(e)
	t.Cleanup(srv.Close)
	return e, WithIdentityOptions(IdentityOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"},
			Transport: srv.Client(),
		},
		// Instance discovery would ask login.microsoftonline.com about
		// the fake host.
		DisableInstanceDiscovery: true,
	})
}

// checkTokenFlow lists users in two tenants, twice in the first, and
// checks Graph got each tenant's own token and Entra was asked once per
// tenant (the second call is served from MSAL's cache). It returns
// Entra's requests for mode-specific checks.
func checkTokenFlow(t *testing.T, f *Factory, g *fakeGraph, e *fakeEntra) []tokenRequest {
	t.Helper()
	listUsers(t, f, tenantA)
	listUsers(t, f, tenantB)
	listUsers(t, f, tenantA)

	var auths []string
	for _, r := range g.requests() {
		auths = append(auths, r.Auth)
	}
	wantAuths := []string{"Bearer tok-" + tenantA, "Bearer tok-" + tenantB, "Bearer tok-" + tenantA}
	if fmt.Sprint(auths) != fmt.Sprint(wantAuths) {
		t.Errorf("Graph Authorization headers = %q, want %q", auths, wantAuths)
	}
	reqs := e.requests()
	if len(reqs) != 2 || reqs[0].Tenant != tenantA || reqs[1].Tenant != tenantB {
		t.Fatalf("token requests = %+v, want one for %s then one for %s", reqs, tenantA, tenantB)
	}
	for _, r := range reqs {
		if r.Form["grant_type"] != "client_credentials" {
			t.Errorf("grant_type = %q, want client_credentials", r.Form["grant_type"])
		}
		if r.Form["client_id"] != appID {
			t.Errorf("client_id = %q, want %q", r.Form["client_id"], appID)
		}
		if !strings.Contains(" "+r.Form["scope"]+" ", " "+DefaultScope+" ") {
			t.Errorf("scope = %q, want it to include %q", r.Form["scope"], DefaultScope)
		}
	}
	return reqs
}

func TestSecretModeTokenExchange(t *testing.T) {
	g, base := newFakeGraph(t)
	e, idOpt := newFakeEntra(t)
	f := newFactory(t, Config{Mode: ModeSecret, AppClientID: appID, ClientSecret: "app-secret", BaseURL: base}, idOpt)

	for _, r := range checkTokenFlow(t, f, g, e) {
		if r.Form["client_secret"] != "app-secret" {
			t.Errorf("tenant %s: client_secret not the configured one", r.Tenant)
		}
	}
	c, _ := f.Client(context.Background(), tenantA)
	if _, ok := c.cred.(*azidentity.ClientSecretCredential); !ok {
		t.Errorf("credential = %T, want *azidentity.ClientSecretCredential", c.cred)
	}
}

func TestCertificateModeTokenExchange(t *testing.T) {
	g, base := newFakeGraph(t)
	e, idOpt := newFakeEntra(t)
	f := newFactory(t, Config{Mode: ModeCertificate, AppClientID: appID, CertificatePEM: selfSignedPEM(t), BaseURL: base}, idOpt)

	for _, r := range checkTokenFlow(t, f, g, e) {
		if got := r.Form["client_assertion_type"]; got != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			t.Errorf("client_assertion_type = %q, want jwt-bearer", got)
		}
		claims := jwtClaims(t, r.Form["client_assertion"])
		if claims["iss"] != appID || claims["sub"] != appID {
			t.Errorf("assertion iss/sub = %v/%v, want %s", claims["iss"], claims["sub"], appID)
		}
		if aud, _ := claims["aud"].(string); !strings.HasSuffix(aud, "/"+r.Tenant+"/oauth2/v2.0/token") {
			t.Errorf("assertion aud = %q, want the tenant's token endpoint", aud)
		}
	}
	c, _ := f.Client(context.Background(), tenantA)
	if _, ok := c.cred.(*azidentity.ClientCertificateCredential); !ok {
		t.Errorf("credential = %T, want *azidentity.ClientCertificateCredential", c.cred)
	}
}

// assertionCred stands in for the managed identity in federated mode.
type assertionCred struct {
	mu     sync.Mutex
	scopes [][]string
	tenant []string
}

func (a *assertionCred) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.scopes = append(a.scopes, o.Scopes)
	a.tenant = append(a.tenant, o.TenantID)
	return azcore.AccessToken{Token: "mi-assertion", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestFederatedModeTokenExchange(t *testing.T) {
	g, base := newFakeGraph(t)
	e, idOpt := newFakeEntra(t)
	mi := &assertionCred{}
	f := newFactory(t, Config{Mode: ModeFederated, AppClientID: appID, BaseURL: base}, idOpt, WithAssertionCredential(mi))

	for _, r := range checkTokenFlow(t, f, g, e) {
		if r.Form["client_assertion"] != "mi-assertion" {
			t.Errorf("tenant %s: client_assertion = %q, want the managed identity's token", r.Tenant, r.Form["client_assertion"])
		}
		if _, ok := r.Form["client_secret"]; ok {
			t.Errorf("tenant %s: federated mode sent a client_secret", r.Tenant)
		}
	}
	mi.mu.Lock()
	defer mi.mu.Unlock()
	if len(mi.scopes) == 0 {
		t.Fatal("managed identity never asked for a token")
	}
	for i, s := range mi.scopes {
		if len(s) != 1 || s[0] != TokenExchangeScope {
			t.Errorf("managed identity request %d scopes = %q, want [%q]", i, s, TokenExchangeScope)
		}
		if mi.tenant[i] != "" {
			t.Errorf("managed identity request %d tenant = %q, want none (its home tenant)", i, mi.tenant[i])
		}
	}
	c, _ := f.Client(context.Background(), tenantA)
	if _, ok := c.cred.(*azidentity.ClientAssertionCredential); !ok {
		t.Errorf("credential = %T, want *azidentity.ClientAssertionCredential", c.cred)
	}
}

// TestFederatedModeBuildsManagedIdentity checks that without an injected
// assertion source the factory builds the managed identity credential.
// Getting a real token needs an Azure host, so that part is not tested.
func TestFederatedModeBuildsManagedIdentity(t *testing.T) {
	f := newFactory(t, Config{Mode: ModeFederated, AppClientID: appID, ManagedIdentityClientID: miID})
	if _, ok := f.assertion.(*azidentity.ManagedIdentityCredential); !ok {
		t.Errorf("assertion source = %T, want *azidentity.ManagedIdentityCredential", f.assertion)
	}
}

// selfSignedPEM returns a throwaway RSA certificate and key in PEM, the
// form Config.CertificatePEM takes.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "rostersync-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, key)})
	return []byte(b.String())
}

func mustPKCS8(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwtClaims decodes a JWT's payload without verifying it.
func jwtClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("client_assertion has %d parts, want a 3-part JWT", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return claims
}
