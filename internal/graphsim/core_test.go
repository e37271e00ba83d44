package graphsim

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name, auth string
		status     int
		code       string
	}{
		{"missing", "", 401, CodeInvalidAuthenticationToken},
		{"not bearer", "Basic abc", 401, CodeInvalidAuthenticationToken},
		{"not a sim token", "Bearer eyJ0eXAi", 401, CodeInvalidAuthenticationToken},
		{"unknown tenant", "Bearer sim:00000000-0000-0000-0000-000000000000", 401, CodeInvalidAuthenticationToken},
		{"known tenant", "Bearer sim:" + eduTenant, 200, ""},
		{"known tenant, second app", "Bearer sim:" + eduTenant + ":11111111-2222-3333-4444-555555555555", 200, ""},
		{"tenant id is case-insensitive", "Bearer sim:" + strings.ToUpper(bizTenant), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			h.want(h.do("GET", "/v1.0/organization", nil, "Authorization", tt.auth), tt.status, tt.code)
		})
	}
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestErrorShape(t *testing.T) {
	h := newHarness(t, Options{})
	res := h.do("GET", "/v1.0/users/nobody@contoso.school", nil, "client-request-id", "cli-123")
	h.want(res, 404, CodeResourceNotFound)
	e := res.body["error"].(map[string]any)
	if got, want := e["message"], "Resource 'nobody@contoso.school' does not exist or one of its queried reference-property objects are not present."; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	inner := e["innerError"].(map[string]any)
	if !guidRE.MatchString(str(inner["request-id"])) {
		t.Errorf("innerError.request-id = %q, want a GUID", inner["request-id"])
	}
	if inner["client-request-id"] != "cli-123" || res.header.Get("client-request-id") != "cli-123" {
		t.Errorf("client-request-id not echoed: inner %v, header %q", inner["client-request-id"], res.header.Get("client-request-id"))
	}
	if inner["date"] != "2026-09-01T08:00:00" {
		t.Errorf("innerError.date = %v, want 2026-09-01T08:00:00 (the injected clock)", inner["date"])
	}
	if res.header.Get("request-id") != inner["request-id"] {
		t.Errorf("request-id header %q != innerError %q", res.header.Get("request-id"), inner["request-id"])
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/beta/users", 400, CodeBadRequest},
		{"GET", "/v1.0/nonsense", 400, CodeBadRequest},
		{"PUT", "/v1.0/users", 405, CodeRequestBadRequest},
		{"GET", "/v1.0/users('" + ada + "')", 200, ""},
		{"GET", "/v1.0/users/ADA.TEACHER@contoso.school", 200, ""},
		{"GET", "/v1.0/groups/" + allStaff + "/members", 200, ""},
		{"GET", "/v1.0/users/delta()", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			h.t = t
			h.want(h.do(tt.method, tt.path, nil), tt.status, tt.code)
		})
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func TestRequestBodies(t *testing.T) {
	h := newHarness(t, Options{})
	good, _ := json.Marshal(newUserBody("gzipped"))
	tests := []struct {
		name   string
		body   []byte
		hdr    []string
		status int
		code   string
	}{
		{"gzip", gz(good), []string{"Content-Encoding", "gzip"}, 201, ""},
		{"unknown encoding", good, []string{"Content-Encoding", "br"}, 415, CodeUnsupportedMediaType},
		{"corrupt gzip", []byte("not gzip at all"), []string{"Content-Encoding", "gzip"}, 400, CodeBadRequest},
		{"truncated gzip", gz(good)[:20], []string{"Content-Encoding", "gzip"}, 400, CodeBadRequest},
		{"malformed JSON", []byte(`{"displayName":`), nil, 400, CodeBadRequest},
		{"JSON array", []byte(`[1,2]`), nil, 400, CodeBadRequest},
		{"two objects", []byte(`{}{}`), nil, 400, CodeBadRequest},
		{"empty", []byte(``), nil, 400, CodeBadRequest},
		{"wrong type", []byte(`{"accountEnabled":"yes"}`), nil, 400, CodeBadRequest},
		{"unknown property", []byte(`{"favouriteColour":"blue"}`), nil, 400, CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			h.want(h.do("POST", "/v1.0/users", tt.body, tt.hdr...), tt.status, tt.code)
		})
	}
}

// TestGarbageNeverPanics throws malformed bodies and queries at every
// route: each answer must be a Graph error below 500.
func TestGarbageNeverPanics(t *testing.T) {
	h := newHarness(t, Options{})
	paths := []string{
		"/v1.0/users", "/v1.0/users/" + ada, "/v1.0/users/" + ada + "/assignLicense",
		"/v1.0/groups", "/v1.0/groups/" + allStaff, "/v1.0/groups/" + allStaff + "/members/$ref",
		"/v1.0/$batch", "/v1.0/education/classes", "/v1.0/education/classes/" + mathsCls + "/members/$ref",
		"/v1.0/education/users", "/v1.0/education/schools", "/v1.0/teams", "/v1.0/groups/" + mathsCls + "/team",
		"/v1.0/users/" + ada + "/events", "/v1.0/teams/" + mathsCls + "/archive",
	}
	bodies := [][]byte{[]byte(`{`), []byte(`null`), []byte(`"x"`), []byte(`{"requests":"x"}`), []byte(`{"@odata.id":5}`),
		[]byte(`{"members@odata.bind":"x"}`), []byte(`{"members@odata.bind":[5]}`), []byte(`{"addLicenses":[1],"removeLicenses":[{}]}`),
		[]byte(`{"requests":[{"id":"1","method":"GET","url":"::"}]}`), []byte(`{"start":"x","end":5}`), []byte("\x00\xff")}
	for _, p := range paths {
		for _, m := range []string{"POST", "PATCH", "PUT"} {
			for _, b := range bodies {
				res := h.do(m, p, b)
				if res.status >= 500 || (res.status >= 400 && res.errCode() == "") {
					t.Errorf("%s %s %q: got %d %s", m, p, b, res.status, res.raw)
				}
			}
		}
	}
	for _, q := range []string{"$filter=(", "$filter=startsWith(", "$filter=x eq", "$top=abc", "$top=0", "$select=,,", "$skiptoken=%%%", "$filter=a/any(", "$deltatoken=zz"} {
		for _, p := range []string{"/v1.0/users", "/v1.0/groups", "/v1.0/users/delta", "/v1.0/groups/delta", "/v1.0/users/" + ada + "/events"} {
			res := h.do("GET", p+"?"+q, nil)
			if res.status >= 500 {
				t.Errorf("GET %s?%s: got %d %s", p, q, res.status, res.raw)
			}
		}
	}
}

func TestSeedExportRoundTrip(t *testing.T) {
	h := newHarness(t, Options{})
	// Change the state first so the export is more than the seed.
	u := h.createUser("roundtrip")
	g := h.createGroup("rtgroup", true, u)
	h.want(h.do("POST", "/v1.0/users/"+u+"/assignLicense", map[string]any{"addLicenses": []any{map[string]any{"skuId": skuStu}}, "removeLicenses": []any{}}), 200, "")
	h.want(h.do("DELETE", "/v1.0/users/"+leaver, nil), 204, "")

	first := h.s.Export()
	var buf bytes.Buffer
	if err := WriteState(&buf, first); err != nil {
		t.Fatal(err)
	}
	st, err := DecodeState(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("DecodeState(export) = %v", err)
	}
	s2 := New(Options{Clock: h.clk})
	if err := s2.Load(st); err != nil {
		t.Fatalf("Load(export) = %v", err)
	}
	second := s2.Export()
	var buf2 bytes.Buffer
	_ = WriteState(&buf2, second)
	if buf.String() != buf2.String() {
		t.Fatalf("state did not survive round-trip:\nfirst  %s\nsecond %s", buf.String(), buf2.String())
	}
	ts, _ := s2.ExportTenant(eduTenant)
	var found bool
	for _, gr := range ts.Groups {
		if gr["id"] == g && reflect.DeepEqual(gr["members"], []string{u}) {
			found = true
		}
	}
	if !found {
		t.Errorf("group %s with member %s missing after round-trip", g, u)
	}
	for _, us := range ts.Users {
		if us["id"] == leaver {
			t.Errorf("deleted user %s exported", leaver)
		}
		if _, ok := us["passwordProfile"]; ok {
			t.Errorf("user %s exported with a password", us["id"])
		}
	}
	// Licences consumed are recomputed from assignments on load.
	res := (&harness{t: t, s: s2, clk: h.clk, tok: h.tok}).do("GET", "/v1.0/subscribedSkus", nil)
	for _, v := range res.body["value"].([]any) {
		k := v.(map[string]any)
		if k["skuId"] == skuStu && k["consumedUnits"] != float64(1) {
			t.Errorf("student sku consumedUnits = %v after round-trip, want 1", k["consumedUnits"])
		}
	}
}

func TestBadSeed(t *testing.T) {
	tests := []struct {
		name string
		json string
	}{
		{"no id", `{"tenants":[{"edition":"business"}]}`},
		{"bad edition", `{"tenants":[{"id":"t","edition":"gov"}]}`},
		{"bad size", `{"tenants":[{"id":"t","sizeClass":"XL"}]}`},
		{"user without upn", `{"tenants":[{"id":"t","users":[{"displayName":"x"}]}]}`},
		{"dangling member", `{"tenants":[{"id":"t","groups":[{"displayName":"g","members":["nope"]}]}]}`},
		{"bad version", `{"formatVersion":9,"tenants":[]}`},
		{"not json", `{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := DecodeState(strings.NewReader(tt.json))
			if err == nil {
				err = New(Options{}).Load(st)
			}
			if err == nil {
				t.Fatalf("seed %s accepted, want an error", tt.json)
			}
		})
	}
}

func TestAdminEndpoints(t *testing.T) {
	h := newHarness(t, Options{})
	h.do("GET", "/v1.0/users", nil)
	h.do("POST", "/v1.0/users", newUserBody("counted"))
	h.do("GET", "/v1.0/users/nobody", nil)

	st, ok := h.s.Stats(eduTenant)
	if !ok {
		t.Fatal("Stats(eduTenant) not found")
	}
	if st.Requests["GET users"] != 2 || st.Requests["POST users"] != 1 || st.Writes != 1 || st.ResourceUnits != 4 {
		t.Errorf("Stats = %+v, want 2 GET users, 1 POST users, 1 write, 4 RU", st)
	}
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/stats?tenant="+eduTenant, nil))
	var sum struct{ Tenants []Stats }
	if err := json.Unmarshal(rec.Body.Bytes(), &sum); err != nil || len(sum.Tenants) != 1 || sum.Tenants[0].Writes != 1 {
		t.Errorf("/_sim/stats = %s (%v)", rec.Body.String(), err)
	}

	rec = httptest.NewRecorder()
	body := `{"tenants":[{"id":"live-tenant","edition":"business"}]}`
	h.s.ServeHTTP(rec, httptest.NewRequest("POST", "/_sim/tenants", strings.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST /_sim/tenants = %d %s", rec.Code, rec.Body.String())
	}
	h.tok = "Bearer sim:live-tenant"
	h.want(h.do("GET", "/v1.0/domains", nil), 200, "")

	rec = httptest.NewRecorder()
	h.s.ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/export?tenant=live-tenant", nil))
	st2, err := DecodeState(rec.Body)
	if err != nil || len(st2.Tenants) != 1 || st2.Tenants[0].ID != "live-tenant" {
		t.Errorf("/_sim/export = %v, %v", st2, err)
	}
}

func TestPanicIsA500AndNotAHang(t *testing.T) {
	boom := true
	h := newHarness(t, Options{Faults: &Faults{Request: func(r FaultRequest) *Fault {
		if boom && r.Path == "/domains" {
			panic("injected")
		}
		return nil
	}}})
	h.want(h.do("GET", "/v1.0/domains", nil), 500, CodeInternalServerError)
	boom = false
	h.want(h.do("GET", "/v1.0/domains", nil), 200, "")
	// A handler panicking under the tenant lock must release it.
	func() {
		defer func() { _ = recover() }()
		_, _ = h.s.locked(h.s.tenant(eduTenant), func(*Server, *request) (*response, *apiError) { panic("in handler") }, &request{})
	}()
	h.want(h.do("GET", "/v1.0/users/"+ada, nil), 200, "")
}
