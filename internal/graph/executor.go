package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/clock"
)

// Graph error codes the executor branches on or reports (graph.md §3, §4,
// §6). Results carry Graph's own code; CodeInvalidOp is ours.
const (
	CodeResourceNotFound = "Request_ResourceNotFound"
	CodeBadRequest       = "Request_BadRequest"
	CodeObjectConflict   = "ObjectConflict"
	CodeTooManyRequests  = "TooManyRequests"
	// CodeInvalidOp marks an op the executor refused without asking Graph
	// (unknown kind, missing target, password or SKU): a planner or apply
	// bug, never retried.
	CodeInvalidOp = "rostersync_InvalidOp"
)

// ExecutorOptions tune an Executor; zero values take the documented
// defaults.
type ExecutorOptions struct {
	// MaxInFlight is how many $batch requests may be outstanding at once.
	// Default 8. Only the initial burst needs it: the write quota's bucket
	// starts full (3,000 writes), and a run sits near its lower bound only
	// when that burst goes out well above 20 writes/s. Against the
	// simulator (5,000 creates, BenchmarkExecuteCreates) with 1 s per batch,
	// 1, 2, 4 and 8 in flight gave 2.8, 1.5, 1.04 and 1.06 times the lower
	// bound; with 2 s per batch, 2, 4 and 8 gave 2.8, 1.5 and 1.05; with
	// 3 s, 8 gave 1.26. Once paced, fewer are in flight anyway.
	MaxInFlight int
	// BatchSize is the number of requests per $batch, at most
	// MaxBatchSize. Default MaxBatchSize.
	BatchSize int
	// WriteRate is the directory write quota per app and tenant in writes
	// per second of Graph time: the pace once Graph has throttled a write.
	// Default 20 (3,000 per 150 s, graph.md §1.2).
	WriteRate float64
	// MaxWait is the longest one op waits inside Execute (Retry-After,
	// backoff, pacing), in clock time; an op due later comes back as
	// Retry with RetryAfter. Default 15 s, the applier's default MaxWait.
	MaxWait time.Duration
	// MaxAttempts bounds the tries of one op within one Execute call for
	// throttling and transient errors; then it comes back as Retry.
	// Default 8.
	MaxAttempts int
	// ConsistencyWindow is how long after an object's creation (or the
	// first "not found" for a new account's licence or group) a "not
	// found" is taken for replication lag and retried, in Graph time.
	// Default 2 minutes (graph.md §6).
	ConsistencyWindow time.Duration
	// TimeScale divides the executor's own delays (backoff, consistency
	// retries) and multiplies WriteRate, for a simulator
	// running Graph's clock faster (graphsim Options.TimeScale). Retry-After
	// values already come scaled. Default 1, for Graph.
	TimeScale float64
	// Clock is the time source for waits. Default clock.Real{}.
	Clock clock.Clock
	// Logger receives batch summaries (ids and counts only, never bodies,
	// names or passwords). Default: discard.
	Logger *slog.Logger
}

func (o ExecutorOptions) withDefaults() ExecutorOptions {
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 8
	}
	if o.BatchSize <= 0 || o.BatchSize > MaxBatchSize {
		o.BatchSize = MaxBatchSize
	}
	if o.WriteRate <= 0 {
		o.WriteRate = 20
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 15 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.ConsistencyWindow <= 0 {
		o.ConsistencyWindow = 2 * time.Minute
	}
	if o.TimeScale <= 0 {
		o.TimeScale = 1
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// ExecutorStats count what an Executor did since it was made.
type ExecutorStats struct {
	// Requests is $batch HTTP requests sent; Items the requests inside
	// them (writes and lookups, first tries and retries).
	Requests, Items int
	// Writes is write requests Graph carried out (2xx).
	Writes int
	// Throttled is items answered 429 (a whole-batch 429 counts each of
	// its items).
	Throttled int
	// ThrottledWait is how long the Retry-After of those 429s closed the
	// tenant's gate (overlapping waits counted once), in clock time: the
	// time writes were held back because Graph asked.
	ThrottledWait time.Duration
	// Retried is items answered with something worth another try (429,
	// 5xx, no answer, not yet replicated), whether sent again in the same
	// call or handed back.
	Retried int
	// Lookups is reads of an account a create met as ObjectConflict.
	Lookups int
	// Done, Failed and HandedBack count final results by status (Retry
	// results are HandedBack).
	Done, Failed, HandedBack int
	// ResourceUnits sums Graph's x-ms-resource-unit over the items.
	ResourceUnits int
}

// Executor applies apply.Ops to one tenant with JSON $batch.
//
// # Retries
//
// The executor alone retries $batch traffic; the SDK retry middleware is
// switched off for it (see noRetry), because the middleware sees only the
// outer status while Graph throttles per item, and the two stacked would
// retry the same writes twice. Reads outside $batch (Snapshot) keep the
// middleware. An item answered 429, 5xx or not at all is sent again in a
// later batch of the same call when its wait fits in MaxWait, else it is
// returned as Retry with RetryAfter; apply then owns it.
//
// # Pacing
//
// A 429 closes the tenant's gate for its Retry-After: no batch leaves
// before it ends, so requests that are bound to be throttled are not sent.
// The first throttled write also switches to pacing at WriteRate, and
// further 429s lower the pace (see pace.go).
//
// # Idempotency
//
// Every op can be sent twice without harm, which is what makes retrying
// after a lost answer safe: a create that meets ObjectConflict on its
// userPrincipalName looks the account up and, when its names and
// employeeId are the ones the create sent, reports it Done with Existing;
// a member that is already in the group is Done; patches, revokes and
// licence assignments repeat harmlessly.
type Executor struct {
	c    *Client
	opts ExecutorOptions

	mu    sync.Mutex
	stats ExecutorStats
}

var _ apply.Executor = (*Executor)(nil)

// NewExecutor returns an executor writing through c.
func NewExecutor(c *Client, opts ExecutorOptions) *Executor {
	return &Executor{c: c, opts: opts.withDefaults()}
}

// Stats returns the counters so far.
// TimeScale is how many times faster than the wall clock Graph's clock
// runs for this executor (1 against Graph itself).
func (e *Executor) TimeScale() float64 { return e.opts.TimeScale }

func (e *Executor) Stats() ExecutorStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Throttling reports the requests Graph throttled since the executor was
// made and how long their Retry-After held writes back (apply.ThrottleMeter).
func (e *Executor) Throttling() (requests int, wait time.Duration) {
	st := e.Stats()
	return st.Throttled, st.ThrottledWait
}

func (e *Executor) count(f func(*ExecutorStats)) {
	e.mu.Lock()
	f(&e.stats)
	e.mu.Unlock()
}

// graphTime turns a Graph-time duration into clock time.
func (e *Executor) graphTime(d time.Duration) time.Duration {
	return time.Duration(float64(d) / e.opts.TimeScale)
}

// item is one op on its way through one Execute call.
type item struct {
	op apply.Op
	// lookup: the create met ObjectConflict (or succeeded without saying
	// which id it made); the next request reads the account by UPN.
	lookup   bool
	conflict graphError
	// conflictAt is when the lookup started, for its consistency window.
	conflictAt time.Time
	// created: the create succeeded, the lookup only finds its id.
	created bool
	// notBefore is when the item may be sent again.
	notBefore time.Time
	// tries counts throttled and transient failures in this call; waits
	// counts consistency retries.
	tries, waits int
	// members, on a packed item, are the adds to one group it carries as
	// one PATCH members@odata.bind; single marks an add that must go alone
	// (its pack was refused).
	members []*item
	single  bool
	// seq is the op's place among the ops of the Execute call: the plan's
	// order, which for creates is the order their objects were made.
	seq int
	// replProbe marks the item out as its kind's replication probe.
	replProbe bool
}

func (it *item) isWrite() bool { return !it.lookup }

// teams reports a Microsoft Teams request (paced and throttled apart from
// the directory).
func (it *item) teams() bool { return !it.lookup && opSpecs[it.op.Kind].teams.op != "" }

// ops are the items an item answers for: its members when packed.
func (it *item) ops() []*item {
	if it.members != nil {
		return it.members
	}
	return []*item{it}
}

// Execute performs ops and returns one result per op, in no particular
// order; an id given twice is carried out and answered once. It is safe
// for concurrent use. When ctx ends, ops not yet answered come back as
// Retry, never Failed.
func (e *Executor) Execute(ctx context.Context, ops []apply.Op) []apply.Result {
	x := &execution{e: e, ctx: ctx, clk: e.opts.Clock, results: make([]apply.Result, 0, len(ops))}
	seen := make(map[string]bool, len(ops))
	for _, op := range ops {
		if seen[op.ID] {
			continue
		}
		seen[op.ID] = true
		if msg := invalidOp(op); msg != "" {
			x.fail(&item{op: op}, CodeInvalidOp, msg)
			continue
		}
		if spec := opSpecs[op.Kind]; spec.noop != nil && spec.noop(op) {
			x.done(&item{op: op}, apply.Result{ID: op.ID, Status: apply.Done}) // nothing to change
			continue
		}
		x.queue = append(x.queue, &item{op: op, seq: len(x.queue)})
	}
	x.queue = packMembers(x.queue)
	now := x.clk.Now()
	kept := x.queue[:0]
	for _, it := range x.queue {
		x.awaitReplication(it)
		if d := x.untilReplica(it, now); d > 0 {
			x.results = append(x.results, apply.Result{ID: it.op.ID, Status: apply.Retry, RetryAfter: d, Code: codeNotReplicated,
				Error: "not sent: its target is younger than the replication lag seen so far"})
			x.e.count(func(s *ExecutorStats) { s.HandedBack++; s.Retried++ })
			continue
		}
		kept = append(kept, it)
	}
	x.queue = kept
	x.run()
	return x.results
}

// packMembers folds the adds to one group into packed items of up to
// maxBindsPerPatch members each: one write instead of one per member
// (graph.md §4.2). A group with a single add keeps its plain $ref add.
func packMembers(queue []*item) []*item {
	byGroup := map[string][]*item{}
	var order []string
	out := queue[:0:0]
	for _, it := range queue {
		if it.op.Kind != apply.OpAddMember || it.single {
			out = append(out, it)
			continue
		}
		if _, seen := byGroup[it.op.Ref]; !seen {
			order = append(order, it.op.Ref)
		}
		byGroup[it.op.Ref] = append(byGroup[it.op.Ref], it)
	}
	for _, g := range order {
		adds := byGroup[g]
		for len(adds) > 0 {
			n := min(len(adds), maxBindsPerPatch)
			if n == 1 {
				out = append(out, adds[0])
			} else {
				out = append(out, &item{op: apply.Op{ID: "pack:" + g + ":" + adds[0].op.ID, Kind: apply.OpAddMember, Ref: g}, members: adds[:n:n]})
			}
			adds = adds[n:]
		}
	}
	return out
}

// onFreshObject reports an op that follows a create on an object this
// client made (or first found missing) within the consistency window.
func (x *execution) onFreshObject(it *item) bool {
	if !opSpecs[it.op.Kind].followsCreate {
		return false
	}
	for _, one := range it.ops() {
		if _, ok := x.e.c.fresh.since(one.op.TargetID); ok {
			return true
		}
	}
	return false
}

// sawVisible notes the age at which the item's new objects were visible.
func (x *execution) sawVisible(it *item, now time.Time) {
	if !opSpecs[it.op.Kind].followsCreate {
		return
	}
	for _, one := range it.ops() {
		if created, ok := x.e.c.fresh.since(one.op.TargetID); ok {
			x.e.c.fresh.visibleAt(now.Sub(created))
		}
	}
}

// awaitReplication holds an op that follows a create until its newest
// object is as old as the replication lag seen so far.
func (x *execution) awaitReplication(it *item) {
	if !opSpecs[it.op.Kind].followsCreate {
		return
	}
	for _, one := range it.ops() {
		if created, ok := x.e.c.fresh.since(one.op.TargetID); ok {
			if at := x.e.c.fresh.visibleAfter(created); at.After(it.notBefore) {
				it.notBefore = at
			}
		}
	}
}

// learnLag notes that the item's objects were not visible at their age:
// the lag is taken to be twice that (plus the first consistency retry's
// wait), so a handful of refusals finds Graph's delay, whatever it is,
// the way exponential backoff finds a rate.
func (x *execution) learnLag(it *item, now time.Time) {
	for _, one := range it.ops() {
		if created, ok := x.e.c.fresh.since(one.op.TargetID); ok {
			x.e.c.fresh.learn(2*now.Sub(created)+x.consistencyDelay(1), x.e.graphTime(x.e.opts.ConsistencyWindow))
		}
	}
}

// maxBindsPerPatch is Graph's limit on references added in one request.
const maxBindsPerPatch = 20

// unpack sends a refused pack's adds one by one: Graph refuses a whole
// bind when one member is in already or not visible yet, and a plain add
// answers each of those on its own (done, or retried while replicating),
// so only the missing members are written.
func (x *execution) unpack(it *item, now time.Time) {
	for _, m := range it.members {
		m.single = true
		x.requeue(m, now)
	}
}

// invalidOp says what makes op unsendable, or "".
func invalidOp(op apply.Op) string {
	spec, ok := opSpecs[op.Kind]
	if !ok {
		return fmt.Sprintf("unknown op kind %q", op.Kind)
	}
	return spec.invalid(op)
}

// execution is the state of one Execute call. Only run's goroutine
// touches it; senders get their items and report back on a channel.
type execution struct {
	e     *Executor
	ctx   context.Context
	clk   clock.Clock
	queue []*item
	// probeOut is set while the first batch to carry ops on new objects,
	// sent while the replication lag is unknown, awaits its answer.
	probeOut bool
	// repl is each replicationWindow kind's probe in this call.
	repl    map[apply.OpKind]*replProbe
	back    []*item // handed back as Retry; RetryAfter set at the end
	results []apply.Result
}

// sent is one $batch's outcome, from a sender to run.
type sent struct {
	// probe marks the batch sent to learn whether new objects replicated.
	probe  bool
	items  []*item
	at     time.Time
	answer *batchAnswer
	err    error
}

func (x *execution) run() {
	o := x.e.opts
	done := make(chan sent, o.MaxInFlight)
	inflight := 0
	for len(x.queue) > 0 || inflight > 0 {
		if x.ctx.Err() != nil {
			x.handBack(x.queue...)
			x.queue = nil
			if inflight == 0 {
				break
			}
			// The HTTP requests end with the context; their items come
			// back as transport failures and are handed back above.
			x.collect(<-done)
			inflight--
			continue
		}
		now := x.clk.Now()
		x.handBackLate(now)
		wait := time.Duration(-1)
		// held: the directory throttle holds directory and education
		// writes; Teams requests still go, at their own pace.
		held := false
		for inflight < o.MaxInFlight && len(x.queue) > 0 {
			// Teams requests first: few, each paced at a small rate, and a
			// classroom's team is what it waits for longest.
			batch, next, probe := x.take(now, true)
			if len(batch) == 0 && !held {
				var dirNext time.Duration
				batch, dirNext, probe = x.take(now, false)
				next = sooner(next, dirNext)
			}
			if len(batch) == 0 {
				wait = sooner(wait, next)
				break
			}
			if d := x.reserve(now, batch); d > 0 {
				x.queue = append(batch, x.queue...)
				x.probeOut = x.probeOut && !probe
				wait = sooner(wait, d)
				held = true
				continue
			}
			inflight++
			go x.send(batch, now, done, probe)
		}
		if len(x.queue) == 0 && inflight == 0 {
			break
		}
		var timer <-chan time.Time
		if wait >= 0 && inflight < o.MaxInFlight {
			timer = x.clk.After(max(wait, time.Millisecond))
		}
		select {
		case s := <-done:
			inflight--
			x.collect(s)
		case <-timer:
		case <-x.ctx.Done():
		}
	}
	end := x.clk.Now()
	handedBack := 0
	for _, it := range x.back {
		for _, one := range it.ops() {
			x.results = append(x.results, apply.Result{ID: one.op.ID, Status: apply.Retry, RetryAfter: max(it.notBefore.Sub(end), 0)})
			handedBack++
		}
	}
	x.e.count(func(s *ExecutorStats) { s.HandedBack += handedBack })
}

// sooner is the shorter of two waits, a negative one meaning none.
func sooner(a, b time.Duration) time.Duration {
	switch {
	case a < 0:
		return b
	case b < 0:
		return a
	}
	return min(a, b)
}

// take removes from the queue up to BatchSize items of one family, Teams
// requests (teams) or directory and education ones, that may go at now:
// due, and for Teams requests within their operation's pace; of a
// replicationWindow kind, one at a time until one is answered. When none
// may go it returns the wait until one of the family is due, or -1 (none
// is waiting for a time: only for an answer, or none is queued).
func (x *execution) take(now time.Time, teams bool) ([]*item, time.Duration, bool) {
	var batch []*item
	probe := false
	next := time.Duration(-1)
	kept := x.queue[:0]
	probing := x.e.c.fresh.probing()
	for _, it := range x.queue {
		if it.teams() != teams {
			kept = append(kept, it)
			continue
		}
		x.awaitReplication(it) // the lag may have been learned since it was queued
		onFresh := probing && x.onFreshObject(it)
		spec := opSpecs[it.op.Kind]
		switch {
		case onFresh && x.probeOut:
			// A probe is out: wait for its answer before the others.
			kept = append(kept, it)
		case it.notBefore.After(now):
			next = sooner(next, it.notBefore.Sub(now))
			kept = append(kept, it)
		case len(batch) >= x.e.opts.BatchSize:
			kept = append(kept, it)
		case spec.replicationWindow > 0 && x.replFor(it.op.Kind).waiting():
			// Its kind's probe is out: its answer says whether this one
			// can have replicated.
			kept = append(kept, it)
		default:
			if teams {
				if d := x.e.c.teamsPace.reserve(spec.teams, now, x.e.opts.TimeScale); d > 0 {
					next = sooner(next, d)
					kept = append(kept, it)
					continue
				}
			}
			batch = append(batch, it)
			if onFresh {
				probe, x.probeOut = true, true
			}
			if spec.replicationWindow > 0 {
				if p := x.replFor(it.op.Kind); !p.open {
					it.replProbe, p.out = true, true
				}
			}
		}
	}
	x.queue = kept
	return batch, next, probe
}

// codeNotReplicated marks an op handed back unsent because its target
// cannot have replicated yet (opSpec.replicationWindow).
const codeNotReplicated = "rostersync_NotReplicated"

// replicaMemory is how long replicaFresh keeps an object's creation
// time: twice the longest replicationWindow.
const replicaMemory = 2 * teamReplicationWindow

// untilReplica is how long it's target, made by this client, is expected
// to take yet to reach the replica its kind addresses (0 when it should
// be there, or is not known).
func (x *execution) untilReplica(it *item, now time.Time) time.Duration {
	if opSpecs[it.op.Kind].replicationWindow <= 0 || it.lookup {
		return 0
	}
	f := &x.e.c.replicaFresh
	created, ok := f.since(it.op.TargetID)
	if !ok {
		return 0
	}
	return max(f.visibleAfter(created).Sub(now), 0)
}

// replProbe is a replicationWindow kind's state in one Execute call.
type replProbe struct {
	// out: an op of the kind is on its way, the first since the call
	// began or since the last answer that its object had not replicated.
	out bool
	// open: an op of the kind was answered other than "not replicated":
	// the rest may go together.
	open bool
}

func (p *replProbe) waiting() bool { return p.out && !p.open }

func (x *execution) replFor(k apply.OpKind) *replProbe {
	if x.repl == nil {
		x.repl = map[apply.OpKind]*replProbe{}
	}
	p := x.repl[k]
	if p == nil {
		p = &replProbe{}
		x.repl[k] = p
	}
	return p
}

// notReplicated handles res, it's answer that its target has not reached
// the replica yet. When this client made the target it learns the lag
// from the target's age (twice that, at most the kind's window, as
// learnLag does for the directory), and it's retry waits until the target
// is that old. It hands back unsent the queued ops of it's kind that come
// after it, each likewise: their targets were made after it's, so they
// cannot have replicated either, and sending them would only meet the
// same answer. Those already on their way are answered each on its own.
// It returns it's result.
func (x *execution) notReplicated(it *item, res apply.Result, now time.Time) apply.Result {
	f := &x.e.c.replicaFresh
	if created, ok := f.since(it.op.TargetID); ok {
		f.learn(2*now.Sub(created)+x.consistencyDelay(1), x.e.graphTime(opSpecs[it.op.Kind].replicationWindow))
	}
	retry := func(q *item, r apply.Result) apply.Result {
		if d := x.untilReplica(q, now); d > 0 {
			r.RetryAfter = d
		}
		return r
	}
	kept := x.queue[:0]
	n := 0
	for _, q := range x.queue {
		if q.op.Kind != it.op.Kind || q.seq <= it.seq || q.lookup {
			kept = append(kept, q)
			continue
		}
		r := res
		r.ID, r.Code = q.op.ID, codeNotReplicated
		r.Error = "not sent: the same operation on an object made before this one was answered not replicated yet (" + res.Error + ")"
		x.results = append(x.results, retry(q, r))
		n++
	}
	x.queue = kept
	x.e.count(func(s *ExecutorStats) { s.HandedBack += n; s.Retried += n })
	return retry(it, res)
}

// handBackLate returns as Retry the queued items that cannot go within
// MaxWait (their own wait, or the tenant's Retry-After gate) or before the
// context's deadline: waiting for them here would only hold apply up.
func (x *execution) handBackLate(now time.Time) {
	limit := now.Add(x.e.opts.MaxWait)
	if dl, ok := x.ctx.Deadline(); ok && dl.Before(limit) {
		limit = dl
	}
	gate, teamsGate := x.e.c.throttle.gate(), x.e.c.teamsThrottle.gate()
	kept := x.queue[:0]
	for _, it := range x.queue {
		g := gate
		if it.teams() {
			g = teamsGate
		}
		if g.After(it.notBefore) {
			it.notBefore = g
		}
		if it.notBefore.After(limit) || it.tries >= x.e.opts.MaxAttempts {
			x.handBack(it)
			continue
		}
		kept = append(kept, it)
	}
	x.queue = kept
}

func (x *execution) handBack(its ...*item) { x.back = append(x.back, its...) }

// writes counts the batch's directory writes: the ones the write quota
// (and its pacing) meters. Teams requests have their own limits.
func writes(batch []*item) int {
	n := 0
	for _, it := range batch {
		if it.isWrite() && !it.teams() {
			n++
		}
	}
	return n
}

// reserve asks the tenant's directory throttle whether batch may go now; a
// batch of Teams requests (take never mixes the two) is not held by it:
// take paced those, and handBackLate holds them at the Teams gate.
func (x *execution) reserve(now time.Time, batch []*item) time.Duration {
	if batch[0].teams() {
		return 0
	}
	return x.e.c.throttle.reserve(now, writes(batch), x.e.opts.WriteRate*x.e.opts.TimeScale)
}

// send posts one batch. Each request gets a short id, "1".."20" (the ops'
// own ids can be long and Graph wants them unique only per batch), and
// collect finds each answer by that id, whatever order answers come in.
func (x *execution) send(batch []*item, at time.Time, done chan<- sent, probe bool) {
	reqs := make([]batchItem, len(batch))
	for i, it := range batch {
		reqs[i] = x.e.request(it)
		reqs[i].ID = strconv.Itoa(i + 1)
	}
	ans, err := x.e.c.postBatch(x.ctx, reqs)
	done <- sent{items: batch, at: at, answer: ans, err: err, probe: probe}
}

// collect classifies one batch's answers.
func (x *execution) collect(s sent) {
	now := x.clk.Now()
	if s.probe {
		x.probeOut = false
	}
	for _, it := range s.items {
		if it.replProbe {
			// Answered, whatever the answer: classify opens the kind or
			// hands back the later ones; a 429 or no answer lets the next
			// probe go.
			it.replProbe = false
			x.replFor(it.op.Kind).out = false
		}
	}
	x.e.count(func(st *ExecutorStats) { st.Requests++; st.Items += len(s.items) })
	log := x.e.opts.Logger
	switch {
	case s.err != nil:
		// No answer: Graph may have carried out any of the items, and
		// every op is safe to send twice.
		log.LogAttrs(x.ctx, slog.LevelWarn, "graph batch failed", slog.String("tenant", x.e.c.tenantID),
			slog.Int("items", len(s.items)), slog.String("error", s.err.Error()))
		for _, it := range s.items {
			x.retry(it, now, x.backoff(it), true)
		}
		return
	case s.answer.Status < 200 || s.answer.Status > 299:
		x.wholeBatch(s, now)
		return
	}
	var ok, throttled, failed, ru int
	for i, it := range s.items {
		rep := s.answer.Replies[strconv.Itoa(i+1)]
		if rep == nil {
			failed++
			x.retry(it, now, x.backoff(it), true)
			continue
		}
		if n, err := strconv.Atoi(rep.header("x-ms-resource-unit")); err == nil {
			ru += n
		}
		switch x.classify(it, rep, now, s.at) {
		case 2:
			ok++
		case 4:
			throttled++
		default:
			failed++
		}
	}
	if throttled == 0 && writes(s.items) > 0 {
		x.e.c.throttle.admitted(s.at)
	}
	x.e.count(func(st *ExecutorStats) { st.ResourceUnits += ru })
	log.LogAttrs(x.ctx, slog.LevelDebug, "graph batch", slog.String("tenant", x.e.c.tenantID),
		slog.Int("items", len(s.items)), slog.Int("ok", ok), slog.Int("throttled", throttled), slog.Int("other", failed))
}

// wholeBatch handles a $batch answered with a non-2xx status: every item
// shares it.
func (x *execution) wholeBatch(s sent, now time.Time) {
	a := s.answer
	ra, hasRA := retryAfter(a.Header.Get("Retry-After"), now)
	switch {
	case a.Status == http.StatusTooManyRequests:
		if !hasRA {
			ra = x.backoff(s.items[0])
		}
		x.throttledBy(a.Header.Get("x-ms-throttle-scope"), ra, len(s.items))
		longer := x.e.c.throttle.throttled(now, s.at, ra, writes(s.items) > 0)
		x.e.count(func(st *ExecutorStats) { st.Throttled += len(s.items); st.ThrottledWait += longer })
		for _, it := range s.items {
			x.retry(it, now, ra, true)
		}
	case transient(a.Status):
		for _, it := range s.items {
			d := ra
			if !hasRA {
				d = x.backoff(it)
			}
			x.retry(it, now, d, true)
		}
	default:
		// 400 (our batch is malformed), 401/403 (consent or token): no
		// item ran, and sending them again would meet the same answer.
		code := a.Error.Code
		if code == "" {
			code = strconv.Itoa(a.Status)
		}
		for _, it := range s.items {
			x.fail(it, code, a.Error.Message)
		}
	}
}

func (x *execution) throttledBy(scope string, wait time.Duration, items int) {
	x.e.opts.Logger.LogAttrs(x.ctx, slog.LevelInfo, "graph throttled", slog.String("tenant", x.e.c.tenantID),
		slog.String("scope", scope), slog.Duration("retryAfter", wait), slog.Int("items", items))
}

// transient reports statuses worth sending again after a pause (graph.md
// §1.4: 503 and 504 with or without Retry-After; 500 and 502 are the same
// kind of failure behind Graph's front door).
func transient(status int) bool {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusFailedDependency:
		return true
	}
	return false
}

// classify settles one item from its answer and returns the status class
// (2 done, 4 throttled, 0 anything else) for the batch summary.
func (x *execution) classify(it *item, rep *batchReply, now, sentAt time.Time) int {
	spec := opSpecs[it.op.Kind]
	probes := spec.replicationWindow > 0 && !it.lookup
	answered := !it.lookup && rep.Status != http.StatusTooManyRequests && !transient(rep.Status)
	if probes && answered && rep.Status != http.StatusNotFound {
		// Its target has replicated: so have the ones made before it,
		// and the rest may go and see.
		x.replFor(it.op.Kind).open = true
		if created, ok := x.e.c.replicaFresh.since(it.op.TargetID); ok {
			x.e.c.replicaFresh.visibleAt(now.Sub(created))
		}
	}
	if spec.answer != nil && answered {
		if res, ok := spec.answer(x.e, it.op, rep.Status, rep); ok {
			if probes && res.Status == apply.Retry && rep.Status == http.StatusNotFound {
				res = x.notReplicated(it, res, now)
			}
			if x.e.request(it).Method != http.MethodGet {
				x.e.count(func(s *ExecutorStats) { s.Writes++ })
			}
			x.results = append(x.results, res)
			if rep.Status >= 200 && rep.Status <= 299 {
				return 2
			}
			return 0
		}
	}
	switch st := rep.Status; {
	case st >= 200 && st <= 299:
		if it.lookup {
			x.found(it, rep, now)
			return 2
		}
		x.e.count(func(s *ExecutorStats) { s.Writes++ })
		x.sawVisible(it, now)
		res := apply.Result{ID: it.op.ID, Status: apply.Done}
		if opSpecs[it.op.Kind].create != nil {
			var u struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(rep.Body, &u)
			if u.ID == "" {
				// Created, but the answer does not say as what: find it.
				it.lookup, it.created, it.conflictAt = true, true, now
				x.requeue(it, now)
				return 2
			}
			x.e.c.fresh.note(u.ID, now, x.e.graphTime(x.e.opts.ConsistencyWindow))
			x.e.c.replicaFresh.note(u.ID, now, x.e.graphTime(replicaMemory))
			res.TargetID = u.ID
		}
		x.done(it, res)
		return 2
	case st == http.StatusTooManyRequests:
		ra, ok := retryAfter(rep.header("Retry-After"), now)
		if !ok {
			ra = x.backoff(it)
		}
		x.throttledBy(rep.header("x-ms-throttle-scope"), ra, 1)
		// Teams throttles its requests apart from the directory
		// (graph.md §1.3): its 429 closes the Teams gate only, and never
		// starts pacing directory and education writes.
		st, write := &x.e.c.throttle, it.isWrite()
		if it.teams() {
			st, write = &x.e.c.teamsThrottle, false
		}
		longer := st.throttled(now, sentAt, ra, write)
		x.e.count(func(s *ExecutorStats) { s.Throttled++; s.ThrottledWait += longer })
		x.retry(it, now, ra, true)
		return 4
	case transient(st):
		d, ok := retryAfter(rep.header("Retry-After"), now)
		if !ok {
			d = x.backoff(it)
		}
		x.retry(it, now, d, true)
		return 0
	default:
		x.refused(it, st, parseGraphError(rep.Body), now)
		return 0
	}
}

// refused handles a 4xx other than 429.
func (x *execution) refused(it *item, status int, ge graphError, now time.Time) {
	op, spec := it.op, opSpecs[it.op.Kind]
	switch {
	case it.members != nil && notYetVisible(spec, status, ge):
		// A member made moments ago has not replicated: the pack waits
		// and goes again whole, as a single add would.
		x.learnLag(it, now)
		if d, ok := x.retryNotFoundRightAfterCreate(it, now); ok {
			x.retry(it, now, d, false)
			return
		}
		x.unpack(it, now)
	case it.members != nil:
		x.unpack(it, now)
	case it.lookup:
		x.fail(it, codeOr(ge.Code, status), ge.Message)
	case spec.create != nil && isConflict(ge):
		// Most likely this create already happened (an answer lost, a
		// crash before the journal): find the object instead of failing.
		it.lookup, it.conflict, it.conflictAt = true, ge, now
		x.requeue(it, now)
	case spec.alreadyDone != nil && spec.alreadyDone(status, ge):
		x.done(it, apply.Result{ID: op.ID, Status: apply.Done})
	case notYetVisible(spec, status, ge):
		if spec.followsCreate {
			x.learnLag(it, now)
		}
		if d, ok := x.retryNotFoundRightAfterCreate(it, now); ok {
			x.retry(it, now, d, false)
			return
		}
		x.fail(it, codeOr(ge.Code, status), ge.Message)
	default:
		x.fail(it, codeOr(ge.Code, status), ge.Message)
	}
}

func codeOr(code string, status int) string {
	if code != "" {
		return code
	}
	return strconv.Itoa(status)
}

// isConflict is Graph's uniqueness failure: 400 Request_BadRequest with an
// ObjectConflict detail (graph.md §3.1), on the UPN or a proxy address.
func isConflict(ge graphError) bool {
	_, ok := ge.hasDetail(CodeObjectConflict)
	return ok || strings.EqualFold(ge.Code, CodeObjectConflict)
}

// alreadyMember is Graph's answer to adding a member twice (graph.md
// §4.2). Graph gives it no code of its own (it is Request_BadRequest), so
// the message is the only signal.
func alreadyMember(status int, ge graphError) bool {
	return status == http.StatusBadRequest && strings.Contains(ge.Message, "added object references already exist")
}

// notYetVisible reports the answers Graph gives for an object that exists
// but has not replicated yet (graph.md §6): 404 Request_ResourceNotFound
// (or Directory_ObjectNotFound), and for a new member "Not a valid
// reference update", which again has no code of its own.
func notYetVisible(spec opSpec, status int, ge graphError) bool {
	switch {
	case spec.create != nil:
		// A create's own object cannot be missing; only an object it
		// references can be, and the kind says how Graph puts that.
		return spec.notVisible != nil && spec.notVisible(status, ge)
	case status == http.StatusNotFound:
		return ge.Code == CodeResourceNotFound || ge.Code == "Directory_ObjectNotFound" || ge.Code == ""
	}
	return spec.notVisible != nil && spec.notVisible(status, ge)
}

// retryNotFoundRightAfterCreate decides whether a "not found" on the op's
// target is replication lag, and how long to wait. The target counts as
// fresh when this client created it, and, for a licence or a group (ops
// that only ever follow a create), from the first time it was missing: a
// resumed run in a new process cannot know when the account was made. A
// target still missing after ConsistencyWindow is really missing.
func (x *execution) retryNotFoundRightAfterCreate(it *item, now time.Time) (time.Duration, bool) {
	window := x.e.graphTime(x.e.opts.ConsistencyWindow)
	target := it.op.TargetID
	if it.members != nil || it.op.Key != "" {
		// A pack's or a create's own clock: from its first refusal.
		target = it.op.ID
	}
	since, ok := x.e.c.fresh.since(target)
	if !ok && (opSpecs[it.op.Kind].followsCreate || it.op.Key != "" || it.members != nil) {
		since, ok = x.e.c.fresh.note(target, now, window), true
	}
	if !ok || now.Sub(since) >= window {
		return 0, false
	}
	it.waits++
	return x.consistencyDelay(it.waits), true
}

// consistencyDelay is 1, 2, 4, 8 then 16 s (Graph time): replication
// usually takes a few seconds (graph.md §6).
func (x *execution) consistencyDelay(n int) time.Duration {
	d := time.Second << min(n-1, 4)
	return x.e.graphTime(d)
}

// backoff is the wait after the item's latest transient failure without a
// Retry-After: 2 s doubling to 60 s (Graph time), times a random 0.5–1.5 so
// that retried items do not arrive together.
func (x *execution) backoff(it *item) time.Duration {
	d := 2 * time.Second << min(it.tries, 5)
	d = min(d, time.Minute)
	d = time.Duration(float64(d) * (0.5 + rand.Float64()))
	return x.e.graphTime(d)
}

// retry queues it again after wait; transient failures count towards
// MaxAttempts.
func (x *execution) retry(it *item, now time.Time, wait time.Duration, transient bool) {
	if transient {
		it.tries++
	}
	x.e.count(func(s *ExecutorStats) { s.Retried++ })
	x.requeue(it, now.Add(wait))
}

func (x *execution) requeue(it *item, at time.Time) {
	it.notBefore = at
	x.queue = append(x.queue, it)
}

func (x *execution) done(it *item, res apply.Result) {
	if it.members != nil {
		for _, m := range it.members {
			x.done(m, apply.Result{ID: m.op.ID, Status: apply.Done})
		}
		return
	}
	x.e.count(func(s *ExecutorStats) { s.Done++ })
	x.results = append(x.results, res)
}

func (x *execution) fail(it *item, code, msg string) {
	if it.members != nil {
		for _, m := range it.members {
			x.fail(m, code, msg)
		}
		return
	}
	x.e.count(func(s *ExecutorStats) { s.Failed++ })
	x.results = append(x.results, apply.Result{ID: it.op.ID, Status: apply.Failed, Code: code, Error: msg})
}

// lookupSelect is what a conflict lookup reads: the id, and what tells
// whether the account is the one the create would have made.
var lookupSelect = []string{"id", "userPrincipalName", "displayName", "givenName", "surname", "employeeId"}

// identityProps are compared between a create and the account holding its
// UPN; they are all the create sets that a person, not a template, decides.
var identityProps = []string{"displayName", "givenName", "surname", "employeeId"}

// found settles a lookup from its answer.
func (x *execution) found(it *item, rep *batchReply, now time.Time) {
	x.e.count(func(s *ExecutorStats) { s.Lookups++ })
	var out struct {
		Value []map[string]any `json:"value"`
	}
	_ = json.Unmarshal(rep.Body, &out)
	switch {
	case len(out.Value) == 0:
		// Graph said the UPN is taken, but the account does not show: it
		// is still replicating, or the clash is with another object's mail
		// or proxy address (then it never shows).
		det, _ := it.conflict.hasDetail(CodeObjectConflict)
		window := x.e.graphTime(x.e.opts.ConsistencyWindow)
		if (it.created || !det.isProxy()) && now.Sub(it.conflictAt) < window {
			it.waits++
			x.retry(it, now, x.consistencyDelay(it.waits), false)
			return
		}
		x.fail(it, CodeObjectConflict, conflictMessage(it.conflict, opSpecs[it.op.Kind].create.what))
	case len(out.Value) > 1:
		x.fail(it, CodeObjectConflict, "more than one object has this "+opSpecs[it.op.Kind].create.what)
	default:
		acct := out.Value[0]
		id, _ := acct["id"].(string)
		if id == "" {
			x.fail(it, CodeObjectConflict, "the object holding this "+opSpecs[it.op.Kind].create.what+" has no id")
			return
		}
		if !it.created && !opSpecs[it.op.Kind].create.same(it.op, acct) {
			// Someone else's account took the name after the plan was made;
			// linking it would merge two people.
			x.fail(it, CodeObjectConflict, opSpecs[it.op.Kind].create.what+" is taken by an object that is not the one this create would make (names or ids differ); match it by hand if it is")
			return
		}
		x.e.c.fresh.note(id, now, x.e.graphTime(x.e.opts.ConsistencyWindow))
		if it.created {
			x.e.c.replicaFresh.note(id, now, x.e.graphTime(replicaMemory))
		}
		x.done(it, apply.Result{ID: it.op.ID, Status: apply.Done, TargetID: id, Existing: !it.created})
	}
}

func (d errorDetail) isProxy() bool { return strings.EqualFold(d.Target, "proxyAddresses") }

func conflictMessage(ge graphError, what string) string {
	if ge.Message != "" {
		return ge.Message
	}
	return "another object has this " + what + " or address"
}

// sameAccount reports whether acct agrees with every identity property the
// create sets.
func sameAccount(props map[string]string, acct map[string]any) bool {
	for _, k := range identityProps {
		want := strings.TrimSpace(props[k])
		if want == "" {
			continue
		}
		got, _ := acct[k].(string)
		if !strings.EqualFold(strings.TrimSpace(got), want) {
			return false
		}
	}
	return true
}

// request builds the $batch request for an item (without its id).
func (e *Executor) request(it *item) batchItem {
	spec := opSpecs[it.op.Kind]
	switch {
	case it.lookup:
		return spec.create.lookup(it.op)
	case it.members != nil:
		binds := make([]string, len(it.members))
		for i, m := range it.members {
			binds[i] = e.directoryObject(m.op.TargetID)
		}
		return batchItem{Method: http.MethodPatch, URL: "/groups/" + url.PathEscape(it.op.Ref), Headers: jsonHeader,
			Body: map[string]any{"members@odata.bind": binds}}
	}
	return spec.request(e, it.op)
}

// userBody turns Props into a user body. In a patch an empty value clears
// the property (null); in a create it is left out.
func userBody(props map[string]string, patch bool) map[string]any {
	body := make(map[string]any, len(props)+2)
	for k, v := range props {
		switch {
		case k == "accountEnabled":
			body[k] = v == "true"
		case v != "":
			body[k] = v
		case patch:
			body[k] = nil
		}
	}
	return body
}

// queryEscape escapes a query value with %20 for spaces, which every
// OData parser reads; "+" is only a space in form encoding.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
