package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// Journal stores apply progress, the links it makes and the intents of
// the creates it sends; *state.Store has it.
type Journal interface {
	SaveEntries(ctx context.Context, customerID, runID, entity string, entries []state.Entry) error
	PutMappings(ctx context.Context, ms ...state.Mapping) error
	PutIntents(ctx context.Context, in ...state.Intent) error
	DeleteIntents(ctx context.Context, customerID, kind string, sourceIDs ...string) error
}

// LinkFunc says which link an entry's progress makes, if any: a created or
// matched object, a suspension to remember. The entity supplies it; the
// applier stores the link in the same round that journals the entry.
type LinkFunc func(e state.Entry) (state.Mapping, bool)

// Credentials receives new accounts' initial passwords before the accounts
// are created, so no account can exist whose password was lost. It must
// keep them only in the protected export, never in logs or run records.
type Credentials interface {
	PutCredentials(ctx context.Context, customerID, runID string, creds []credentials.Credential) error
}

// PasswordFunc makes an initial password of a kind (strong or words).
type PasswordFunc func(kind string) (string, error)

// Options bound one Apply call; zero values take the documented defaults.
type Options struct {
	// Budget is how long one call may run before it hands back (the
	// rest continues in a follow-up message). Default 4 minutes.
	Budget time.Duration
	// MaxWait is the longest wait (e.g. Retry-After) done in process;
	// longer ones are returned as RequeueAfter. Default 15 s.
	MaxWait time.Duration
	// RoundSize is how many ops go to the executor at once. Default 200.
	RoundSize int
	// MaxAttempts caps how often one operation is sent; an operation
	// Graph keeps answering "later" fails with the reason after it, so a
	// run always ends. Default 50.
	MaxAttempts int
	// Report, when set, is given after every round it sends a way to
	// count where the call stands (a Progress without Changed), so a call
	// that runs for minutes can show its progress meanwhile. Counting
	// walks every entry of the plan, so a listener that keeps only some
	// reports should count only those. It runs on the call's goroutine,
	// between rounds: it should be quick.
	Report func(func() Progress)
}

func (o Options) withDefaults() Options {
	if o.Budget <= 0 {
		o.Budget = 4 * time.Minute
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 15 * time.Second
	}
	if o.RoundSize <= 0 {
		o.RoundSize = 200
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 50
	}
	return o
}

// Applier applies stored plans.
type Applier struct {
	exec        Executor
	journal     Journal
	credentials Credentials
	passwords   PasswordFunc
	expand      ExpandFunc
	links       LinkFunc
	clock       clock.Clock
	opts        Options
}

// New returns an applier for one entity kind: expand turns its changes
// into operations, links says which links their progress makes (nil for a
// kind that makes none).
func New(exec Executor, journal Journal, expand ExpandFunc, links LinkFunc, creds Credentials, passwords PasswordFunc, clk clock.Clock, opts Options) *Applier {
	if clk == nil {
		clk = clock.Real{}
	}
	if links == nil {
		links = func(state.Entry) (state.Mapping, bool) { return state.Mapping{}, false }
	}
	return &Applier{exec: exec, journal: journal, expand: expand, links: links, credentials: creds, passwords: passwords, clock: clk, opts: opts.withDefaults()}
}

// Progress is where an apply stands after one call.
type Progress struct {
	Done, Failed, Pending int
	// Held counts changes left for a confirmation.
	Held int
	// Ops counts the operations sent this call, and Retried those that
	// came back for another try (throttling, transient errors).
	Ops, Retried int
	// Operations is how many operations the plan's changes expand to (see
	// CountOps); Finished how many of them are over: done, or part of a
	// change that ended (failed, or done without them); HeldOps those of
	// the changes Held.
	Operations, Finished, HeldOps int
	// Throttled counts the requests Graph throttled this call and
	// ThrottledWait how long its Retry-After held writes back, as far as
	// the executor tells (ThrottleMeter); zero when it does not.
	Throttled     int
	ThrottledWait time.Duration
	// Changed are the entries whose state moved this call, for the caller
	// to act on (links to record, suspensions to remember).
	Changed []state.Entry
	// RequeueAfter is set when work remains: continue after it.
	RequeueAfter time.Duration
}

// Complete reports whether every change has ended.
func (p Progress) Complete() bool { return p.Pending == 0 }

// ThrottleMeter is an Executor that tells how much throttling it has met
// since it was made: requests Graph answered 429 and how long their
// Retry-After held writes back. The applier reports the part of it that
// fell within a call.
type ThrottleMeter interface {
	Throttling() (requests int, wait time.Duration)
}

// CountOps is how many operations the changes expand to: the unit a
// run's progress counts in, the same before apply (a simulation) as
// during it.
func CountOps(expand ExpandFunc, changes []plan.Change) int {
	n := 0
	for _, c := range changes {
		n += len(expand(c, ""))
	}
	return n
}

// Errors of Apply.
var (
	ErrNotApplyable = errors.New("plan cannot be applied")
	ErrWrongTenant  = errors.New("plan belongs to another tenant")
	// ErrNoCredentialStore: accounts are never created whose initial
	// passwords could not be handed over.
	ErrNoCredentialStore = errors.New("no credential store configured: refusing to create accounts")
)

// Apply advances the plan's pending entries. Changes a guard held are left
// alone unless confirmed is set (a confirmation record exists). It refuses
// an errored plan and a plan made for another tenant; it journals every
// round, so a crash loses at most the round in flight, and a round's
// writes are idempotent on retry (a create that already happened is
// found, not repeated).
func (a *Applier) Apply(ctx context.Context, p *plan.Plan, tenantID string, entries []state.Entry, confirmed bool) (Progress, error) {
	switch {
	case p.Errored():
		return Progress{}, fmt.Errorf("%w: it has errors: %s", ErrNotApplyable, strings.Join(p.Errors, "; "))
	case p.TenantID != "" && !strings.EqualFold(p.TenantID, tenantID):
		return Progress{}, fmt.Errorf("%w: plan for %s, applying to %s", ErrWrongTenant, p.TenantID, tenantID)
	}
	if err := checkJournal(p, entries); err != nil {
		return Progress{}, err
	}
	r := &round{a: a, p: p, entries: entries, confirmed: confirmed, notBefore: map[string]time.Time{}, changed: map[int]bool{}, unsaved: map[int]bool{}}
	r.opCount = make([]int, len(entries))
	r.expanded = make([]expansion, len(entries))
	r.doneSets = make([]map[string]bool, len(entries))
	r.standing = make([]standing, len(entries))
	for i := range entries {
		// The number of a change's ops does not depend on its created id.
		r.opCount[i] = len(r.opsOf(i))
	}
	if m, ok := a.exec.(ThrottleMeter); ok {
		r.meter = m
		r.throttledBefore, r.waitBefore = m.Throttling()
	}
	err := r.relink(ctx)
	if err == nil {
		err = r.run(ctx)
	}
	return r.progress(), err
}

// checkJournal refuses entries that match no change of the plan: the
// journal and the plan it belongs to have parted, and applying either
// would be a guess.
func checkJournal(p *plan.Plan, entries []state.Entry) error {
	type key struct {
		kind   plan.Kind
		key    string
		action plan.Action
	}
	planned := make(map[key]bool, len(p.Changes))
	for _, c := range p.Changes {
		planned[key{c.Kind, c.Key, c.Action}] = true
	}
	for _, e := range entries {
		if !planned[key{e.Kind, e.Key, e.Action}] {
			return fmt.Errorf("%w: journal entry %s %s %s matches no change of the plan", ErrNotApplyable, e.Kind, e.Action, e.Key)
		}
	}
	return nil
}

// relink stores the links of entries that progressed in an earlier
// delivery whose links were never written (it ended between the two),
// before anything else is sent.
func (r *round) relink(ctx context.Context) error {
	for i, e := range r.entries {
		if _, ok := r.a.links(e); ok && !e.Linked {
			r.unsaved[i] = true
		}
	}
	return r.journal(ctx)
}

type round struct {
	a         *Applier
	p         *plan.Plan
	entries   []state.Entry
	confirmed bool
	notBefore map[string]time.Time
	// changed holds every entry that moved during the call (reported in
	// Progress); unsaved those not yet journalled.
	changed map[int]bool
	unsaved map[int]bool
	ops     int
	retried int
	requeue time.Duration
	// opCount is each entry's number of operations.
	opCount []int
	// expanded caches each entry's ops (see opsOf), and doneSets the ids
	// in its OpsDone (see isDone).
	expanded []expansion
	doneSets []map[string]bool
	// standing is each pending entry's place as ready last saw it.
	standing []standing
	// meter, when the executor has one, and its figures when the call
	// began.
	meter           ThrottleMeter
	throttledBefore int
	waitBefore      time.Duration
}

type readyOp struct {
	op    Op
	entry int
}

// expansion is an entry's ops as expanded for its created id, and why
// they cannot be carried out ("" when they can).
type expansion struct {
	ok      bool
	created string
	ops     []Op
	invalid string
	// ranks are the ops' places in a round (see rank).
	ranks []int
}

// opsOf is entry i's ops. A change's ops depend only on the change and
// its created id, so they are expanded once per call and created id, not
// in every round: ready looks at every pending entry each round, and
// expanding (decoding the change's payload) a classrooms plan's 641
// changes in each of its hundreds of rounds was a fifth of a run's CPU.
// Callers copy an op before changing it.
func (r *round) opsOf(i int) []Op {
	e, x := &r.entries[i], &r.expanded[i]
	if !x.ok || x.created != e.Created {
		ops := r.a.expand(e.Change, e.Created)
		*x = expansion{ok: true, created: e.Created, ops: ops, invalid: invalid(ops), ranks: ranks(ops)}
	}
	return x.ops
}

// smallDone is the size of OpsDone up to which isDone scans it rather
// than keeping a set.
const smallDone = 8

// isDone reports whether entry i's op id is in its OpsDone. A class's
// change has an op per enrolment, and scanning their long ids for each
// of them in every round was most of ready's time; OpsDone changes only
// through markDone and redo, which keep the set.
func (r *round) isDone(i int, id string) bool {
	e := &r.entries[i]
	if len(e.OpsDone) <= smallDone {
		return slices.Contains(e.OpsDone, id)
	}
	d := r.doneSets[i]
	if d == nil {
		d = make(map[string]bool, len(e.OpsDone))
		for _, done := range e.OpsDone {
			d[done] = true
		}
		r.doneSets[i] = d
	}
	return d[id]
}

// markDone adds id to entry i's OpsDone.
func (r *round) markDone(i int, id string) {
	r.entries[i].OpsDone = append(r.entries[i].OpsDone, id)
	if d := r.doneSets[i]; d != nil {
		d[id] = true
	}
}

// redo takes id out of entry i's OpsDone.
func (r *round) redo(i int, id string) {
	e := &r.entries[i]
	e.OpsDone = slices.DeleteFunc(e.OpsDone, func(done string) bool { return done == id })
	r.doneSets[i] = nil
}

func (r *round) run(ctx context.Context) error {
	deadline := r.a.clock.Now().Add(r.a.opts.Budget)
	for {
		now := r.a.clock.Now()
		ready, wait, pending := r.ready(now, r.a.opts.RoundSize)
		if !pending {
			return r.journal(ctx)
		}
		if len(ready) == 0 {
			if wait > r.a.opts.MaxWait || now.Add(wait).After(deadline) {
				r.requeue = wait
				if wait > r.a.opts.MaxWait {
					// The follow-up comes a little early: its start (the plan
					// and journal read again) then falls within the wait, not
					// after it, and it sleeps what is left in process.
					r.requeue = wait - r.a.opts.MaxWait/2
				}
				return r.journal(ctx)
			}
			if !clock.Sleep(ctx, r.a.clock, wait) {
				return ctx.Err()
			}
			continue
		}
		if !now.Before(deadline) {
			r.requeue = time.Millisecond // more to do now, in a fresh invocation
			return r.journal(ctx)
		}
		if err := r.send(ctx, ready); err != nil {
			return err
		}
		if r.a.opts.Report != nil {
			r.a.opts.Report(func() Progress { return r.tally(false) })
		}
	}
}

// ready lists the first limit ops that may go now, in rank order (then
// plan order), the wait until the next one may, and whether anything is
// pending at all. It keeps no more than limit ops of each rank, and looks
// again (examine) only at entries a result has touched since, or whose
// wait is over: gathering and sorting every ready op of a 100,000-person
// plan, and checking each, to send 200 of them made each round cost as
// much as the plan, and an apply quadratic.
func (r *round) ready(now time.Time, limit int) ([]readyOp, time.Duration, bool) {
	var byRank [rankFollows + 1][]readyOp
	wait := time.Duration(-1)
	pending := false
	for i := range r.entries {
		e := &r.entries[i]
		if e.Status != state.EntryPending || r.waitsForConfirmation(*e) {
			continue
		}
		st := &r.standing[i]
		if !st.fresh || !st.until.IsZero() && !now.Before(st.until) {
			if !r.examine(i, now) {
				continue
			}
		}
		pending = true
		if !st.until.IsZero() {
			if d := st.until.Sub(now); wait < 0 || d < wait {
				wait = d
			}
		}
		for _, c := range st.ready {
			if len(byRank[c.rank]) < limit {
				op := r.expanded[i].ops[c.op]
				if c.ref != "" {
					op.Ref = c.ref
				}
				byRank[c.rank] = append(byRank[c.rank], readyOp{op: op, entry: i})
			}
		}
	}
	if wait < 0 {
		wait = 0
	}
	var out []readyOp
	for _, ops := range byRank {
		out = append(out, ops[:min(len(ops), limit-len(out))]...)
	}
	return out, wait, pending
}

// standing is where a pending entry stood when last examined: the ops it
// had ready, and when the first of its waiting ops may go. Only a result
// (record) or that time passing changes it.
type standing struct {
	fresh bool
	ready []readyRef
	until time.Time // zero: no op waits for a time
}

// readyRef is one ready op of an entry: its place in the entry's ops,
// its rank, and the handle it follows (Op.Await), if any.
type readyRef struct {
	op   int
	rank int
	ref  string
}

// examine works out where pending entry i stands now, marking it done
// when nothing is left and failed when its ops cannot be carried out; it
// reports whether the entry is still pending.
func (r *round) examine(i int, now time.Time) bool {
	e := &r.entries[i]
	ops := r.opsOf(i)
	if why := r.expanded[i].invalid; why != "" {
		e.Status, e.Error = state.EntryFailed, why
		r.changed[i], r.unsaved[i] = true, true
		return false
	}
	st := standing{fresh: true}
	remaining := 0
	for j, op := range ops {
		if r.isDone(i, op.ID) {
			continue
		}
		ref := ""
		if op.Await != "" {
			h := e.Handles[op.Await]
			if h == "" && r.isDone(i, op.Await) {
				// Done without an operation to follow: nothing to wait for.
				r.markDone(i, op.ID)
				r.changed[i], r.unsaved[i] = true, true
				continue
			}
			if h == "" {
				remaining++
				continue // waits for the op it follows
			}
			ref = h
		}
		remaining++
		if op.Key == "" && op.TargetID == "" {
			continue // waits for its change's create
		}
		if nb, ok := r.notBefore[op.ID]; ok && nb.After(now) {
			if st.until.IsZero() || nb.Before(st.until) {
				st.until = nb
			}
			continue
		}
		st.ready = append(st.ready, readyRef{op: j, rank: r.expanded[i].ranks[j], ref: ref})
	}
	if remaining == 0 {
		e.Status = state.EntryDone
		r.changed[i], r.unsaved[i] = true, true
		return false
	}
	r.standing[i] = st
	return true
}

// Places of ops in a round (ranks), first to last.
const (
	// Creates go first: the ops that follow a create then meet objects
	// that have had time to replicate, and arrive together, so the
	// executor can pack a group's new members 20 to a request.
	rankCreate = iota
	// Then the ops the change's later ops need (Op.Early).
	rankEarly
	// Then the ops that start an asynchronous operation another op
	// follows (a team create): their work is the longest to finish, and
	// the service that does it meters them at a few a second, so a round
	// must not leave them behind a round's worth of other writes.
	rankStarts
	rankOther
	// Follow-ups go last: reading how an asynchronous operation is doing
	// changes nothing, and a round of them sent right after the starts
	// only meets operations that have not finished (and holds up the
	// next starts meanwhile).
	rankFollows
)

// ranks places each of a change's ops in a round.
func ranks(ops []Op) []int {
	var awaited map[string]bool
	for _, op := range ops {
		if op.Await != "" {
			if awaited == nil {
				awaited = map[string]bool{}
			}
			awaited[op.Await] = true
		}
	}
	out := make([]int, len(ops))
	for j, op := range ops {
		switch {
		case op.Key != "":
			out[j] = rankCreate
		case op.Early:
			out[j] = rankEarly
		case op.Await != "":
			out[j] = rankFollows
		case awaited[op.ID]:
			out[j] = rankStarts
		default:
			out[j] = rankOther
		}
	}
	return out
}

// invalid is why a change's ops cannot be carried out, or "".
func invalid(ops []Op) string {
	for _, op := range ops {
		if op.Invalid != "" {
			return op.Invalid
		}
	}
	return ""
}

func (r *round) send(ctx context.Context, batch []readyOp) error {
	ops := make([]Op, 0, len(batch))
	byID := make(map[string]int, len(batch))
	var creds []credentials.Credential
	for _, ro := range batch {
		op := ro.op
		if op.SecretKind != "" {
			e := r.entries[ro.entry]
			pw, err := r.a.passwords(op.SecretKind)
			if err != nil {
				return fmt.Errorf("initial secret for %s: %w", e.Key, err)
			}
			op.Password = pw
			creds = append(creds, credentials.Credential{Key: e.Key, UPN: op.Key, Password: pw})
		}
		ops = append(ops, op)
		byID[op.ID] = ro.entry
	}
	if len(creds) > 0 {
		if r.a.credentials == nil {
			return ErrNoCredentialStore
		}
		if err := r.a.credentials.PutCredentials(ctx, r.p.CustomerID, r.p.RunID, creds); err != nil {
			return fmt.Errorf("store initial credentials: %w", err)
		}
	}
	if err := r.intend(ctx, batch); err != nil {
		return err
	}
	r.ops += len(ops)
	results := r.a.exec.Execute(ctx, ops)
	seen := map[string]bool{}
	now := r.a.clock.Now()
	for _, res := range results {
		i, ok := byID[res.ID]
		if !ok || seen[res.ID] {
			continue
		}
		seen[res.ID] = true
		r.record(i, res, now)
	}
	for _, op := range ops {
		if !seen[op.ID] { // an executor that lost a result: try again
			r.record(byID[op.ID], Result{ID: op.ID, Status: Retry, RetryAfter: time.Second}, now)
		}
	}
	return r.journal(ctx)
}

// intend records, before any create is sent, the deterministic key of the
// object it makes: if the answer is lost with the process, the next step
// or run finds the object by that key instead of creating it twice.
func (r *round) intend(ctx context.Context, batch []readyOp) error {
	var in []state.Intent
	now := r.a.clock.Now().UTC()
	for _, ro := range batch {
		if ro.op.Key == "" {
			continue
		}
		e := r.entries[ro.entry]
		// The link the create will make, less the object's id, so the
		// intent settles into the same link when found by its key.
		pending := e
		pending.Created = "pending"
		link, _ := r.a.links(pending)
		in = append(in, state.Intent{CustomerID: r.p.CustomerID, Kind: string(e.Kind), SourceID: e.Key,
			Key: ro.op.Key, Type: link.Type, RunID: r.p.RunID, At: now})
	}
	if err := r.a.journal.PutIntents(ctx, in...); err != nil {
		return fmt.Errorf("journal create intents: %w", err)
	}
	return nil
}

// journal saves the entries that moved since the last save. Their links go
// first and their entries last, so an entry marked done always has its
// link; a crash between the two leaves a link whose entry a redelivery
// finishes (a retried create finds its object).
func (r *round) journal(ctx context.Context) error {
	if len(r.unsaved) == 0 {
		return nil
	}
	idx := slices.Sorted(maps.Keys(r.unsaved))
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(r.entries[a].Key, r.entries[b].Key) })
	if err := r.link(ctx, idx); err != nil {
		return err
	}
	changed := make([]state.Entry, 0, len(idx))
	for _, i := range idx {
		changed = append(changed, r.entries[i])
	}
	if err := r.a.journal.SaveEntries(ctx, r.p.CustomerID, r.p.RunID, r.p.Entity, changed); err != nil {
		return fmt.Errorf("journal apply progress: %w", err)
	}
	clear(r.unsaved)
	return nil
}

// link stores the links the given entries make and settles the intents of
// the creates among them.
func (r *round) link(ctx context.Context, idx []int) error {
	var ms []state.Mapping
	settled := map[string][]string{}
	var linked []int
	for _, i := range idx {
		e := r.entries[i]
		m, ok := r.a.links(e)
		if !ok || e.Linked {
			continue
		}
		m.CustomerID = r.p.CustomerID
		ms = append(ms, m)
		linked = append(linked, i)
		if e.Created != "" {
			settled[string(e.Kind)] = append(settled[string(e.Kind)], e.Key)
		}
	}
	if len(ms) == 0 {
		return nil
	}
	if err := r.a.journal.PutMappings(ctx, ms...); err != nil {
		return fmt.Errorf("store links: %w", err)
	}
	for _, kind := range slices.Sorted(maps.Keys(settled)) {
		if err := r.a.journal.DeleteIntents(ctx, r.p.CustomerID, kind, settled[kind]...); err != nil {
			return fmt.Errorf("settle create intents: %w", err)
		}
	}
	for _, i := range linked {
		r.entries[i].Linked = true
	}
	return nil
}

func (r *round) record(i int, res Result, now time.Time) {
	e := &r.entries[i]
	r.standing[i].fresh = false
	switch res.Status {
	case Done:
		r.markDone(i, res.ID)
		if res.TargetID != "" && e.Action == plan.Create && e.Created == "" {
			e.Created, e.Existing = res.TargetID, res.Existing
		}
		delete(r.notBefore, res.ID)
		if res.Handle != "" {
			if e.Handles == nil {
				e.Handles = map[string]string{}
			}
			e.Handles[res.ID] = res.Handle
			if res.RetryAfter > 0 {
				// The operation it started is worth a first look only then.
				for _, op := range r.opsOf(i) {
					if op.Await == res.ID {
						r.notBefore[op.ID] = now.Add(res.RetryAfter)
					}
				}
			}
		}
		if r.allDone(i) {
			e.Status = state.EntryDone
		}
	case Failed:
		e.Status = state.EntryFailed
		e.Error = strings.TrimSpace(res.Code + ": " + res.Error)
	default:
		r.retried++
		e.Attempts++
		if e.Attempts >= r.a.opts.MaxAttempts {
			e.Status = state.EntryFailed
			e.Error = strings.TrimSpace(fmt.Sprintf("gave up after %d attempts; last answer: %s %s", e.Attempts, res.Code, res.Error))
			break
		}
		r.notBefore[res.ID] = now.Add(max(res.RetryAfter, 0))
		if res.Redo != "" {
			// The op that started a failed asynchronous operation goes again.
			r.redo(i, res.Redo)
			delete(e.Handles, res.Redo)
			delete(r.notBefore, res.ID)
		}
	}
	r.changed[i], r.unsaved[i] = true, true
}

// waitsForConfirmation: a held change of an unconfirmed plan.
func (r *round) waitsForConfirmation(e state.Entry) bool { return e.Held && !r.confirmed }

func (r *round) progress() Progress { return r.tally(true) }

// tally is where the call stands; changed asks for the entries that moved.
func (r *round) tally(changed bool) Progress {
	var pr Progress
	for i, e := range r.entries {
		n := r.opCount[i]
		pr.Operations += n
		switch {
		case e.Status == state.EntryDone:
			pr.Done++
			pr.Finished += n
		case e.Status == state.EntryFailed:
			pr.Failed++
			pr.Finished += n
		case r.waitsForConfirmation(e):
			pr.Held++
			pr.HeldOps += n
		default:
			pr.Pending++
			pr.Finished += min(len(e.OpsDone), n)
		}
		if changed && r.changed[i] {
			pr.Changed = append(pr.Changed, e)
		}
	}
	if r.meter != nil {
		n, wait := r.meter.Throttling()
		pr.Throttled, pr.ThrottledWait = n-r.throttledBefore, wait-r.waitBefore
	}
	pr.Ops, pr.Retried = r.ops, r.retried
	if pr.Pending > 0 {
		pr.RequeueAfter = max(r.requeue, time.Millisecond)
	}
	return pr
}

func (r *round) allDone(i int) bool {
	for _, op := range r.opsOf(i) {
		if !r.isDone(i, op.ID) {
			return false
		}
	}
	return true
}
