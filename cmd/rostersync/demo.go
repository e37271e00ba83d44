package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/internal/localstack"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue/membroker"
	"github.com/rostersync/rostersync/internal/runs"

	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

const (
	demoCustomer = "oakfield-academy"
	demoProfile  = "nightly"
	demoZone     = "Europe/London"
)

// runDemo drives the pipeline end to end through the local Functions host,
// exactly as Azure would run it, and prints what happened. Until the users
// issue lands the only entity is noop, so the demo shows the platform: the
// timer fan-out, the session queue, the run record, the idempotent re-tick
// and a manual run from the API.
func runDemo(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	stateDir := fs.String("state", "", "keep the demo's state in this folder (default: a temporary folder, removed)")
	root := fs.String("root", ".", "folder holding host.json and functions/")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
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
	backend, err := embedded.Open(dir)
	if err != nil {
		return err
	}
	defer backend.Close()
	stack, err := localstack.Start(ctx, localstack.Options{
		Root: *root, FunctionsDir: *root + "/functions", Backend: backend, HTTPAddr: "127.0.0.1:0",
		// The demo fires the timer itself, like the portal's Run button,
		// so its every-5-minutes schedule cannot interleave.
		Getenv: func(k string) string {
			if k == "AzureWebJobs.Scheduler.Disabled" {
				return "true"
			}
			return ""
		},
		Queue: membroker.QueueOptions{MaxDeliveryCount: 5, LockDuration: 5 * time.Minute, DuplicateDetectionWindow: time.Hour},
	})
	if err != nil {
		return err
	}
	defer stack.Stop()
	d := demo{ctx: ctx, out: env.stdout, stack: stack}
	return d.run()
}

type demo struct {
	ctx   context.Context
	out   io.Writer
	stack *localstack.Stack
}

func (d demo) printf(format string, args ...any) { fmt.Fprintf(d.out, format, args...) }

func (d demo) run() error {
	runAt, err := d.seed()
	if err != nil {
		return err
	}
	d.printf("rostersync demo: the nightly pipeline, end to end, on this machine\n")
	d.printf("  handler %s, HTTP functions %s, queue in memory, state embedded\n", d.stack.HandlerURL, d.stack.Host.URL())
	d.printf("  customer %s, profile %s runs daily at %s %s; entity: noop (the users sync arrives with issue 5)\n\n",
		demoCustomer, demoProfile, runAt, demoZone)

	d.printf("1. The Scheduler timer fires; the profile's window has come.\n")
	if err := d.tick(); err != nil {
		return err
	}
	if err := d.printRuns(1); err != nil {
		return err
	}
	d.printf("\n2. The timer fires again in the same window (a restart, a second instance).\n")
	if err := d.tick(); err != nil {
		return err
	}
	d.printf("\n3. The vendor UI's \"Simulate\" button: POST /api/customers/%s/profiles/%s/runs?simulate=true\n", demoCustomer, demoProfile)
	if err := d.manualRun(); err != nil {
		return err
	}
	if err := d.printRuns(1); err != nil {
		return err
	}
	st, err := d.stack.Store.GetSyncState(d.ctx, demoCustomer, demoProfile, pipeline.ProfileEntity)
	if err != nil {
		return err
	}
	d.printf("\nLast sync of profile %s: %s by run %s (%s). A simulation does not move it.\n",
		demoProfile, st.LastSync.Format(time.RFC3339), st.LastRunID, st.LastStatus)
	return nil
}

// seed creates the customer and a profile due a minute ago.
func (d demo) seed() (string, error) {
	loc, err := time.LoadLocation(demoZone)
	if err != nil {
		return "", err
	}
	runAt := time.Now().In(loc).Add(-time.Minute).Format("15:04")
	c := tenant.Customer{ID: demoCustomer, Name: "Oakfield Academy", Domains: []string{"oakfield.example"},
		Features: tenant.Features{Users: true, Groups: true}, Education: true}
	if err := d.stack.Store.PutCustomer(d.ctx, c); err != nil {
		return "", err
	}
	p := tenant.Profile{CustomerID: demoCustomer, ID: demoProfile, Name: "Nightly sync", Enabled: true,
		RunAt: runAt, TimeZone: demoZone, Entities: []string{tenant.EntityNoop},
		CreatedAt: time.Now().AddDate(0, 0, -7)}
	return runAt, d.stack.Store.SaveProfile(d.ctx, p)
}

func (d demo) tick() error {
	inv, err := d.stack.Host.FireTimer(d.ctx, "Scheduler")
	if err != nil {
		return err
	}
	var ret struct{ Enqueued, AlreadyEnqueued int }
	_ = json.Unmarshal(inv.Return, &ret)
	d.printf("   Scheduler answered %d: %d run(s) enqueued, %d already enqueued for this window\n", inv.Status, ret.Enqueued, ret.AlreadyEnqueued)
	return d.drain()
}

func (d demo) drain() error {
	ctx, cancel := context.WithTimeout(d.ctx, time.Minute)
	defer cancel()
	return d.stack.Host.Drain(ctx)
}

func (d demo) manualRun() error {
	url := fmt.Sprintf("%s/api/customers/%s/profiles/%s/runs?simulate=true", d.stack.Host.URL(), demoCustomer, demoProfile)
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var run runs.Run
	if err := json.NewDecoder(resp.Body).Decode(&run); err != nil {
		return fmt.Errorf("start run: status %d: %w", resp.StatusCode, err)
	}
	d.printf("   API answered %d, run %s %s\n", resp.StatusCode, run.ID, run.Status)
	return d.drain()
}

func (d demo) printRuns(n int) error {
	rs, err := d.stack.Store.ListRuns(d.ctx, demoCustomer, demoProfile, n)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := d.printRun(r); err != nil {
			return err
		}
	}
	return nil
}

func (d demo) printRun(r runs.Run) error {
	d.printf("   Run %s  trigger=%s mode=%s window=%s\n", r.ID, r.Trigger, r.Mode, r.Window)
	d.printf("     status   %-10s started %s, ended %s (%s)\n", r.Status, clockTime(r.StartedAt), clockTime(r.EndedAt), r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond))
	for _, e := range r.Entities {
		d.printf("     %-8s %-10s %d step(s) %s%s\n", e.Entity, e.Status, e.Steps, formatCounts(e.Counts), e.Error)
	}
	entries, err := d.stack.Store.RunLog(d.ctx, r.CustomerID, r.ID)
	if err != nil {
		return err
	}
	d.printf("     log:\n")
	for _, le := range entries {
		d.printf("       %s %-5s %-6s %s\n", clockTime(le.Time), le.Level, le.Entity, le.Message)
	}
	return nil
}

func clockTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("15:04:05.000Z")
}

func formatCounts(c map[string]int) string {
	if len(c) == 0 {
		return ""
	}
	var parts []string
	for k, v := range c {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}
