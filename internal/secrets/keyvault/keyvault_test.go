package keyvault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/rostersync/rostersync/internal/secrets"
)

const (
	testTenant = "00000000-0000-0000-0000-000000000001"
	testToken  = "kv-test-token"
	wantScope  = "https://vault.azure.net/.default"
)

// fakeVault is a Key Vault stand-in speaking the challenge protocol: an
// unauthenticated request gets 401 with the WWW-Authenticate challenge, an
// authenticated GET /secrets/{name}/ gets the secret or Key Vault's 404.
// Like Key Vault, it treats names case-insensitively.
type fakeVault struct {
	mu      sync.Mutex
	secrets map[string]string
	hits    map[string]int // authenticated GETs per name
	denied  int            // unauthenticated requests answered with the challenge
}

func (v *fakeVault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	defer v.mu.Unlock()
	auth := r.Header.Get("Authorization")
	if auth == "" {
		v.denied++
		w.Header().Set("WWW-Authenticate",
			`Bearer authorization="https://login.microsoftonline.com/`+testTenant+`", resource="https://vault.azure.net"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if auth != "Bearer "+testToken {
		http.Error(w, "wrong token", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodGet || r.URL.Query().Get("api-version") == "" {
		http.Error(w, "unexpected request "+r.Method+" "+r.URL.String(), http.StatusBadRequest)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, "/secrets/")
	if !ok {
		http.Error(w, "unexpected path "+r.URL.Path, http.StatusBadRequest)
		return
	}
	// No version means latest; names are case-insensitive, as in Key Vault.
	name = strings.ToLower(strings.TrimSuffix(name, "/"))
	v.hits[name]++
	w.Header().Set("Content-Type", "application/json")
	val, ok := v.secrets[name]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"code":"SecretNotFound","message":"A secret with (name/id) %s was not found in this key vault."}}`, name)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"value":      val,
		"id":         "https://" + r.Host + "/secrets/" + name + "/0123456789abcdef",
		"attributes": map[string]any{"enabled": true},
	})
}

func (v *fakeVault) set(name, value string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets[strings.ToLower(name)] = value
}

// counts returns how many requests were challenged and how many distinct
// names were fetched with a token.
func (v *fakeVault) counts() (denied, names int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.denied, len(v.hits)
}

func (v *fakeVault) hitCount(name string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hits[name]
}

// fakeCred records what the challenge policy asked for.
type fakeCred struct {
	mu   sync.Mutex
	reqs []policy.TokenRequestOptions
}

func (c *fakeCred) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reqs = append(c.reqs, opts)
	return azcore.AccessToken{Token: testToken, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type env struct {
	vault *fakeVault
	cred  *fakeCred
	now   time.Time
	src   *Source
}

// newEnv starts a TLS fake vault (azsecrets will not send a token over
// http) and a Source on it whose clock the test steps by hand.
func newEnv(t *testing.T, ttl time.Duration) *env {
	t.Helper()
	e := &env{
		vault: &fakeVault{secrets: map[string]string{}, hits: map[string]int{}},
		cred:  &fakeCred{},
		now:   time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC),
	}
	srv := httptest.NewTLSServer(e.vault)
	t.Cleanup(srv.Close)
	src, err := New(srv.URL+"/", e.cred, &Options{
		TTL: ttl,
		Now: func() time.Time { return e.now },
		Client: &azsecrets.ClientOptions{
			ClientOptions: azcore.ClientOptions{Transport: srv.Client()},
			// The challenge names vault.azure.net, which is not a suffix
			// of 127.0.0.1.
			DisableChallengeResourceVerification: true,
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.src = src
	return e
}

func TestSecretFoundUsesChallengeTenantAndScope(t *testing.T) {
	e := newEnv(t, 0)
	e.vault.set("graph-client-secret", "hunter2")

	got, err := e.src.Secret(context.Background(), "graph-client-secret")
	if err != nil || got != "hunter2" {
		t.Fatalf("Secret(graph-client-secret) = %q, %v; want %q", got, err, "hunter2")
	}
	if denied, _ := e.vault.counts(); denied != 1 {
		t.Errorf("unauthenticated requests = %d, want 1 (the challenge)", denied)
	}
	e.cred.mu.Lock()
	defer e.cred.mu.Unlock()
	if len(e.cred.reqs) == 0 {
		t.Fatal("credential was never asked for a token")
	}
	for i, r := range e.cred.reqs {
		if r.TenantID != testTenant {
			t.Errorf("token request %d tenant = %q, want %q", i, r.TenantID, testTenant)
		}
		if len(r.Scopes) != 1 || r.Scopes[0] != wantScope {
			t.Errorf("token request %d scopes = %q, want [%q]", i, r.Scopes, wantScope)
		}
	}
}

func TestSecretNotFound(t *testing.T) {
	e := newEnv(t, 0)
	got, err := e.src.Secret(context.Background(), "missing")
	if !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Secret(missing) = %q, %v; want secrets.ErrNotFound", got, err)
	}
	// Misses are not cached: a secret created after a miss is found at once.
	e.vault.set("missing", "now-here")
	if got, err := e.src.Secret(context.Background(), "missing"); err != nil || got != "now-here" {
		t.Fatalf("Secret(missing) after creating it = %q, %v; want %q", got, err, "now-here")
	}
}

func TestSecretInvalidNameNeverReachesVault(t *testing.T) {
	e := newEnv(t, 0)
	if _, err := e.src.Secret(context.Background(), "bad_name"); !errors.Is(err, secrets.ErrInvalidName) {
		t.Fatalf("Secret(bad_name) = %v, want secrets.ErrInvalidName", err)
	}
	if denied, names := e.vault.counts(); denied != 0 || names != 0 {
		t.Errorf("vault saw %d challenged requests and %d names fetched, want none", denied, names)
	}
}

func TestSecretCache(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name     string
		ttl      time.Duration
		advance  time.Duration
		wantHits int
		want     string
	}{
		{name: "within TTL served from memory", ttl: ttl, advance: ttl - time.Second, wantHits: 1, want: "v1"},
		{name: "at TTL refreshed", ttl: ttl, advance: ttl, wantHits: 2, want: "v2"},
		{name: "after TTL refreshed", ttl: ttl, advance: 2 * ttl, wantHits: 2, want: "v2"},
		{name: "caching off", ttl: -1, advance: 0, wantHits: 2, want: "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.ttl)
			e.vault.set("rotating", "v1")
			ctx := context.Background()
			if got, err := e.src.Secret(ctx, "rotating"); err != nil || got != "v1" {
				t.Fatalf("first Secret(rotating) = %q, %v; want v1", got, err)
			}
			e.vault.set("rotating", "v2")
			e.now = e.now.Add(tt.advance)
			// Key Vault names are case-insensitive, so is the cache key.
			got, err := e.src.Secret(ctx, "ROTATING")
			if err != nil || got != tt.want {
				t.Fatalf("second Secret(ROTATING) = %q, %v; want %q", got, err, tt.want)
			}
			if n := e.vault.hitCount("rotating"); n != tt.wantHits {
				t.Errorf("vault GETs = %d, want %d", n, tt.wantHits)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	cred := &fakeCred{}
	tests := []struct {
		name string
		url  string
		cred azcore.TokenCredential
	}{
		{name: "http", url: "http://vault.example/", cred: cred},
		{name: "no host", url: "https:///", cred: cred},
		{name: "unparsable", url: "https://[::1", cred: cred},
		{name: "nil credential", url: "https://v.vault.azure.net/", cred: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.url, tt.cred, nil); err == nil {
				t.Fatalf("New(%q) succeeded, want an error", tt.url)
			}
		})
	}
}

func TestSourceNeverPrintsValues(t *testing.T) {
	e := newEnv(t, time.Hour)
	e.vault.set("graph-secret", "s3cr3t-VALUE")
	if _, err := e.src.Secret(context.Background(), "graph-secret"); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, arg := range []any{e.src, *e.src} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, "s3cr3t") {
				t.Errorf("Sprintf(%q, %T) = %q, leaks the cached secret", verb, arg, out)
			}
		}
	}
}
