package localstack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/handlers"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue/membroker"
	"github.com/rostersync/rostersync/internal/runs"
)

// The per-entity routes and their problem documents reach a caller
// through the local Functions host intact: status, media type and body.
func TestEntityAPIThroughTheHost(t *testing.T) {
	stack, a := startProduct(t, Options{Root: "../..", FunctionsDir: "../../functions",
		HTTPAddr: "127.0.0.1:0", FunctionKey: "local-key", Queue: membroker.QueueOptions{MaxDeliveryCount: 3}}, nil)
	ctx := context.Background()
	do := func(method, path, body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest(method, stack.Host.URL()+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("x-functions-key", "local-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	for _, s := range []struct{ method, path, body string }{
		{"PUT", "/api/customers/oakfield", `{"name":"Oakfield Academy","features":{"users":true}}`},
		{"PUT", "/api/customers/oakfield/profiles/nightly", `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["noop"]}`},
	} {
		if code, _, body := do(s.method, s.path, s.body); code != http.StatusOK {
			t.Fatalf("%s %s = %d %s", s.method, s.path, code, body)
		}
	}
	// A finished users run with its plan, as the pipeline leaves one.
	run := runs.New("r1", "oakfield", "nightly", runs.TriggerManual, runs.ModeApply, "r1", []string{"users"}, time.Now())
	run.Entities[0].Status = runs.StatusSucceeded
	run.Finish(time.Now())
	if _, err := a.Store.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oakfield", RunID: "r1", Entity: "users",
		Unsynced: []plan.Unsynced{{Key: "s9", Reason: plan.UnsyncedBecauseExcluded}}}
	if err := a.Store.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, method, path string
		want               int
		wantType           handlers.ProblemType // for errors
		wantBody           string               // for successes
	}{
		{"plan", "GET", "/api/customers/oakfield/runs/r1/entities/users/plan", 200, "", `"runId": "r1"`},
		{"unsynced", "GET", "/api/customers/oakfield/runs/r1/entities/users/unsynced", 200, "", "unsynced_because_excluded"},
		{"links", "GET", "/api/customers/oakfield/entities/users/links", 200, "", `"value": []`},
		{"confirm of a plan not held", "POST", "/api/customers/oakfield/runs/r1/entities/users/confirm", 409, handlers.ProblemConflict, ""},
		{"unknown entity", "GET", "/api/customers/oakfield/runs/r1/entities/pupils/plan", 404, handlers.ProblemUnknownEntity, ""},
		{"button users lack", "POST", "/api/customers/oakfield/entities/users/objects/s1/delete?profile=nightly", 404, handlers.ProblemActionNotOffered, ""},
		{"button of an entity the profile lacks", "POST", "/api/customers/oakfield/entities/users/objects/s1/create?profile=nightly", 409, handlers.ProblemConflict, ""},
		{"button without a profile", "POST", "/api/customers/oakfield/entities/users/objects/s1/create", 400, handlers.ProblemValidation, ""},
		{"old plan route", "GET", "/api/customers/oakfield/runs/r1/plan", 404, handlers.ProblemNotFound, ""},
		{"old links route", "GET", "/api/customers/oakfield/links", 404, handlers.ProblemNotFound, ""},
		{"path the host mangles", "GET", "/api/customers/a%3Fb", 400, handlers.ProblemValidation, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, contentType, body := do(tt.method, tt.path, "")
			if tt.wantType == "" {
				if code != tt.want || !strings.Contains(body, tt.wantBody) {
					t.Errorf("%s %s = %d %s; want %d with %q", tt.method, tt.path, code, body, tt.want, tt.wantBody)
				}
				return
			}
			var p handlers.Problem
			if err := json.Unmarshal([]byte(body), &p); err != nil || code != tt.want || p.Status != code ||
				p.Type != tt.wantType || !strings.HasPrefix(contentType, handlers.ProblemContentType) {
				t.Errorf("%s %s = %d %s %s; want %d, a problem of type %s", tt.method, tt.path, code, contentType, body, tt.want, tt.wantType)
			}
		})
	}
}
