package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

var viewStart = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)

// runAt is a two-entity apply run with users at the given progress.
func runAt(users runs.EntityRun) runs.Run {
	users.Entity = "users"
	return runs.Run{ID: "r1", Mode: runs.ModeApply, Entities: []runs.EntityRun{users, {Entity: "groups", Status: runs.StatusQueued}}}
}

func TestProgressViewPlainLines(t *testing.T) {
	var out bytes.Buffer
	v := &progressView{w: &out, every: 10 * time.Second}
	steps := []struct {
		after time.Duration
		run   runs.Run
		want  string // "" when nothing is to be printed
	}{
		{0, runAt(runs.EntityRun{Status: runs.StatusRunning}), "progress: users running, planning\n"},
		{time.Second, runAt(runs.EntityRun{Status: runs.StatusRunning, Progress: &runs.Progress{Total: 400}}), ""}, // moved, too soon
		{11 * time.Second, runAt(runs.EntityRun{Status: runs.StatusRunning, Progress: &runs.Progress{Total: 400, Done: 100, WritesPerSecond: 12.5,
			Throttled: 3, ThrottledWaitMs: 2140, EstimatedEnd: viewStart.Add(35 * time.Second)}}),
			"progress: users running, 100/400 operations (25%), 12.5 writes/s, 3 throttled (2.1s waited), about 24s left\n"},
		{25 * time.Second, runAt(runs.EntityRun{Status: runs.StatusRunning, Progress: &runs.Progress{Total: 400, Done: 100, WritesPerSecond: 12.5,
			Throttled: 3, ThrottledWaitMs: 2140, EstimatedEnd: viewStart.Add(35 * time.Second)}}),
			"progress: users running, 100/400 operations (25%), 12.5 writes/s, 3 throttled (2.1s waited), about 10s left\n"},
		{26 * time.Second, runAt(runs.EntityRun{Status: runs.StatusSucceeded, Progress: &runs.Progress{Total: 400, Done: 400, Throttled: 3, ThrottledWaitMs: 2140}}),
			"progress: users succeeded, 400/400 operations (100%), 3 throttled (2.1s waited)\n"}, // an end is printed at once
		{60 * time.Second, runAt(runs.EntityRun{Status: runs.StatusSucceeded, Progress: &runs.Progress{Total: 400, Done: 400}}), ""}, // and once
	}
	for i, st := range steps {
		out.Reset()
		v.show(st.run, viewStart.Add(st.after))
		if got := out.String(); got != st.want {
			t.Errorf("look %d (+%v) printed %q, want %q", i, st.after, got, st.want)
		}
	}
	v.finish()
	if out.Len() != 0 {
		t.Errorf("finish of a plain view printed %q", out.String())
	}

	out.Reset()
	sim := runs.Run{Mode: runs.ModeSimulate, Entities: []runs.EntityRun{{Entity: "users", Status: runs.StatusSucceeded, Progress: &runs.Progress{Total: 30}}}}
	(&progressView{w: &out, every: time.Second}).show(sim, viewStart)
	if want := "progress: users succeeded, 30 operations planned (simulation: nothing written)\n"; out.String() != want {
		t.Errorf("simulation printed %q, want %q", out.String(), want)
	}
}

func TestProgressViewTerminal(t *testing.T) {
	var out bytes.Buffer
	v := &progressView{w: &out, terminal: true}
	v.show(runAt(runs.EntityRun{Status: runs.StatusRunning, Progress: &runs.Progress{Total: 400, Done: 100}}), viewStart)
	if got, want := out.String(), "\r[######..................]  users running, 100/400 operations (25%), 0.0 writes/s\x1b[K"; got != want {
		t.Errorf("running: %q, want %q", got, want)
	}
	out.Reset()
	v.show(runAt(runs.EntityRun{Status: runs.StatusRunning, Progress: &runs.Progress{Total: 400, Done: 100}}), viewStart.Add(time.Second))
	if out.Len() != 0 {
		t.Errorf("an unchanged line was drawn again: %q", out.String())
	}
	r := runAt(runs.EntityRun{Status: runs.StatusSucceeded, Progress: &runs.Progress{Total: 400, Done: 400}})
	r.Entities[1] = runs.EntityRun{Entity: "groups", Status: runs.StatusRunning}
	v.show(r, viewStart)
	want := "\r[########################]  users succeeded, 400/400 operations (100%)\x1b[K\n" +
		"\r[........................]  groups running, planning\x1b[K"
	if got := out.String(); got != want {
		t.Errorf("next entity: %q, want %q", got, want)
	}
	out.Reset()
	v.finish()
	if out.String() != "\n" {
		t.Errorf("finish printed %q, want the open line ended", out.String())
	}
}

// TestSyncProgressOnStderr: a sync with --json prints its progress on
// stderr (plain lines, stderr not being a terminal) and nothing but the
// JSON result on stdout.
func TestSyncProgressOnStderr(t *testing.T) {
	feed := sampleFeed(t, "12")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"sync", "--roster", feed, "--state", t.TempDir(), "--root", "../..", "--json"}, testEnv(&out, &errOut)); err != nil {
		t.Fatalf("sync: %v\n%s", err, errOut.String())
	}
	dec := json.NewDecoder(&out)
	var sum syncSummary
	if err := dec.Decode(&sum); err != nil {
		t.Fatalf("stdout is not the JSON result: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("stdout holds more than the JSON result (%v)", err)
	}
	ops := sum.Entities[tenant.EntityUsers].Writes
	if ops == 0 {
		t.Fatalf("the sync wrote nothing: %+v", sum)
	}
	stderr := errOut.String()
	if strings.Contains(stderr, "\r") {
		t.Errorf("stderr is no terminal, yet got a redrawn line: %q", stderr)
	}
	if !strings.Contains(stderr, "progress: users succeeded, ") || !strings.Contains(stderr, " operations (100%)") {
		t.Errorf("stderr lacks the users' final progress line:\n%s", stderr)
	}
}

// TestSyncRunRecordsProgress: after a users sync through the whole
// pipeline and the simulator, the run record says every planned operation
// is done, and its samples add up to the writes the run made.
func TestSyncRunRecordsProgress(t *testing.T) {
	ctx := context.Background()
	feed := sampleFeed(t, "30")
	w, err := openWorld(ctx, worldOptions{dir: t.TempDir(), tenantID: "sim-school", domain: "school.example", timeScale: 60,
		root: "../..", feedDir: filepath.Dir(feed)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	var looks int
	sum, err := w.syncFeedWatched(ctx, feed, runs.ModeApply, []string{tenant.EntityUsers}, feedChoice{}, func(runs.Run) { looks++ })
	if err != nil || sum.Status != string(runs.StatusSucceeded) {
		t.Fatalf("sync = %+v, %v", sum, err)
	}
	if looks == 0 {
		t.Error("the watcher never saw the run")
	}
	r, err := w.app.Store.GetRun(ctx, syncCustomer, sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	er := r.Entities[r.Entity(tenant.EntityUsers)]
	p := er.Progress
	if p == nil || p.Total == 0 || p.Done != p.Total {
		t.Fatalf("users progress %+v, want every planned operation done", p)
	}
	if p.Total < sum.Creates {
		t.Errorf("total %d operations for %d creates", p.Total, sum.Creates)
	}
	writes, throttled := 0, 0
	for _, s := range er.Samples {
		writes += s.Writes
		throttled += s.Throttled
	}
	if len(er.Samples) < 2 || writes != er.Counts["ops"] || writes == 0 {
		t.Errorf("%d samples adding up to %d writes, the run made %d", len(er.Samples), writes, er.Counts["ops"])
	}
	if throttled != p.Throttled {
		t.Errorf("samples add up to %d throttled, progress says %d", throttled, p.Throttled)
	}
}
