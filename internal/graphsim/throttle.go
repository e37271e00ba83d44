package graphsim

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limits are the throttling figures, in Graph time (windows are divided by
// Options.TimeScale). DefaultLimits returns the documented values
// (shared/research/graph.md §1); a zero count turns that limit off.
type Limits struct {
	// Disabled turns throttling off entirely; costs are still counted.
	Disabled bool

	// Identity and access, per application+tenant pair (graph.md §1.2).
	ResourceUnits      map[SizeClass]int // S 3,500 / M 5,000 / L 8,000
	ResourceUnitWindow time.Duration     // 10 s
	AppTenantWrites    int               // 3,000
	AppTenantWindow    time.Duration     // 150 s
	// Identity and access, per tenant across all applications.
	TenantWrites      int           // 18,000
	TenantWriteWindow time.Duration // 5 min
	// Identity and access, per application across all tenants.
	AppWrites          int           // 35,000 (older pages said 70,000)
	AppWriteWindow     time.Duration // 5 min
	AppResourceUnits   int           // 150,000
	AppResourceUnitWin time.Duration // 20 s
	// Global per application, any request (graph.md §1.1).
	AppRequests      int           // 130,000
	AppRequestWindow time.Duration // 10 s

	// Education rostering (graph.md §1.3).
	EducationAppTenant       int           // 35,000
	EducationAppTenantWindow time.Duration // 10 s
	EducationApp             int           // 400,000
	EducationAppWindow       time.Duration // 20 s
	// EducationWritesChargeDirectory also charges every education write
	// (class, school, education user, class member or teacher) to the
	// identity write quotas (3,000 per 150 s per app+tenant, 18,000 per
	// 5 min per tenant, 35,000 per 5 min per app), as if /education wrote
	// through the directory's own throttle. Undocumented either way — the
	// education rostering entry in throttling-limits.md names only its own
	// request limits, and an education class is a directory group — so this
	// is a guess to benchmark both ways; default off.
	EducationWritesChargeDirectory bool

	// Teams, requests per second per app per tenant by operation, per app
	// across all tenants, and per team (graph.md §1.3 table; current
	// throttling-limits.md "Microsoft Teams service limits"); unlisted
	// operations use "default". Each is a token bucket of one second's
	// worth, so a burst of that many passes and the next waits 1/rps s
	// (divided by TimeScale). The sustained limit of about 83 % over a
	// longer, unstated window is not modelled.
	TeamsAppTenantRPS map[string]float64
	TeamsAppRPS       map[string]float64
	TeamsPerTeamRPS   map[string]float64

	// Outlook, per app and mailbox (graph.md §1.3).
	OutlookMailboxRequests int           // 10,000
	OutlookMailboxWindow   time.Duration // 10 min
	OutlookConcurrency     int           // 4
}

// DefaultLimits returns Graph's documented limits.
func DefaultLimits() Limits {
	return Limits{
		ResourceUnits:      map[SizeClass]int{SizeS: 3500, SizeM: 5000, SizeL: 8000},
		ResourceUnitWindow: 10 * time.Second,
		AppTenantWrites:    3000,
		AppTenantWindow:    150 * time.Second,
		TenantWrites:       18000,
		TenantWriteWindow:  5 * time.Minute,
		AppWrites:          35000,
		AppWriteWindow:     5 * time.Minute,
		AppResourceUnits:   150000,
		AppResourceUnitWin: 20 * time.Second,
		AppRequests:        130000,
		AppRequestWindow:   10 * time.Second,

		EducationAppTenant:       35000,
		EducationAppTenantWindow: 10 * time.Second,
		EducationApp:             400000,
		EducationAppWindow:       20 * time.Second,

		TeamsAppTenantRPS: map[string]float64{
			"POST /teams":           10,
			"PUT /groups/{id}/team": 6,
			"GET /teams/{id}":       30,
			"PATCH /teams/{id}":     30,
			"default":               30,
		},
		TeamsAppRPS: map[string]float64{
			"POST /teams":           100,
			"PUT /groups/{id}/team": 150,
			"GET /teams/{id}":       1500,
			"PATCH /teams/{id}":     300,
			"default":               300,
		},
		TeamsPerTeamRPS: map[string]float64{
			"GET /teams/{id}":   4,
			"PATCH /teams/{id}": 4,
		},

		OutlookMailboxRequests: 10000,
		OutlookMailboxWindow:   10 * time.Minute,
		OutlookConcurrency:     4,
	}
}

// bucket is a token bucket: capacity tokens, refilled evenly over window
// (clock time). Graph describes its identity limits as a token bucket
// (graph.md §1.2), and a full bucket at start is what graph.md's lower
// bounds assume.
type bucket struct {
	capacity float64
	tokens   float64
	perSec   float64
	last     time.Time
}

func (b *bucket) refill(now time.Time) {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = math.Min(b.capacity, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	}
	b.last = now
}

// limitRef is one limit a request is judged against.
type limitRef struct {
	key      string
	capacity float64
	window   time.Duration // clock time
	cost     float64
	scope    string // x-ms-throttle-scope prefix: Tenant_Application, Tenant, Application
	limit    string // Read, Write, ReadWrite
	info     string // x-ms-throttle-information
	subject  string // tenant, user or team id for the scope header
	percent  bool   // reported in x-ms-throttle-limit-percentage
}

type throttler struct {
	s        *Server
	mu       sync.Mutex
	buckets  map[string]*bucket
	inflight map[string]int
}

func newThrottler(s *Server) *throttler {
	return &throttler{s: s, buckets: map[string]*bucket{}, inflight: map[string]int{}}
}

// verdict is the throttler's answer for one request.
type verdict struct {
	throttled  bool
	err        *apiError
	percentage float64
	release    func()
}

// limitsFor lists the limits request r with cost c and ru resource units
// is judged against, in the order Graph would report them.
func (th *throttler) limitsFor(r *request, c cost, ru int) []limitRef {
	L := th.s.limits
	sc := th.s.scaled
	t := r.tenant
	app := r.appID
	var out []limitRef
	add := func(l limitRef) {
		if l.capacity > 0 && l.window > 0 && l.cost > 0 {
			out = append(out, l)
		}
	}
	// The identity write quotas, shared by directory writes and (with
	// EducationWritesChargeDirectory) education writes.
	directoryWrites := func() {
		add(limitRef{key: "w|" + app + "|" + t.id, capacity: float64(L.AppTenantWrites), window: sc(L.AppTenantWindow), cost: 1,
			scope: "Tenant_Application", limit: "Write", info: "WriteLimitExceeded", subject: t.id, percent: true})
		add(limitRef{key: "tw|" + t.id, capacity: float64(L.TenantWrites), window: sc(L.TenantWriteWindow), cost: 1,
			scope: "Tenant", limit: "Write", info: "WriteLimitExceeded", subject: t.id})
		add(limitRef{key: "aw|" + app, capacity: float64(L.AppWrites), window: sc(L.AppWriteWindow), cost: 1,
			scope: "Application", limit: "Write", info: "WriteLimitExceeded", subject: t.id})
	}
	switch c.family {
	case famIdentity:
		add(limitRef{key: "ru|" + app + "|" + t.id, capacity: float64(L.ResourceUnits[t.sizeClass()]), window: sc(L.ResourceUnitWindow), cost: float64(ru),
			scope: "Tenant_Application", limit: "ReadWrite", info: "ResourceUnitLimitExceeded", subject: t.id, percent: true})
		if c.write {
			directoryWrites()
		}
		add(limitRef{key: "aru|" + app, capacity: float64(L.AppResourceUnits), window: sc(L.AppResourceUnitWin), cost: float64(ru),
			scope: "Application", limit: "ReadWrite", info: "ResourceUnitLimitExceeded", subject: t.id})
	case famEducation:
		add(limitRef{key: "edu|" + app + "|" + t.id, capacity: float64(L.EducationAppTenant), window: sc(L.EducationAppTenantWindow), cost: 1,
			scope: "Tenant_Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: t.id, percent: true})
		add(limitRef{key: "edua|" + app, capacity: float64(L.EducationApp), window: sc(L.EducationAppWindow), cost: 1,
			scope: "Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: t.id})
		if c.write && L.EducationWritesChargeDirectory {
			directoryWrites()
		}
	case famTeams:
		op := c.teamsOp
		rps, ok := L.TeamsAppTenantRPS[op]
		if !ok {
			rps = L.TeamsAppTenantRPS["default"]
		}
		// A per-second limit is a bucket of one second's worth.
		add(limitRef{key: "teams|" + op + "|" + app + "|" + t.id, capacity: math.Max(1, rps), window: sc(time.Duration(float64(time.Second) * math.Max(1, rps) / math.Max(rps, 1e-9))), cost: 1,
			scope: "Tenant_Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: t.id, percent: true})
		arps, ok := L.TeamsAppRPS[op]
		if !ok {
			arps = L.TeamsAppRPS["default"]
		}
		if arps > 0 {
			add(limitRef{key: "teamsa|" + op + "|" + app, capacity: math.Max(1, arps), window: sc(time.Duration(float64(time.Second) * math.Max(1, arps) / arps)), cost: 1,
				scope: "Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: t.id})
		}
		if per, ok := L.TeamsPerTeamRPS[op]; ok && c.teamID != "" {
			add(limitRef{key: "team|" + op + "|" + app + "|" + c.teamID, capacity: math.Max(1, per), window: sc(time.Duration(float64(time.Second) * math.Max(1, per) / per)), cost: 1,
				scope: "Tenant_Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: c.teamID})
		}
	case famOutlook:
		add(limitRef{key: "mbx|" + app + "|" + t.id + "|" + c.mailbox, capacity: float64(L.OutlookMailboxRequests), window: sc(L.OutlookMailboxWindow), cost: 1,
			scope: "Tenant_Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: c.mailbox, percent: true})
	}
	add(limitRef{key: "req|" + app, capacity: float64(L.AppRequests), window: sc(L.AppRequestWindow), cost: 1,
		scope: "Application", limit: "ReadWrite", info: "RequestLimitExceeded", subject: t.id})
	return out
}

// admit judges one request. Graph charges a request against every limit
// it falls under and throttles on the first one reached (graph.md §1.1); a
// throttled request is not charged here, so a client that honours
// Retry-After gets through when told it will.
func (th *throttler) admit(r *request, c cost, ru int) verdict {
	noop := func() {}
	if th.s.limits.Disabled {
		return verdict{release: noop}
	}
	refs := th.limitsFor(r, c, ru)
	now := th.s.now()
	th.mu.Lock()
	defer th.mu.Unlock()

	// Outlook's concurrency limit is per app and mailbox.
	var slot string
	if c.family == famOutlook && th.s.limits.OutlookConcurrency > 0 {
		slot = r.appID + "|" + r.tenant.id + "|" + c.mailbox
		if th.inflight[slot] >= th.s.limits.OutlookConcurrency {
			e := errf(http.StatusTooManyRequests, CodeApplicationThrottled, "Application is over its MailboxConcurrency limit.")
			e.header = th.throttleHeaders(th.s.scaled(time.Second), limitRef{scope: "Tenant_Application", limit: "ReadWrite", info: "ConcurrencyLimitExceeded", subject: c.mailbox}, r)
			return verdict{throttled: true, err: e, release: noop}
		}
	}
	var worst time.Duration
	var hit *limitRef
	bs := make([]*bucket, len(refs))
	for i := range refs {
		l := &refs[i]
		b := th.buckets[l.key]
		if b == nil {
			b = &bucket{tokens: l.capacity, last: now}
			th.buckets[l.key] = b
		}
		// Capacity can change (tenant size class grows with its users).
		b.capacity = l.capacity
		b.perSec = l.capacity / l.window.Seconds()
		b.refill(now)
		if b.tokens > b.capacity {
			b.tokens = b.capacity
		}
		bs[i] = b
		if b.tokens < l.cost {
			wait := time.Duration((l.cost - b.tokens) / b.perSec * float64(time.Second))
			if hit == nil || wait > worst {
				worst, hit = wait, l
			}
		}
	}
	if hit != nil {
		e := errf(http.StatusTooManyRequests, CodeTooManyRequests, "Please retry again later.")
		e.header = th.throttleHeaders(worst, *hit, r)
		return verdict{throttled: true, err: e, release: noop}
	}
	pct := 0.0
	for i, l := range refs {
		bs[i].tokens -= l.cost
		if l.percent {
			pct = math.Max(pct, 1-bs[i].tokens/bs[i].capacity)
		}
	}
	release := noop
	if slot != "" {
		th.inflight[slot]++
		release = func() {
			th.mu.Lock()
			th.inflight[slot]--
			th.mu.Unlock()
		}
	}
	return verdict{percentage: pct, release: release}
}

func (th *throttler) throttleHeaders(wait time.Duration, l limitRef, r *request) http.Header {
	h := http.Header{}
	h.Set("Retry-After", th.retryAfter(wait))
	h.Set("x-ms-throttle-scope", l.scope+"/"+l.limit+"/"+r.appID+"/"+l.subject)
	h.Set("x-ms-throttle-information", l.info)
	return h
}

// retryAfter formats a wait in seconds, fractional unless
// Options.IntegerRetryAfter; never below one millisecond, so a client
// never spins.
func (th *throttler) retryAfter(wait time.Duration) string {
	secs := wait.Seconds()
	if th.s.opts.IntegerRetryAfter {
		return strconv.Itoa(int(math.Max(1, math.Ceil(secs))))
	}
	secs = math.Max(0.001, math.Ceil(secs*1000)/1000)
	return strconv.FormatFloat(secs, 'f', -1, 64)
}
