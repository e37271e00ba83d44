package graph

import (
	"sync"
	"time"
)

// Pacing constants. The write quota Graph enforces per app and tenant is a
// token bucket (graph.md §1.2: 3,000 writes per 150 s, starting full), so
// the fastest schedule is a burst until the bucket is empty and then the
// refill rate. Sending faster than the refill only buys 429s, which Graph
// counts against the app too (graph.md §1.4).
const (
	// paceTarget is the share of the write rate used once paced: a little
	// under the refill, so small clock differences do not end in 429s.
	paceTarget = 0.95
	// paceCut multiplies the share after a 429 on a batch sent while
	// paced: the quota is lower than expected (another app writes to the
	// tenant too, or Graph is under load).
	paceCut = 0.8
	// paceStep is added back to the share for every write batch Graph
	// takes whole.
	paceStep = 0.01
	// paceFloor is the lowest share; below it an honoured Retry-After
	// does the slowing down.
	paceFloor = 0.2
	// paceIdleWrites sets how long without writes ends pacing: the time
	// Graph's bucket takes to refill this many writes (30 s at 20/s), after
	// which a burst pays off again.
	paceIdleWrites = 600
)

// throttleState is one tenant's throttling memory. It lives on the Client,
// so every executor of the tenant in this process shares it: a new
// executor per queue message must not forget that Graph asked for a pause.
type throttleState struct {
	mu sync.Mutex
	// until: no request goes out before it (a Retry-After in force).
	until time.Time
	// paced is set by the first throttled write; from then on writes are
	// metered at share × rate from a local bucket of one batch.
	paced     bool
	share     float64
	tokens    float64
	refilled  time.Time
	lastCut   time.Time
	lastWrite time.Time
}

// reserve asks to send a batch holding writes writes at now. It returns 0
// and takes the writes from the local bucket when the batch may go, or how
// long to wait first. rate is the write quota per second of clock time.
func (t *throttleState) reserve(now time.Time, writes int, rate float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.Before(t.until) {
		return t.until.Sub(now)
	}
	if writes == 0 {
		return 0
	}
	if idle := time.Duration(paceIdleWrites / rate * float64(time.Second)); t.paced && now.Sub(t.lastWrite) > idle {
		t.paced = false
	}
	if !t.paced {
		t.lastWrite = now
		return 0
	}
	r := rate * t.share
	if now.After(t.refilled) {
		t.tokens += now.Sub(t.refilled).Seconds() * r
		t.refilled = now
	}
	// One batch of credit at most: after a pause Graph's bucket has more,
	// but a burst at the edge of the quota is exactly what draws 429s.
	t.tokens = min(t.tokens, float64(max(writes, MaxBatchSize)))
	if t.tokens >= float64(writes)-1e-6 { // float rounding must not cost a millisecond
		t.tokens = max(t.tokens, float64(writes))
		t.tokens -= float64(writes)
		t.lastWrite = now
		return 0
	}
	need := (float64(writes) - t.tokens) / r
	return max(time.Duration(need*float64(time.Second)), time.Millisecond)
}

// throttled records a 429 on a request sent at sentAt: nothing goes out
// for wait, and a throttled write starts pacing or, when already paced,
// lowers the share. Only a batch sent after the last cut lowers it again;
// the others were already on their way when it happened. It returns how
// much longer the tenant's gate is now closed: the 429s of one wave of
// batches overlap, and summing their Retry-After would count the same
// pause many times over.
func (t *throttleState) throttled(now, sentAt time.Time, wait time.Duration, write bool) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var longer time.Duration
	if end := now.Add(wait); end.After(t.until) {
		from := now
		if t.until.After(now) {
			from = t.until
		}
		longer = end.Sub(from)
		t.until = end
	}
	if !write {
		return longer
	}
	switch {
	case !t.paced:
		t.paced, t.share, t.tokens = true, paceTarget, 0
		t.refilled, t.lastCut, t.lastWrite = now, now, now
	case sentAt.After(t.lastCut):
		t.share = max(paceFloor, t.share*paceCut)
		t.lastCut = now
	}
	return longer
}

// admitted records a write batch Graph took whole: the share creeps back
// towards paceTarget.
func (t *throttleState) admitted(sentAt time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.paced && sentAt.After(t.lastCut) {
		t.share = min(paceTarget, t.share+paceStep)
	}
}

// gate returns the end of the Retry-After in force (zero if none).
func (t *throttleState) gate() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.until
}

// freshIDs remembers objects that were created, or first found missing,
// recently: a 404 on them is replication lag (graph.md §6), not absence.
// It lives on the Client, so a resumed run in the same process still knows.
type freshIDs struct {
	mu     sync.Mutex
	at     map[string]time.Time
	pruned time.Time
	// lag is the longest replication delay seen: how old a new object was
	// when Graph still said it did not exist. Ops that follow a create
	// wait until their object is that old, instead of spending a write on
	// a refusal (and a retry) each.
	lag time.Duration
	// known is set once an op on a new object was answered at all (done
	// or refused as not visible yet): until then the lag is a guess, and
	// ops on new objects go one batch at a time, a probe, not a wave.
	known bool
	// okAge is the youngest age at which a new object was seen visible.
	okAge time.Duration
}

// visibleAt records that an op on a new object aged age succeeded: objects
// that old have replicated, so younger ones wait until they are as old.
func (f *freshIDs) visibleAt(age time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known || age < f.okAge {
		f.okAge = max(age, 0)
	}
	f.known = true
}

// probing reports whether the replication lag is still unknown.
func (f *freshIDs) probing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.known
}

// learn records that an object aged age was not visible yet.
func (f *freshIDs) learn(age, ceiling time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lag = min(max(f.lag, age), ceiling)
	f.okAge = max(f.okAge, f.lag)
	f.known = true
}

// visibleAfter is when an object created at created is expected to show,
// from the lag seen so far.
func (f *freshIDs) visibleAfter(created time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return created.Add(max(f.lag, f.okAge))
}

// note records id as fresh since at, unless it is already known; entries
// older than window are dropped on the way, which bounds the map by what
// a tenant can create within one window.
func (f *freshIDs) note(id string, at time.Time, window time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.at == nil {
		f.at = map[string]time.Time{}
	}
	if at.Sub(f.pruned) > window/4 {
		for k, t := range f.at {
			if at.Sub(t) > window {
				delete(f.at, k)
			}
		}
		f.pruned = at
	}
	if t, ok := f.at[id]; ok {
		return t
	}
	f.at[id] = at
	return at
}

// since reports when id became fresh.
func (f *freshIDs) since(id string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.at[id]
	return t, ok
}

// teamsLimit is the Teams operation a request counts against, as
// Microsoft's throttling-limits page names it ("Microsoft Teams service
// limits"; graph.md §1.3), and its limit in requests per second per app
// per tenant.
type teamsLimit struct {
	op  string
	rps float64
}

// Teams' documented per-app-per-tenant limits of the requests the
// executor sends; an operation the table does not list takes its default.
var (
	teamsCreate  = teamsLimit{op: "POST /teams", rps: 10}
	teamsGet     = teamsLimit{op: "GET /teams/{id}", rps: 30}
	teamsDefault = teamsLimit{op: "default", rps: 30}
)

// teamsBurst is the depth of a Teams operation's local bucket, in seconds
// of its rate. Teams enforces its limits per second, so its own bucket
// holds about a second's worth; half of that here leaves the rest for the
// jitter between when a request leaves and when Teams counts it.
const teamsBurst = 0.5

// teamsPace meters one tenant's Teams requests per operation at
// paceTarget of Teams' documented rate, from the start: unlike the
// directory quota (a deep bucket worth a burst of 3,000 writes), Teams
// allows about a second's worth, so a wave of team creates sent as fast as
// batches go out (641 of them once their groups have replicated) is nearly
// all 429s, each of which Teams counts against the app as well. It lives
// on the Client, like throttleState, so every executor of the tenant
// shares it.
type teamsPace struct {
	mu  sync.Mutex
	ops map[string]*opBucket
}

type opBucket struct {
	tokens float64
	at     time.Time
}

// reserve asks to send one request of l at now, with Graph's clock scale
// times faster than the wall clock. It returns 0 and takes the request
// from l's bucket when it may go, or how long to wait first.
func (p *teamsPace) reserve(l teamsLimit, now time.Time, scale float64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := l.rps * paceTarget * scale
	capacity := max(1, l.rps*teamsBurst)
	if p.ops == nil {
		p.ops = map[string]*opBucket{}
	}
	b := p.ops[l.op]
	if b == nil {
		// Full at first, as Teams' own bucket is.
		b = &opBucket{tokens: capacity, at: now}
		p.ops[l.op] = b
	}
	if now.After(b.at) {
		b.tokens = min(capacity, b.tokens+now.Sub(b.at).Seconds()*rate)
		b.at = now
	}
	if b.tokens >= 1-1e-6 { // float rounding must not cost a millisecond
		b.tokens = max(b.tokens-1, 0)
		return 0
	}
	return max(time.Duration((1-b.tokens)/rate*float64(time.Second)), time.Millisecond)
}
