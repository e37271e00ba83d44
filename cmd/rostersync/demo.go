package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/oneroster"
	"github.com/rostersync/rostersync/internal/oneroster/sample"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/report"
	"github.com/rostersync/rostersync/internal/roster"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// runDemo is the main job on the embedded default: a generated school is
// synced into a simulated Microsoft 365 tenant through the real pipeline
// (local Functions host, queue, handler, store, msgraph-sdk-go against the
// simulator with Graph's throttling), and each run is reported.
func runDemo(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	stateDir := fs.String("state", "", "keep the demo's state in this folder (default: a temporary folder, removed)")
	root := fs.String("root", "", "folder holding host.json and functions/ (default: found at or above the binary)")
	students := fs.Int("students", sample.DefaultStudents, "pupils in the generated school")
	staff := fs.Int("staff", sample.DefaultStaff, "staff in the generated school")
	timeScale := fs.Float64("time-scale", 60, "the simulated Graph runs this many times faster than real time")
	reportPath := fs.String("report", "", "write the last run's report (HTML) to this file (default: report.html in --state, else a kept temporary file)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	hostRoot, err := findRoot(*root, env)
	if err != nil {
		return err
	}
	dir := *stateDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rostersync-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	d := &demo{ctx: ctx, out: env.stdout, dir: dir}
	day1, day2, err := d.writeFeeds(*students, *staff)
	if err != nil {
		return err
	}
	w, err := openWorld(ctx, worldOptions{dir: filepath.Join(dir, "state"), tenantID: "sim-oakfield", domain: "oakfield.example",
		timeScale: *timeScale, root: hostRoot, feedDir: dir, getenv: demoSettings})
	if err != nil {
		return err
	}
	defer w.close()
	d.w = w
	d.printf("rostersync demo: Oakfield Academy (%d pupils, %d staff, generated) into a simulated Microsoft 365 tenant\n", *students, *staff)
	d.printf("Graph is simulated with its documented throttling, %g× faster than real time. State: %s\n\n", *timeScale, dir)
	steps := []struct {
		title, feed, mode string
	}{
		{"1. Simulate the first sync: the plan, applied to nothing", day1, runs.ModeSimulate},
		{"2. Apply it", day1, runs.ModeApply},
		{"3. Apply again at once: nothing has changed, so nothing is written", day1, runs.ModeApply},
		{"4. The next day's feed: a leaver, a joiner, a surname change", day2, runs.ModeApply},
	}
	for _, s := range steps {
		d.printf("%s\n", s.title)
		if err := d.sync(s.feed, s.mode); err != nil {
			return err
		}
	}
	if err := d.summary(); err != nil {
		return err
	}
	out := *reportPath
	if out == "" && *stateDir != "" {
		out = filepath.Join(dir, "report.html")
	}
	path, err := d.writeReport(out)
	if err != nil {
		return err
	}
	d.printf("6. The last run's report for the school's admin (one self-contained page: open it in a browser)\n   %s\n", path)
	return nil
}

// writeReport writes the report of the demo's last run, exactly as the
// API's GET .../runs/{run}/report renders it, to path, or to a temporary
// file that outlives the demo's temporary state when path is empty. It
// returns the file's absolute path.
func (d *demo) writeReport(path string) (string, error) {
	in, err := report.Load(d.ctx, d.w.app.Store, syncCustomer, d.lastRun, time.Now())
	if err != nil {
		return "", err
	}
	var f *os.File
	if path == "" {
		f, err = os.CreateTemp("", "rostersync-demo-report-*.html")
	} else {
		// It names (generated) pupils: readable by its owner only.
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	}
	if err != nil {
		return "", fmt.Errorf("demo report: %w", err)
	}
	if err := report.Render(f, in); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("demo report: %w", err)
	}
	return filepath.Abs(f.Name())
}

// The demo's daily summary goes from a mailbox of a simulated vendor
// tenant, as SummarySender would in production.
const (
	demoVendorTenant = "sim-vendor"
	demoSender       = "summaries@vendor.example"
	demoLogAddress   = "it-logs@oakfield.example"
)

func demoSettings(k string) string {
	return map[string]string{"SummarySender": demoSender, "SummaryTenantId": demoVendorTenant}[k]
}

// summary sends the day's summary email to the simulator, as the
// scheduler's tick does after midnight, and says where it went.
func (d *demo) summary() error {
	sim := d.w.sim.Embedded()
	if sim == nil || d.w.app.Summary == nil {
		return nil
	}
	if err := sim.AddTenant(graphsim.TenantState{ID: demoVendorTenant, DisplayName: "The vendor", Edition: graphsim.EditionBusiness,
		Domains: []graphsim.Domain{{ID: "vendor.example", IsVerified: true, IsDefault: true}},
		Users: []map[string]any{{"id": "5e5e5e5e-0000-4000-8000-000000000001", "userPrincipalName": demoSender,
			"displayName": "rostersync summaries", "mail": demoSender, "accountEnabled": true}}}); err != nil {
		return err
	}
	store := d.w.app.Store
	c, err := store.GetCustomer(d.ctx, syncCustomer)
	if err != nil {
		return err
	}
	c.SummaryEmail = demoLogAddress
	if err := store.PutCustomer(d.ctx, c); err != nil {
		return err
	}
	// Just after the school's next midnight: today's runs have ended.
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		return err
	}
	y, m, day := time.Now().In(london).Date()
	outs, err := d.w.app.Summary.Send(d.ctx, time.Date(y, m, day+1, 0, 30, 0, 0, london))
	if err != nil {
		return err
	}
	d.printf("5. The daily summary email (counts and run links, no names)\n")
	for _, o := range outs {
		if o.Sent != "" {
			d.printf("   summary of %s sent to %s from %s (tenant %s); the simulated mailbox has sent %d message(s)\n",
				o.Day, o.Sent, demoSender, demoVendorTenant, len(sim.SentMail(demoVendorTenant)))
		} else {
			d.printf("   no summary for %s: %s\n", o.Day, o.Reason)
		}
	}
	return nil
}

type demo struct {
	ctx context.Context
	out io.Writer
	dir string
	w   *world
	// lastRun is the id of the demo's latest run, whose report it writes.
	lastRun string
}

func (d *demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

// writeFeeds writes day 1 (a generated school) and day 2 (the same school a
// day later: one pupil left, one joined, one changed surname).
func (d *demo) writeFeeds(students, staff int) (string, string, error) {
	now := time.Now()
	year := now.Year()
	if now.Month() < time.September {
		year-- // the academic year started last September
	}
	r := sample.Generate(sample.Options{Seed: 7, Students: students, Staff: staff, StartYear: year})
	day1 := filepath.Join(d.dir, "feed-day1")
	if err := oneroster.WriteDir(day1, r, nil); err != nil {
		return "", "", err
	}
	next := changeADay(r)
	day2 := filepath.Join(d.dir, "feed-day2")
	if err := oneroster.WriteDir(day2, next, nil); err != nil {
		return "", "", err
	}
	return day1, day2, nil
}

// changeADay returns a copy of r a day later: the first pupil has left,
// a new pupil joined the first pupil's classes, and the second pupil's
// family name changed.
func changeADay(r *roster.Roster) *roster.Roster {
	next := *r
	next.People = slices.Clone(r.People)
	next.Enrollments = slices.Clone(r.Enrollments)
	var pupils []int
	for i, p := range next.People {
		if p.Role == roster.RoleStudent && p.Enabled {
			pupils = append(pupils, i)
		}
	}
	if len(pupils) < 2 {
		return &next
	}
	leaver, renamed := next.People[pupils[0]], pupils[1]
	next.People[renamed].FamilyName += "-Okafor"
	joiner := leaver
	joiner.SourcedID, joiner.GivenName, joiner.FamilyName, joiner.Identifier = "demo-joiner-1", "Niamh", "Ó Briain", "J0001"
	joiner.Agents = nil
	next.People = append(slices.Delete(next.People, pupils[0], pupils[0]+1), joiner)
	var enrol []roster.Enrollment
	for _, e := range next.Enrollments {
		if e.Person == leaver.SourcedID {
			e.SourcedID, e.Person = "demo-joiner-"+e.SourcedID, joiner.SourcedID
		}
		enrol = append(enrol, e)
	}
	next.Enrollments = enrol
	// Nothing else may point at the leaver, or the feed is (rightly)
	// rejected: their demographics row goes, and so do links from guardians.
	next.Demographics = slices.DeleteFunc(slices.Clone(r.Demographics), func(d roster.Demographics) bool { return d.SourcedID == leaver.SourcedID })
	for i := range next.People {
		if slices.Contains(next.People[i].Agents, leaver.SourcedID) {
			next.People[i].Agents = slices.DeleteFunc(slices.Clone(next.People[i].Agents), func(a string) bool { return a == leaver.SourcedID })
		}
	}
	next.Sort()
	return &next
}

// demoEntities are what the demo syncs: accounts, then groups (year
// groups beside the classrooms, by the profile defaults), then Teams
// classes.
var demoEntities = []string{tenant.EntityUsers, tenant.EntityGroups, tenant.EntityClassrooms}

func (d *demo) sync(feed, mode string) error {
	sum, err := d.w.syncOnce(d.ctx, feed, mode, demoEntities)
	if err != nil {
		return err
	}
	if err := d.w.saveTenant(); err != nil {
		return err
	}
	d.lastRun = sum.RunID
	d.report(sum)
	return nil
}

func (d *demo) report(sum syncSummary) {
	var b strings.Builder
	sum.print(&b)
	for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		d.printf("   %s\n", line)
	}
	for _, entity := range sum.Order {
		d.reportPlan(sum.RunID, entity)
	}
	if sum.Graph.Writes > 3000 {
		floor := max(float64(sum.Graph.Writes)-3000, 0) / 20 / 60
		d.printf("     Graph's write quota alone needs %.1f s at this time scale (writes beyond the 3,000 burst ÷ 20/s)\n", floor)
	}
	d.printf("\n")
}

// reportPlan shows a few of an entity's changes of each action, and why
// the rest of the roster was left alone.
func (d *demo) reportPlan(runID, entity string) {
	p, entries, err := d.w.app.Store.LoadPlan(d.ctx, syncCustomer, runID, entity)
	if err != nil {
		d.printf("     %s: no plan (%v)\n", entity, err)
		return
	}
	shown := map[plan.Action]int{}
	for _, e := range entries {
		if shown[e.Action] >= 2 {
			continue
		}
		shown[e.Action]++
		target := cmp.Or(e.After["userPrincipalName"], e.After["displayName"], e.TargetID)
		d.printf("     %s %-8s %-20s %s — %s [%s]\n", e.Action.Symbol(), e.Action, e.Key, target, e.Detail, e.Status)
	}
	if more := len(entries) - sumOf(shown); more > 0 {
		d.printf("     … and %d more %s change(s)\n", more, entity)
	}
	reasons := map[plan.Reason]int{}
	for _, u := range p.Unsynced {
		reasons[u.Reason]++
	}
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		d.printf("     · %d left alone: %s\n", reasons[r], r)
	}
}

func sumOf(m map[plan.Action]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
