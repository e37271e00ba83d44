package apply

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
)

// meteredTenant is a fakeTenant that counts the throttling it gives, as
// the Graph executor does.
type meteredTenant struct {
	*fakeTenant
	throttled int
	wait      time.Duration
}

func (m *meteredTenant) Execute(ctx context.Context, ops []Op) []Result {
	res := m.fakeTenant.Execute(ctx, ops)
	for _, r := range res {
		if r.Status == Retry {
			m.throttled++
			m.wait += r.RetryAfter
		}
	}
	return res
}

func (m *meteredTenant) Throttling() (int, time.Duration) { return m.throttled, m.wait }

// TestApplyReportsOperations: the operations the plan expands to, how many
// are finished after each round (Report) and at the end, and the
// throttling met within the call only.
func TestApplyReportsOperations(t *testing.T) {
	p, entries := testPlan()
	// s1: create, licence, group; s2: create; s3: patch; s4: disable,
	// revoke; s5: a link with nothing to write.
	const total = 7
	if got := CountOps(testExpand, p.Changes); got != total {
		t.Fatalf("CountOps = %d, want %d", got, total)
	}
	ft := &meteredTenant{fakeTenant: newFakeTenant(), throttled: 3, wait: time.Second} // met before this call
	ft.throttle["user:s3#patch"] = 1
	var reports []Progress
	a := New(ft, &memJournal{}, testExpand, testLink, &memCreds{}, passwords, nil, Options{Report: func(pr func() Progress) { reports = append(reports, pr()) }})
	pr, err := a.Apply(context.Background(), p, "t1", entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Operations != total || pr.Finished != total || pr.HeldOps != 0 {
		t.Errorf("end: operations %d finished %d held %d, want %d, %d, 0", pr.Operations, pr.Finished, pr.HeldOps, total, total)
	}
	if pr.Throttled != 1 || pr.ThrottledWait != 5*time.Millisecond {
		t.Errorf("end: throttled %d for %v, want 1 for 5ms (this call's only)", pr.Throttled, pr.ThrottledWait)
	}
	// Round 1: both creates, s3's patch (throttled), s4's two ops; round 2:
	// s3's patch again; round 3 (or 2, depending on the wait): s1's
	// licence and group. Every report has the whole plan as its total and
	// no changed entries; finished only grows, writes are the ops sent.
	if len(reports) < 2 {
		t.Fatalf("%d reports, want one per round", len(reports))
	}
	if first := reports[0]; first.Finished != 4 || first.Ops != 5 || first.Operations != total {
		t.Errorf("first report: finished %d of %d after %d ops, want 4 of %d after 5", first.Finished, first.Operations, first.Ops, total)
	}
	if last := reports[len(reports)-1]; last.Finished != total || last.Ops != pr.Ops {
		t.Errorf("last report: finished %d, ops %d; want %d, %d", last.Finished, last.Ops, total, pr.Ops)
	}
	if !slices.IsSortedFunc(reports, func(a, b Progress) int { return a.Finished - b.Finished }) {
		t.Errorf("finished went back between reports: %+v", reports)
	}
	for _, r := range reports {
		if r.Changed != nil {
			t.Errorf("a report carries changed entries: %+v", r.Changed)
		}
	}
}

// TestApplyHeldOperations: the ops of held changes are counted apart until
// a confirmation lets them go.
func TestApplyHeldOperations(t *testing.T) {
	p, entries := testPlan()
	for i := range entries {
		if entries[i].Action == plan.Suspend {
			entries[i].Held, p.Changes[i].Held = true, true
		}
	}
	pr, err := New(newFakeTenant(), &memJournal{}, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Operations != 7 || pr.Finished != 5 || pr.HeldOps != 2 || pr.Held != 1 {
		t.Errorf("unconfirmed: operations %d finished %d held ops %d (changes %d), want 7, 5, 2 (1)", pr.Operations, pr.Finished, pr.HeldOps, pr.Held)
	}
}
