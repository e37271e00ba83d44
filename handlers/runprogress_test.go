package handlers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/runs"
)

// TestAPIRunShowsProgress: a running run's record answers with each
// entity's progress and samples, as docs/openapi.yaml describes them (the
// fixture checks every answer against the document).
func TestAPIRunShowsProgress(t *testing.T) {
	f := newAPIFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC)
	r := runs.New("r2", "oak", "nightly", runs.TriggerManual, runs.ModeApply, "r2", []string{"users"}, at)
	r.Status, r.StartedAt = runs.StatusRunning, at
	r.Entities[0].Status, r.Entities[0].StartedAt = runs.StatusRunning, at
	r.Entities[0].Advance(runs.Sample{At: at.Add(4 * time.Second)}, 400, 0)
	r.Entities[0].Advance(runs.Sample{At: at.Add(14 * time.Second), Writes: 130, Throttled: 3, WaitMs: 2100, Done: 120}, 400, 0)
	if _, err := f.store.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	rec := f.do(t, "GET", "/api/customers/oak/runs/r2", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET run = %d %s", rec.Code, rec.Body.String())
	}
	var got runs.Run
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	p := got.Entities[0].Progress
	if p == nil || p.Total != 400 || p.Done != 120 || p.Throttled != 3 || p.ThrottledWaitMs != 2100 || p.WritesPerSecond == 0 || p.EstimatedEnd.IsZero() {
		t.Errorf("progress = %+v, want 120 of 400 done, 3 throttled for 2100 ms, a pace and an estimate", p)
	}
	if len(got.Entities[0].Samples) != 2 {
		t.Errorf("samples = %+v, want 2", got.Entities[0].Samples)
	}
}

// TestContractChecksProgress: progress and samples that break their
// schema are caught.
func TestContractChecksProgress(t *testing.T) {
	for name, body := range map[string]string{
		"total not a number": `{"id":"r1","customerId":"oak","status":"running","entities":[{"entity":"users","status":"running","progress":{"total":"many","done":0,"writesPerSecond":0,"throttled":0,"throttledWaitMs":0}}]}`,
		"sample without at":  `{"id":"r1","customerId":"oak","status":"running","entities":[{"entity":"users","status":"running","samples":[{"writes":1,"throttled":0,"waitMs":0,"done":1}]}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			wrong := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, body)
			})
			var reports []string
			serve(contractChecker{next: wrong, router: loadContract(t), report: func(f string, a ...any) { reports = append(reports, f) }}, "GET", "/api/customers/oak/runs/r1", "", "")
			if len(reports) == 0 {
				t.Errorf("a run with %s passed the contract check", name)
			}
		})
	}
}
