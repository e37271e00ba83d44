package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/lifecycle"
	"github.com/rostersync/rostersync/internal/state"
)

// doAs sends a request as actor (no header when actor is ""), through the
// contract checker.
func (f apiFixture) doAs(t *testing.T, actor, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if actor != "" {
		req.Header.Set(HeaderActor, actor)
	}
	f.api.ServeHTTP(rec, req)
	return rec
}

// auditTrail reads a customer's whole trail through the API, newest
// first, following nextLink pages of top.
func (f apiFixture) auditTrail(t *testing.T, customer string, top int) ([]state.AuditRecord, int) {
	t.Helper()
	var all []state.AuditRecord
	link, pages := fmt.Sprintf("/api/customers/%s/audit?top=%d", customer, top), 0
	for link != "" && pages < 50 {
		rec := f.do(t, "GET", link, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", link, rec.Code, rec.Body)
		}
		var page struct {
			Value    []state.AuditRecord
			NextLink string
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Value...)
		link = page.NextLink
		pages++
	}
	return all, pages
}

// TestAuditRecordsEachAction: every action that changes a customer's
// configuration or hands out passwords is recorded with who asked (the
// actor header, "unknown" without one), when, and its ids; refused
// requests are not recorded; no password, name or free text is.
func TestAuditRecordsEachAction(t *testing.T) {
	f := newAPIFixture(t)
	ctx := t.Context()
	if err := f.vault.PutCredentials(ctx, "oak", "r1", []credentials.Credential{{Key: "s1", UPN: "ada@oak.example", Password: "Secret-s1"}}); err != nil {
		t.Fatal(err)
	}
	const profile = `{"name":"Nightly","enabled":true,"runAt":"02:00","timeZone":"Europe/London","entities":["users"],"startDate":"2026-09-01","source":{"kind":"csv","path":"feed"}}`
	before := time.Now().UTC()
	steps := []struct {
		actor, method, path, body string
		want                      int
		record                    *state.AuditRecord // nil: nothing recorded
	}{
		{"admin-1", "PUT", "/api/customers/oak", `{"name":"Oak Academy"}`, 200,
			&state.AuditRecord{Action: "customer.put"}},
		{"admin-1", "PUT", "/api/customers/oak/profiles/nightly", profile, 200,
			&state.AuditRecord{Action: "profile.put", ProfileID: "nightly"}},
		{"admin-1", "POST", "/api/customers/oak/profiles/nightly/copy", `{"id":"next","name":"Next year"}`, 201,
			&state.AuditRecord{Action: "profile.copy", ProfileID: "next"}},
		{"admin-2", "POST", "/api/customers/oak/profiles/nightly/runs", `{"entities":["users"]}`, 202,
			&state.AuditRecord{Action: "run.start", ProfileID: "nightly", RunID: "r-new"}},
		{"admin-2", "POST", "/api/customers/oak/entities/users/objects/s3/create?profile=nightly", "", 202,
			&state.AuditRecord{Action: "object.create", ProfileID: "nightly", RunID: "r-new", Entity: "users", SourcedID: "s3"}},
		{"admin-2", "POST", "/api/customers/oak/runs/r1/entities/users/confirm", "", 202,
			&state.AuditRecord{Action: "run.confirm", RunID: "r1", Entity: "users"}},
		{"admin-2", "PUT", "/api/customers/oak/entities/users/links/s1", `{"objectId":"acc-1"}`, 200,
			&state.AuditRecord{Action: "link.put", Entity: "users", SourcedID: "s1", ObjectID: "acc-1"}},
		{"admin-2", "PUT", "/api/customers/oak/entities/users/links/s2", `{"objectId":"acc-404"}`, 400, nil},
		{"admin-2", "DELETE", "/api/customers/oak/entities/users/links/s1", "", 204,
			&state.AuditRecord{Action: "link.delete", Entity: "users", SourcedID: "s1"}},
		{"admin-3", "PUT", "/api/customers/oak/entities/users/exclusions/s7", `{"reason":"safeguarding: Ada Lovelace"}`, 200,
			&state.AuditRecord{Action: "exclusion.put", Entity: "users", SourcedID: "s7"}},
		{"admin-3", "DELETE", "/api/customers/oak/entities/users/exclusions/s7", "", 204,
			&state.AuditRecord{Action: "exclusion.delete", Entity: "users", SourcedID: "s7"}},
		{"admin-3", "DELETE", "/api/customers/oak/entities/users/exclusions/s7", "", 404, nil},
		{"admin-3", "GET", "/api/customers/oak/runs/r1/credentials", "", 200,
			&state.AuditRecord{Action: "credentials.export", RunID: "r1", Count: 1}},
		{"", "GET", "/api/customers/oak/runs/r1/credentials/exports/{export}", "", 200,
			&state.AuditRecord{Action: "credentials.refetch", RunID: "r1", Count: 1, Actor: ActorUnknown}},
		{"admin-3", "POST", "/api/customers/oak/runs/r1/credentials/exports/{export}/acknowledge", "", 200,
			&state.AuditRecord{Action: "credentials.acknowledge", RunID: "r1", Count: 1}},
		{"admin-3", "POST", "/api/customers/oak/runs/r1/entities/groups/confirm", "", 409, nil},
		{"admin-4", "DELETE", "/api/customers/oak/configuration", "", 200,
			&state.AuditRecord{Action: "configuration.remove"}},
	}
	f.raw.SetRemover(lifecycle.New(f.store, f.vault, nil, 0, nil, nil), "app-1")
	export := ""
	var want []state.AuditRecord // newest first
	for _, s := range steps {
		path := strings.ReplaceAll(s.path, "{export}", export)
		rec := f.doAs(t, s.actor, s.method, path, s.body)
		if rec.Code != s.want {
			t.Fatalf("%s %s as %q = %d %s, want %d", s.method, path, s.actor, rec.Code, rec.Body, s.want)
		}
		if id := rec.Header().Get(headerExportID); id != "" {
			export = id
		}
		if s.record == nil {
			continue
		}
		w := *s.record
		w.CustomerID = "oak"
		if w.Actor == "" {
			w.Actor = s.actor
		}
		if strings.HasPrefix(w.Action, "credentials.") {
			w.ExportID = export
		}
		want = append([]state.AuditRecord{w}, want...)
	}
	got, _ := f.auditTrail(t, "oak", 100)
	if len(got) != len(want) {
		t.Fatalf("oak's trail has %d records, want %d: %+v", len(got), len(want), got)
	}
	after := time.Now().UTC()
	for i, g := range got {
		if g.At.Before(before) || g.At.After(after) || g.ID == "" {
			t.Errorf("record %d (%s) at %v, id %q; want a time of the test and an id", i, g.Action, g.At, g.ID)
		}
		g.At, g.ID = time.Time{}, ""
		if g != want[i] {
			t.Errorf("record %d = %+v\nwant %+v", i, g, want[i])
		}
	}
	body := f.do(t, "GET", "/api/customers/oak/audit", "").Body.String()
	for _, secret := range []string{"Secret-s1", "ada@oak.example", "Ada Lovelace", "safeguarding"} {
		if strings.Contains(body, secret) {
			t.Errorf("the audit trail holds %q: ids only", secret)
		}
	}
	if c, err := f.store.GetConfirmation(ctx, "oak", "r1", "users"); err != nil || c.Actor != "admin-2" {
		t.Errorf("confirmation = %+v, %v; want it made by admin-2", c, err)
	}
}

// TestAuditPagesNewestFirst: the trail pages by top, newest first, and
// the walk sees every record once.
func TestAuditPagesNewestFirst(t *testing.T) {
	f := newAPIFixture(t)
	const n = 7
	for i := range n {
		if rec := f.doAs(t, "admin-1", "PUT", fmt.Sprintf("/api/customers/oak/entities/users/exclusions/p%d", i), ""); rec.Code != 200 {
			t.Fatalf("exclusion %d = %d %s", i, rec.Code, rec.Body)
		}
	}
	got, pages := f.auditTrail(t, "oak", 3)
	if pages != 3 || len(got) != n {
		t.Fatalf("trail = %d records in %d pages, want %d in 3", len(got), pages, n)
	}
	for i, r := range got {
		if want := fmt.Sprintf("p%d", n-1-i); r.SourcedID != want {
			t.Errorf("record %d names %s, want %s (newest first)", i, r.SourcedID, want)
		}
		if i > 0 && r.At.After(got[i-1].At) {
			t.Errorf("record %d at %v is newer than record %d at %v", i, r.At, i-1, got[i-1].At)
		}
	}
	for _, bad := range []string{"?top=0", "?top=1001", "?continuation=%21%21"} {
		if rec := f.do(t, "GET", "/api/customers/oak/audit"+bad, ""); rec.Code != 400 {
			t.Errorf("GET audit%s = %d, want 400", bad, rec.Code)
		}
	}
}

// TestAuditRefusesABadActor: the actor header is hostile input: control
// and format characters, an over-long value or a second copy are a 400
// naming the header and where, before anything is done or recorded.
func TestAuditRefusesABadActor(t *testing.T) {
	long := strings.Repeat("é", maxActorRunes)
	tests := []struct {
		name   string
		actors []string
		want   string // in the detail; "" for accepted
	}{
		{"bell", []string{"admin\a1"}, "U+0007 at byte 5"},
		{"forged line", []string{"admin\nunknown"}, "U+000A at byte 5"},
		{"tab", []string{"admin\t1"}, "U+0009"},
		{"right-to-left override", []string{"admin\u202e1"}, "U+202E at byte 5"},
		{"line separator", []string{"admin\u20281"}, "U+2028"},
		{"over the limit", []string{long + "x"}, "257 characters, the limit is 256"},
		{"not UTF-8", []string{"admin\xff"}, "not valid UTF-8"},
		{"sent twice", []string{"admin-1", "admin-2"}, "sent 2 times"},
		{"at the limit", []string{long}, ""},
		{"an email-like id", []string{"it-admin@oak.example"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAPIFixture(t)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("PUT", "/api/customers/oak/entities/users/exclusions/s5", nil)
			for _, a := range tt.actors {
				req.Header.Add(HeaderActor, a)
			}
			f.api.ServeHTTP(rec, req)
			xs, _ := f.store.ListExclusions(t.Context(), "oak", "user")
			trail, _ := f.auditTrail(t, "oak", 10)
			if tt.want == "" {
				if rec.Code != 200 || len(trail) != 1 || trail[0].Actor != tt.actors[0] {
					t.Errorf("= %d %s, trail %+v; want accepted and recorded as %q", rec.Code, rec.Body, trail, tt.actors[0])
				}
				return
			}
			p := checkProblem(t, rec, http.StatusBadRequest, ProblemValidation)
			if !strings.Contains(p.Detail, HeaderActor) || !strings.Contains(p.Detail, tt.want) {
				t.Errorf("detail %q; want it to name %s and %q", p.Detail, HeaderActor, tt.want)
			}
			if len(xs) != 1 || len(trail) != 0 { // the fixture's s9 alone
				t.Errorf("a refused request acted: exclusions %+v, trail %+v", xs, trail)
			}
		})
	}
}

// TestAuditIsPerCustomer: a customer's trail shows its own records only,
// even when asked with another customer's continuation; an unknown
// customer's is a 404.
func TestAuditIsPerCustomer(t *testing.T) {
	f := newAPIFixture(t)
	for i := range 3 {
		f.doAs(t, "oak-admin", "PUT", fmt.Sprintf("/api/customers/oak/entities/users/exclusions/o%d", i), "")
	}
	f.doAs(t, "elm-admin", "PUT", "/api/customers/elm/entities/users/exclusions/e1", "")
	for _, c := range []struct {
		customer, actor string
		n               int
	}{{"oak", "oak-admin", 3}, {"elm", "elm-admin", 1}} {
		trail, _ := f.auditTrail(t, c.customer, 100)
		if len(trail) != c.n {
			t.Errorf("%s's trail has %d records, want %d", c.customer, len(trail), c.n)
		}
		for _, r := range trail {
			if r.CustomerID != c.customer || r.Actor != c.actor {
				t.Errorf("%s's trail shows %+v", c.customer, r)
			}
		}
	}
	// oak's continuation sent to elm's trail reads elm's partition only.
	rec := f.do(t, "GET", "/api/customers/oak/audit?top=1", "")
	var page struct{ NextLink string }
	_ = json.Unmarshal(rec.Body.Bytes(), &page)
	_, query, _ := strings.Cut(page.NextLink, "?")
	rec = f.do(t, "GET", "/api/customers/elm/audit?"+query, "")
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "oak") {
		t.Errorf("elm's trail with oak's continuation = %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(t, "GET", "/api/customers/nobody/audit", ""); rec.Code != 404 {
		t.Errorf("unknown customer's trail = %d, want 404", rec.Code)
	}
	// And purging oak leaves elm's trail.
	if _, err := f.store.PurgeCustomer(t.Context(), "oak"); err != nil {
		t.Fatal(err)
	}
	if trail, _ := f.auditTrail(t, "oak", 100); len(trail) != 0 {
		t.Errorf("oak's trail after its purge = %+v", trail)
	}
	if trail, _ := f.auditTrail(t, "elm", 100); len(trail) != 1 {
		t.Errorf("elm's trail after oak's purge = %+v", trail)
	}
}

// TestAuditRecordsAMatchFromAFile: links stored from a CSV file are
// recorded with who asked and how many; a dry run records nothing, and a
// bad actor header is refused before any link is stored.
func TestAuditRecordsAMatchFromAFile(t *testing.T) {
	f := newMatchFixture(t)
	const file = "cls-a,g-a\ncls-b,g-b\n"
	post := func(actor, query string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/api/customers/oak/entities/classrooms/matches"+query, strings.NewReader(file))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set(HeaderActor, actor)
		f.api.ServeHTTP(rec, req)
		return rec
	}
	if rec := post("admin\r\nx", "?apply=true"); rec.Code != http.StatusBadRequest || len(f.links(t)) != 1 {
		t.Fatalf("match with a bad actor = %d %s, %d links; want 400 and only the fixture's link", rec.Code, rec.Body, len(f.links(t)))
	}
	if rec := post("admin-5", ""); rec.Code != 200 {
		t.Fatalf("dry run = %d %s", rec.Code, rec.Body)
	}
	if rec := post("admin-5", "?apply=true"); rec.Code != 200 {
		t.Fatalf("apply = %d %s", rec.Code, rec.Body)
	}
	recs, _, err := f.store.AuditPage(t.Context(), "oak", 10, "")
	if err != nil || len(recs) != 1 {
		t.Fatalf("oak's trail = %+v, %v; want the one applied match", recs, err)
	}
	if r := recs[0]; r.Action != string(AuditLinksMatch) || r.Actor != "admin-5" || r.Entity != "classrooms" || r.Count != 2 {
		t.Errorf("match record = %+v", r)
	}
}
