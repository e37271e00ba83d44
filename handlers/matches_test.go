package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// matchCatalog offers classrooms with a CSV match over keys.
type matchCatalog struct {
	EntityCatalog
	keys map[string]string
}

func (m matchCatalog) MatchKeys(entity string) MatchKeysFunc {
	if entity != tenant.EntityClassrooms {
		return nil
	}
	return func(ctx context.Context, c tenant.Customer, p tenant.Profile) (map[string]string, error) {
		return m.keys, nil
	}
}

// fakeGroup is a group of the fake tenant.
type fakeGroup struct {
	nick, mail string
	class      bool
}

// fakeFinder is the customers' tenants' groups by tenant id, then group
// id; a tenant that is not in it is a business tenant.
type fakeFinder struct {
	groups  map[string]map[string]fakeGroup
	lookups int
}

func (f *fakeFinder) ObjectExists(ctx context.Context, c tenant.Customer, kind, id string) (bool, error) {
	_, ok := f.groups[c.TenantID][id]
	return ok, nil
}

func (f *fakeFinder) FindObject(ctx context.Context, c tenant.Customer, kind, ref string) (FoundObject, error) {
	f.lookups++
	gs, ok := f.groups[c.TenantID]
	if !ok {
		return FoundObject{}, ErrTenantRefusesKind
	}
	for id, g := range gs {
		if strings.EqualFold(id, ref) || strings.EqualFold(g.nick, ref) || strings.EqualFold(g.mail, ref) {
			obj := FoundObject{ID: id, DisplayName: "2026-" + g.nick, MailNickname: g.nick, Mail: g.mail}
			if !g.class {
				return obj, ErrObjectWrongKind
			}
			return obj, nil
		}
	}
	return FoundObject{}, ErrObjectNotFound
}

type matchFixture struct {
	api, raw http.Handler
	store    *state.Store
	finder   *fakeFinder
}

func newMatchFixture(t *testing.T) matchFixture {
	t.Helper()
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewStore(b, nil)
	ctx := context.Background()
	for _, c := range []tenant.Customer{{ID: "oak", TenantID: tenantOak}, {ID: "elm", TenantID: tenantElm}, {ID: "ash"}} {
		if err := store.PutCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []tenant.Profile{
		{CustomerID: "oak", ID: "nightly", Name: "Nightly", RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{"users", "classrooms"}, Source: tenant.RosterSource{Kind: "csv", Path: "feed"}},
		{CustomerID: "elm", ID: "nightly", Name: "Nightly", RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{"users", "classrooms"}, Source: tenant.RosterSource{Kind: "csv", Path: "feed"}},
	} {
		if err := store.SaveProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.PutMappings(ctx, state.Mapping{CustomerID: "oak", Kind: "class", SourceID: "cls-linked", TargetID: "g-linked", How: "created"}); err != nil {
		t.Fatal(err)
	}
	cat := matchCatalog{EntityCatalog: StaticCatalog(UsersEntity(), EntityInfo{Name: tenant.EntityClassrooms, LinkKind: "class"}),
		keys: map[string]string{"cls-a": "10A", "cls-b": "10B", "cls-c": "10C", "cls-linked": "10L", "course:maths": "10 Maths"}}
	finder := &fakeFinder{groups: map[string]map[string]fakeGroup{tenantOak: {
		"g-a":      {nick: "10A", mail: "10a@oak.example", class: true},
		"g-b":      {nick: "10B", mail: "10b@oak.example", class: true},
		"g-c":      {nick: "10C", mail: "10c@oak.example", class: true},
		"g-linked": {nick: "10L", mail: "10l@oak.example", class: true},
		"g-staff":  {nick: "staff", mail: "staff@oak.example"},
	}}}
	api := NewAPI(store, &fakeStarter{}, nil, cat, nil)
	api.SetObjectLookup(finder)
	return matchFixture{api: checkContract(t, api), raw: api, store: store, finder: finder}
}

func (f matchFixture) post(t *testing.T, h http.Handler, query, contentType, body string) (*httptest.ResponseRecorder, MatchReport) {
	t.Helper()
	rec := serve(h, "POST", "/api/customers/oak/entities/classrooms/matches"+query, contentType, body)
	var rep MatchReport
	if rec.Code == http.StatusOK || rec.Code == http.StatusBadRequest {
		_ = json.Unmarshal(rec.Body.Bytes(), &rep)
	}
	return rec, rep
}

func (f matchFixture) links(t *testing.T) map[string]state.Mapping {
	t.Helper()
	ms, err := f.store.ListMappings(context.Background(), "oak", "class")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]state.Mapping{}
	for _, m := range ms {
		out[m.SourceID] = m
	}
	return out
}

// A good file: BOM, header, CRLF, a quoted cell; groups named by id,
// email address and mailNickname; one row already linked so. The dry run
// answers what each row would do and changes nothing; apply=true stores
// the links as a manual link is stored.
func TestMatchClassroomsGoodRowsDryRunThenApply(t *testing.T) {
	f := newMatchFixture(t)
	file := "\ufeffsourcedId,group\r\ncls-a,g-a\r\n\"cls-b\",10b@oak.example\r\ncls-c,10C\r\n,\r\ncls-linked,g-linked\r\n"

	rec, rep := f.post(t, f.api, "", "text/csv", file)
	if rec.Code != http.StatusOK || rep.Applied {
		t.Fatalf("dry run = %d %s", rec.Code, rec.Body)
	}
	want := []struct {
		row         int
		key, id, do string
	}{{2, "cls-a", "g-a", MatchLink}, {3, "cls-b", "g-b", MatchLink}, {4, "cls-c", "g-c", MatchLink}, {6, "cls-linked", "g-linked", MatchLinked}}
	if len(rep.Rows) != len(want) || rep.Summary != (MatchSummary{Rows: 4, Link: 3, Linked: 1}) {
		t.Fatalf("dry run report = %+v", rep)
	}
	for i, w := range want {
		if r := rep.Rows[i]; r.Row != w.row || r.SourcedID != w.key || r.ObjectID != w.id || r.Action != w.do || len(r.Errors) > 0 {
			t.Errorf("row %d = %+v, want %+v", i, r, w)
		}
	}
	if got := f.links(t); len(got) != 1 {
		t.Fatalf("the dry run stored links: %v", got)
	}

	rec, rep = f.post(t, f.api, "?apply=true&profile=nightly", "text/csv; charset=utf-8", file)
	if rec.Code != http.StatusOK || !rep.Applied || rep.Summary.Link != 3 {
		t.Fatalf("apply = %d %s", rec.Code, rec.Body)
	}
	got := f.links(t)
	for key, id := range map[string]string{"cls-a": "g-a", "cls-b": "g-b", "cls-c": "g-c", "cls-linked": "g-linked"} {
		if got[key].TargetID != id {
			t.Errorf("link of %s = %+v, want %s", key, got[key], id)
		}
	}
	if got["cls-a"].How != "manual" || got["cls-linked"].How != "created" {
		t.Errorf("provenance: cls-a %q (want manual), cls-linked %q (want kept)", got["cls-a"].How, got["cls-linked"].How)
	}
	// Applied again, every row is linked already.
	if _, rep = f.post(t, f.api, "?apply=true", "text/csv", file); rep.Summary.Linked != 4 || rep.Summary.Link != 0 {
		t.Errorf("second apply = %+v", rep.Summary)
	}
}

// Every bad row is reported with its row, column and reason; with
// apply=true one bad row among good ones applies nothing.
func TestMatchClassroomsBadRowsLocatedAndNothingApplied(t *testing.T) {
	f := newMatchFixture(t)
	file := strings.Join([]string{
		"cls-a,g-a",             // 1 good
		"cls-zz,g-b",            // 2 unknown class
		"cls-a,g-c",             // 3 class named again
		"cls-b,g-nowhere",       // 4 no such group
		"cls-c,staff",           // 5 a plain group, not a class
		"course:maths,g-a",      // 6 group named again
		"cls-linked,g-b",        // 7 class linked to another group already
		"cls-b,10l@oak.example", // 8 group linked to another class already (and cls-b again)
		"cls-c,",                // 9 no group
	}, "\n") + "\n"
	wants := []struct {
		row, col int
		reason   string
	}{
		{2, 1, `unknown class "cls-zz"`},
		{3, 1, `row 1 names it already`},
		{4, 2, `no group with the id, email address or mailNickname "g-nowhere"`},
		{5, 2, `group g-staff is not an education class`},
		{6, 2, `group g-a is named again: row 1`},
		{7, 1, `linked to group g-linked already`},
		{8, 2, `group g-linked is linked to class "cls-linked" already`},
		{9, 2, `no group: the column is empty`},
	}
	rec, rep := f.post(t, f.api, "", "text/csv", file)
	if rec.Code != http.StatusOK || rep.Summary.Rows != 9 || rep.Summary.Link != 1 || rep.Summary.Errors != 8 {
		t.Fatalf("dry run = %d %+v", rec.Code, rep.Summary)
	}
	if rep.Rows[0].Action != MatchLink {
		t.Errorf("row 1 = %+v, want link", rep.Rows[0])
	}
	for _, w := range wants {
		r := rep.Rows[w.row-1]
		found := false
		for _, e := range r.Errors {
			if e.Row == w.row && e.Column == w.col && strings.Contains(e.Reason, w.reason) {
				found = true
			}
		}
		if r.Action != MatchInvalid || !found {
			t.Errorf("row %d = %+v; want an error in column %d saying %q", w.row, r, w.col, w.reason)
		}
	}

	rec = serve(f.api, "POST", "/api/customers/oak/entities/classrooms/matches?apply=true", "text/csv", file)
	p := checkProblem(t, rec, http.StatusBadRequest, ProblemValidation)
	if !strings.Contains(p.Detail, "8 of 9 rows are invalid; nothing was applied") {
		t.Errorf("apply of bad rows: %s", rec.Body)
	}
	var withRows MatchReport
	if err := json.Unmarshal(rec.Body.Bytes(), &withRows); err != nil || len(withRows.Rows) != 9 || withRows.Applied {
		t.Errorf("the problem does not carry the rows: %v %s", err, rec.Body)
	}
	if got := f.links(t); len(got) != 1 {
		t.Errorf("one bad row must apply nothing; links now %v", got)
	}
	if f.finder.lookups != 12 {
		t.Errorf("%d tenant lookups; want one per distinct group named (6), per request", f.finder.lookups/2)
	}
}

// A row of the wrong width is that row's error. (Sent past the contract
// checker: its CSV decoder refuses a file whose rows differ in width,
// though the API reads it and answers row by row.)
func TestMatchClassroomsRowWidth(t *testing.T) {
	f := newMatchFixture(t)
	_, rep := f.post(t, f.raw, "", "text/csv", "cls-a,g-a\ncls-b,g-b,extra\ncls-c\n")
	if rep.Summary.Errors != 2 || rep.Rows[1].Errors[0].Column != 0 || !strings.Contains(rep.Rows[1].Errors[0].Reason, "3 columns: want 2") ||
		rep.Rows[2].Errors[0].Column != 0 {
		t.Errorf("ragged rows = %+v", rep)
	}
}

func TestMatchClassroomsRefusals(t *testing.T) {
	f := newMatchFixture(t)
	for _, tt := range []struct {
		name, method, path, contentType, body string
		status                                int
		problem                               ProblemType
		detail                                string
	}{
		{"json body", "POST", "/api/customers/oak/entities/classrooms/matches", "application/json", `{"a":1}`, 415, ProblemUnsupportedMediaType, "text/csv"},
		{"latin-1 charset", "POST", "/api/customers/oak/entities/classrooms/matches", "text/csv; charset=iso-8859-1", "cls-a,g-a\n", 415, ProblemUnsupportedMediaType, "UTF-8"},
		{"not UTF-8", "POST", "/api/customers/oak/entities/classrooms/matches", "text/csv", "cls-a,g-\xe9\n", 400, ProblemValidation, "not UTF-8"},
		{"empty file", "POST", "/api/customers/oak/entities/classrooms/matches", "text/csv", "sourcedId,group\r\n", 400, ProblemValidation, "no rows"},
		{"bad quoting", "POST", "/api/customers/oak/entities/classrooms/matches", "text/csv", "cls-a,g-a\ncls-b,\"g-b\n", 400, ProblemValidation, "row 2"},
		{"bad apply", "POST", "/api/customers/oak/entities/classrooms/matches?apply=yes", "text/csv", "cls-a,g-a\n", 400, ProblemValidation, "apply"},
		{"users offer none", "POST", "/api/customers/oak/entities/users/matches", "text/csv", "s1,acc-1\n", 404, ProblemActionNotOffered, "cannot be matched from a file"},
		{"unknown profile", "POST", "/api/customers/oak/entities/classrooms/matches?profile=nope", "text/csv", "cls-a,g-a\n", 404, ProblemNotFound, ""},
		{"no tenant", "POST", "/api/customers/ash/entities/classrooms/matches", "text/csv", "cls-a,g-a\n", 409, ProblemConflict, "no tenant"},
		{"business tenant", "POST", "/api/customers/elm/entities/classrooms/matches", "text/csv", "cls-a,g-a\n", 409, ProblemConflict, "cannot hold"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := f.api
			if tt.name == "not UTF-8" || tt.name == "bad quoting" {
				h = f.raw // the contract's own CSV decoder would refuse them first
			}
			rec := serve(h, tt.method, tt.path, tt.contentType, tt.body)
			if p := checkProblem(t, rec, tt.status, tt.problem); !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail %q, want it to say %q", p.Detail, tt.detail)
			}
		})
	}
	// A customer none of whose profiles syncs classrooms has nothing to
	// check the classes against.
	if err := f.store.SaveProfile(context.Background(), tenant.Profile{CustomerID: "oak", ID: "nightly", Name: "Nightly", RunAt: "02:00", TimeZone: "Europe/London",
		Entities: []string{"users"}, Source: tenant.RosterSource{Kind: "csv", Path: "feed"}}); err != nil {
		t.Fatal(err)
	}
	rec := serve(f.api, "POST", "/api/customers/oak/entities/classrooms/matches", "text/csv", "cls-a,g-a\n")
	if p := checkProblem(t, rec, http.StatusConflict, ProblemConflict); !strings.Contains(p.Detail, "no profile") {
		t.Errorf("no profile: %s", p.Detail)
	}
	if got := f.links(t); len(got) != 1 {
		t.Errorf("refusals stored links: %v", got)
	}
}
