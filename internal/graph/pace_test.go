package graph

import (
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"10", 10 * time.Second, true},
		{"2.128", 2128 * time.Millisecond, true},
		{" 0.05 ", 50 * time.Millisecond, true},
		{"0", 0, true},
		{"Tue, 01 Sep 2026 08:00:30 GMT", 30 * time.Second, true},
		{"Tue, 01 Sep 2026 07:59:00 GMT", 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := retryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("retryAfter(%q) = %v, %t; want %v, %t", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestThrottleStatePacing(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	const rate = 20.0 // writes/s
	var s throttleState

	// Unpaced: any number of batches at once.
	for range 5 {
		if d := s.reserve(t0, 20, rate); d != 0 {
			t.Fatalf("reserve before any 429 = %v, want 0", d)
		}
	}
	// A throttled write: nothing until Retry-After, then paced.
	s.throttled(t0, t0, 500*time.Millisecond, true)
	if d := s.reserve(t0.Add(100*time.Millisecond), 0, rate); d != 400*time.Millisecond {
		t.Errorf("reserve during Retry-After = %v, want the 400 ms left", d)
	}
	// At paceTarget × 20/s, 20 writes need 20/19 s of credit since the 429.
	t1 := t0.Add(500 * time.Millisecond)
	r := rate * paceTarget
	want := time.Duration((20 - 0.5*r) / r * float64(time.Second))
	if d := s.reserve(t1, 20, rate); d < want-time.Millisecond || d > want+time.Millisecond {
		t.Errorf("first paced reserve = %v, want about %v", d, want)
	}
	t2 := t0.Add(time.Duration(20 / r * float64(time.Second)))
	if d := s.reserve(t2, 20, rate); d != 0 {
		t.Errorf("paced reserve once credit is there = %v, want 0", d)
	}
	// Reads never wait for write credit.
	if d := s.reserve(t2, 0, rate); d != 0 {
		t.Errorf("reserve of a read batch = %v, want 0", d)
	}

	// A 429 on a batch sent before the last cut changes nothing; one sent
	// after cuts the share.
	s.throttled(t2, t0.Add(-time.Second), 0, true)
	if s.share != paceTarget {
		t.Errorf("share after a stale 429 = %v, want %v", s.share, paceTarget)
	}
	s.throttled(t2, t1, 0, true)
	if want := paceTarget * paceCut; s.share != want {
		t.Errorf("share after a 429 while paced = %v, want %v", s.share, want)
	}
	s.admitted(t2.Add(time.Millisecond))
	if want := paceTarget*paceCut + paceStep; s.share < want-1e-9 || s.share > want+1e-9 {
		t.Errorf("share after a clean batch = %v, want %v", s.share, want)
	}

	// Idle long enough for Graph's bucket to refill: unpaced again.
	idleFor := paceIdleWrites / rate * float64(time.Second)
	idle := t2.Add(time.Duration(idleFor) + time.Second)
	if d := s.reserve(idle, 20, rate); d != 0 || s.paced {
		t.Errorf("reserve after idling = %v (paced %t), want 0 and unpaced", d, s.paced)
	}
}

// TestThrottledGateLonger: what a 429 adds to the time the tenant's gate
// is closed; overlapping Retry-Afters (one wave of batches throttled
// together) count once.
func TestThrottledGateLonger(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	type hit struct {
		after time.Duration // since t0
		wait  time.Duration
	}
	tests := []struct {
		name string
		hits []hit
		want []time.Duration // each 429's addition
	}{
		{"one", []hit{{0, 2 * time.Second}}, []time.Duration{2 * time.Second}},
		{"same wave", []hit{{0, 2 * time.Second}, {10 * time.Millisecond, 2 * time.Second}, {20 * time.Millisecond, time.Second}},
			[]time.Duration{2 * time.Second, 10 * time.Millisecond, 0}},
		{"apart", []hit{{0, time.Second}, {5 * time.Second, time.Second}}, []time.Duration{time.Second, time.Second}},
		{"no Retry-After left", []hit{{0, 0}}, []time.Duration{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s throttleState
			var total, want time.Duration
			for i, h := range tt.hits {
				got := s.throttled(t0.Add(h.after), t0, h.wait, true)
				if got != tt.want[i] {
					t.Errorf("429 %d adds %v, want %v", i, got, tt.want[i])
				}
				total += got
				want += tt.want[i]
			}
			if total != want {
				t.Errorf("gate closed %v in all, want %v", total, want)
			}
		})
	}
}

func TestThrottledReadDoesNotPace(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	var s throttleState
	s.throttled(t0, t0, time.Second, false)
	if s.paced {
		t.Error("a throttled read started write pacing")
	}
	if d := s.reserve(t0.Add(time.Second), 20, 20); d != 0 {
		t.Errorf("reserve after the read's Retry-After = %v, want 0", d)
	}
}

func TestFreshIDs(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)
	var f freshIDs
	if got := f.note("a", t0, time.Minute); !got.Equal(t0) {
		t.Errorf("note(a) = %v, want %v", got, t0)
	}
	if got := f.note("a", t0.Add(time.Second), time.Minute); !got.Equal(t0) {
		t.Errorf("second note(a) = %v, want the first time %v", got, t0)
	}
	f.note("b", t0.Add(2*time.Minute), time.Minute) // prunes a
	if _, ok := f.since("a"); ok {
		t.Error("an entry older than the window survived a later note")
	}
	if at, ok := f.since("b"); !ok || !at.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("since(b) = %v, %t; want the time it was noted", at, ok)
	}
}
