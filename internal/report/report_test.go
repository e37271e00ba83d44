package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 3, 9, 2, 0, 0, 0, time.UTC)

// hostileName is a person's name as a hostile MIS might send it.
const hostileName = `<script>alert("pwned")</script>`

// SampleInput is a run of users then groups: users applied with a held
// suspension and a failed change, groups failed before planning. Its
// users made len(samples) samples.
func sampleInput(samples int) Input {
	run := runs.New("20260309T020000Z-abc", "oakfield", "nightly", runs.TriggerTimer, runs.ModeApply, "2026-03-09", []string{"users", "groups"}, t0)
	run.Status, run.StartedAt, run.EndedAt = runs.StatusHeld, t0.Add(time.Second), t0.Add(5*time.Minute)
	users := &run.Entities[0]
	users.Status, users.StartedAt, users.EndedAt, users.Steps = runs.StatusHeld, t0.Add(time.Second), t0.Add(4*time.Minute), 3
	users.Counts = map[string]int{"creates": 2, "updates": 1, "failed": 1}
	users.Held = "1 suspension waits for a confirmation: the plan suspends more than the limit"
	for i := range samples {
		users.Samples = append(users.Samples, runs.Sample{At: t0.Add(time.Duration(i) * 20 * time.Second),
			Writes: 40 + 10*i, Throttled: i % 3, WaitMs: int64(i%3) * 1500, Done: 50 * (i + 1)})
	}
	groups := &run.Entities[1]
	groups.Status, groups.Error = runs.StatusFailed, "roster feed unreadable: classes.csv line 3"
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oakfield", RunID: run.ID, Entity: "users", Matched: 7,
		Changes: []plan.Change{
			{Kind: plan.KindUser, Key: "s-001", Action: plan.Create, Reason: plan.CreateBecauseNew, Detail: "new in the MIS",
				After: map[string]string{"displayName": "Niamh Ó Briain", "userPrincipalName": "niamh.obriain@oakfield.example"}},
			{Kind: plan.KindUser, Key: "s-002", Action: plan.Create, Reason: plan.CreateBecauseNew, Detail: "new in the MIS",
				After: map[string]string{"displayName": hostileName, "userPrincipalName": "x@oakfield.example"}},
			{Kind: plan.KindUser, Key: "s-003", Action: plan.Update, Reason: plan.UpdateBecauseMappedChanged, Detail: "surname changed", TargetID: "obj-3",
				Before: map[string]string{"displayName": "Ada Lovelace", "surname": "Lovelace"}, After: map[string]string{"displayName": "Ada Lovelace-Okafor", "surname": "Lovelace-Okafor"}},
			{Kind: plan.KindUser, Key: "s-004", Action: plan.Suspend, Reason: plan.SuspendBecauseLeftMIS, Detail: "left the MIS", TargetID: "obj-4",
				Before: map[string]string{"accountEnabled": "true"}, After: map[string]string{"accountEnabled": "false"}, Held: true},
			{Kind: plan.KindUser, Key: `"><img src=x onerror=alert(1)>`, Action: plan.Link, Reason: plan.LinkBecauseMatched, Detail: "matched by work email", TargetID: "obj-5"},
		},
		Unsynced: []plan.Unsynced{
			{Key: "s-101", UserType: "student", Reason: plan.UnsyncedBecauseExcluded, Detail: "excluded by the school"},
			{Key: "s-102", UserType: "teacher", Reason: plan.UnsyncedBecauseNoUsername, Detail: "no usable username: " + hostileName},
		},
		Quarantined: []plan.Quarantined{{File: "enrollments.csv", Line: 12, Column: "classSourcedId", SourcedID: "e-9", Reason: "class not in the feed"}},
		Guard:       plan.Guard{Suspends: 1, Limit: 0, Held: true, Detail: "suspensions above the limit wait"},
	}
	entries := []state.Entry{
		{Change: p.Changes[0], Status: state.EntryDone, Created: "obj-1"},
		{Change: p.Changes[1], Status: state.EntryDone, Created: "obj-2"},
		{Change: p.Changes[2], Status: state.EntryFailed, Error: "Graph refused the change: Request_BadRequest"},
		{Change: p.Changes[3], Status: state.EntryPending},
		{Change: p.Changes[4], Status: state.EntryDone},
	}
	return Input{Run: run, Plans: map[string]EntityPlan{"users": {Plan: p, Entries: entries}}, Generated: t0.Add(time.Hour)}
}

func render(t *testing.T, in Input) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, in); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.String()
}

// TestGolden keeps the page byte-stable for a run with samples, and for
// one without any.
func TestGolden(t *testing.T) {
	tests := []struct {
		name    string
		samples int
	}{
		{"report", 6},
		{"report-no-samples", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, sampleInput(tt.samples))
			path := filepath.Join("testdata", tt.name+".golden.html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/report -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("Render differs from %s (go test ./internal/report -update rewrites it after review)", path)
			}
		})
	}
}

// TestHostileDataIsEscaped: names and keys from the MIS are data, never
// markup; the page's own script is the only one.
func TestHostileDataIsEscaped(t *testing.T) {
	got := render(t, sampleInput(2))
	for _, bad := range []string{hostileName, `<img src=x`, `"><img`} {
		if strings.Contains(got, bad) {
			t.Errorf("report contains %q unescaped", bad)
		}
	}
	for _, want := range []string{
		`&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`,               // in text
		`&#34;&gt;&lt;img src=x onerror=alert(1)&gt;`,                       // a key in text
		`data-q="s-002 &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;`, // in an attribute
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks the escaped form %s", want)
		}
	}
	if n := strings.Count(got, "<script"); n != 1 {
		t.Errorf("report has %d <script elements, want only its own", n)
	}
}

// TestScriptAllowedByItsPolicy: the policy names the hash of exactly the
// script the page carries, so a browser runs it (and nothing else).
func TestScriptAllowedByItsPolicy(t *testing.T) {
	got := render(t, sampleInput(1))
	m := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindStringSubmatch(got)
	if m == nil {
		t.Fatal("report has no script")
	}
	sum := sha256.Sum256([]byte(m[1]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	if !strings.Contains(ContentSecurityPolicy, "script-src "+hash) {
		t.Errorf("ContentSecurityPolicy = %q, want script-src %s", ContentSecurityPolicy, hash)
	}
	meta := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]*)">`).FindStringSubmatch(got)
	if meta == nil || html.UnescapeString(meta[1]) != ContentSecurityPolicy {
		t.Errorf("report's policy meta tag = %q, want %q", meta, ContentSecurityPolicy)
	}
	for _, external := range []string{"http://", "https://", "//cdn", "@import", "url("} {
		if i := strings.Index(got, external); i >= 0 && !strings.Contains(got[max(i-30, 0):i], "xmlns=") {
			t.Errorf("report refers to something outside itself: %q", got[max(i-30, 0):min(i+40, len(got))])
		}
	}
}

// TestChartPoints: one point per sample, whatever the samples' times; no
// samples is a sentence, not an empty or broken chart.
func TestChartPoints(t *testing.T) {
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	tests := []struct {
		name    string
		samples []runs.Sample
	}{
		{"none", nil},
		{"one", []runs.Sample{{At: at(0), Writes: 3}}},
		{"same instant", []runs.Sample{{At: at(5), Writes: 1}, {At: at(5), Writes: 2}, {At: at(5), Throttled: 4, WaitMs: 2000}}},
		{"over time", []runs.Sample{{At: at(0), Writes: 20}, {At: at(30), Throttled: 2, WaitMs: 900}, {At: at(45), Writes: 5}, {At: at(300), Writes: 0}}},
	}
	pt := regexp.MustCompile(`<g class="rs-pt">`)
	coord := regexp.MustCompile(`(?:x|y|cx|cy|width|height)="(-?[0-9.]+)"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := sampleInput(0)
			in.Run.Entities[0].Samples = tt.samples
			got := render(t, in)
			if n := len(pt.FindAllString(got, -1)); n != len(tt.samples) {
				t.Errorf("chart has %d points, want %d", n, len(tt.samples))
			}
			if len(tt.samples) == 0 {
				if strings.Contains(got, "<svg") || !strings.Contains(got, "No steps of this run were sampled") {
					t.Errorf("a run without samples should say so instead of drawing a chart")
				}
				return
			}
			// Everything drawn stays inside the chart's box.
			for _, m := range coord.FindAllStringSubmatch(got, -1) {
				var v float64
				if _, err := fmt.Sscan(m[1], &v); err != nil || v < 0 || v > chartW {
					t.Errorf("coordinate %s out of the chart", m[0])
				}
			}
		})
	}
}

type fakeReader struct {
	run     runs.Run
	runErr  error
	plans   map[string]*plan.Plan
	planErr error
}

func (f fakeReader) GetRun(ctx context.Context, customerID, runID string) (runs.Run, error) {
	return f.run, f.runErr
}

func (f fakeReader) LoadPlan(ctx context.Context, customerID, runID, entity string) (*plan.Plan, []state.Entry, error) {
	if f.planErr != nil {
		return nil, nil, f.planErr
	}
	p, ok := f.plans[entity]
	if !ok {
		return nil, nil, fmt.Errorf("load plan of run %s %s: %w", runID, entity, state.ErrNotFound)
	}
	return p, nil, nil
}

func TestLoad(t *testing.T) {
	in := sampleInput(0)
	users := in.Plans["users"].Plan
	broken := errors.New("table unavailable")
	tests := []struct {
		name      string
		r         fakeReader
		wantErr   error
		wantPlans []string
	}{
		{"an entity without a plan is left out", fakeReader{run: in.Run, plans: map[string]*plan.Plan{"users": users}}, nil, []string{"users"}},
		{"no run", fakeReader{runErr: state.ErrNotFound}, state.ErrNotFound, nil},
		{"a plan unreadable", fakeReader{run: in.Run, planErr: broken}, broken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(context.Background(), tt.r, "oakfield", in.Run.ID, t0)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load() error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			var names []string
			for _, e := range got.Run.Entities {
				if _, ok := got.Plans[e.Entity]; ok {
					names = append(names, e.Entity)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.wantPlans, ",") {
				t.Errorf("Load() plans = %v, want %v", names, tt.wantPlans)
			}
		})
	}
}

// TestPlanWithoutJournal shows every change of a plan loaded without its
// journal, as pending.
func TestPlanWithoutJournal(t *testing.T) {
	in := sampleInput(0)
	ep := in.Plans["users"]
	ep.Entries = nil
	in.Plans["users"] = ep
	got := render(t, in)
	if n := strings.Count(got, `<tr class="rs-change"`); n != len(ep.Plan.Changes) {
		t.Errorf("report shows %d changes, want %d", n, len(ep.Plan.Changes))
	}
}
