package graphsim

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
)

// Options configures a Server. The zero value is usable: real clock, time
// scale 1, Graph's documented limits, no added latency.
type Options struct {
	// Clock is the time source for every window, delay and timestamp.
	// Default clock.Real{}.
	Clock clock.Clock
	// TimeScale divides every throttling window, Retry-After, latency and
	// consistency or replication delay: 60 makes Graph's 150 s write window
	// last 2.5 s. Default 1.
	TimeScale float64
	// Latency is added to every HTTP request before it is answered, in Graph
	// time (so it is divided by TimeScale too). Default none.
	Latency Latency
	// ConsistencyDelay is how long a new user or group stays invisible to
	// reads and reference adds, and how long reads still show a property
	// an update replaced (graph.md §6). 0 means DefaultConsistencyDelay; a
	// negative value makes writes visible at once.
	ConsistencyDelay time.Duration
	// TeamReplicationDelay is how long after a group's creation creating a
	// team from it fails with 404 (graph.md §5: "less than 15 minutes").
	// 0 means DefaultTeamReplicationDelay; negative turns it off.
	TeamReplicationDelay time.Duration
	// TeamProvisioningDelay is how long a teamsAsyncOperation takes to
	// finish: its first quarter it reports notStarted (queued), then
	// inProgress, then succeeded (or failed, see Faults.TeamOperation).
	// 0 means DefaultTeamProvisioningDelay; negative means at once.
	TeamProvisioningDelay time.Duration
	// Limits are the throttling figures. Nil means DefaultLimits().
	Limits *Limits
	// IntegerRetryAfter rounds Retry-After up to whole seconds, as Graph
	// usually sends it. By default it is fractional (Graph has sent
	// "2.128"), which keeps time-scaled runs fast.
	IntegerRetryAfter bool
	// Rand is the source of ids (GUIDs). Default crypto/rand.
	Rand io.Reader
	// Faults, when set, can fail chosen requests before they run.
	Faults *Faults
}

// Default delays, in Graph time (before TimeScale).
const (
	// DefaultConsistencyDelay is a conservative "tens of seconds is normal,
	// a few seconds is typical" replication lag for new directory objects
	// (graph.md §6 reports no SLA); small enough that retry-with-backoff
	// clients pass quickly.
	DefaultConsistencyDelay = 2 * time.Second
	// DefaultTeamReplicationDelay is the documented window in which team
	// creation from a new group may 404 (graph.md §5).
	DefaultTeamReplicationDelay = 15 * time.Minute
	// DefaultTeamProvisioningDelay is how long team provisioning runs before
	// the async operation reports succeeded; undocumented, chosen so a
	// client polling at Graph's advised 30 s sees one pending answer
	// (notStarted for the first 5 s, inProgress after).
	DefaultTeamProvisioningDelay = 20 * time.Second
)

// Latency is a per-request latency model in Graph time.
type Latency struct {
	// Read applies to GET requests, Write to everything else; $batch takes
	// the largest of its items.
	Read, Write time.Duration
}

// Faults fails chosen requests, in the style of controller-runtime's
// interceptor.Funcs. Request runs for every request (and every $batch item)
// after authentication and before throttling; a non-nil Fault is returned
// to the client instead of running the request.
type Faults struct {
	Request func(FaultRequest) *Fault
	// TeamOperation runs when a Teams async operation (createTeam,
	// archiveTeam, unarchiveTeam) is accepted. A non-nil result makes that
	// teamsAsyncOperation end with status failed and this error
	// (teamsasyncoperation.md: error is "any error that causes the async
	// operation to fail") where it would have succeeded, and its change is
	// not made: no team, or no change of archive state. The 202 is the same
	// either way, as in Graph.
	TeamOperation func(FaultOperation) *OperationError
}

// FaultOperation describes an accepted Teams async operation to
// Faults.TeamOperation.
type FaultOperation struct {
	TenantID string
	TeamID   string
	// OperationType is createTeam, archiveTeam or unarchiveTeam.
	OperationType string
	// Attempt counts the operations of this type on this team since the
	// simulator started, 1 for the first, so a test can fail the first
	// attempt and let the retry succeed.
	Attempt int
}

// OperationError is a failed teamsAsyncOperation's error (operationError:
// code and message).
type OperationError struct {
	Code    string
	Message string
}

// FaultRequest describes a request to Faults.Request.
type FaultRequest struct {
	TenantID string
	Method   string
	// Path is the path below /v1.0, e.g. "/users/{id}".
	Path string
	// RetryAttempt is the Retry-Attempt header the SDK retry handler sets.
	RetryAttempt string
	InBatch      bool
}

// Fault is an injected Graph error response.
type Fault struct {
	Status  int
	Code    string
	Message string
	Header  http.Header
}

// Server is the simulator. It is safe for concurrent use.
type Server struct {
	clock    clock.Clock
	scale    float64
	opts     Options
	limits   Limits
	ids      *idSource
	throttle *throttler

	mu      sync.Mutex
	tenants map[string]*tenant

	// gate lets writes run together but not while the persisted snapshot
	// is rewritten: writes hold it shared, Compact exclusively. Order:
	// gate, then a tenant's mu, then the journal's.
	gate    sync.RWMutex
	journal atomic.Pointer[journal] // nil unless Persist was called
}

// New returns a server configured by opts, with no tenants: add them with
// Load or AddTenant.
func New(opts Options) *Server {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.TimeScale <= 0 {
		opts.TimeScale = 1
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.ConsistencyDelay == 0 {
		opts.ConsistencyDelay = DefaultConsistencyDelay
	}
	if opts.TeamReplicationDelay == 0 {
		opts.TeamReplicationDelay = DefaultTeamReplicationDelay
	}
	if opts.TeamProvisioningDelay == 0 {
		opts.TeamProvisioningDelay = DefaultTeamProvisioningDelay
	}
	limits := DefaultLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	s := &Server{
		clock:   opts.Clock,
		scale:   opts.TimeScale,
		opts:    opts,
		limits:  limits,
		ids:     &idSource{r: opts.Rand},
		tenants: map[string]*tenant{},
	}
	s.throttle = newThrottler(s)
	return s
}

// scaled turns a Graph-time duration into clock time.
func (s *Server) scaled(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) / s.scale)
}

func (s *Server) now() time.Time { return s.clock.Now() }

// tenant returns the tenant with id, or nil.
func (s *Server) tenant(id string) *tenant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tenants[strings.ToLower(id)]
}

// request is one Graph call, top-level or a $batch item.
type request struct {
	ctx     context.Context
	method  string
	path    string   // below /v1.0, unescaped, without query
	segs    []string // normalised path segments
	query   url.Values
	header  http.Header
	body    []byte
	tenant  *tenant
	appID   string
	baseURL string // scheme://host/v1.0, for nextLink and Location
	inBatch bool
	reqID   string
	cliID   string
}

// response is a Graph answer before it is written.
type response struct {
	status      int
	header      http.Header
	body        any    // JSON value, or nil
	raw         []byte // used instead of body when set
	contentType string // for raw
}

func jsonResponse(status int, body any) *response {
	return &response{status: status, header: http.Header{}, body: body}
}

func noContent() *response { return &response{status: http.StatusNoContent, header: http.Header{}} }

// maxBody is Graph's 4 MB request size limit.
const maxBody = 4 << 20

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := s.ids.guid()
	cliID := r.Header.Get("client-request-id")
	if cliID == "" {
		cliID = reqID
	}
	// A bug in one handler must not take down the simulator nor hang the
	// client: answer 500 the Graph way.
	defer func() {
		if p := recover(); p != nil {
			e := errf(http.StatusInternalServerError, CodeInternalServerError, "graphsim internal error: %v", p)
			s.write(w, s.errorResponse(e, reqID, cliID), reqID, cliID)
		}
	}()
	if strings.HasPrefix(r.URL.Path, "/_sim/") && s.serveAdmin(w, r) {
		return
	}
	resp := s.serveTop(r, reqID, cliID)
	s.write(w, resp, reqID, cliID)
}

func (s *Server) serveTop(r *http.Request, reqID, cliID string) *response {
	fail := func(e *apiError) *response { return s.errorResponse(e, reqID, cliID) }
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1.0")
	if !ok || (rest != "" && rest[0] != '/') {
		v := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		return fail(errf(http.StatusBadRequest, CodeBadRequest, "Invalid version: %s", v))
	}
	t, app, aerr := s.authenticate(r.Header.Get("Authorization"))
	if aerr != nil {
		return fail(aerr)
	}
	t.stats.httpRequest()
	body, berr := readBody(r)
	if berr != nil {
		return fail(berr)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	req := &request{
		ctx:     r.Context(),
		method:  r.Method,
		path:    rest,
		query:   r.URL.Query(),
		header:  r.Header,
		body:    body,
		tenant:  t,
		appID:   app,
		baseURL: scheme + "://" + r.Host + "/v1.0",
		reqID:   reqID,
		cliID:   cliID,
	}
	if strings.EqualFold(req.path, "/$batch") {
		return s.serveBatch(req)
	}
	return s.dispatch(req)
}

// sleepLatency applies the latency model; class is "read" or "write".
func (s *Server) sleepLatency(ctx context.Context, class string) {
	d := s.opts.Latency.Read
	if class == "write" {
		d = s.opts.Latency.Write
	}
	if d <= 0 {
		return
	}
	clock.Sleep(ctx, s.clock, s.scaled(d))
}

// authenticate maps "Bearer sim:<tenantId>[:<appId>]" to a tenant.
func (s *Server) authenticate(h string) (*tenant, string, *apiError) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || tok == "" {
		return nil, "", errf(http.StatusUnauthorized, CodeInvalidAuthenticationToken, "Access token is empty.")
	}
	rest, ok := strings.CutPrefix(tok, "sim:")
	if !ok {
		return nil, "", errf(http.StatusUnauthorized, CodeInvalidAuthenticationToken, "Access token validation failure. Invalid audience.")
	}
	tid, app, _ := strings.Cut(rest, ":")
	t := s.tenant(tid)
	if t == nil {
		return nil, "", errf(http.StatusUnauthorized, CodeInvalidAuthenticationToken, "Access token validation failure. Invalid audience.")
	}
	if app == "" {
		app = DefaultAppID
	}
	return t, app, nil
}

// DefaultAppID is the application id of a token without one.
const DefaultAppID = "6a3b7e1c-0000-4000-8000-00000000a001"

// readBody reads and, when needed, gunzips the request body; the SDK's
// compression handler gzips by default and falls back to plain on 415.
func readBody(r *http.Request) ([]byte, *apiError) {
	if r.Body == nil {
		return nil, nil
	}
	var rd io.Reader = r.Body
	switch ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return nil, errf(http.StatusBadRequest, CodeBadRequest, "Invalid gzip request body: %v", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, errf(http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "Content-Encoding '%s' is not supported.", ce)
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxBody+1))
	if err != nil {
		return nil, errf(http.StatusBadRequest, CodeBadRequest, "Unable to read request body: %v", err)
	}
	if len(b) > maxBody {
		return nil, errf(http.StatusRequestEntityTooLarge, CodeRequestEntityTooLarge, "The request body exceeds 4 MB.")
	}
	return b, nil
}

// errorResponse renders e with Graph's envelope.
func (s *Server) errorResponse(e *apiError, reqID, cliID string) *response {
	resp := jsonResponse(e.status, e.body(s.now().UTC().Format("2006-01-02T15:04:05"), reqID, cliID))
	for k, vs := range e.header {
		for _, v := range vs {
			resp.header.Add(k, v)
		}
	}
	return resp
}

func (s *Server) write(w http.ResponseWriter, resp *response, reqID, cliID string) {
	h := w.Header()
	keys := make([]string, 0, len(resp.header))
	for k := range resp.header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h[k] = resp.header[k]
	}
	h.Set("request-id", reqID)
	h.Set("client-request-id", cliID)
	switch {
	case resp.raw != nil:
		h.Set("Content-Type", resp.contentType)
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.raw)
	case resp.body != nil:
		b, err := json.Marshal(resp.body)
		if err != nil {
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, CodeInternalServerError, err.Error())
			return
		}
		h.Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
		w.WriteHeader(resp.status)
		_, _ = w.Write(b)
	default:
		w.WriteHeader(resp.status)
	}
}

// idSource makes GUIDs from a byte source; Options.Rand makes them
// reproducible in tests.
type idSource struct {
	mu sync.Mutex
	r  io.Reader
}

func (g *idSource) guid() string {
	var b [16]byte
	g.mu.Lock()
	_, err := io.ReadFull(g.r, b[:])
	g.mu.Unlock()
	if err != nil {
		// A deterministic source ran dry; fall back rather than fail a request.
		_, _ = rand.Read(b[:])
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
