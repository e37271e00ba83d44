package graph

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/graphsim"
)

func TestExecuteEveryKind(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{})
	create := createOp("new.pupil")
	ops := []apply.Op{
		create,
		{ID: "u:ada#patch", Kind: apply.OpPatchUser, TargetID: simExisting,
			Props: map[string]string{"jobTitle": "Student", "department": "", "accountEnabled": "false"}},
		{ID: "u:ada#revoke", Kind: apply.OpRevokeSessions, TargetID: simExisting},
		{ID: "u:ada#license", Kind: apply.OpAssignLicense, TargetID: simExisting, Props: map[string]string{"skuId": simSKU}},
		{ID: "u:ada#group", Kind: apply.OpAddMember, TargetID: simExisting, Ref: simGroup},
		{ID: "u:sam#group", Kind: apply.OpAddMember, TargetID: simMember, Ref: simGroup}, // already a member
		{ID: "u:sam#noop", Kind: apply.OpPatchUser, TargetID: simMember},                 // nothing to change
	}
	res := ex.Execute(context.Background(), ops)
	checkOneEach(t, ops, res)
	byID := map[string]apply.Result{}
	for _, r := range res {
		byID[r.ID] = r
		if r.Status != apply.Done {
			t.Errorf("result %s = %s %s %s, want done", r.ID, r.Status, r.Code, r.Error)
		}
	}
	users := env.users(t)
	newID := byID[create.ID].TargetID
	u, ok := users[newID]
	switch {
	case !ok:
		t.Fatalf("create returned TargetID %q, which is not a user", newID)
	case u["userPrincipalName"] != "new.pupil@"+simDomain || u["accountEnabled"] != true || u["usageLocation"] != "GB" ||
		u["mailNickname"] != "new.pupil" || u["jobTitle"] != "Student" || u["employeeId"] != "new.pupil":
		t.Errorf("created user = %v, want the create's properties, enabled", u)
	case byID[create.ID].Existing:
		t.Error("a first create reported Existing")
	}
	ada := users[simExisting]
	if ada["accountEnabled"] != false || ada["jobTitle"] != "Student" || ada["department"] != nil {
		t.Errorf("patched user: accountEnabled=%v jobTitle=%v department=%v, want false, Student, cleared",
			ada["accountEnabled"], ada["jobTitle"], ada["department"])
	}
	if lic, _ := ada["assignedLicenses"].([]any); len(lic) != 1 {
		t.Errorf("assignedLicenses = %v, want the one SKU", ada["assignedLicenses"])
	}
	if members, _ := env.group(t, simGroup)["members"].([]string); len(members) != 2 {
		t.Errorf("group members = %v, want the existing member and the added one", members)
	}
	st := env.stats(t)
	// The two adds to one group go as one members@odata.bind PATCH, which
	// Graph refuses whole (sam is in already); they follow one by one in
	// a second $batch.
	if st.Batches != 2 {
		t.Errorf("$batch requests = %d, want 2 for %d ops (the refused pack's adds again, singly)", st.Batches, len(ops))
	}
	if got := st.Requests["POST users"]; got != 3 {
		t.Errorf("POST users = %d, want 3 (create, revoke, assignLicense)", got)
	}
}

func TestRequestShapes(t *testing.T) {
	c := &Client{tenantID: tenantA}
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	c.adapter = env.client.adapter
	ex := NewExecutor(c, ExecutorOptions{})
	base := env.srv.URL + "/v1.0"
	tests := []struct {
		name   string
		it     item
		method string
		url    string
		body   string
	}{
		{"create", item{op: apply.Op{Kind: apply.OpCreateUser, Password: "pw", Props: map[string]string{"userPrincipalName": "a@x", "department": ""}}},
			"POST", "/users", `{"accountEnabled":true,"passwordProfile":{"forceChangePasswordNextSignIn":true,"password":"pw"},"userPrincipalName":"a@x"}`},
		{"disabled create", item{op: apply.Op{Kind: apply.OpCreateUser, Password: "pw", Props: map[string]string{"userPrincipalName": "a@x", "accountEnabled": "false"}}},
			"POST", "/users", `{"accountEnabled":false,"passwordProfile":{"forceChangePasswordNextSignIn":true,"password":"pw"},"userPrincipalName":"a@x"}`},
		{"patch", item{op: apply.Op{Kind: apply.OpPatchUser, TargetID: "id1", Props: map[string]string{"surname": "B", "jobTitle": "", "accountEnabled": "true"}}},
			"PATCH", "/users/id1", `{"accountEnabled":true,"jobTitle":null,"surname":"B"}`},
		{"revoke", item{op: apply.Op{Kind: apply.OpRevokeSessions, TargetID: "id1"}},
			"POST", "/users/id1/revokeSignInSessions", `null`},
		{"license", item{op: apply.Op{Kind: apply.OpAssignLicense, TargetID: "id1", Props: map[string]string{"skuId": "sku"}}},
			"POST", "/users/id1/assignLicense", `{"addLicenses":[{"disabledPlans":[],"skuId":"sku"}],"removeLicenses":[]}`},
		{"member", item{op: apply.Op{Kind: apply.OpAddMember, TargetID: "id1", Ref: "g1"}},
			"POST", "/groups/g1/members/$ref", `{"@odata.id":"` + base + `/directoryObjects/id1"}`},
		{"lookup", item{lookup: true, op: apply.Op{Kind: apply.OpCreateUser, Props: map[string]string{"userPrincipalName": "o'neil@x"}}},
			"GET", "/users?$filter=userPrincipalName%20eq%20%27o%27%27neil%40x%27&$select=id,userPrincipalName,displayName,givenName,surname,employeeId", `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ex.request(&tt.it)
			body, err := json.Marshal(got.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got.Method != tt.method || got.URL != tt.url || string(body) != tt.body {
				t.Errorf("request() = %s %s %s, want %s %s %s", got.Method, got.URL, body, tt.method, tt.url, tt.body)
			}
			if got.Body != nil && got.Headers["Content-Type"] != "application/json" {
				t.Errorf("request with a body has headers %v, want Content-Type application/json", got.Headers)
			}
		})
	}
}

func TestCreateConflict(t *testing.T) {
	// Ada exists; a create with her UPN and her names is a retried create.
	same := createOp("ada.lovelace")
	same.Props["displayName"], same.Props["givenName"], same.Props["surname"], same.Props["employeeId"] = "Ada Lovelace", "Ada", "Lovelace", "S1"
	// The same UPN with another person's names: not ours to link.
	other := createOp("ada.lovelace")
	other.ID = "user:other#create"
	// Sam's proxy address holds this UPN; no account has it as its UPN.
	proxy := createOp("taken")

	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{})
	before := len(env.users(t))
	res := executeAll(t, ex, []apply.Op{same, other, proxy})

	if r := res[same.ID]; r.Status != apply.Done || !r.Existing || r.TargetID != simExisting {
		t.Errorf("retried create = %+v, want done, existing, target %s", r, simExisting)
	}
	if r := res[other.ID]; r.Status != apply.Failed || r.Code != CodeObjectConflict {
		t.Errorf("create over someone else's UPN = %+v, want failed %s", r, CodeObjectConflict)
	}
	if r := res[proxy.ID]; r.Status != apply.Failed || r.Code != CodeObjectConflict || !strings.Contains(r.Error, "proxyAddresses") {
		t.Errorf("create clashing with a proxy address = %+v, want failed %s with Graph's message", r, CodeObjectConflict)
	}
	if after := len(env.users(t)); after != before {
		t.Errorf("users: %d before, %d after; want no new account", before, after)
	}
	if st := ex.Stats(); st.Lookups < 3 {
		t.Errorf("lookups = %d, want one per conflicting create", st.Lookups)
	}
}

func TestEventualConsistencyRetried(t *testing.T) {
	// New objects stay invisible for 2 s of Graph time (100 ms here).
	env := newSimEnv(t, graphsim.Options{TimeScale: 20, ConsistencyDelay: 2 * time.Second}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: 20})
	created := executeAll(t, ex, []apply.Op{createOp("fresh")})
	id := created["user:fresh#create"].TargetID
	if id == "" {
		t.Fatalf("create = %+v, want a target id", created["user:fresh#create"])
	}
	// Straight after the create, as apply sends them.
	follow := []apply.Op{
		{ID: "user:fresh#license", Kind: apply.OpAssignLicense, TargetID: id, Props: map[string]string{"skuId": simSKU}},
		{ID: "user:fresh#group", Kind: apply.OpAddMember, TargetID: id, Ref: simGroup},
		{ID: "user:fresh#patch", Kind: apply.OpPatchUser, TargetID: id, Props: map[string]string{"jobTitle": "Pupil"}},
		// Never created, never fresh: really missing.
		{ID: "user:gone#patch", Kind: apply.OpPatchUser, TargetID: "dddddddd-0000-4000-8000-000000000000", Props: map[string]string{"jobTitle": "X"}},
	}
	res := executeAll(t, ex, follow)
	for _, op := range follow[:3] {
		if r := res[op.ID]; r.Status != apply.Done {
			t.Errorf("%s = %+v, want done after replication", op.ID, r)
		}
	}
	if r := res["user:gone#patch"]; r.Status != apply.Failed || r.Code != CodeResourceNotFound {
		t.Errorf("patch of a missing account = %+v, want failed %s", r, CodeResourceNotFound)
	}
	if st := env.stats(t); st.Requests["POST users"]+st.Requests["PATCH users"]+st.Requests["POST groups"] <= 4 {
		t.Errorf("requests %v: want the follow-ups tried more than once (the test did not meet replication lag)", st.Requests)
	}
}

func TestFailuresCarryGraphCode(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{})
	noPassword := createOp("nopw")
	noPassword.Password = ""
	ops := []apply.Op{
		{ID: "bad-location", Kind: apply.OpPatchUser, TargetID: simExisting, Props: map[string]string{"usageLocation": "gbr"}},
		{ID: "bad-sku", Kind: apply.OpAssignLicense, TargetID: simExisting, Props: map[string]string{"skuId": "00000000-0000-0000-0000-000000000000"}},
		{ID: "bad-domain", Kind: apply.OpCreateUser, Password: simPassword, Props: map[string]string{
			"userPrincipalName": "x@pending.example", "mailNickname": "x", "displayName": "X"}},
		noPassword,
		{ID: "no-target", Kind: apply.OpRevokeSessions},
		{ID: "odd-kind", Kind: "deleteUser", TargetID: simExisting},
	}
	res := executeAll(t, ex, ops)
	for _, id := range []string{"bad-location", "bad-sku", "bad-domain"} {
		if r := res[id]; r.Status != apply.Failed || r.Code != CodeBadRequest || r.Error == "" {
			t.Errorf("%s = %+v, want failed with Graph's %s and message", id, r, CodeBadRequest)
		}
	}
	for _, id := range []string{noPassword.ID, "no-target", "odd-kind"} {
		if r := res[id]; r.Status != apply.Failed || r.Code != CodeInvalidOp {
			t.Errorf("%s = %+v, want failed %s", id, r, CodeInvalidOp)
		}
	}
	if got := env.stats(t).Requests; got["POST users"] != 2 || got["PATCH users"] != 1 {
		t.Errorf("requests %v: want the three Graph-refused ops sent once each, the invalid ones never", got)
	}
}

// rotating answers $batch items in a rotated order and drops nothing: ids,
// not positions, must match them up.
func rotating(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/$batch") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var out struct {
			Responses []json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || len(out.Responses) < 2 {
			copyResponse(w, rec)
			return
		}
		k := len(out.Responses) / 3
		out.Responses = append(out.Responses[k:], out.Responses[:k]...)
		b, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(b)
	})
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

func TestResultsMatchedByID(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), rotating)
	ex := NewExecutor(env.client, ExecutorOptions{})
	var ops []apply.Op
	for _, a := range aliases("order", 45) {
		ops = append(ops, createOp(a))
	}
	res := executeAll(t, ex, ops)
	users := env.users(t)
	for _, op := range ops {
		r := res[op.ID]
		if r.Status != apply.Done {
			t.Fatalf("%s = %+v, want done", op.ID, r)
		}
		if got := users[r.TargetID]["userPrincipalName"]; got != op.Props["userPrincipalName"] {
			t.Errorf("%s: TargetID %s has UPN %v, want %s", op.ID, r.TargetID, got, op.Props["userPrincipalName"])
		}
	}
}

// lossy carries out the chosen $batch requests but answers them with a 504,
// as a gateway timing out after Graph did the work would.
type lossy struct {
	n    atomic.Int64
	lose func(n int64) bool
}

func (l *lossy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/$batch") || !l.lose(l.n.Add(1)) {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGatewayTimeout)
		io.WriteString(w, `{"error":{"code":"GatewayTimeout","message":"The gateway did not receive a response in time."}}`)
	})
}

func TestLostAnswersNeitherDuplicateNorLose(t *testing.T) {
	l := &lossy{lose: func(n int64) bool { return n%3 == 1 }} // the 1st, 4th, 7th… answers are lost
	env := newSimEnv(t, graphsim.Options{}, simTenant(), l.wrap)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: 100})
	names := aliases("lost", 50)
	var creates []apply.Op
	for _, a := range names {
		creates = append(creates, createOp(a))
	}
	res := executeAll(t, ex, creates)
	var follow []apply.Op
	existing := 0
	for _, op := range creates {
		r := res[op.ID]
		if r.Status != apply.Done || r.TargetID == "" {
			t.Fatalf("%s = %+v, want done with an id", op.ID, r)
		}
		if r.Existing {
			existing++
		}
		follow = append(follow,
			apply.Op{ID: op.ID + ":license", Kind: apply.OpAssignLicense, TargetID: r.TargetID, Props: map[string]string{"skuId": simSKU}},
			apply.Op{ID: op.ID + ":group", Kind: apply.OpAddMember, TargetID: r.TargetID, Ref: simGroup})
	}
	if existing == 0 {
		t.Error("no create came back Existing: the test lost no create answers")
	}
	for id, r := range executeAll(t, ex, follow) {
		if r.Status != apply.Done {
			t.Errorf("%s = %+v, want done", id, r)
		}
	}
	checkOneAccountEach(t, env, names)
	if members, _ := env.group(t, simGroup)["members"].([]string); len(members) != len(names)+1 {
		t.Errorf("group has %d members, want %d", len(members), len(names)+1)
	}
}

// checkOneAccountEach fails unless each alias has exactly one account.
func checkOneAccountEach(t *testing.T, env *simEnv, names []string) {
	t.Helper()
	byUPN := map[string]int{}
	for _, u := range env.users(t) {
		byUPN[u["userPrincipalName"].(string)]++
	}
	for _, a := range names {
		if n := byUPN[a+"@"+simDomain]; n != 1 {
			t.Errorf("%s has %d accounts, want 1", a, n)
		}
	}
}

func TestWholeBatchThrottledRetriedOnce(t *testing.T) {
	var calls atomic.Int64
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/$batch") && calls.Add(1) == 1 {
				w.Header().Set("Retry-After", "0.05")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				io.WriteString(w, `{"error":{"code":"TooManyRequests","message":"Please retry again later."}}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	env := newSimEnv(t, graphsim.Options{}, simTenant(), wrap)
	ex := NewExecutor(env.client, ExecutorOptions{})
	start := time.Now()
	res := ex.Execute(context.Background(), []apply.Op{createOp("outer")})
	if len(res) != 1 || res[0].Status != apply.Done {
		t.Fatalf("Execute = %+v, want done after the batch was retried", res)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("$batch requests = %d, want 2 (the executor's retry only; the SDK middleware must not retry too)", n)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("retried after %v, want Retry-After 0.05 s honoured", d)
	}
	if st := ex.Stats(); st.Throttled != 1 {
		t.Errorf("Throttled = %d, want 1", st.Throttled)
	}
	// The one 429's Retry-After is the time throttling held writes back.
	if n, wait := ex.Throttling(); n != 1 || wait < 45*time.Millisecond || wait > 55*time.Millisecond {
		t.Errorf("Throttling() = %d, %v; want 1, about 50ms", n, wait)
	}
}

func TestWholeBatchRefused(t *testing.T) {
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}`)
		})
	}
	env := newSimEnv(t, graphsim.Options{}, simTenant(), wrap)
	res := NewExecutor(env.client, ExecutorOptions{}).Execute(context.Background(), []apply.Op{createOp("denied")})
	if len(res) != 1 || res[0].Status != apply.Failed || res[0].Code != "Authorization_RequestDenied" {
		t.Errorf("Execute = %+v, want failed Authorization_RequestDenied", res)
	}
}

func TestCancelledContextRetriesNeverFails(t *testing.T) {
	var ops []apply.Op
	for _, a := range aliases("cancel", 100) {
		ops = append(ops, createOp(a))
	}
	t.Run("before", func(t *testing.T) {
		env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := NewExecutor(env.client, ExecutorOptions{}).Execute(ctx, ops)
		checkOneEach(t, ops, res)
		for _, r := range res {
			if r.Status != apply.Retry {
				t.Fatalf("%s = %+v, want retry", r.ID, r)
			}
		}
		if n := env.stats(t).Batches; n != 0 {
			t.Errorf("$batch requests = %d, want none after cancellation", n)
		}
	})
	t.Run("during", func(t *testing.T) {
		// Each batch takes 300 ms; the context ends after 100 ms.
		env := newSimEnv(t, graphsim.Options{Latency: graphsim.Latency{Write: 300 * time.Millisecond}}, simTenant(), nil)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		res := NewExecutor(env.client, ExecutorOptions{MaxInFlight: 2}).Execute(ctx, ops)
		checkOneEach(t, ops, res)
		for _, r := range res {
			if r.Status != apply.Retry {
				t.Fatalf("%s = %+v, want retry", r.ID, r)
			}
		}
	})
}

// gunzipBody reads a request body the SDK may have compressed.
func gunzipBody(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err == nil {
			b, _ = io.ReadAll(zr)
		}
	}
	return b
}

func TestBatchesHoldAtMostTwenty(t *testing.T) {
	var most atomic.Int64
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/$batch") {
				b := gunzipBody(r)
				var in struct{ Requests []json.RawMessage }
				_ = json.Unmarshal(b, &in)
				if n := int64(len(in.Requests)); n > most.Load() {
					most.Store(n)
				}
				r.Body = io.NopCloser(bytes.NewReader(b))
				r.Header.Del("Content-Encoding")
				r.ContentLength = int64(len(b))
			}
			next.ServeHTTP(w, r)
		})
	}
	env := newSimEnv(t, graphsim.Options{}, simTenant(), wrap)
	var ops []apply.Op
	for _, a := range aliases("twenty", 95) {
		ops = append(ops, createOp(a))
	}
	executeAll(t, NewExecutor(env.client, ExecutorOptions{}), ops)
	if got := most.Load(); got != MaxBatchSize {
		t.Errorf("largest batch = %d, want %d", got, MaxBatchSize)
	}
	if n := env.stats(t).Batches; n != 5 {
		t.Errorf("$batch requests = %d, want 5 for 95 ops", n)
	}
}

func TestThrottledRunLosesNothing(t *testing.T) {
	// A write quota of 60 per 150 s, at 600× speed: a bucket of 60, then
	// 240 writes/s. 150 new accounts with a licence and a group each are
	// 450 writes, so most of the run is throttle-bound.
	const scale = 600
	limits := graphsim.DefaultLimits()
	limits.AppTenantWrites, limits.AppTenantWindow = 60, 150*time.Second
	env := newSimEnv(t, graphsim.Options{TimeScale: scale, Limits: &limits, ConsistencyDelay: 2 * time.Second}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: scale, WriteRate: 60.0 / 150})

	names := aliases("busy", 150)
	var creates []apply.Op
	for _, a := range names {
		creates = append(creates, createOp(a))
	}
	start := time.Now()
	res := executeAll(t, ex, creates)
	var follow []apply.Op
	for _, op := range creates {
		r := res[op.ID]
		if r.Status != apply.Done || r.TargetID == "" {
			t.Fatalf("%s = %+v, want done with an id", op.ID, r)
		}
		follow = append(follow,
			apply.Op{ID: op.ID + ":license", Kind: apply.OpAssignLicense, TargetID: r.TargetID, Props: map[string]string{"skuId": simSKU}},
			apply.Op{ID: op.ID + ":group", Kind: apply.OpAddMember, TargetID: r.TargetID, Ref: simGroup})
	}
	for id, r := range executeAll(t, ex, follow) {
		if r.Status != apply.Done {
			t.Errorf("%s = %+v, want done", id, r)
		}
	}
	elapsed := time.Since(start)

	checkOneAccountEach(t, env, names)
	if members, _ := env.group(t, simGroup)["members"].([]string); len(members) != len(names)+1 {
		t.Errorf("group has %d members, want %d", len(members), len(names)+1)
	}
	licensed := 0
	for _, u := range env.users(t) {
		if l, _ := u["assignedLicenses"].([]any); len(l) > 0 {
			licensed++
		}
	}
	if licensed != len(names) {
		t.Errorf("%d licensed users, want %d", licensed, len(names))
	}

	st, gs := ex.Stats(), env.stats(t)
	writes := 3 * len(names)
	bound := time.Duration(float64(writes-60) / (60.0 / 150) / scale * float64(time.Second))
	t.Logf("%d writes in %v (throttle lower bound %v): executor %+v; graphsim writes %d, 429s %d, batches %d",
		writes, elapsed.Round(time.Millisecond), bound.Round(time.Millisecond), st, gs.Writes, gs.Throttled, gs.Batches)
	if gs.Throttled == 0 {
		t.Error("no 429 at all: the test did not reach the quota")
	}
	// Only the batches in flight when the quota's bucket runs dry meet
	// 429s; pacing keeps the rest of the run clear of them.
	if limit := int64(4*MaxBatchSize + 20); gs.Throttled > limit {
		t.Errorf("%d requests throttled for %d writes, want at most %d (the batches in flight at the cliff)", gs.Throttled, writes, limit)
	}
}

func TestLongRetryAfterHandedBackAndGateHolds(t *testing.T) {
	var throttledOnce atomic.Bool
	faults := &graphsim.Faults{Request: func(r graphsim.FaultRequest) *graphsim.Fault {
		if r.InBatch && r.Method == http.MethodPost && r.Path == "/users" && throttledOnce.CompareAndSwap(false, true) {
			return &graphsim.Fault{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: "Please retry again later.",
				Header: http.Header{"Retry-After": {"30"}, "X-Ms-Throttle-Scope": {"Tenant_Application/Write/app/" + tenantA}}}
		}
		return nil
	}}
	env := newSimEnv(t, graphsim.Options{Faults: faults}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{MaxInFlight: 1, BatchSize: 2})
	ops := []apply.Op{createOp("first"), createOp("second"), createOp("third"), createOp("fourth")}
	res := ex.Execute(context.Background(), ops)
	checkOneEach(t, ops, res)
	byID := map[string]apply.Result{}
	for _, r := range res {
		byID[r.ID] = r
	}
	if r := byID[ops[0].ID]; r.Status != apply.Retry || r.RetryAfter < 25*time.Second || r.RetryAfter > 30*time.Second {
		t.Errorf("throttled create = %+v, want retry after about 30 s", r)
	}
	if r := byID[ops[1].ID]; r.Status != apply.Done {
		t.Errorf("its neighbour in the batch = %+v, want done", r)
	}
	for _, op := range ops[2:] {
		if r := byID[op.ID]; r.Status != apply.Retry || r.RetryAfter < 25*time.Second {
			t.Errorf("%s, queued behind the throttle = %+v, want retry after about 30 s, unsent", op.ID, r)
		}
	}
	// A new call on the same tenant still honours the pause.
	again := ex.Execute(context.Background(), ops[2:])
	for _, r := range again {
		if r.Status != apply.Retry {
			t.Errorf("during the pause: %+v, want retry", r)
		}
	}
	if n := env.stats(t).Batches; n != 1 {
		t.Errorf("$batch requests = %d, want 1: nothing goes out while Retry-After is in force", n)
	}
}

func TestTransientItemErrorsRetried(t *testing.T) {
	var failures atomic.Int64
	faults := &graphsim.Faults{Request: func(r graphsim.FaultRequest) *graphsim.Fault {
		if r.InBatch && r.Method == http.MethodPost && r.Path == "/users" && failures.Add(1) <= 3 {
			return &graphsim.Fault{Status: http.StatusServiceUnavailable, Code: "serviceNotAvailable", Message: "Service unavailable."}
		}
		return nil
	}}
	env := newSimEnv(t, graphsim.Options{Faults: faults}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: 100, MaxInFlight: 1, BatchSize: 1})
	res := executeAll(t, ex, []apply.Op{createOp("flaky")})
	if r := res["user:flaky#create"]; r.Status != apply.Done || r.TargetID == "" {
		t.Errorf("create after three 503s = %+v, want done", r)
	}
	if st := ex.Stats(); st.Requests != 4 || st.Retried != 3 {
		t.Errorf("stats %+v, want 4 requests with 3 retries", st)
	}
	checkOneAccountEach(t, env, []string{"flaky"})
}

// Adds to one group go as PATCH members@odata.bind of up to 20 members:
// 45 new members of one group cost 3 writes, not 45.
func TestAddMembersArePacked(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{})
	var creates []apply.Op
	for i := range 45 {
		creates = append(creates, createOp(fmt.Sprintf("pack%02d", i)))
	}
	var adds []apply.Op
	for _, r := range ex.Execute(context.Background(), creates) {
		if r.Status != apply.Done {
			t.Fatalf("create %s: %s %s", r.ID, r.Status, r.Error)
		}
		adds = append(adds, apply.Op{ID: r.ID + ":group", Kind: apply.OpAddMember, TargetID: r.TargetID, Ref: simGroup})
	}
	time.Sleep(10 * time.Millisecond)
	before := env.stats(t)
	res := ex.Execute(context.Background(), adds)
	checkOneEach(t, adds, res)
	for _, r := range res {
		if r.Status != apply.Done {
			t.Errorf("add %s = %s %s %s", r.ID, r.Status, r.Code, r.Error)
		}
	}
	after := env.stats(t)
	if w := after.Writes - before.Writes; w != 3 {
		t.Errorf("45 adds to one group took %d writes, want 3 (20 + 20 + 5 binds)", w)
	}
	if n := after.Requests["PATCH groups"] - before.Requests["PATCH groups"]; n != 3 {
		t.Errorf("PATCH groups = %d, want 3", n)
	}
	if members, _ := env.group(t, simGroup)["members"].([]string); len(members) != 46 {
		t.Errorf("group has %d members, want the existing one and 45 added", len(members))
	}
}
