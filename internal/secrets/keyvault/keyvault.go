// Package keyvault is a secrets.Source backed by Azure Key Vault
// (azsecrets), with a small in-memory cache so that a queue handler asking
// for the same secret on every message does not call the vault every time.
package keyvault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/rostersync/rostersync/internal/secrets"
)

// DefaultTTL is how long a value is served from memory when Options.TTL is
// zero. Five minutes keeps vault traffic low while a rotated secret is
// picked up well within a token's lifetime.
const DefaultTTL = 5 * time.Minute

// Key Vault's error code for a missing secret. A 404 is treated as missing
// whatever the code says, since the vault answers 404 only for absent
// secrets (or versions).
const codeSecretNotFound = "SecretNotFound"

// Options configures a Source. A nil *Options means all defaults.
type Options struct {
	// TTL is how long a fetched value is reused. Zero means DefaultTTL;
	// a negative value turns caching off. Failures are never cached.
	TTL time.Duration

	// Now is the clock the cache reads; nil means time.Now. Tests set it to
	// step past the TTL without sleeping.
	Now func() time.Time

	// Client is passed to azsecrets.NewClient (transport, retries, and
	// DisableChallengeResourceVerification for a local fake vault). Nil
	// means the SDK's defaults.
	Client *azsecrets.ClientOptions
}

// Source reads secrets from one vault. It is safe for concurrent use.
type Source struct {
	vaultURL string
	client   *azsecrets.Client
	ttl      time.Duration
	now      func() time.Time

	// cache sits behind a pointer so that Source holds no lock and the
	// value-receiver String/Format methods can be used on a copy.
	cache *cache
}

type cache struct {
	mu sync.Mutex
	m  map[string]entry // key: lower-cased name, as Key Vault names are case-insensitive
}

type entry struct {
	value   string
	fetched time.Time
}

var _ secrets.Source = (*Source)(nil)

// New returns a Source for the vault at vaultURL, e.g.
// "https://rostersync-prod.vault.azure.net/". The vault must be served over
// https: azsecrets refuses to send a token over plain http.
func New(vaultURL string, cred azcore.TokenCredential, opts *Options) (*Source, error) {
	if cred == nil {
		return nil, errors.New("keyvault: nil credential")
	}
	u, err := url.Parse(vaultURL)
	if err != nil {
		return nil, fmt.Errorf("keyvault: vault URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("keyvault: vault URL %q must be https://host/", vaultURL)
	}
	if opts == nil {
		opts = &Options{}
	}
	c, err := azsecrets.NewClient(vaultURL, cred, opts.Client)
	if err != nil {
		return nil, fmt.Errorf("keyvault: client for %s: %w", vaultURL, err)
	}
	s := &Source{
		vaultURL: vaultURL,
		client:   c,
		ttl:      opts.TTL,
		now:      opts.Now,
		cache:    &cache{m: make(map[string]entry)},
	}
	if s.ttl == 0 {
		s.ttl = DefaultTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Secret returns the latest version of the named secret. A missing secret
// yields an error wrapping secrets.ErrNotFound; other vault failures wrap
// the SDK's *azcore.ResponseError.
//
// Two callers missing the cache at once both fetch; that costs one extra
// request and keeps the code free of in-flight bookkeeping.
func (s *Source) Secret(ctx context.Context, name string) (string, error) {
	if err := secrets.ValidateName(name); err != nil {
		return "", fmt.Errorf("keyvault: %w", err)
	}
	key := strings.ToLower(name)
	if v, ok := s.cached(key); ok {
		return v, nil
	}
	resp, err := s.client.GetSecret(ctx, name, "", nil)
	if err != nil {
		if isNotFound(err) {
			return "", fmt.Errorf("keyvault: secret %q in %s: %w", name, s.vaultURL, secrets.ErrNotFound)
		}
		return "", fmt.Errorf("keyvault: get secret %q from %s: %w", name, s.vaultURL, err)
	}
	if resp.Value == nil {
		// Key Vault always returns a value for an enabled secret; a
		// missing one means something between us and the vault is wrong.
		return "", fmt.Errorf("keyvault: secret %q from %s has no value", name, s.vaultURL)
	}
	v := *resp.Value
	if s.ttl > 0 {
		s.cache.mu.Lock()
		s.cache.m[key] = entry{value: v, fetched: s.now()}
		s.cache.mu.Unlock()
	}
	return v, nil
}

func (s *Source) cached(key string) (string, bool) {
	if s.ttl < 0 {
		return "", false
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	e, ok := s.cache.m[key]
	if !ok {
		return "", false
	}
	if s.now().Sub(e.fetched) >= s.ttl {
		delete(s.cache.m, key)
		return "", false
	}
	return e.value, true
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	return re.StatusCode == http.StatusNotFound || re.ErrorCode == codeSecretNotFound
}

// String names the vault; it never prints cached values, so a Source can be
// logged. It has a value receiver so a dereferenced Source is covered too.
func (s Source) String() string { return "keyvault.Source(" + s.vaultURL + ")" }

// GoString covers %#v.
func (s Source) GoString() string { return s.String() }

// Format makes every verb print String, never the cache.
func (s Source) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }
