package runs

import (
	"slices"
	"time"
)

// MaxSamples bounds an entity's samples: past it, adjacent samples are
// merged in pairs, so a run record stays small however long the run, and a
// chart of it keeps its shape (sums are kept, only resolution is lost).
const MaxSamples = 500

// PaceWindow is how far back an entity's current pace looks at least: from
// the newest sample that old, so it spans a wait between two steps (its
// samples are then further apart), yet follows a run that slows down once
// Graph's write quota is spent.
const PaceWindow = 30 * time.Second

// Advance records a point of the entity's run: s (what a step, or part of
// one, did; Done is the operations finished so far) joins Samples, and
// Progress is worked out again from them. total is the operations the
// entity's plan holds and held those waiting for a confirmation, which no
// pace finishes. Advance allocates afresh rather than changing the slices
// and Progress it was given, so a copy of the record taken before stays
// as it was.
func (e *EntityRun) Advance(s Sample, total, held int) {
	e.Samples = addSample(e.Samples, s)
	p := Progress{Total: total, Done: s.Done}
	if e.Progress != nil {
		p.Throttled, p.ThrottledWaitMs = e.Progress.Throttled, e.Progress.ThrottledWaitMs
	}
	p.Throttled += s.Throttled
	p.ThrottledWaitMs += s.WaitMs
	writes, done := pace(e.Samples, e.StartedAt, PaceWindow)
	p.WritesPerSecond = writes
	p.EstimatedEnd = estimate(s.At, total-held-s.Done, done)
	e.Progress = &p
}

// addSample returns samples with s added, merging adjacent samples in
// pairs when there are more than MaxSamples. The newest sample is never
// merged away on the step it arrives (an odd one out stays alone).
func addSample(samples []Sample, s Sample) []Sample {
	out := make([]Sample, 0, len(samples)+1)
	out = append(append(out, samples...), s)
	if len(out) <= MaxSamples {
		return out
	}
	merged := out[:0:0]
	for i := 0; i < len(out); i += 2 {
		if i+1 == len(out) {
			merged = append(merged, out[i])
			break
		}
		m := out[i+1] // the later point: its time and cumulative Done
		m.Writes += out[i].Writes
		m.Throttled += out[i].Throttled
		m.WaitMs += out[i].WaitMs
		merged = append(merged, m)
	}
	return slices.Clip(merged)
}

// pace is the writes per second, and the operations finished per second,
// over the window ending at the last sample: from the newest sample at
// least window older than it or, when there is none, from the entity's
// start (nothing done, nothing written). Zero without elapsed time.
func pace(samples []Sample, start time.Time, window time.Duration) (writes, done float64) {
	if len(samples) == 0 {
		return 0, 0
	}
	last := samples[len(samples)-1]
	from, doneFrom, written := start, 0, 0
	for i := len(samples) - 1; i >= 0; i-- {
		if i < len(samples)-1 && last.At.Sub(samples[i].At) >= window {
			from, doneFrom = samples[i].At, samples[i].Done
			break
		}
		written += samples[i].Writes
	}
	if from.IsZero() || !last.At.After(from) {
		return 0, 0
	}
	secs := last.At.Sub(from).Seconds()
	return float64(written) / secs, float64(last.Done-doneFrom) / secs
}

// estimate is when remaining operations end at donePerSecond from at: at
// itself when nothing remains, zero when nothing is finishing (no pace
// yet, or a pause).
func estimate(at time.Time, remaining int, donePerSecond float64) time.Time {
	switch {
	case remaining <= 0:
		return at
	case donePerSecond <= 0:
		return time.Time{}
	}
	return at.Add(time.Duration(float64(remaining) / donePerSecond * float64(time.Second))).Truncate(time.Second)
}
