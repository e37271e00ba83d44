package graph

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

const (
	tenantA = "00000000-0000-0000-0000-00000000000a"
	tenantB = "00000000-0000-0000-0000-00000000000b"
	appID   = "11111111-1111-1111-1111-111111111111"
	miID    = "22222222-2222-2222-2222-222222222222"
)

// graphRequest is what the fake Graph saw of one request.
type graphRequest struct {
	Method, Path, Auth, ContentEncoding string
	Body                                string // decompressed
}

// fakeGraph is a minimal Graph: GET /v1.0/users lists nothing, POST
// /v1.0/users creates, GET /v1.0/users/missing is Graph's 404 and
// /v1.0/groups always answers 503 with Retry-After: 0 (a retry without a
// wait).
type fakeGraph struct {
	t    *testing.T
	mu   sync.Mutex
	reqs []graphRequest
}

func (g *fakeGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.reqs = append(g.reqs, graphRequest{
		Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"),
		ContentEncoding: r.Header.Get("Content-Encoding"), Body: string(b),
	})
	g.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1.0/users":
		io.WriteString(w, `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#users","value":[]}`)
	case r.Method == http.MethodPost && r.URL.Path == "/v1.0/users":
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"created-1","displayName":"Ada"}`)
	case r.URL.Path == "/v1.0/users/missing":
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"Request_ResourceNotFound","message":"Resource 'missing' does not exist or one of its queried reference-property objects are not present."}}`)
	case r.URL.Path == "/v1.0/groups":
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":{"code":"serviceNotAvailable","message":"try later"}}`)
	default:
		g.t.Errorf("fake graph: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func (g *fakeGraph) requests() []graphRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphRequest(nil), g.reqs...)
}

// newFakeGraph serves the fake over plain http on 127.0.0.1 and returns its
// base URL (with /v1.0).
func newFakeGraph(t *testing.T) (*fakeGraph, string) {
	t.Helper()
	g := &fakeGraph{t: t}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return g, srv.URL + "/v1.0"
}

func newFactory(t *testing.T, cfg Config, opts ...Option) *Factory {
	t.Helper()
	f, err := NewFactory(cfg, opts...)
	if err != nil {
		t.Fatalf("NewFactory(%v): %v", cfg, err)
	}
	return f
}

func listUsers(t *testing.T, f *Factory, tenant string) *Client {
	t.Helper()
	c, err := f.Client(context.Background(), tenant)
	if err != nil {
		t.Fatalf("Client(%s): %v", tenant, err)
	}
	resp, err := c.SDK().Users().Get(context.Background(), nil)
	if err != nil {
		t.Fatalf("tenant %s: GET users: %v", tenant, err)
	}
	if n := len(resp.GetValue()); n != 0 {
		t.Fatalf("tenant %s: GET users returned %d users, want 0", tenant, n)
	}
	return c
}

func TestStaticModeTokenPerTenantAndBaseURL(t *testing.T) {
	g, base := newFakeGraph(t)
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: base})

	a := listUsers(t, f, tenantA)
	b := listUsers(t, f, tenantB)
	if a == b {
		t.Fatal("two tenants got the same *Client")
	}
	if a.TenantID() != tenantA || b.TenantID() != tenantB {
		t.Errorf("TenantID() = %q, %q; want %q, %q", a.TenantID(), b.TenantID(), tenantA, tenantB)
	}
	if a.Adapter() == nil || a.Adapter().GetBaseUrl() != base {
		t.Errorf("Adapter().GetBaseUrl() = %q, want %q", a.Adapter().GetBaseUrl(), base)
	}

	// Same tenant, any case: the cached client.
	again, err := f.Client(context.Background(), strings.ToUpper(tenantA))
	if err != nil {
		t.Fatal(err)
	}
	if again != a {
		t.Error("second Client(tenantA) built a new client, want the cached one")
	}

	got := g.requests()
	want := []graphRequest{
		{Method: "GET", Path: "/v1.0/users", Auth: "Bearer sim:" + tenantA},
		{Method: "GET", Path: "/v1.0/users", Auth: "Bearer sim:" + tenantB},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests = %+v\nwant %+v", got, want)
	}
}

func TestStaticTokenTemplate(t *testing.T) {
	g, base := newFakeGraph(t)
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: base, StaticToken: "tok-{tenant}-{tenant}"})
	listUsers(t, f, tenantA)
	if got, want := g.requests()[0].Auth, "Bearer tok-"+tenantA+"-"+tenantA; got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

// TestStaticTokenOnlyForBaseHost checks the token stays on the base URL's
// host: a nextLink or redirect elsewhere gets no Authorization header.
func TestStaticTokenOnlyForBaseHost(t *testing.T) {
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1:8080/v1.0"})
	auth, cred, err := newAuthProvider(f.s, IdentityOptions{}, nil, tenantA)
	if err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		t.Errorf("static mode credential = %T, want nil", cred)
	}
	bearer, ok := auth.(*absauth.BaseBearerTokenAuthenticationProvider)
	if !ok {
		t.Fatalf("static auth provider = %T, want *BaseBearerTokenAuthenticationProvider", auth)
	}
	p := bearer.GetAuthorizationTokenProvider()
	tests := []struct {
		url  string
		want string
	}{
		{url: "http://127.0.0.1:8080/v1.0/users", want: "sim:" + tenantA},
		{url: "http://127.0.0.1:9999/v1.0/users", want: "sim:" + tenantA}, // hosts compare without port, as in kiota
		{url: "https://graph.microsoft.com/v1.0/users", want: ""},
		{url: "http://localhost:8080/v1.0/users", want: ""},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.url)
		got, err := p.GetAuthorizationToken(context.Background(), u, nil)
		if err != nil || got != tt.want {
			t.Errorf("GetAuthorizationToken(%s) = %q, %v; want %q", tt.url, got, err, tt.want)
		}
	}
}

func TestCompression(t *testing.T) {
	tests := []struct {
		name    string
		disable bool
		wantCE  string
	}{
		{name: "default gzips request bodies", disable: false, wantCE: "gzip"},
		{name: "DisableCompression sends plain bodies", disable: true, wantCE: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, base := newFakeGraph(t)
			f := newFactory(t, Config{Mode: ModeStatic, BaseURL: base, DisableCompression: tt.disable})
			c, err := f.Client(context.Background(), tenantA)
			if err != nil {
				t.Fatal(err)
			}
			u := models.NewUser()
			name := "Ada"
			u.SetDisplayName(&name)
			created, err := c.SDK().Users().Post(context.Background(), u, nil)
			if err != nil {
				t.Fatalf("POST users: %v", err)
			}
			if id := created.GetId(); id == nil || *id != "created-1" {
				t.Errorf("created id = %v, want created-1", id)
			}
			reqs := g.requests()
			if len(reqs) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != "POST" || r.Path != "/v1.0/users" {
				t.Errorf("request = %s %s, want POST /v1.0/users", r.Method, r.Path)
			}
			if r.ContentEncoding != tt.wantCE {
				t.Errorf("Content-Encoding = %q, want %q", r.ContentEncoding, tt.wantCE)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil || body["displayName"] != "Ada" {
				t.Errorf("body = %q (%v), want JSON with displayName Ada", r.Body, err)
			}
		})
	}
}

func TestGraphErrorIsODataError(t *testing.T) {
	_, base := newFakeGraph(t)
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: base})
	c, err := f.Client(context.Background(), tenantA)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SDK().Users().ByUserId("missing").Get(context.Background(), nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("GET users/missing error = %T %v, want *odataerrors.ODataError", err, err)
	}
	if oe.ResponseStatusCode != http.StatusNotFound {
		t.Errorf("ResponseStatusCode = %d, want 404", oe.ResponseStatusCode)
	}
	if main := oe.GetErrorEscaped(); main == nil || main.GetCode() == nil || *main.GetCode() != "Request_ResourceNotFound" {
		t.Errorf("error code = %v, want Request_ResourceNotFound", main)
	}
}

func TestRetryMaxAttempts(t *testing.T) {
	tests := []struct {
		name     string
		attempts int
		wantHits int
	}{
		{name: "zero means default 3 retries", attempts: 0, wantHits: 1 + DefaultRetryMaxAttempts},
		{name: "one retry", attempts: 1, wantHits: 2},
		{name: "negative turns retries off", attempts: -1, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, base := newFakeGraph(t)
			f := newFactory(t, Config{Mode: ModeStatic, BaseURL: base, RetryMaxAttempts: tt.attempts})
			c, err := f.Client(context.Background(), tenantA)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SDK().Groups().Get(context.Background(), nil)
			var oe *odataerrors.ODataError
			if !errors.As(err, &oe) || oe.ResponseStatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET groups error = %v, want a 503 ODataError", err)
			}
			if n := len(g.requests()); n != tt.wantHits {
				t.Errorf("server saw %d requests, want %d", n, tt.wantHits)
			}
		})
	}
}

func TestClientConcurrentSameTenant(t *testing.T) {
	_, base := newFakeGraph(t)
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: base})
	const n = 16
	got := make([]*Client, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := f.Client(context.Background(), tenantA)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
	}
	wg.Wait()
	for i, c := range got {
		if c == nil || c != got[0] {
			t.Fatalf("client %d = %p, want the same client as 0 (%p)", i, c, got[0])
		}
	}
}

func TestClientRejectsBadTenant(t *testing.T) {
	f := newFactory(t, Config{Mode: ModeStatic, BaseURL: "http://127.0.0.1:1/v1.0"})
	for _, id := range []string{"", "a/b", "x y", "t?x=1", strings.Repeat("a", 257)} {
		if _, err := f.Client(context.Background(), id); !errors.Is(err, ErrInvalidTenant) {
			t.Errorf("Client(%q) = %v, want ErrInvalidTenant", id, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Client(ctx, tenantA); !errors.Is(err, context.Canceled) {
		t.Errorf("Client(canceled ctx) = %v, want context.Canceled", err)
	}
}
