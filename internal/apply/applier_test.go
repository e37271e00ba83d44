package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
)

// fakeTenant is an executor with a tiny directory: it creates accounts
// (refusing a second account with the same UPN, as Graph does, and finding
// the first), and can be told to fail, throttle or lose responses.
type fakeTenant struct {
	mu       sync.Mutex
	byUPN    map[string]string
	done     map[string]int // op id -> times it took effect
	throttle map[string]int // op id -> 429s still to give
	lose     map[string]int // op id -> responses still to lose after success
	fail     map[string]string
	calls    int
}

func newFakeTenant() *fakeTenant {
	return &fakeTenant{byUPN: map[string]string{}, done: map[string]int{}, throttle: map[string]int{}, lose: map[string]int{}, fail: map[string]string{}}
}

func (f *fakeTenant) Execute(ctx context.Context, ops []Op) []Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	var out []Result
	for i := len(ops) - 1; i >= 0; i-- { // answer out of order on purpose
		op := ops[i]
		if n := f.throttle[op.ID]; n > 0 {
			f.throttle[op.ID] = n - 1
			out = append(out, Result{ID: op.ID, Status: Retry, RetryAfter: 5 * time.Millisecond})
			continue
		}
		if msg, ok := f.fail[op.ID]; ok {
			out = append(out, Result{ID: op.ID, Status: Failed, Code: "Request_BadRequest", Error: msg})
			continue
		}
		res := Result{ID: op.ID, Status: Done}
		if op.Kind == OpCreateUser {
			if op.Password == "" {
				out = append(out, Result{ID: op.ID, Status: Failed, Error: "no password"})
				continue
			}
			upn := op.Props["userPrincipalName"]
			if id, exists := f.byUPN[upn]; exists {
				res.TargetID, res.Existing = id, true // ObjectConflict, then found
			} else {
				id := fmt.Sprintf("obj-%d", len(f.byUPN)+1)
				f.byUPN[upn] = id
				f.done[op.ID]++
				res.TargetID = id
			}
		} else {
			if op.TargetID == "" {
				out = append(out, Result{ID: op.ID, Status: Failed, Error: "no target"})
				continue
			}
			f.done[op.ID]++
		}
		if n := f.lose[op.ID]; n > 0 {
			f.lose[op.ID] = n - 1
			out = append(out, Result{ID: op.ID, Status: Retry, RetryAfter: time.Millisecond})
			continue
		}
		out = append(out, res)
	}
	return out
}

type memJournal struct {
	mu      sync.Mutex
	saved   map[string]state.Entry
	fail    error
	writes  int // entries written, over all calls
	links   map[string]state.Mapping
	intents map[string]state.Intent
}

func (j *memJournal) SaveEntries(ctx context.Context, customerID, runID, entity string, entries []state.Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	if j.saved == nil {
		j.saved = map[string]state.Entry{}
	}
	for _, e := range entries {
		j.saved[e.Key] = e
	}
	j.writes += len(entries)
	return nil
}

func (j *memJournal) PutMappings(ctx context.Context, ms ...state.Mapping) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	if j.links == nil {
		j.links = map[string]state.Mapping{}
	}
	for _, m := range ms {
		j.links[m.SourceID] = m
	}
	return nil
}

func (j *memJournal) PutIntents(ctx context.Context, in ...state.Intent) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	if j.intents == nil {
		j.intents = map[string]state.Intent{}
	}
	for _, x := range in {
		j.intents[x.SourceID] = x
	}
	return nil
}

func (j *memJournal) DeleteIntents(ctx context.Context, customerID, kind string, ids ...string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, id := range ids {
		delete(j.intents, id)
	}
	return nil
}

type memCreds struct{ got map[string]string }

func (m *memCreds) PutCredentials(ctx context.Context, customerID, runID string, creds []credentials.Credential) error {
	if m.got == nil {
		m.got = map[string]string{}
	}
	for _, c := range creds {
		m.got[c.Key] = c.UPN
	}
	return nil
}

func testPlan() (*plan.Plan, []state.Entry) {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oak", TenantID: "t1", RunID: "r1", Changes: []plan.Change{
		{Kind: plan.KindUser, Key: "s1", Action: plan.Create, After: map[string]string{"userPrincipalName": "a@x.example"},
			Payload: testPayloadOf(testPayload{Licenses: []string{"sku1"}, Groups: []string{"g1"}, Password: "strong"})},
		{Kind: plan.KindUser, Key: "s2", Action: plan.Create, After: map[string]string{"userPrincipalName": "b@x.example"},
			Payload: testPayloadOf(testPayload{Password: "words"})},
		{Kind: plan.KindUser, Key: "s3", Action: plan.Update, TargetID: "old-3", After: map[string]string{"surname": "New"}},
		{Kind: plan.KindUser, Key: "s4", Action: plan.Suspend, TargetID: "old-4"},
		{Kind: plan.KindUser, Key: "s5", Action: plan.Link, TargetID: "old-5"},
	}}
	var entries []state.Entry
	for _, c := range p.Changes {
		entries = append(entries, state.Entry{Change: c, Status: state.EntryPending})
	}
	return p, entries
}

// testLink links created accounts, like the users entity does.
func testLink(e state.Entry) (state.Mapping, bool) {
	if e.Action == plan.Create && e.Created != "" {
		return state.Mapping{Kind: string(e.Kind), SourceID: e.Key, TargetID: e.Created, How: "created"}, true
	}
	return state.Mapping{}, false
}

func passwords(kind string) (string, error) { return "pw-" + kind, nil }

func TestApplyCompletesAndJournals(t *testing.T) {
	p, entries := testPlan()
	ft, j, creds := newFakeTenant(), &memJournal{}, &memCreds{}
	a := New(ft, j, testExpand, testLink, creds, passwords, nil, Options{})
	pr, err := a.Apply(context.Background(), p, "T1", entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.Complete() || pr.Done != 5 || pr.Failed != 0 {
		t.Fatalf("progress = %+v, want all 5 done", pr)
	}
	if j.saved["s1"].Created == "" || !slices.Contains(j.saved["s1"].OpsDone, "user:s1#license:sku1") || !slices.Contains(j.saved["s1"].OpsDone, "user:s1#group:g1") {
		t.Errorf("journal for s1 = %+v, want the create, licence and group recorded", j.saved["s1"])
	}
	if len(creds.got) != 2 || creds.got["s2"] != "b@x.example" {
		t.Errorf("credentials stored = %v, want both new accounts", creds.got)
	}
	if ft.done["user:s4#disable"] != 1 || ft.done["user:s4#revoke"] != 1 {
		t.Errorf("suspension ops = %v", ft.done)
	}
	if ft.calls != 2 {
		t.Errorf("executor rounds = %d, want 2 (creates first, then licence and group)", ft.calls)
	}
	// Each round journals only what moved: 5 entries, s1 twice (create,
	// then licence and group).
	if j.writes != 6 {
		t.Errorf("journal wrote %d entries, want 6", j.writes)
	}
}

func TestApplyResumesWithoutRepeating(t *testing.T) {
	p, entries := testPlan()
	ft, j := newFakeTenant(), &memJournal{}
	ft.throttle["user:s3#patch"] = 1
	a := New(ft, j, testExpand, testLink, &memCreds{}, passwords, nil, Options{MaxWait: time.Microsecond}) // every wait is handed back
	pr, err := a.Apply(context.Background(), p, "t1", entries, false)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Complete() || pr.RequeueAfter <= 0 || pr.Retried != 1 {
		t.Fatalf("first call = %+v, want a hand-back with RequeueAfter", pr)
	}
	// Resume from the journal, as the follow-up message would.
	resumed := make([]state.Entry, 0, len(entries))
	for _, e := range entries {
		if s, ok := j.saved[e.Key]; ok {
			e = s
		}
		resumed = append(resumed, e)
	}
	time.Sleep(10 * time.Millisecond)
	pr, err = New(ft, j, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", resumed, false)
	if err != nil || !pr.Complete() {
		t.Fatalf("resumed = %+v, %v", pr, err)
	}
	for id, n := range ft.done {
		if n != 1 {
			t.Errorf("op %s took effect %d times", id, n)
		}
	}
}

func TestLostCreateResponseLinksInsteadOfDuplicating(t *testing.T) {
	p, entries := testPlan()
	ft := newFakeTenant()
	ft.lose["user:s2#create"] = 1 // created, but the answer never arrived
	pr, err := New(ft, &memJournal{}, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false)
	if err != nil || !pr.Complete() {
		t.Fatalf("progress = %+v, %v", pr, err)
	}
	if len(ft.byUPN) != 2 || ft.done["user:s2#create"] != 1 {
		t.Errorf("accounts = %v, creates of s2 = %d, want no duplicate", ft.byUPN, ft.done["user:s2#create"])
	}
	for _, e := range entries {
		if e.Key == "s2" && (!e.Existing || e.Created == "") {
			t.Errorf("s2 entry = %+v, want Existing with the found id", e)
		}
	}
}

func TestFailuresAreRecordedPerChange(t *testing.T) {
	p, entries := testPlan()
	ft := newFakeTenant()
	ft.fail["user:s3#patch"] = "Invalid value specified for property 'surname'"
	pr, err := New(ft, &memJournal{}, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false)
	if err != nil || pr.Failed != 1 || pr.Done != 4 || !pr.Complete() {
		t.Fatalf("progress = %+v, %v", pr, err)
	}
	for _, e := range entries {
		if e.Key == "s3" && (e.Status != state.EntryFailed || !strings.Contains(e.Error, "Request_BadRequest")) {
			t.Errorf("s3 = %+v", e)
		}
	}
}

func TestApplyRefuses(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*plan.Plan)
		tenant string
		want   error
	}{
		{"errored", func(p *plan.Plan) { p.Errors = []string{"feed broken"} }, "t1", ErrNotApplyable},
		{"other tenant", func(p *plan.Plan) {}, "t2", ErrWrongTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, entries := testPlan()
			tt.mutate(p)
			ft := newFakeTenant()
			if _, err := New(ft, &memJournal{}, testExpand, testLink, nil, passwords, nil, Options{}).Apply(context.Background(), p, tt.tenant, entries, false); !errors.Is(err, tt.want) {
				t.Errorf("Apply = %v, want %v", err, tt.want)
			}
			if ft.calls != 0 {
				t.Errorf("a refused plan reached the tenant")
			}
		})
	}
}

func TestNoCredentialStoreNoCreates(t *testing.T) {
	p, entries := testPlan()
	ft := newFakeTenant()
	if _, err := New(ft, &memJournal{}, testExpand, testLink, nil, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false); !errors.Is(err, ErrNoCredentialStore) {
		t.Errorf("Apply without a credential store = %v, want ErrNoCredentialStore", err)
	}
	if len(ft.byUPN) != 0 {
		t.Error("accounts were created whose passwords nobody could hand over")
	}
}

func TestJournalFailureStopsApply(t *testing.T) {
	p, entries := testPlan()
	j := &memJournal{fail: errors.New("table storage down")}
	if _, err := New(newFakeTenant(), j, testExpand, testLink, &memCreds{}, passwords, nil, Options{}).Apply(context.Background(), p, "t1", entries, false); err == nil {
		t.Error("Apply went on without a journal")
	}
}

// testExpand is a users-like expander for these tests (the real ones
// live with their entity kinds, which import this package).
// testPayload is a users-like payload for these tests.
type testPayload struct {
	Licenses, Groups []string
	Password         string
}

func testPayloadOf(tp testPayload) *plan.Payload {
	data, _ := json.Marshal(tp)
	return &plan.Payload{Version: 1, Data: data}
}

func testExpand(c plan.Change, created string) []Op {
	var pl testPayload
	if c.Payload != nil {
		_ = json.Unmarshal(c.Payload.Data, &pl)
	}
	target := c.TargetID
	if c.Action == plan.Create {
		target = created
	}
	id := func(suffix string) string { return string(c.Kind) + ":" + c.Key + "#" + suffix }
	var ops []Op
	switch c.Action {
	case plan.Create:
		ops = append(ops, Op{ID: id("create"), Kind: OpCreateUser, Key: c.After["userPrincipalName"], Props: c.After, TargetID: target, SecretKind: pl.Password})
		for _, sku := range pl.Licenses {
			ops = append(ops, Op{ID: id("license:" + sku), Kind: OpAssignLicense, Props: map[string]string{"skuId": sku}, TargetID: target})
		}
		for _, g := range pl.Groups {
			ops = append(ops, Op{ID: id("group:" + g), Kind: OpAddMember, Ref: g, TargetID: target})
		}
	case plan.Update, plan.Link:
		if len(c.After) > 0 {
			ops = append(ops, Op{ID: id("patch"), Kind: OpPatchUser, Props: c.After, TargetID: target})
		}
	case plan.Suspend:
		ops = append(ops, Op{ID: id("disable"), Kind: OpPatchUser, Props: map[string]string{"accountEnabled": "false"}, TargetID: target},
			Op{ID: id("revoke"), Kind: OpRevokeSessions, TargetID: target})
	case plan.Reactivate:
		props := map[string]string{"accountEnabled": "true"}
		for k, v := range c.After {
			if k != "accountEnabled" {
				props[k] = v
			}
		}
		ops = append(ops, Op{ID: id("enable"), Kind: OpPatchUser, Props: props, TargetID: target})
	}
	return ops
}
