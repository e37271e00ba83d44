package graphsim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/clock"
)

const (
	eduTenant = "3f2a0c1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
	bizTenant = "9b8c7d6e-1111-4222-8333-444455556666"
	ada       = "a1a1a1a1-0000-4000-8000-000000000001"
	sam       = "a1a1a1a1-0000-4000-8000-000000000002"
	leaver    = "a1a1a1a1-0000-4000-8000-000000000003"
	allStaff  = "b2b2b2b2-0000-4000-8000-000000000001"
	mathsCls  = "b2b2b2b2-0000-4000-8000-000000000002"
	school1   = "c3c3c3c3-0000-4000-8000-000000000001"
	skuStu    = "314c4481-f395-4525-be8b-2ec4bb1e9d91"
	skuFac    = "94763226-9b3c-4e75-a931-5c89701abe66"
)

var testStart = time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)

// harness drives a Server in-process through ServeHTTP with a fake clock.
type harness struct {
	t   testing.TB
	s   *Server
	clk *clock.Fake
	tok string
}

func seedState(t testing.TB) State {
	t.Helper()
	st, err := ReadStateFile("../../testdata/graphsim/tenants.json")
	if err != nil {
		t.Fatalf("ReadStateFile: %v", err)
	}
	return st
}

// newHarness returns a seeded simulator with eventual consistency off
// unless opts says otherwise.
func newHarness(t testing.TB, opts Options) *harness {
	t.Helper()
	clk := clock.NewFake(testStart)
	if opts.Clock == nil {
		opts.Clock = clk
	}
	if opts.ConsistencyDelay == 0 {
		opts.ConsistencyDelay = -1
	}
	s := New(opts)
	if err := s.Load(seedState(t)); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return &harness{t: t, s: s, clk: clk, tok: "Bearer sim:" + eduTenant}
}

type result struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (r *result) errCode() string {
	e, _ := r.body["error"].(map[string]any)
	return str(e["code"])
}

func (r *result) errMessage() string {
	e, _ := r.body["error"].(map[string]any)
	return str(e["message"])
}

// errTarget is the target of the error's first detail, "" without one.
func (r *result) errTarget() string {
	e, _ := r.body["error"].(map[string]any)
	d, _ := e["details"].([]any)
	if len(d) == 0 {
		return ""
	}
	m, _ := d[0].(map[string]any)
	return str(m["target"])
}

// do sends one request; body may be nil, a []byte (sent raw) or a value
// marshalled as JSON. hdr "Authorization" overrides the token ("" drops it).
func (h *harness) do(method, path string, body any, hdr ...string) *result {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, "http://sim.test"+strings.ReplaceAll(path, " ", "%20"), rd)
	req.Header.Set("Authorization", h.tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.s.ServeHTTP(rec, req)
	res := &result{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
			h.t.Fatalf("%s %s: response is not JSON: %v: %s", method, path, err, rec.Body.String())
		}
	}
	return res
}

// want fails unless res has status (and, for errors, code).
func (h *harness) want(res *result, status int, code string) {
	h.t.Helper()
	if res.status != status || (code != "" && res.errCode() != code) {
		h.t.Fatalf("got %d %s (%s), want %d %s; body %s", res.status, res.errCode(), res.errMessage(), status, code, res.raw)
	}
}

func newUserBody(alias string) map[string]any {
	return map[string]any{
		"accountEnabled":    true,
		"displayName":       "User " + alias,
		"mailNickname":      alias,
		"userPrincipalName": alias + "@contoso.school",
		"usageLocation":     "GB",
		"passwordProfile":   map[string]any{"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
	}
}

func (h *harness) createUser(alias string) string {
	h.t.Helper()
	res := h.do("POST", "/v1.0/users", newUserBody(alias))
	h.want(res, 201, "")
	return str(res.body["id"])
}

func (h *harness) createGroup(nick string, unified bool, members ...string) string {
	h.t.Helper()
	body := map[string]any{"displayName": nick, "mailNickname": nick, "mailEnabled": unified, "securityEnabled": !unified}
	if unified {
		body["groupTypes"] = []string{"Unified"}
	}
	if len(members) > 0 {
		var binds []string
		for _, m := range members {
			binds = append(binds, "https://graph.microsoft.com/v1.0/users/"+m)
		}
		body["members@odata.bind"] = binds
	}
	res := h.do("POST", "/v1.0/groups", body)
	h.want(res, 201, "")
	return str(res.body["id"])
}
