package runs

import (
	"strings"
	"testing"
	"time"
)

func TestFinish(t *testing.T) {
	now := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		statuses []Status
		want     Status
		ended    bool
	}{
		{"all succeeded", []Status{StatusSucceeded, StatusSucceeded}, StatusSucceeded, true},
		{"one still running", []Status{StatusSucceeded, StatusRunning}, StatusQueued, false},
		{"mixed", []Status{StatusSucceeded, StatusFailed}, StatusPartial, true},
		{"failed and skipped", []Status{StatusFailed, StatusSkipped}, StatusFailed, true},
		{"held and succeeded", []Status{StatusHeld, StatusSucceeded}, StatusHeld, true},
		{"held alone", []Status{StatusHeld}, StatusHeld, true},
		{"held and failed", []Status{StatusHeld, StatusFailed}, StatusPartial, true},
		{"succeeded then cancelled", []Status{StatusSucceeded, StatusCancelled}, StatusCancelled, true},
		{"cancelled alone", []Status{StatusCancelled}, StatusCancelled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New("r", "c", "p", TriggerTimer, ModeApply, "w", make([]string, len(tt.statuses)), now)
			for i, s := range tt.statuses {
				r.Entities[i].Status = s
				r.Entities[i].Counts = map[string]int{"n": i + 1}
			}
			r.Finish(now)
			if r.Status != tt.want || r.EndedAt.IsZero() == tt.ended {
				t.Errorf("Finish: status %s ended %v, want %s ended %t", r.Status, r.EndedAt, tt.want, tt.ended)
			}
			if want := len(tt.statuses) * (len(tt.statuses) + 1) / 2; r.Counts["n"] != want {
				t.Errorf("totals = %v, want n=%d", r.Counts, want)
			}
		})
	}
}

func TestRunIDs(t *testing.T) {
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	a, b := ScheduledID("c", "p", "2026-11-21", at), ScheduledID("c", "p", "2026-11-21", at)
	if a != b || !strings.HasPrefix(a, "20261121T020000Z-") {
		t.Errorf("ScheduledID not deterministic or not time-ordered: %s %s", a, b)
	}
	if ScheduledID("c", "q", "2026-11-21", at) == a {
		t.Error("different profiles share a run id")
	}
	if m1, m2 := ManualID(at), ManualID(at); m1 == m2 || m1[:16] != a[:16] {
		t.Errorf("ManualID = %s, %s: want distinct, time-ordered ids", m1, m2)
	}
}

func TestCancelledIsDoneNotSettled(t *testing.T) {
	if !StatusCancelled.Done() {
		t.Error("cancelled is not Done: a cancelled run would read as still going")
	}
	if StatusCancelled.Settled() {
		t.Error("cancelled is Settled: entities after a cancelled one would run")
	}
}
