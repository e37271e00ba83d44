package conformance_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	absauth "github.com/microsoft/kiota-abstractions-go/authentication"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/graphsim"
)

const (
	eduTenant = "3f2a0c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
	bizTenant = "9b8c7d6e-1111-4222-8333-444455556666"
	ada       = "a1a1a1a1-0000-4000-8000-000000000001"
	sam       = "a1a1a1a1-0000-4000-8000-000000000002"
	leaver    = "a1a1a1a1-0000-4000-8000-000000000003"
	allStaff  = "b2b2b2b2-0000-4000-8000-000000000001"
	mathsCls  = "b2b2b2b2-0000-4000-8000-000000000002"
	school1   = "c3c3c3c3-0000-4000-8000-000000000001"
	skuStu    = "314c4481-f395-4525-be8b-2ec4bb1e9d91"
	skuFac    = "94763226-9b3c-4e75-a931-5c89701abe66"
)

// staticToken is the simulator's bearer token provider: "sim:<tenantId>".
type staticToken string

func (s staticToken) GetAuthorizationToken(context.Context, *url.URL, map[string]any) (string, error) {
	return string(s), nil
}

func (s staticToken) GetAllowedHostsValidator() *absauth.AllowedHostsValidator {
	v, _ := absauth.NewAllowedHostsValidatorErrorCheck(nil) // nil: every host allowed
	return v
}

// env is a simulator on a real loopback listener.
type env struct {
	t   *testing.T
	sim *graphsim.Server
	hs  *httptest.Server
	clk *clock.Fake // nil when the env runs on the real clock

	mu        sync.Mutex
	encodings map[string]int // Content-Encoding of requests with a body
}

func (e *env) record(r *http.Request) {
	if r.ContentLength == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.encodings[r.Header.Get("Content-Encoding")]++
}

func seed(t *testing.T) *graphsim.State {
	t.Helper()
	st, err := graphsim.ReadStateFile("../../../testdata/graphsim/tenants.json")
	if err != nil {
		t.Fatal(err)
	}
	return &st
}

// newEnv starts a seeded simulator. Unless opts says otherwise it runs on
// a fake clock with eventual consistency and team delays off.
func newEnv(t *testing.T, opts graphsim.Options) *env {
	t.Helper()
	e := &env{t: t}
	if opts.Clock == nil {
		e.clk = clock.NewFake(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
		opts.Clock = e.clk
	}
	if opts.ConsistencyDelay == 0 {
		opts.ConsistencyDelay = -1
	}
	if opts.TeamReplicationDelay == 0 {
		opts.TeamReplicationDelay = -1
	}
	if opts.TeamProvisioningDelay == 0 {
		opts.TeamProvisioningDelay = -1
	}
	sim := graphsim.New(opts)
	if err := sim.Load(*seed(t)); err != nil {
		t.Fatalf("Load: %v", err)
	}
	e.sim = sim
	e.encodings = map[string]int{}
	e.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.record(r)
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(e.hs.Close)
	return e
}

// client builds the production client exactly as internal/graph does:
// static bearer token, default Graph middleware (telemetry, retry,
// redirect, gzip compression...), base URL on the simulator.
func (e *env) client(tenantID string) *msgraphsdk.GraphServiceClient {
	e.t.Helper()
	return e.clientWithToken("sim:" + tenantID)
}

func (e *env) clientWithToken(token string) *msgraphsdk.GraphServiceClient {
	e.t.Helper()
	auth := absauth.NewBaseBearerTokenAuthenticationProvider(staticToken(token))
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, nil)
	if err != nil {
		e.t.Fatalf("request adapter: %v", err)
	}
	adapter.SetBaseUrl(e.hs.URL + "/v1.0")
	return msgraphsdk.NewGraphServiceClient(adapter)
}

// odataErr asserts err is a Graph error with status and code.
func odataErr(t *testing.T, err error, status int, code string) *odataerrors.ODataError {
	t.Helper()
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("error = %v (%T), want *odataerrors.ODataError %d %s", err, err, status, code)
	}
	got := ""
	if oe.GetErrorEscaped() != nil && oe.GetErrorEscaped().GetCode() != nil {
		got = *oe.GetErrorEscaped().GetCode()
	}
	if oe.ResponseStatusCode != status || got != code {
		t.Fatalf("ODataError = %d %s (%s), want %d %s", oe.ResponseStatusCode, got, errMessage(oe), status, code)
	}
	return oe
}

func errMessage(oe *odataerrors.ODataError) string {
	if oe.GetErrorEscaped() == nil || oe.GetErrorEscaped().GetMessage() == nil {
		return ""
	}
	return *oe.GetErrorEscaped().GetMessage()
}

func ptr[T any](v T) *T { return &v }

func ptrUUID(t *testing.T, s string) *uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return &u
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
