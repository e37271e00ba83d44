package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/app"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

const (
	syncCustomer = "school"
	syncProfile  = "users"
)

// runSync is the one-shot users sync for scripted checks and benchmarks:
// the OneRoster feed at --roster into the simulated tenant kept in --state
// (or in the standalone simulator at --graph-url), through the same
// pipeline, handler, queue and store code as production. The result goes
// to stdout; the exit status says how the run ended (see exitStatus).
func runSync(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	rosterPath := fs.String("roster", "", "OneRoster 1.1 CSV folder or zip (required)")
	dir := fs.String("state", "", "folder holding the store and the simulated tenant (required; created if missing)")
	simulate := fs.Bool("simulate", false, "plan only: change nothing")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	timeScale := fs.Float64("time-scale", 60, "simulated Graph runs this many times faster (throttling windows, Retry-After, replication delays)")
	domain := fs.String("domain", "school.example", "verified domain of a new simulated tenant")
	tenantID := fs.String("tenant", "sim-school", "simulated tenant `id` (its token is sim:ID)")
	graphURL := fs.String("graph-url", "", "a running `rostersync graphsim` (http://127.0.0.1:PORT) to sync into instead of the tenant in --state; the tenant is added there if missing; give the simulator's --time-scale")
	root := fs.String("root", "", "folder holding host.json and functions/ (default: found at or above the binary)")
	entityList := fs.String("entities", tenant.EntityUsers, "entity kinds to sync, comma-separated, in this order (registered: "+strings.Join(app.EntityNames(), ", ")+")")
	session := fs.String("session", "", "sourcedId of the academic session to sync, instead of the one the feed runs on the date (as a profile's academicSession)")
	today := fs.String("today", "", "the date the run takes as today, `YYYY-MM-DD` (default: the clock's); the run's clock is that date at the current time of day, UTC")
	format := fs.String("format", "", "the feed's CSV format: "+strings.Join(feedFormats, ", ")+" (default: detected from its files and headers)")
	edition := fs.String("edition", "", "edition of a new simulated tenant: education (the default) or business, which refuses classrooms; a tenant already in --state keeps its own")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *rosterPath == "" || *dir == "" {
		fs.Usage()
		return usageError{"--roster and --state are required"}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected arguments %q", fs.Args())}
	}
	entities, err := parseEntities(*entityList)
	if err != nil {
		return err
	}
	set := flagsSet(fs)
	choice, err := parseFeedChoice(set, *session, *format)
	if err != nil {
		return err
	}
	ed, err := parseEdition(*edition, *graphURL)
	if err != nil {
		return err
	}
	if set["today"] && *today == "" {
		return usageError{"--today: want a date as YYYY-MM-DD, or leave the flag out for the clock's"}
	}
	clk, err := parseToday(*today, time.Now())
	if err != nil {
		return err
	}
	hostRoot, err := findRoot(*root, env)
	if err != nil {
		return err
	}
	mode := runs.ModeApply
	if *simulate {
		mode = runs.ModeSimulate
	}
	abs, err := filepath.Abs(*rosterPath)
	if err != nil {
		return err
	}
	w, err := openWorld(ctx, worldOptions{dir: *dir, tenantID: *tenantID, domain: *domain, timeScale: *timeScale, root: hostRoot, feedDir: filepath.Dir(abs),
		graphURL: *graphURL, clock: clk, edition: ed})
	if err != nil {
		return err
	}
	defer w.close()
	// Progress goes to stderr: stdout carries the result alone.
	fmt.Fprintf(env.stderr, "rostersync sync: %s %s from %s into tenant %s\n", mode, strings.Join(entities, ","), abs, *tenantID)
	view := newProgressView(env.stderr, env.getenv)
	sum, err := w.syncFeedWatched(ctx, *rosterPath, mode, entities, choice, func(r runs.Run) { view.show(r, clk.Now()) })
	view.finish()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		sum.print(env.stdout)
	}
	return sum.outcome()
}

// parseEntities reads --entities: registered kinds, comma-separated, each
// once, in the order they are to run.
func parseEntities(list string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if _, ok := app.LookupEntity(name); !ok {
			return nil, usageError{fmt.Sprintf("--entities: %q is not a registered entity (registered: %s)", name, strings.Join(app.EntityNames(), ", "))}
		}
		if slices.Contains(out, name) {
			return nil, usageError{fmt.Sprintf("--entities: %q is listed twice", name)}
		}
		out = append(out, name)
	}
	return out, nil
}

// parseEdition reads --edition: the edition of the simulated tenant sync
// makes in --state. A standalone simulator's tenant (--graph-url) is made
// there, with the simulator's own choice.
func parseEdition(edition, graphURL string) (graphsim.Edition, error) {
	switch ed := graphsim.Edition(edition); {
	case edition == "":
		return "", nil
	case ed != graphsim.EditionEducation && ed != graphsim.EditionBusiness:
		return "", usageError{fmt.Sprintf("--edition %q: want education or business", edition)}
	case graphURL != "":
		return "", usageError{"--edition chooses the edition of a new tenant in --state; a tenant in a running simulator (--graph-url) is made with that simulator's own (graphsim seed)"}
	default:
		return ed, nil
	}
}

// feedChoice is what sync's flags say about the feed, carried by the
// profile the command builds exactly as a customer's profile carries it.
type feedChoice struct {
	// session is the profile's academicSession: "" lets the reader pick
	// the session running on the run's date.
	session string
	// format is the source's format: "" detects it.
	format string
}

// feedFormats are the values --format takes, as a profile's source.format
// names them (and as the reader's hints for SDS exports spell them).
var feedFormats = []string{tenant.FormatOneRoster, tenant.FormatSDSv1, tenant.FormatSDSv21}

// parseFeedChoice checks --session and --format. A session given but
// blank, or padded with spaces, is a typo that would otherwise silently
// fall back to the feed's own choice or match nothing.
func parseFeedChoice(set map[string]bool, session, format string) (feedChoice, error) {
	if set["session"] && (strings.TrimSpace(session) == "" || strings.TrimSpace(session) != session) {
		return feedChoice{}, usageError{fmt.Sprintf("--session %q: want an academic session's sourcedId, without surrounding spaces", session)}
	}
	if set["format"] && !slices.Contains(feedFormats, format) {
		return feedChoice{}, usageError{fmt.Sprintf("--format %q: want one of %s (or leave it out to detect the format)", format, strings.Join(feedFormats, ", "))}
	}
	return feedChoice{session: session, format: format}, nil
}

// flagsSet are the names of the flags given on the command line.
func flagsSet(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// parseToday reads --today: "" is the wall clock; a date is a clock that
// stands on that date at now's time of day (UTC) and runs on from there,
// so the run's "today" (the pipeline's Now, which picks the session) is
// that date while durations, leases and queue delays behave as ever.
func parseToday(s string, now time.Time) (clock.Clock, error) {
	if s == "" {
		return clock.Real{}, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.Year() < 1900 {
		return nil, usageError{fmt.Sprintf("--today %q: want a date as YYYY-MM-DD, e.g. 2026-09-01", s)}
	}
	now = now.UTC()
	at := time.Date(d.Year(), d.Month(), d.Day(), now.Hour(), now.Minute(), now.Second(), now.Nanosecond(), time.UTC)
	return shiftedClock{offset: at.Sub(now)}, nil
}

// shiftedClock is the wall clock moved by offset: Now is shifted, waits
// are not.
type shiftedClock struct{ offset time.Duration }

func (c shiftedClock) Now() time.Time                         { return time.Now().Add(c.offset) }
func (c shiftedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// outcome is nil for a run that succeeded and did everything it planned;
// otherwise a runEnded carrying the exit status.
func (s syncSummary) outcome() error {
	switch {
	case s.Status == string(runs.StatusHeld) || (s.Status == string(runs.StatusSucceeded) && s.Held):
		// A held entity may still end succeeded while the users entity
		// only counts "held"; either way the guard is waiting.
		return runEnded{runID: s.RunID, status: string(runs.StatusHeld), exit: exitHeld}
	case s.Status == string(runs.StatusSucceeded):
		return nil
	default:
		return runEnded{runID: s.RunID, status: s.Status, exit: exitFailed}
	}
}

// runEnded is the error of a sync whose run did not simply succeed.
type runEnded struct {
	runID, status string
	exit          exitStatus
}

func (e runEnded) Error() string          { return fmt.Sprintf("run %s ended %s", e.runID, e.status) }
func (e runEnded) exitStatus() exitStatus { return e.exit }

// syncSummary is what a one-shot sync prints.
type syncSummary struct {
	RunID         string         `json:"run"`
	Mode          string         `json:"mode"`
	Status        string         `json:"status"`
	Error         string         `json:"error,omitempty"`
	Creates       int            `json:"creates"`
	Matches       int            `json:"matches"`
	Links         int            `json:"links"`
	Updates       int            `json:"updates"`
	Suspends      int            `json:"suspends"`
	Reactivations int            `json:"reactivations"`
	Unsynced      int            `json:"unsynced"`
	Failed        int            `json:"errors"`
	Held          bool           `json:"held,omitempty"`
	Credentials   int            `json:"credentialsWaiting"`
	Graph         graphFigures   `json:"graph"`
	Elapsed       float64        `json:"elapsedSeconds"`
	Counts        map[string]int `json:"counts"`
	// Entities are each entity's figures, by kind; Order is their order
	// in the run.
	Entities map[string]entityFigures `json:"entities"`
	Order    []string                 `json:"-"`
}

// entityFigures are one entity's part of a sync's result, derived from
// its counts in the run record (see entityColumns).
type entityFigures struct {
	Status        string `json:"status"`
	Creates       int    `json:"creates"`
	Updates       int    `json:"updates"`
	Deletes       int    `json:"deletes"`
	MemberAdds    int    `json:"memberAdds"`
	MemberRemoves int    `json:"memberRemoves"`
	Unsynced      int    `json:"unsynced"`
	Errors        int    `json:"errors"`
	Writes        int    `json:"writes"`
}

// entityColumns maps a plan action to its column in entityFigures. Every
// entity counts its changes as "plan.ACTION" when it plans (a simulated
// run reports these) and "applied.ACTION" / "failed.ACTION" as it applies
// (an applied run reports these; every failed.* is an error). Users:
// create → creates; update, reactivate and link (an existing account
// adopted, and brought in line) → updates; suspend (the users' delete,
// reversible) → deletes. Memberships: addMember → memberAdds, removeMember
// → memberRemoves. "unsynced" is the people or objects left alone, and
// writes are the "ops" count: the operations apply sent to Graph (apply
// sends only writes). An action missing here is in counts, not in a column.
var entityColumns = map[plan.Action]func(*entityFigures) *int{
	plan.Create:     func(f *entityFigures) *int { return &f.Creates },
	plan.Update:     func(f *entityFigures) *int { return &f.Updates },
	plan.Reactivate: func(f *entityFigures) *int { return &f.Updates },
	plan.Link:       func(f *entityFigures) *int { return &f.Updates },
	plan.Suspend:    func(f *entityFigures) *int { return &f.Deletes },
	"delete":        func(f *entityFigures) *int { return &f.Deletes },
	"addMember":     func(f *entityFigures) *int { return &f.MemberAdds },
	"removeMember":  func(f *entityFigures) *int { return &f.MemberRemoves },
}

func figuresOf(mode string, e runs.EntityRun) entityFigures {
	f := entityFigures{Status: string(e.Status), Unsynced: e.Counts["unsynced"], Writes: e.Counts["ops"]}
	done := "applied."
	if mode == runs.ModeSimulate {
		done = "plan."
	}
	for k, n := range e.Counts {
		if action, ok := strings.CutPrefix(k, done); ok {
			if col, ok := entityColumns[plan.Action(action)]; ok {
				*col(&f) += n
			}
		}
		if strings.HasPrefix(k, "failed.") {
			f.Errors += n
		}
	}
	return f
}

type graphFigures struct {
	// Requests are HTTP requests (a $batch counts once); Operations count
	// every request inside batches too.
	Requests   int64 `json:"requests"`
	Operations int64 `json:"operations"`
	Writes     int64 `json:"writes"`
	Throttled  int64 `json:"throttled"`
	Batches    int64 `json:"batches"`
}

func (w *world) syncOnce(ctx context.Context, rosterPath, mode string, entities []string) (syncSummary, error) {
	return w.syncFeed(ctx, rosterPath, mode, entities, feedChoice{})
}

// syncFeed runs one sync of the feed at rosterPath through a profile that
// says what choice says.
func (w *world) syncFeed(ctx context.Context, rosterPath, mode string, entities []string, choice feedChoice) (syncSummary, error) {
	return w.syncFeedWatched(ctx, rosterPath, mode, entities, choice, nil)
}

// watchEvery is how often a watched sync looks at its run record.
const watchEvery = 250 * time.Millisecond

// syncFeedWatched is syncFeed showing the run's record to watch (when not
// nil) while it runs, every watchEvery, and once more when it has ended.
func (w *world) syncFeedWatched(ctx context.Context, rosterPath, mode string, entities []string, choice feedChoice, watch func(runs.Run)) (syncSummary, error) {
	// The profile names the feed inside the world's feed folder, as a
	// customer's profile names one inside its own (reconcile.FileSource).
	abs, err := filepath.Abs(rosterPath)
	if err != nil {
		return syncSummary{}, err
	}
	rel, err := filepath.Rel(w.feedDir, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return syncSummary{}, fmt.Errorf("roster %s is not inside %s", abs, w.feedDir)
	}
	store := w.app.Store
	// Every feature is on: the command runs the entities it was asked for.
	c := tenant.Customer{ID: syncCustomer, Name: "Simulated school", TenantID: w.tenantID,
		Features: tenant.Features{Users: true, Groups: true, Classrooms: true, Calendar: true, Hierarchies: true}}
	snap, found, err := w.simTenant(ctx)
	if err != nil {
		return syncSummary{}, err
	}
	if !found {
		return syncSummary{}, fmt.Errorf("simulated tenant %s is missing", w.tenantID)
	}
	for _, d := range snap.Domains {
		if d.IsVerified && !d.IsInitial {
			c.Domains = append(c.Domains, d.ID)
		}
	}
	// What runs learned of the tenant (its edition) is kept, as the
	// service keeps it on a customer.
	if old, err := store.GetCustomer(ctx, c.ID); err == nil && old.TenantID == c.TenantID {
		c.Tenant, c.Education = old.Tenant, old.Education
	}
	if err := store.PutCustomer(ctx, c); err != nil {
		return syncSummary{}, err
	}
	p := tenant.Profile{CustomerID: c.ID, ID: syncProfile, Name: "Users", Enabled: false, RunAt: "02:00", TimeZone: "Europe/London",
		Entities: entities, AcademicSession: choice.session, Source: tenant.RosterSource{Kind: tenant.SourceCSV, Path: rel, Format: choice.format}}
	if err := store.SaveProfile(ctx, p); err != nil {
		return syncSummary{}, err
	}
	before, err := w.sim.Stats(ctx, w.tenantID)
	if err != nil {
		return syncSummary{}, err
	}
	start := time.Now()
	run, err := w.app.Pipeline.StartRun(ctx, pipeline.RunRequest{CustomerID: c.ID, ProfileID: p.ID, Mode: mode})
	if err != nil {
		return syncSummary{}, err
	}
	stopWatch := func() {}
	if watch != nil {
		stopWatch = watchRun(ctx, func(ctx context.Context) (runs.Run, error) { return store.GetRun(ctx, c.ID, run.ID) }, watchEvery, watch)
	}
	err = w.stack.Host.DrainUntil(ctx, 50*time.Millisecond, func(ctx context.Context) bool {
		r, err := store.GetRun(ctx, c.ID, run.ID)
		return err == nil && r.Status.Done()
	})
	stopWatch()
	if err != nil {
		return syncSummary{}, err
	}
	elapsed := time.Since(start)
	if run, err = store.GetRun(ctx, c.ID, run.ID); err != nil {
		return syncSummary{}, err
	}
	if watch != nil {
		watch(run)
	}
	after, err := w.sim.Stats(ctx, w.tenantID)
	if err != nil {
		return syncSummary{}, err
	}
	sum := summarize(run)
	sum.Elapsed = elapsed.Seconds()
	sum.Graph = graphDelta(before, after)
	if n, err := w.app.Vault.Count(ctx, c.ID, run.ID); err == nil {
		sum.Credentials = n
	}
	return sum, nil
}

func graphDelta(before, after graphsim.Stats) graphFigures {
	var ops int64
	for k, n := range after.Requests {
		ops += n - before.Requests[k]
	}
	return graphFigures{Requests: after.HTTPRequests - before.HTTPRequests, Operations: ops, Writes: after.Writes - before.Writes,
		Throttled: after.Throttled - before.Throttled, Batches: after.Batches - before.Batches}
}

func summarize(r runs.Run) syncSummary {
	c := r.Counts
	s := syncSummary{RunID: r.ID, Mode: r.Mode, Status: string(r.Status), Counts: c,
		Matches: c["matched"], Unsynced: c["unsynced"], Held: c["held"] > 0, Entities: map[string]entityFigures{}}
	for _, e := range r.Entities {
		s.Entities[e.Entity] = figuresOf(r.Mode, e)
		s.Order = append(s.Order, e.Entity)
	}
	if r.Mode == runs.ModeSimulate {
		s.Creates, s.Links, s.Updates, s.Suspends, s.Reactivations = c["plan.create"], c["plan.link"], c["plan.update"], c["plan.suspend"], c["plan.reactivate"]
	} else {
		s.Creates, s.Links, s.Updates, s.Suspends, s.Reactivations = c["applied.create"], c["applied.link"], c["applied.update"], c["applied.suspend"], c["applied.reactivate"]
		for k, n := range c {
			if strings.HasPrefix(k, "failed.") {
				s.Failed += n
			}
		}
	}
	for _, e := range r.Entities {
		if e.Error != "" {
			s.Error = e.Error
		}
	}
	return s
}

func (s syncSummary) print(w io.Writer) {
	fmt.Fprintf(w, "run %s (%s): %s in %.1fs\n", s.RunID, s.Mode, s.Status, s.Elapsed)
	if s.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", s.Error)
	}
	verb := "applied"
	if s.Mode == runs.ModeSimulate {
		verb = "planned"
	}
	fmt.Fprintf(w, "  %s: %d creates, %d links, %d updates, %d suspends, %d reactivations; %d already matched, %d unsynced, %d errors\n",
		verb, s.Creates, s.Links, s.Updates, s.Suspends, s.Reactivations, s.Matches, s.Unsynced, s.Failed)
	if len(s.Order) > 1 {
		for _, name := range s.Order {
			f := s.Entities[name]
			fmt.Fprintf(w, "    %-10s %s: %d creates, %d updates, %d deletes, %d member adds, %d member removes, %d unsynced, %d errors, %d writes\n",
				name, f.Status, f.Creates, f.Updates, f.Deletes, f.MemberAdds, f.MemberRemoves, f.Unsynced, f.Errors, f.Writes)
		}
	}
	if s.Held {
		fmt.Fprintln(w, "  held by the deletion guard: confirm the run to apply it")
	}
	fmt.Fprintf(w, "  graph: %d requests (%d operations in %d batches), %d writes, %d throttled (429)\n",
		s.Graph.Requests, s.Graph.Operations, s.Graph.Batches, s.Graph.Writes, s.Graph.Throttled)
	if s.Credentials > 0 {
		fmt.Fprintf(w, "  %d initial credentials sealed until an export of them is acknowledged\n", s.Credentials)
	}
}

var errNoTenant = errors.New("no simulated tenant in the state folder")

// runTenant implements "rostersync tenant export": the simulated tenant of
// a sync's --state folder (its write log replayed, so a killed sync's
// tenant too), or every tenant (or --tenant's) of a running simulator, in
// the seed format either way.
func runTenant(ctx context.Context, args []string, env environment) error {
	const usage = "usage: rostersync tenant export (--state DIR | --from URL [--tenant ID])"
	if len(args) == 0 || args[0] != "export" {
		return usageError{usage}
	}
	fs := flag.NewFlagSet("tenant export", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	dir := fs.String("state", "", "the folder given to rostersync sync")
	from := fs.String("from", "", "a running simulator's `URL`, e.g. http://127.0.0.1:8990")
	tenantID := fs.String("tenant", "", "with --from, the tenant `id` to export (default every tenant)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if (*dir == "") == (*from == "") || (*tenantID != "" && *from == "") || fs.NArg() > 0 {
		return usageError{usage}
	}
	if *from != "" {
		return graphsim.ExportCommand(ctx, []string{"--from", *from, "--tenant", *tenantID}, env.stdout, env.stderr)
	}
	st, found, err := graphsim.ReadDurableState(filepath.Join(*dir, simTenantFile), func(msg string) {
		fmt.Fprintln(env.stderr, "rostersync tenant export: warning:", msg)
	})
	if err == nil && !found {
		err = os.ErrNotExist
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errNoTenant, err)
	}
	return graphsim.WriteState(env.stdout, st)
}

func runSample(ctx context.Context, args []string, env environment) error {
	return oneroster.SampleCommand(ctx, args, env.stdout, env.stderr)
}

func runGraphsim(ctx context.Context, args []string, env environment) error {
	return graphsim.RunCommand(ctx, args, env.stdout, env.stderr)
}
