// Package report renders a run as one self-contained HTML page for the
// school's admin: each entity's status and counts, a chart of the run over
// time, the plan with the reason for every change (filterable by action,
// searchable by person), what held plans would do once confirmed, errors,
// and the people left unsynced with why.
//
// The page needs nothing but itself: styles, script and chart are inline,
// so it works offline, as a file, and embedded in the vendor's UI. Its
// Content-Security-Policy (a meta tag, and a header where served) forbids
// every load and allows only the page's own script by hash.
//
// Plan data comes from the MIS and the tenant and is hostile input: the
// page is rendered with html/template, which escapes it by context. The
// page is for the admin, so it names people; nothing here logs.
package report

import (
	"cmp"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
)

// Reader is what a report reads; *state.Store has it.
type Reader interface {
	GetRun(ctx context.Context, customerID, runID string) (runs.Run, error)
	LoadPlan(ctx context.Context, customerID, runID, entity string) (*plan.Plan, []state.Entry, error)
}

// Input is everything a report shows: the run record and each entity's
// stored plan with its apply journal.
type Input struct {
	Run runs.Run
	// Plans by entity name; an entity that has not planned (queued,
	// skipped, failed before planning) has none.
	Plans map[string]EntityPlan
	// Generated is when the report was made, printed in its footer.
	Generated time.Time
}

// EntityPlan is one entity's stored plan and its journal, one entry per
// change in plan order (state.Store.LoadPlan's answer).
type EntityPlan struct {
	Plan    *plan.Plan
	Entries []state.Entry
}

// Load reads a run and every plan its entities stored. A run that does
// not exist is state.ErrNotFound; an entity without a plan is left out of
// Plans.
func Load(ctx context.Context, r Reader, customerID, runID string, now time.Time) (Input, error) {
	run, err := r.GetRun(ctx, customerID, runID)
	if err != nil {
		return Input{}, fmt.Errorf("report of run %s: %w", runID, err)
	}
	in := Input{Run: run, Plans: map[string]EntityPlan{}, Generated: now.UTC()}
	for _, e := range run.Entities {
		p, entries, err := r.LoadPlan(ctx, customerID, runID, e.Entity)
		if errors.Is(err, state.ErrNotFound) {
			continue
		}
		if err != nil {
			return Input{}, fmt.Errorf("report of run %s: %w", runID, err)
		}
		in.Plans[e.Entity] = EntityPlan{Plan: p, Entries: entries}
	}
	return in, nil
}

var (
	//go:embed report.html.tmpl
	pageTemplate string
	//go:embed report.css
	pageStyle string
	//go:embed report.js
	pageScript string
)

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp":    stamp,
	"duration": duration,
	"f1":       func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"seconds":  func(ms int64) string { return fmt.Sprintf("%.1f s", float64(ms)/1000) },
	"add":      func(a, b float64) float64 { return a + b },
	"sub":      func(a, b float64) float64 { return a - b },
}).Parse(pageTemplate))

// ContentSecurityPolicy is the policy the page declares in a meta tag and
// a server should send as a header with it: nothing is loaded from
// anywhere, inline styles are allowed, and the only script that runs is
// the page's own (by its hash). Were a plan's data ever read as markup,
// the browser would still refuse to run it.
var ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src '" + scriptHash(pageScript) + "'; base-uri 'none'; form-action 'none'"

func scriptHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Render writes the report of in as one HTML page.
func Render(w io.Writer, in Input) error {
	v := build(in)
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("render report of run %s: %w", in.Run.ID, err)
	}
	return nil
}

// view is what the template shows, worked out from an Input.
type view struct {
	Run       runs.Run
	Generated time.Time
	CSP       string
	Style     template.CSS
	Script    template.JS
	Entities  []entityView
	Charts    []chart
	// Samples counts the chart's points over all entities.
	Samples int
	// Rows are every entity's planned changes, in run then plan order.
	Rows     []row
	Actions  []count
	Planned  []string // entities with a plan, for the entity filter
	Held     []heldView
	Errors   []problem
	Unsynced []unsyncedRow
	Reasons  []count
}

type entityView struct {
	runs.EntityRun
	Counts      []count
	HasPlan     bool
	Changes     int
	Matched     int
	Unsynced    int
	Quarantined int
	Journal     []count // entries by journal status
}

type count struct {
	Name string
	N    int
}

type row struct {
	Entity  string
	Action  plan.Action
	Symbol  string
	Key     string
	Display string
	UPN     string
	Target  string
	Reason  plan.Reason
	Detail  string
	Status  string
	Held    bool
	Error   string
	Fields  []fieldChange
	// Search is what the search box matches, lower case: the sourcedId,
	// the names and principal name shown, and the object id.
	Search string
}

type fieldChange struct{ Name, Before, After string }

type heldView struct {
	Entity  string
	Why     string
	Guard   plan.Guard
	Actions []count
	Total   int
}

type problem struct {
	Entity string
	Where  string
	What   string
}

type unsyncedRow struct {
	Entity string
	plan.Unsynced
	Search string
}

func build(in Input) view {
	v := view{Run: in.Run, Generated: in.Generated, CSP: ContentSecurityPolicy,
		Style: template.CSS(pageStyle), Script: template.JS(pageScript)}
	actions, reasons := map[string]int{}, map[string]int{}
	for _, e := range in.Run.Entities {
		ev := entityView{EntityRun: e, Counts: counts(e.Counts)}
		if ch, ok := buildChart(e); ok {
			v.Charts = append(v.Charts, ch)
			v.Samples += len(ch.Points)
		}
		if e.Error != "" {
			v.Errors = append(v.Errors, problem{Entity: e.Entity, Where: "run", What: e.Error})
		}
		ep, ok := in.Plans[e.Entity]
		if ok && ep.Plan != nil {
			p := ep.Plan
			ev.HasPlan, ev.Changes, ev.Matched, ev.Unsynced, ev.Quarantined = true, len(p.Changes), p.Matched, len(p.Unsynced), len(p.Quarantined)
			v.Planned = append(v.Planned, e.Entity)
			journal := map[string]int{}
			held := map[string]int{}
			for _, en := range entries(ep) {
				r := changeRow(e.Entity, en)
				v.Rows = append(v.Rows, r)
				actions[string(en.Action)]++
				journal[en.Status]++
				if en.Held {
					held[string(en.Action)]++
				}
				if en.Status == state.EntryFailed {
					v.Errors = append(v.Errors, problem{Entity: e.Entity, Where: string(en.Action) + " " + en.Key, What: cmp.Or(en.Error, "failed")})
				}
			}
			ev.Journal = counts(journal)
			if len(held) > 0 || e.Status == runs.StatusHeld || p.Guard.Held {
				h := heldView{Entity: e.Entity, Why: e.Held, Guard: p.Guard, Actions: counts(held)}
				for _, n := range held {
					h.Total += n
				}
				v.Held = append(v.Held, h)
			}
			for _, msg := range p.Errors {
				v.Errors = append(v.Errors, problem{Entity: e.Entity, Where: "plan", What: msg})
			}
			for _, q := range p.Quarantined {
				v.Errors = append(v.Errors, problem{Entity: e.Entity, Where: quarantineWhere(q), What: q.Reason})
			}
			for _, u := range p.Unsynced {
				v.Unsynced = append(v.Unsynced, unsyncedRow{Entity: e.Entity, Unsynced: u, Search: strings.ToLower(u.Key)})
				reasons[string(u.Reason)]++
			}
		} else if e.Status == runs.StatusHeld {
			v.Held = append(v.Held, heldView{Entity: e.Entity, Why: e.Held})
		}
		v.Entities = append(v.Entities, ev)
	}
	v.Actions, v.Reasons = counts(actions), counts(reasons)
	return v
}

// entries are the plan's changes with their journal; a plan loaded
// without one shows every change pending.
func entries(ep EntityPlan) []state.Entry {
	if len(ep.Entries) > 0 || len(ep.Plan.Changes) == 0 {
		return ep.Entries
	}
	out := make([]state.Entry, 0, len(ep.Plan.Changes))
	for _, c := range ep.Plan.Changes {
		out = append(out, state.Entry{Change: c, Status: state.EntryPending})
	}
	return out
}

func changeRow(entity string, en state.Entry) row {
	display := cmp.Or(en.After["displayName"], en.Before["displayName"])
	upn := cmp.Or(en.After["userPrincipalName"], en.Before["userPrincipalName"])
	target := cmp.Or(en.TargetID, en.Created)
	r := row{Entity: entity, Action: en.Action, Symbol: en.Action.Symbol(), Key: en.Key, Display: display, UPN: upn,
		Target: target, Reason: en.Reason, Detail: en.Detail, Status: en.Status, Held: en.Held, Error: en.Error,
		Search: strings.ToLower(strings.Join([]string{en.Key, display, upn, target}, " "))}
	if en.Action != plan.Create {
		// A create's After is the whole new object; the row already says
		// who. For other changes the fields that differ are the point.
		for _, k := range slices.Sorted(maps.Keys(en.After)) {
			r.Fields = append(r.Fields, fieldChange{Name: k, Before: en.Before[k], After: en.After[k]})
		}
	}
	return r
}

func quarantineWhere(q plan.Quarantined) string {
	where := q.File
	if q.Line > 0 {
		where += fmt.Sprintf(":%d", q.Line)
	}
	if q.Column != "" {
		where += " " + q.Column
	}
	if q.SourcedID != "" {
		where += " (" + q.SourcedID + ")"
	}
	return where
}

// counts lists m by name, so the page is the same for the same run.
func counts(m map[string]int) []count {
	out := make([]count, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, count{Name: k, N: m[k]})
	}
	return out
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func duration(from, to time.Time) string {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return "—"
	}
	return to.Sub(from).Round(time.Second).String()
}
