package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/tenant"
)

// throttlingTenant is a memTenant whose first answers to some ops are 429s,
// and which counts them as the Graph executor does (apply.ThrottleMeter).
type throttlingTenant struct {
	*memTenant
	throttle  map[string]int
	throttled int
	wait      time.Duration
}

func (t *throttlingTenant) Directory(ctx context.Context, c tenant.Customer) (Directory, error) {
	return t, nil
}

func (t *throttlingTenant) Execute(ctx context.Context, ops []apply.Op) []apply.Result {
	var pass []apply.Op
	var out []apply.Result
	t.mu.Lock()
	for _, op := range ops {
		if t.throttle[op.ID] > 0 {
			t.throttle[op.ID]--
			t.throttled++
			t.wait += 20 * time.Millisecond
			t.writes++ // sent, and refused
			out = append(out, apply.Result{ID: op.ID, Status: apply.Retry, RetryAfter: time.Millisecond, Code: "TooManyRequests"})
			continue
		}
		pass = append(pass, op)
	}
	t.mu.Unlock()
	return append(out, t.memTenant.Execute(ctx, pass)...)
}

func (t *throttlingTenant) Throttling() (int, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.throttled, t.wait
}

// TestUsersSyncReportsProgress: a users sync reports its plan's operations
// from the plan step on (a simulation stops there, with nothing written),
// and when applied ends with every one of them done; the writes its steps
// report (while running and at their end) are the writes the tenant got,
// and the throttling is what the tenant gave.
func TestUsersSyncReportsProgress(t *testing.T) {
	h := newHarness(t)
	var people [][4]string
	for i := range 30 {
		people = append(people, [4]string{fmt.Sprintf("s%02d", i), "P", fmt.Sprintf("N%d", i), "07"})
	}
	tt := &throttlingTenant{memTenant: h.tenant, throttle: map[string]int{"user:s03#create": 2, "user:s17#create": 1}}
	h.users.Tenants = tt
	h.users.Source = fixedSource{school(people...)}
	h.users.Apply = apply.Options{RoundSize: 7} // several rounds, so several reports

	for _, mode := range []string{runs.ModeSimulate, runs.ModeApply} {
		t.Run(mode, func(t *testing.T) {
			before := tt.writes
			run := runs.Run{ID: "run-" + mode, CustomerID: "oak", Mode: mode}
			var reports []pipeline.StepProgress
			in := pipeline.EntityInput{
				Job: queue.Job{Entity: tenant.EntityUsers}, Run: run, Now: time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC),
				Customer: tenant.Customer{ID: "oak", TenantID: "t-oak", Domains: []string{"oak.example"}},
				Profile:  tenant.Profile{ID: "nightly", CustomerID: "oak"},
				Report:   func(sp func() pipeline.StepProgress) { reports = append(reports, sp()) },
			}
			var last *pipeline.StepProgress
			writes, throttled, total := 0, 0, -1
			var wait time.Duration
			for step := 0; ; step++ {
				if step == 20 {
					t.Fatal("users sync did not finish in 20 steps")
				}
				out, err := h.users.Sync(context.Background(), in)
				if err != nil {
					t.Fatalf("step %d: %v", step, err)
				}
				if out.Progress == nil {
					t.Fatalf("step %d reported no progress", step)
				}
				if total >= 0 && out.Progress.Total != total {
					t.Errorf("step %d: total %d, the plan step said %d", step, out.Progress.Total, total)
				}
				total, last = out.Progress.Total, out.Progress
				writes += out.Progress.Writes
				throttled += out.Progress.Throttled
				wait += out.Progress.ThrottledWait
				if !out.More {
					break
				}
				in.Job.Step, in.Job.Cursor = step+1, out.Cursor
			}
			got := tt.writes - before
			switch mode {
			case runs.ModeSimulate:
				// 30 creates, one op each (no licences or groups here).
				if last.Total != 30 || last.Done != 0 || writes != 0 || got != 0 || len(reports) != 0 {
					t.Errorf("simulation: %+v, %d writes reported, %d made, %d reports; want 30 planned and nothing else", *last, writes, got, len(reports))
				}
			case runs.ModeApply:
				if last.Total != 30 || last.Done != last.Total {
					t.Errorf("applied: done %d of %d, want all 30", last.Done, last.Total)
				}
				if writes != got {
					t.Errorf("steps reported %d writes, the tenant got %d", writes, got)
				}
				if throttled != 3 || wait != 60*time.Millisecond {
					t.Errorf("steps reported %d throttled for %v, want 3 for 60ms", throttled, wait)
				}
				if len(reports) < 2 {
					t.Fatalf("%d reports while applying, want one per round", len(reports))
				}
				for i := 1; i < len(reports); i++ {
					if reports[i].Done < reports[i-1].Done || reports[i].Total != total {
						t.Errorf("report %d %+v after %+v: done went back or total moved", i, reports[i], reports[i-1])
					}
				}
			}
		})
	}
}
