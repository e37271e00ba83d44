package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/report"
	"github.com/rostersync/rostersync/internal/runs"
)

func TestAPIRunReport(t *testing.T) {
	f := newAPIFixture(t)
	// A person whose name is markup, in a plan the report shows.
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oak", RunID: "r2", Entity: "users",
		Changes: []plan.Change{{Kind: plan.KindUser, Key: "s2", Action: plan.Create, Reason: plan.CreateBecauseNew, Detail: "new in the MIS",
			After: map[string]string{"displayName": "<script>alert(1)</script>"}}}}
	ctx := context.Background()
	run := runs.New("r2", "oak", "nightly", runs.TriggerManual, runs.ModeApply, "r2", []string{"users"}, time.Now())
	if _, err := f.store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		status   int
		contains []string
		lacks    []string
	}{
		{"held run: its plan, the held change and the unsynced person; groups planned nothing",
			"/api/customers/oak/runs/r1/report", http.StatusOK,
			[]string{`data-action="suspend"`, "The plan suspends 1 accounts; the limit is 0", "s9", "unsynced_because_excluded", "/entities/users/confirm", `data-entity="groups"`}, nil},
		{"hostile names are escaped", "/api/customers/oak/runs/r2/report", http.StatusOK,
			[]string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, []string{"<script>alert(1)"}},
		{"unknown run", "/api/customers/oak/runs/nope/report", http.StatusNotFound, nil, nil},
		{"another customer's run", "/api/customers/elm/runs/r1/report", http.StatusNotFound, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, "GET", tt.path, "")
			if rec.Code != tt.status {
				t.Fatalf("GET %s = %d %s, want %d", tt.path, rec.Code, rec.Body, tt.status)
			}
			if tt.status != http.StatusOK {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("error Content-Type = %q, want a problem document", ct)
				}
				return
			}
			h := rec.Header()
			for k, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": report.ContentSecurityPolicy,
				"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"} {
				if got := h.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			body := rec.Body.String()
			for _, want := range tt.contains {
				if !strings.Contains(body, want) {
					t.Errorf("report lacks %q", want)
				}
			}
			for _, bad := range tt.lacks {
				if strings.Contains(body, bad) {
					t.Errorf("report contains %q", bad)
				}
			}
		})
	}
}

// The report reads through the API's store: the interface it needs is a
// part of APIStore.
var _ report.Reader = APIStore(nil)
