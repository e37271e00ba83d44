// Package graph is rostersync's only door to Microsoft Graph: the one
// package that imports msgraph-sdk-go, so the rest of the module builds
// without the SDK's very large models package.
//
// # Clients
//
// A Factory turns one Config into one Client per customer tenant. A Client
// holds the generated GraphServiceClient and its request adapter (which
// msgraph-sdk-go-core's $batch and page iterator need). Clients are built on
// first use and kept for the process lifetime, so each tenant's credential
// keeps its MSAL token cache.
//
// # Authentication
//
// In production (ModeFederated) no secret exists: a user-assigned managed
// identity gets a token for TokenExchangeScope, and that token is the client
// assertion for the multi-tenant app in the customer's tenant. ModeSecret
// and ModeCertificate are for development tenants. ModeStatic sends
// Config.StaticToken (by default "sim:<tenant>") to the local Graph
// simulator and refuses non-loopback hosts unless told otherwise.
//
// # HTTP pipeline
//
// Requests pass through Graph's telemetry and /me URL-replace handlers and
// kiota's defaults: retry on 429/503/504 honouring Retry-After (up to
// Config.RetryMaxAttempts), redirects, gzip request bodies (unless
// Config.DisableCompression), parameter-name decoding, user agent and
// headers inspection. One *http.Client is shared by every tenant, so they
// share a connection pool.
package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	graphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
)

// Client is Graph access for one customer tenant. It is safe for
// concurrent use.
type Client struct {
	tenantID string
	sdk      *msgraphsdk.GraphServiceClient
	adapter  *msgraphsdk.GraphRequestAdapter
	// cred is the tenant's Entra credential; nil in static mode. Kept so
	// tests can see which credential the factory chose.
	cred azcore.TokenCredential

	// throttle and fresh are the tenant's throttling and replication
	// memory, shared by every Executor of this client (executor.go).
	throttle throttleState
	fresh    freshIDs
	// replicaFresh is when this client made each object, for as long as
	// a slower replica (Teams) may not know it yet, and that replica's
	// lag as learnt (opSpec.replicationWindow).
	replicaFresh freshIDs
	// teamsThrottle is the Teams gate: Teams' Retry-After holds Teams
	// requests only; teamsPace meters them at Teams' documented rates.
	teamsThrottle throttleState
	teamsPace     teamsPace
	// teamFailures counts failed teamsAsyncOperations (classrooms.go).
	teamFailures teamFailureCounts
}

// TenantID is the customer tenant the client acts in.
func (c *Client) TenantID() string { return c.tenantID }

// SDK is the generated Graph client, e.g. c.SDK().Users().Get(ctx, nil).
func (c *Client) SDK() *msgraphsdk.GraphServiceClient { return c.sdk }

// Adapter is the request adapter behind SDK, for msgraph-sdk-go-core's
// batch requests and page iterators.
func (c *Client) Adapter() *msgraphsdk.GraphRequestAdapter { return c.adapter }

// Option adjusts a Factory beyond its Config.
type Option func(*factoryOptions)

type factoryOptions struct {
	identity  IdentityOptions
	assertion azcore.TokenCredential
}

// WithIdentityOptions applies o to every azidentity credential the factory
// builds (sovereign clouds, custom transport, fake authorities in tests).
func WithIdentityOptions(o IdentityOptions) Option {
	return func(f *factoryOptions) { f.identity = o }
}

// WithAssertionCredential replaces the managed identity in federated mode:
// cred is asked for a TokenExchangeScope token, which becomes the client
// assertion. Tests use it, as would a host whose workload identity is not a
// managed identity. Config.ManagedIdentityClientID may then be empty.
func WithAssertionCredential(cred azcore.TokenCredential) Option {
	return func(f *factoryOptions) { f.assertion = cred }
}

// Factory builds and caches one Client per customer tenant. It is safe for
// concurrent use.
type Factory struct {
	s          *settings
	identity   IdentityOptions
	assertion  azcore.TokenCredential // federated mode only
	httpClient *http.Client

	mu      sync.Mutex
	clients map[string]*Client
}

// NewFactory validates cfg and prepares what all tenants share: the HTTP
// pipeline and, in federated mode, the managed identity credential. Every
// configuration error wraps ErrInvalidConfig.
func NewFactory(cfg Config, opts ...Option) (*Factory, error) {
	var o factoryOptions
	for _, opt := range opts {
		opt(&o)
	}
	s, err := cfg.validate(o.assertion != nil)
	if err != nil {
		return nil, err
	}
	hc, err := newHTTPClient(s, nil)
	if err != nil {
		return nil, err
	}
	f := &Factory{
		s:          s,
		identity:   o.identity,
		assertion:  o.assertion,
		httpClient: hc,
		clients:    make(map[string]*Client),
	}
	if s.Mode == ModeFederated && f.assertion == nil {
		if f.assertion, err = newAssertionSource(s, o.identity); err != nil {
			return nil, fmt.Errorf("graph: %w", err)
		}
	}
	return f, nil
}

// newHTTPClient builds the middleware pipeline of azure.md §6.3: Graph's
// handlers first, then kiota's defaults with our retry and compression
// options. parent, when set, carries the requests instead of kiota's
// default transport (tests route Graph's own URLs to a simulator with it).
func newHTTPClient(s *settings, parent http.RoundTripper) (*http.Client, error) {
	retry := &khttp.RetryHandlerOptions{
		MaxRetries: s.RetryMaxAttempts,
		// kiota treats MaxRetries < 1 as "default", so retries are
		// turned off through ShouldRetry instead.
		ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool {
			return s.RetryMaxAttempts > 0
		},
	}
	mws, err := khttp.GetDefaultMiddlewaresWithOptions(
		khttp.NewCompressionOptionsReference(!s.DisableCompression),
		retry,
	)
	if err != nil {
		return nil, fmt.Errorf("graph: middleware: %w", err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	mws = append([]khttp.Middleware{
		graphcore.NewGraphTelemetryHandler(&opts),
		khttp.NewUrlReplaceHandler(true, graphcore.ReplacementPairs),
	}, mws...)
	hc := khttp.GetDefaultClient(mws...)
	if parent != nil {
		hc.Transport = khttp.NewCustomTransportWithParentTransport(parent, mws...)
	}
	return hc, nil
}

// Client returns the tenant's client, building it on first use. Concurrent
// calls for one tenant get the same *Client. Building does no network I/O;
// credentials fetch tokens on the first request.
//
// Tenant ids are case-insensitive, so they are lower-cased first: the
// client, its credential and the static token all see the lower-case form.
func (f *Factory) Client(ctx context.Context, tenantID string) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("graph client for tenant %s: %w", tenantID, err)
	}
	if err := validateTenant(tenantID); err != nil {
		return nil, fmt.Errorf("graph client: %w", err)
	}
	tenantID = strings.ToLower(tenantID)
	// Building is cheap and local, so holding the lock throughout is the
	// simplest way to guarantee one client per tenant.
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.clients[tenantID]; ok {
		return c, nil
	}
	c, err := f.build(tenantID)
	if err != nil {
		return nil, fmt.Errorf("graph client for tenant %s: %w", tenantID, err)
	}
	f.clients[tenantID] = c
	return c, nil
}

// Forget drops the tenant's client and with it its cached tokens, e.g.
// when the customer's configuration is removed: nothing of the tenant's
// access stays in memory. A later Client call builds a fresh one.
func (f *Factory) Forget(tenantID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clients, strings.ToLower(tenantID))
}

func (f *Factory) build(tenantID string) (*Client, error) {
	auth, cred, err := newAuthProvider(f.s, f.identity, f.assertion, tenantID)
	if err != nil {
		return nil, err
	}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, f.httpClient)
	if err != nil {
		return nil, fmt.Errorf("request adapter: %w", err)
	}
	// Set before NewGraphServiceClient, which copies the base URL into its
	// path parameters (and would otherwise default to graph.microsoft.com).
	adapter.SetBaseUrl(f.s.BaseURL)
	return &Client{
		tenantID: tenantID,
		sdk:      msgraphsdk.NewGraphServiceClient(adapter),
		adapter:  adapter,
		cred:     cred,
	}, nil
}

// String describes the factory with secrets redacted.
func (f *Factory) String() string { return "graph.Factory(" + f.s.Config.String() + ")" }

// GoString covers %#v.
func (f *Factory) GoString() string { return f.String() }

// Format makes every verb print String, never the configuration's secrets.
func (f *Factory) Format(st fmt.State, _ rune) { fmt.Fprint(st, f.String()) }
