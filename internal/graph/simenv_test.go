package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
)

// Fixtures of the simulated school tenant.
const (
	simDomain   = "school.example"
	simSKU      = "314c4481-f395-4525-be8b-2ec4bb1e9d91"
	simGroup    = "b2b2b2b2-0000-4000-8000-000000000001"
	simExisting = "a1a1a1a1-0000-4000-8000-000000000001"
	simMember   = "a1a1a1a1-0000-4000-8000-000000000002"
	// simPassword satisfies the simulator's complexity rule; it is a test
	// value and reaches nothing but the local simulator.
	simPassword = "Test-Passw0rd!"
)

// simTenant is a small school: two users (one already in the group), a
// security group, a licence with room, and a verified and an unverified
// domain.
func simTenant() graphsim.TenantState {
	return graphsim.TenantState{
		ID:          tenantA,
		DisplayName: "Test School",
		Edition:     graphsim.EditionEducation,
		Domains: []graphsim.Domain{
			{ID: simDomain, IsVerified: true, IsDefault: true},
			{ID: "testschool.onmicrosoft.com", IsVerified: true, IsInitial: true},
			{ID: "pending.example", IsVerified: false},
		},
		SubscribedSkus: []graphsim.SkuState{{SkuID: simSKU, SkuPartNumber: "STANDARDWOFFPACK_STUDENT", Seats: 100000}},
		Users: []map[string]any{
			{"id": simExisting, "userPrincipalName": "ada.lovelace@" + simDomain, "displayName": "Ada Lovelace",
				"givenName": "Ada", "surname": "Lovelace", "employeeId": "S1", "department": "Year 7",
				"accountEnabled": true, "usageLocation": "GB", "mailNickname": "ada.lovelace"},
			{"id": simMember, "userPrincipalName": "sam.member@" + simDomain, "displayName": "Sam Member",
				"accountEnabled": true, "usageLocation": "GB", "mailNickname": "sam.member",
				"mail": "sam.member@" + simDomain, "proxyAddresses": []any{"SMTP:sam.member@" + simDomain, "smtp:taken@" + simDomain}},
		},
		Groups: []map[string]any{
			{"id": simGroup, "displayName": "All Students", "mailNickname": "allstudents", "securityEnabled": true,
				"mailEnabled": false, "groupTypes": []any{}, "members": []any{simMember}},
		},
	}
}

// simEnv is the simulator on a loopback listener, and the production
// client (factory in static mode) pointed at it.
type simEnv struct {
	sim    *graphsim.Server
	srv    *httptest.Server
	client *Client
}

// newSimEnv starts a simulator holding ts. wrap, if set, sits between the
// client and the simulator (to lose or reorder answers).
func newSimEnv(t testing.TB, opts graphsim.Options, ts graphsim.TenantState, wrap func(http.Handler) http.Handler) *simEnv {
	t.Helper()
	if opts.ConsistencyDelay == 0 {
		opts.ConsistencyDelay = -1
	}
	sim := graphsim.New(opts)
	if err := sim.AddTenant(ts); err != nil {
		t.Fatalf("AddTenant: %v", err)
	}
	var h http.Handler = sim
	if wrap != nil {
		h = wrap(sim)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f, err := NewFactory(Config{Mode: ModeStatic, BaseURL: srv.URL + "/v1.0"})
	if err != nil {
		t.Fatalf("NewFactory: %v", err)
	}
	c, err := f.Client(context.Background(), ts.ID)
	if err != nil {
		t.Fatalf("Client: %v", err)
	}
	return &simEnv{sim: sim, srv: srv, client: c}
}

func (e *simEnv) stats(t testing.TB) graphsim.Stats {
	t.Helper()
	st, ok := e.sim.Stats(tenantA)
	if !ok {
		t.Fatal("no stats for the tenant")
	}
	return st
}

// users returns the tenant's users by id.
func (e *simEnv) users(t testing.TB) map[string]map[string]any {
	t.Helper()
	ts, ok := e.sim.ExportTenant(tenantA)
	if !ok {
		t.Fatal("tenant missing from export")
	}
	out := map[string]map[string]any{}
	for _, u := range ts.Users {
		out[u["id"].(string)] = u
	}
	return out
}

func (e *simEnv) group(t testing.TB, id string) map[string]any {
	t.Helper()
	ts, _ := e.sim.ExportTenant(tenantA)
	for _, g := range ts.Groups {
		if g["id"] == id {
			return g
		}
	}
	t.Fatalf("group %s missing", id)
	return nil
}

// createOp is a create as apply makes it.
func createOp(alias string) apply.Op {
	return apply.Op{
		ID:   "user:" + alias + "#create",
		Kind: apply.OpCreateUser,
		Props: map[string]string{
			"userPrincipalName": alias + "@" + simDomain, "mailNickname": alias, "usageLocation": "GB",
			"displayName": "User " + alias, "givenName": "User", "surname": alias, "employeeId": alias[:min(len(alias), 16)],
			"jobTitle": "Student",
		},
		Password: simPassword,
	}
}

// executeAll drives ex the way apply does: results Done or Failed are
// kept, Retry ops go again after their RetryAfter. It fails the test if a
// call returns other than exactly one result per op.
func executeAll(t testing.TB, ex *Executor, ops []apply.Op) map[string]apply.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	final := map[string]apply.Result{}
	pending := ops
	for round := 0; len(pending) > 0; round++ {
		if round > 200 {
			t.Fatalf("still %d ops pending after %d rounds", len(pending), round)
		}
		res := ex.Execute(ctx, pending)
		checkOneEach(t, pending, res)
		byID := map[string]apply.Op{}
		for _, op := range pending {
			byID[op.ID] = op
		}
		var next []apply.Op
		wait := time.Duration(-1)
		for _, r := range res {
			if r.Status == apply.Retry {
				next = append(next, byID[r.ID])
				if wait < 0 || r.RetryAfter < wait {
					wait = r.RetryAfter
				}
				continue
			}
			final[r.ID] = r
		}
		if wait > 0 {
			time.Sleep(wait)
		}
		pending = next
	}
	return final
}

func checkOneEach(t testing.TB, ops []apply.Op, res []apply.Result) {
	t.Helper()
	want := make([]string, len(ops))
	for i, op := range ops {
		want[i] = op.ID
	}
	got := make([]string, len(res))
	for i, r := range res {
		got[i] = r.ID
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("Execute returned results for %d ids, want exactly one for each of %d ops", len(got), len(want))
	}
}

func aliases(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}
