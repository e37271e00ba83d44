package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
)

// TestRunnerRecordsProgress: the runner turns what an entity reports
// (while a step runs, at most every ProgressEvery, and at its end) into
// samples and progress on the run record, across steps, and counts a
// report only when it keeps it.
func TestRunnerRecordsProgress(t *testing.T) {
	var h harness
	var midStep runs.EntityRun
	counted := 0 // reports the runner asked to count
	entity := EntityFunc(func(ctx context.Context, in EntityInput) (EntityOutcome, error) {
		switch in.Job.Step {
		case 0: // the plan: 10 operations, nothing written
			h.clock.Advance(time.Second)
			return EntityOutcome{More: true, Progress: &StepProgress{Total: 10}}, nil
		case 1: // a long apply step, reporting as it goes
			h.clock.Advance(3 * time.Second)
			in.ReportProgress(func() StepProgress {
				counted++
				return StepProgress{Total: 10, Done: 4, Writes: 4, Throttled: 1, ThrottledWait: 700 * time.Millisecond}
			})
			midStep = h.run(t).Entities[0]
			h.clock.Advance(time.Second) // within ProgressEvery: not saved
			in.ReportProgress(func() StepProgress {
				counted++
				return StepProgress{Total: 10, Done: 5, Writes: 5, Throttled: 1, ThrottledWait: 700 * time.Millisecond}
			})
			h.clock.Advance(time.Second)
			return EntityOutcome{Counts: map[string]int{"ops": 6}, RequeueAfter: 30 * time.Second,
				Progress: &StepProgress{Total: 10, Done: 6, Writes: 6, Throttled: 2, ThrottledWait: 1500 * time.Millisecond}}, nil
		default:
			h.clock.Advance(4 * time.Second)
			return EntityOutcome{Counts: map[string]int{"ops": 4}, Progress: &StepProgress{Total: 10, Done: 10, Writes: 4}}, nil
		}
	})
	h = newHarness(t, Registry{"users": entity}, "users")
	ctx := context.Background()
	if _, err := h.p.Tick(ctx, start); err != nil {
		t.Fatal(err)
	}
	for steps := 0; ; steps++ {
		msgs := h.out.take()
		if len(msgs) == 0 {
			break
		}
		if steps > 5 {
			t.Fatal("the entity never ended")
		}
		if at := msgs[0].ScheduledEnqueueTime; at.After(h.clock.Now()) {
			h.clock.Set(at)
		}
		if out := h.p.Handle(ctx, delivery(msgs[0], 1)); out.Disposition != Done {
			t.Fatalf("step %d: %+v", steps, out)
		}
	}

	// A report within ProgressEvery of the last one is not even counted:
	// counting can walk a whole plan.
	if counted != 1 {
		t.Errorf("the runner counted %d of the step's 2 reports, want 1 (the second came within ProgressEvery)", counted)
	}
	// While step 1 ran, the run record already showed its first report.
	if midStep.Progress == nil || midStep.Progress.Done != 4 || len(midStep.Samples) != 2 || midStep.Samples[1].Writes != 4 {
		t.Errorf("mid-step record: progress %+v, samples %+v; want done 4 and a second sample of 4 writes", midStep.Progress, midStep.Samples)
	}

	er := h.run(t).Entities[0]
	if er.Status != runs.StatusSucceeded {
		t.Fatalf("entity %s, want succeeded", er.Status)
	}
	p := er.Progress
	if p == nil || p.Total != 10 || p.Done != 10 || p.Throttled != 2 || p.ThrottledWaitMs != 1500 || !p.EstimatedEnd.Equal(er.EndedAt) {
		t.Fatalf("progress %+v, want 10 of 10 done, 2 throttled for 1500 ms, ending at %v", p, er.EndedAt)
	}
	// Plan step, step 1 in two parts (report, end), step 2.
	want := []runs.Sample{
		{At: start.Add(time.Second)},
		{At: start.Add(4 * time.Second), Writes: 4, Throttled: 1, WaitMs: 700, Done: 4},
		{At: start.Add(6 * time.Second), Writes: 2, Throttled: 1, WaitMs: 800, Done: 6},
		{At: start.Add(40 * time.Second), Writes: 4, Done: 10},
	}
	if len(er.Samples) != len(want) {
		t.Fatalf("samples %+v, want %+v", er.Samples, want)
	}
	writes := 0
	for i, s := range er.Samples {
		if !s.At.Equal(want[i].At) || s.Writes != want[i].Writes || s.Throttled != want[i].Throttled || s.WaitMs != want[i].WaitMs || s.Done != want[i].Done {
			t.Errorf("sample %d = %+v, want %+v", i, s, want[i])
		}
		writes += s.Writes
	}
	if writes != er.Counts["ops"] {
		t.Errorf("samples add up to %d writes, the steps counted %d", writes, er.Counts["ops"])
	}
	// From the newest sample at least runs.PaceWindow (30 s) before the
	// last: step 1's end, 34 s before; 4 writes since.
	if want := 4.0 / 34; p.WritesPerSecond != want {
		t.Errorf("pace %v writes/s, want %v", p.WritesPerSecond, want)
	}
}

// TestRunnerProgressWithoutReports: an entity that reports nothing keeps a
// run record without progress.
func TestRunnerProgressWithoutReports(t *testing.T) {
	h := newHarness(t, Registry{"noop": Noop}, "noop")
	ctx := context.Background()
	if _, err := h.p.Tick(ctx, start); err != nil {
		t.Fatal(err)
	}
	for _, m := range h.out.take() {
		h.p.Handle(ctx, delivery(m, 1))
	}
	if er := h.run(t).Entities[0]; er.Status != runs.StatusSucceeded || er.Progress != nil || er.Samples != nil {
		t.Errorf("noop entity: %s, progress %+v, samples %+v; want succeeded with neither", er.Status, er.Progress, er.Samples)
	}
}
