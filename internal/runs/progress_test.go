package runs

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestAdvance(t *testing.T) {
	type step struct {
		s     Sample
		total int
		held  int
	}
	tests := []struct {
		name  string
		start time.Time
		steps []step
		want  Progress
	}{{
		name:  "plan only: total, nothing done, no pace",
		start: at(0),
		steps: []step{{s: Sample{At: at(5)}, total: 400}},
		want:  Progress{Total: 400},
	}, {
		name:  "pace from the start within the window",
		start: at(0),
		steps: []step{
			{s: Sample{At: at(10)}, total: 400},
			{s: Sample{At: at(20), Writes: 100, Done: 100}, total: 400},
		},
		// 100 writes and 100 done in 20 s: 5/s; 300 left take 60 s more.
		want: Progress{Total: 400, Done: 100, WritesPerSecond: 5, EstimatedEnd: at(80)},
	}, {
		name:  "pace over the last window only",
		start: at(0),
		steps: []step{
			{s: Sample{At: at(10), Writes: 1000, Done: 500}, total: 2000},
			{s: Sample{At: at(70), Writes: 60, Done: 560}, total: 2000},
			{s: Sample{At: at(80), Writes: 60, Done: 620}, total: 2000},
		},
		// From the newest sample at least PaceWindow before the last (at
		// 10 s, 70 s before; the one at 70 s is too recent): 120 writes, 120
		// done in 70 s; 1380 left at 12/7 per second is 805 s.
		want: Progress{Total: 2000, Done: 620, WritesPerSecond: 120.0 / 70, EstimatedEnd: at(80 + 805)},
	}, {
		name:  "throttling adds up across steps",
		start: at(0),
		steps: []step{
			{s: Sample{At: at(10), Writes: 50, Done: 40, Throttled: 3, WaitMs: 1500}, total: 100},
			{s: Sample{At: at(20), Writes: 50, Done: 60, Throttled: 2, WaitMs: 500}, total: 100},
		},
		want: Progress{Total: 100, Done: 60, WritesPerSecond: 5, Throttled: 5, ThrottledWaitMs: 2000, EstimatedEnd: at(20 + 13)},
	}, {
		name:  "held operations are not waited for",
		start: at(0),
		steps: []step{{s: Sample{At: at(10), Writes: 90, Done: 90}, total: 100, held: 10}},
		want:  Progress{Total: 100, Done: 90, WritesPerSecond: 9, EstimatedEnd: at(10)},
	}, {
		name:  "a pause: no estimate",
		start: at(0),
		steps: []step{
			{s: Sample{At: at(10), Writes: 10, Done: 10}, total: 100},
			{s: Sample{At: at(200), Throttled: 1, WaitMs: 190000, Done: 10}, total: 100},
		},
		want: Progress{Total: 100, Done: 10, Throttled: 1, ThrottledWaitMs: 190000},
	}, {
		name:  "no start: no pace",
		steps: []step{{s: Sample{At: at(10), Writes: 10, Done: 10}, total: 100}},
		want:  Progress{Total: 100, Done: 10},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := EntityRun{Entity: "users", StartedAt: tt.start}
			for _, st := range tt.steps {
				e.Advance(st.s, st.total, st.held)
			}
			if got := *e.Progress; got != tt.want {
				t.Errorf("Progress = %+v,\nwant       %+v", got, tt.want)
			}
			if len(e.Samples) != len(tt.steps) {
				t.Errorf("%d samples, want %d", len(e.Samples), len(tt.steps))
			}
		})
	}
}

// TestAdvanceBoundsSamples: past MaxSamples adjacent samples merge, the
// sums (what a chart adds up) and the newest point kept.
func TestAdvanceBoundsSamples(t *testing.T) {
	e := EntityRun{Entity: "users", StartedAt: t0}
	const steps = 3*MaxSamples + 7
	for i := 1; i <= steps; i++ {
		e.Advance(Sample{At: at(i), Writes: i, Throttled: 1, WaitMs: 10, Done: i}, steps, 0)
		if len(e.Samples) > MaxSamples {
			t.Fatalf("after %d steps: %d samples, want at most %d", i, len(e.Samples), MaxSamples)
		}
	}
	var writes, throttled int
	var wait int64
	for i, s := range e.Samples {
		writes += s.Writes
		throttled += s.Throttled
		wait += s.WaitMs
		if i > 0 && !s.At.After(e.Samples[i-1].At) {
			t.Fatalf("samples out of order at %d: %v after %v", i, s.At, e.Samples[i-1].At)
		}
	}
	if want := steps * (steps + 1) / 2; writes != want || throttled != steps || wait != 10*steps {
		t.Errorf("samples sum to %d writes, %d throttled, %d ms; want %d, %d, %d", writes, throttled, wait, want, steps, 10*steps)
	}
	if last := e.Samples[len(e.Samples)-1]; last.At != at(steps) || last.Done != steps {
		t.Errorf("newest sample %+v, want the last step's", last)
	}
	if len(e.Samples) < MaxSamples/2 {
		t.Errorf("%d samples left, want at least %d", len(e.Samples), MaxSamples/2)
	}
	if e.Progress.Throttled != steps || e.Progress.ThrottledWaitMs != 10*steps {
		t.Errorf("progress throttled %d for %d ms, want %d for %d", e.Progress.Throttled, e.Progress.ThrottledWaitMs, steps, 10*steps)
	}
}

// TestAdvanceLeavesCopiesAlone: a record copied before Advance keeps its
// samples and progress (the runner saves a copy and keeps the old one when
// the save fails).
func TestAdvanceLeavesCopiesAlone(t *testing.T) {
	e := EntityRun{Entity: "users", StartedAt: t0}
	for i := 1; i <= MaxSamples; i++ {
		e.Advance(Sample{At: at(i), Writes: 1, Done: i}, 1000, 0)
	}
	before := e
	first, prog := e.Samples[0], *e.Progress
	e.Advance(Sample{At: at(MaxSamples + 1), Writes: 1, Done: MaxSamples + 1}, 1000, 0) // merges
	if len(before.Samples) != MaxSamples || before.Samples[0] != first || *before.Progress != prog {
		t.Errorf("the copy changed: %d samples, first %+v, progress %+v", len(before.Samples), before.Samples[0], *before.Progress)
	}
}
