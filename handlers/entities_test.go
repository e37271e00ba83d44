package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/pipeline"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/runs"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// testCatalog is today's users plus two entities the API must serve
// without knowing them: groups (linked, its own buttons) and calendar
// (no links).
func testCatalog() EntityCatalog {
	return StaticCatalog(UsersEntity(),
		EntityInfo{Name: "groups", LinkKind: "group", Buttons: []Button{ButtonResync, ButtonDelete}, Memberships: detailMembers},
		EntityInfo{Name: "calendar"})
}

// checkProblem asserts an RFC 9457 answer: the problem media type, the
// status in the body equal to the answer's, a title and instance, and the
// kind's stable type when wantType is set.
func checkProblem(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int, wantType ProblemType) Problem {
	t.Helper()
	if mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type")); mt != ProblemContentType {
		t.Errorf("error answer of type %q, want %s: %s", rec.Header().Get("Content-Type"), ProblemContentType, rec.Body)
	}
	var p Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatalf("error answer is not a problem document: %v: %s", err, rec.Body)
	}
	if rec.Code != wantStatus || p.Status != rec.Code || p.Title == "" || p.Title != p.Type.Title() || !strings.HasPrefix(p.Instance, "/api/") ||
		!strings.HasPrefix(string(p.Type), ProblemTypeBase) || p.Type.Status() != rec.Code {
		t.Errorf("problem = %d %+v, want status %d with a title and instance", rec.Code, p, wantStatus)
	}
	if wantType != "" && p.Type != wantType {
		t.Errorf("problem type = %s, want %s (detail %q)", p.Type, wantType, p.Detail)
	}
	return p
}

// Each per-entity route, for users, and the errors around them: every
// error is a problem document whose type names its kind.
func TestAPIEntityRoutes(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		want                     int
		wantType                 ProblemType // for errors
		wantBody                 string      // in a success
	}{
		{"plan", "GET", "/api/customers/oak/runs/r1/entities/users/plan", "", 200, "", "suspend_because_left_mis"},
		{"plan filtered", "GET", "/api/customers/oak/runs/r1/entities/users/plan?status=done", "", 200, "", `"entries": []`},
		{"unsynced", "GET", "/api/customers/oak/runs/r1/entities/users/unsynced", "", 200, "", "unsynced_because_excluded"},
		{"links", "GET", "/api/customers/oak/entities/users/links", "", 200, "", `"value": []`},
		{"link one", "PUT", "/api/customers/oak/entities/users/links/s1", `{"objectId":"acc-1"}`, 200, "", `"objectId": "acc-1"`},
		{"unlink one", "DELETE", "/api/customers/oak/entities/users/links/s1", "", 204, "", ""},
		{"exclusions", "GET", "/api/customers/oak/entities/users/exclusions", "", 200, "", `"sourcedId": "s9"`},
		{"exclude one", "PUT", "/api/customers/oak/entities/users/exclusions/s7", `{"reason":"left"}`, 200, "", `"sourcedId": "s7"`},
		{"stop excluding one", "DELETE", "/api/customers/oak/entities/users/exclusions/s9", "", 204, "", ""},
		{"stop excluding one never excluded", "DELETE", "/api/customers/oak/entities/users/exclusions/s7", "", 404, ProblemNotFound, ""},
		{"another entity's exclusions", "GET", "/api/customers/oak/entities/groups/exclusions", "", 200, "", `"value": []`},
		{"create button", "POST", "/api/customers/oak/entities/users/objects/s1/create?profile=nightly", "", 202, "", "r-new"},
		{"resync button", "POST", "/api/customers/oak/entities/users/objects/s1/resync?profile=nightly", "", 202, "", "r-new"},
		{"another entity's links", "GET", "/api/customers/oak/entities/groups/links", "", 200, "", `"value": []`},

		{"plan of an unknown entity", "GET", "/api/customers/oak/runs/r1/entities/pupils/plan", "", 404, ProblemUnknownEntity, ""},
		{"unsynced of an unknown entity", "GET", "/api/customers/oak/runs/r1/entities/pupils/unsynced", "", 404, ProblemUnknownEntity, ""},
		{"confirm of an unknown entity", "POST", "/api/customers/oak/runs/r1/entities/pupils/confirm", "", 404, ProblemUnknownEntity, ""},
		{"links of an unknown entity", "GET", "/api/customers/oak/entities/pupils/links", "", 404, ProblemUnknownEntity, ""},
		{"link of an unknown entity", "PUT", "/api/customers/oak/entities/pupils/links/s1", `{"objectId":"acc-1"}`, 404, ProblemUnknownEntity, ""},
		{"exclusion of an unknown entity", "DELETE", "/api/customers/oak/entities/pupils/exclusions/s1", "", 404, ProblemUnknownEntity, ""},
		{"button of an unknown entity", "POST", "/api/customers/oak/entities/pupils/objects/s1/create?profile=nightly", "", 404, ProblemUnknownEntity, ""},
		{"button users do not offer", "POST", "/api/customers/oak/entities/users/objects/s1/delete?profile=nightly", "", 404, ProblemActionNotOffered, ""},
		{"button groups do not offer", "POST", "/api/customers/oak/entities/groups/objects/g1/create?profile=nightly", "", 404, ProblemActionNotOffered, ""},
		{"no such button", "POST", "/api/customers/oak/entities/users/objects/s1/explode?profile=nightly", "", 404, ProblemNotFound, ""},
		{"button without a profile", "POST", "/api/customers/oak/entities/users/objects/s1/create", "", 400, ProblemValidation, ""},
		{"button with a body", "POST", "/api/customers/oak/entities/users/objects/s1/create?profile=nightly", `{"profile":"nightly"}`, 400, ProblemValidation, ""},
		{"links of an entity that keeps none", "GET", "/api/customers/oak/entities/calendar/links", "", 404, ProblemNotFound, ""},
		{"link a kind the checker cannot look up", "PUT", "/api/customers/oak/entities/groups/links/g1", `{"objectId":"grp-1"}`, 501, ProblemUnsupported, ""},
		{"plan of an entity the run lacks", "GET", "/api/customers/oak/runs/r1/entities/groups/plan", "", 404, ProblemNotFound, ""},
		{"link without an objectId", "PUT", "/api/customers/oak/entities/users/links/s2", `{}`, 400, ProblemValidation, ""},
		{"link with text/plain", "PUT", "/api/customers/oak/entities/users/links/s2", `{}`, 415, ProblemUnsupportedMediaType, ""},
		{"GET of confirm", "GET", "/api/customers/oak/runs/r1/entities/users/confirm", "", 405, ProblemMethodNotAllowed, ""},

		// The user-only routes are gone.
		{"old plan", "GET", "/api/customers/oak/runs/r1/plan", "", 404, ProblemNotFound, ""},
		{"old unsynced", "GET", "/api/customers/oak/runs/r1/unsynced", "", 404, ProblemNotFound, ""},
		{"old confirm", "POST", "/api/customers/oak/runs/r1/confirm", "", 404, ProblemNotFound, ""},
		{"old links", "GET", "/api/customers/oak/links", "", 404, ProblemNotFound, ""},
		{"old link", "PUT", "/api/customers/oak/links/s1", `{"targetId":"acc-1"}`, 404, ProblemNotFound, ""},
		{"old exclusions", "GET", "/api/customers/oak/exclusions", "", 404, ProblemNotFound, ""},
		{"old exclusion", "DELETE", "/api/customers/oak/exclusions/s1", "", 404, ProblemNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAPIFixture(t)
			contentType := ""
			if tt.body != "" {
				contentType = "application/json"
			}
			if tt.wantType == ProblemUnsupportedMediaType {
				contentType = "text/plain"
			}
			rec := f.doType(t, tt.method, tt.path, contentType, tt.body)
			if tt.want >= 400 {
				p := checkProblem(t, rec, tt.want, tt.wantType)
				if p.Instance != strings.SplitN(tt.path, "?", 2)[0] {
					t.Errorf("instance = %q, want the request's path", p.Instance)
				}
				if tt.want == 405 && rec.Header().Get("Allow") == "" {
					t.Error("405 without Allow")
				}
				return
			}
			if rec.Code != tt.want || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Errorf("%s %s = %d %s; want %d with %q", tt.method, tt.path, rec.Code, rec.Body, tt.want, tt.wantBody)
			}
		})
	}
}

// A per-object button starts a run of that entity narrowed to the one
// object, under the profile the query names, carrying the button.
func TestAPIObjectButtonStartsANarrowRun(t *testing.T) {
	f := newAPIFixture(t)
	rec := f.do(t, "POST", "/api/customers/oak/entities/users/objects/s1/resync?profile=nightly", "")
	if rec.Code != http.StatusAccepted || rec.Header().Get("Location") != "/api/customers/oak/runs/r-new" {
		t.Fatalf("button = %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	want := pipeline.RunRequest{CustomerID: "oak", ProfileID: "nightly", Mode: runs.ModeApply, Entities: []string{"users"}, Only: []string{"s1"}, Action: "resync"}
	if len(f.starter.started) != 1 {
		t.Fatalf("started = %+v", f.starter.started)
	}
	got := f.starter.started[0]
	if got.CustomerID != want.CustomerID || got.ProfileID != want.ProfileID || got.Mode != want.Mode || got.Action != want.Action ||
		!slices.Equal(got.Entities, want.Entities) || !slices.Equal(got.Only, want.Only) {
		t.Errorf("run request = %+v, want %+v", got, want)
	}

	// Through the real pipeline, the run record carries the button.
	ctx := context.Background()
	prof := tenant.Profile{CustomerID: "oak", ID: "nightly", Name: "Nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{"users"}}
	if err := f.store.SaveProfile(ctx, prof); err != nil {
		t.Fatal(err)
	}
	p := pipeline.New(f.store, queue.SenderFunc(func(ctx context.Context, msgs ...queue.Message) error { return nil }), nil, nil, nil, pipeline.Options{})
	api := NewAPI(f.store, p, nil, testCatalog(), nil)
	rec = serve(api, "POST", "/api/customers/oak/entities/users/objects/s1/create?profile=nightly", "", "")
	var run runs.Run
	if err := json.Unmarshal(rec.Body.Bytes(), &run); rec.Code != http.StatusAccepted || err != nil {
		t.Fatalf("button through the pipeline = %d %s", rec.Code, rec.Body)
	}
	stored, err := f.store.GetRun(ctx, "oak", run.ID)
	if err != nil || stored.Action != "create" || !slices.Equal(stored.Only, []string{"s1"}) || len(stored.Entities) != 1 || stored.Entities[0].Entity != "users" {
		t.Errorf("stored run = %+v, %v; want action create, only s1, users alone", stored, err)
	}
	// A second press while that run is going is the run-in-progress kind.
	rec = serve(api, "POST", "/api/customers/oak/entities/users/objects/s2/create?profile=nightly", "", "")
	if p := checkProblem(t, rec, http.StatusConflict, ProblemRunInProgress); !strings.Contains(p.Detail, run.ID) {
		t.Errorf("run-in-progress detail %q does not name run %s", p.Detail, run.ID)
	}
}

// Confirming works per entity: only a held entity is confirmed; a resume
// that cannot start withdraws the confirmation and answers 503.
func TestAPIConfirmPerEntity(t *testing.T) {
	tests := []struct {
		name       string
		entity     string
		resumeErr  error
		want       int
		wantType   ProblemType
		wantRecord bool
	}{
		{"held users", "users", nil, http.StatusAccepted, "", true},
		{"groups, not held", "groups", nil, http.StatusConflict, ProblemConflict, false},
		{"calendar, not in the run", "calendar", nil, http.StatusConflict, ProblemConflict, false},
		{"held users, resume fails", "users", errors.New("service bus unavailable"), http.StatusServiceUnavailable, ProblemUnavailable, false},
		{"unknown entity", "pupils", nil, http.StatusNotFound, ProblemUnknownEntity, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAPIFixture(t)
			f.starter.fail = tt.resumeErr
			rec := f.do(t, "POST", "/api/customers/oak/runs/r1/entities/"+tt.entity+"/confirm", "")
			if tt.want >= 400 {
				checkProblem(t, rec, tt.want, tt.wantType)
			} else if rec.Code != tt.want {
				t.Fatalf("confirm = %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			c, err := f.store.GetConfirmation(context.Background(), "oak", "r1", tt.entity)
			switch {
			case tt.wantRecord && (err != nil || c.Entity != tt.entity):
				t.Errorf("confirmation = %+v, %v; want one for %s", c, err, tt.entity)
			case !tt.wantRecord && !errors.Is(err, state.ErrNotFound):
				t.Errorf("confirmation on file after %d: %+v, %v", rec.Code, c, err)
			}
			resumed := tt.want == http.StatusAccepted || tt.resumeErr != nil
			if resumed != (len(f.starter.resumed) == 1) || resumed && f.starter.resumed[0] != "r1/"+tt.entity+"/apply" {
				t.Errorf("resumed = %v", f.starter.resumed)
			}
		})
	}
}

// Errors from outside the routes (a path the host would mangle, a body
// too big) are problem documents too.
func TestAPIProblemsEverywhere(t *testing.T) {
	f := newAPIFixture(t)
	srv := NewServer(&fakePipeline{}, f.api, nil, nil)
	tests := []struct {
		name     string
		req      func() *http.Request
		h        http.Handler
		want     int
		wantType ProblemType
	}{
		{"percent-encoded path", func() *http.Request { return httptest.NewRequest("GET", "/api/customers/a%3Fb", nil) }, srv, 400, ProblemValidation},
		{"repeated query parameter", func() *http.Request {
			return httptest.NewRequest("POST", "/api/customers/oak/entities/users/objects/s1/create?profile=a&profile=b", nil)
		}, srv, 400, ProblemValidation},
		{"body over 1 MiB", func() *http.Request {
			r := httptest.NewRequest("PUT", "/api/customers/oak", strings.NewReader(`{"name":"`+strings.Repeat("x", maxAPIBody)+`"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}, f.api, 413, ProblemPayloadTooLarge},
		{"unknown customer", func() *http.Request { return httptest.NewRequest("GET", "/api/customers/ash", nil) }, f.api, 404, ProblemNotFound},
		{"bad top", func() *http.Request { return httptest.NewRequest("GET", "/api/customers/oak/runs?top=0", nil) }, f.api, 400, ProblemValidation},
		{"unknown export", func() *http.Request {
			return httptest.NewRequest("GET", "/api/customers/oak/runs/r1/credentials/exports/ffffffffffffffffffffffffffffffff", nil)
		}, f.api, 404, ProblemNotFound},
		{"unknown route", func() *http.Request { return httptest.NewRequest("GET", "/api/nothing-here", nil) }, srv, 404, ProblemNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, tt.req())
			checkProblem(t, rec, tt.want, tt.wantType)
		})
	}
}

// Every kind has its own status and title, so a type read from an answer
// always means the same thing.
func TestProblemTypesAreStable(t *testing.T) {
	want := map[ProblemType]int{
		"urn:rostersync:problem:not-found":              404,
		"urn:rostersync:problem:unknown-entity":         404,
		"urn:rostersync:problem:action-not-offered":     404,
		"urn:rostersync:problem:method-not-allowed":     405,
		"urn:rostersync:problem:validation":             400,
		"urn:rostersync:problem:conflict":               409,
		"urn:rostersync:problem:run-in-progress":        409,
		"urn:rostersync:problem:gone":                   410,
		"urn:rostersync:problem:length-required":        411,
		"urn:rostersync:problem:payload-too-large":      413,
		"urn:rostersync:problem:unsupported-media-type": 415,
		"urn:rostersync:problem:internal":               500,
		"urn:rostersync:problem:unsupported":            501,
		"urn:rostersync:problem:unavailable":            503,
	}
	titles := map[string]ProblemType{}
	for typ, status := range want {
		if typ.Status() != status {
			t.Errorf("%s: status %d, want %d", typ, typ.Status(), status)
		}
		if prev, dup := titles[typ.Title()]; dup {
			t.Errorf("%s and %s share the title %q", typ, prev, typ.Title())
		}
		titles[typ.Title()] = typ
	}
}

// detailMembers is the test catalog's groups memberships: a change's
// Detail lists the accounts it adds as members.
func detailMembers(c plan.Change, account string) []plan.Membership {
	return plan.MembershipsOf(account, plan.MembershipList{IDs: strings.Split(c.Detail, ","), Role: plan.RoleMember, Change: plan.MembershipAdd})
}
