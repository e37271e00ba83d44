package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/plan"
)

// TestGroupOpRequests pins each group op kind's request: method, path (a
// removal always ends in $ref, or Graph deletes the member itself) and
// body.
func TestGroupOpRequests(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{})
	base := env.client.adapter.GetBaseUrl()
	for _, tc := range []struct {
		op           apply.Op
		method, path string
		body         map[string]any
	}{
		{apply.Op{Kind: apply.OpCreateGroup, Key: "10a-ma1", Props: map[string]string{"displayName": "10A/Ma1", "mailNickname": "10a-ma1", "unified": "true",
			"visibility": "Private", "options": "WelcomeEmailDisabled,HideGroupInOutlook", "owners": "o1", "members": "m1,o1"}},
			"POST", "/groups", map[string]any{"displayName": "10A/Ma1", "mailNickname": "10a-ma1", "mailEnabled": true, "securityEnabled": false,
				"groupTypes": []string{"Unified"}, "visibility": "Private", "resourceBehaviorOptions": []string{"WelcomeEmailDisabled", "HideGroupInOutlook"},
				"owners@odata.bind": []string{base + "/directoryObjects/o1"}, "members@odata.bind": []string{base + "/directoryObjects/m1", base + "/directoryObjects/o1"}}},
		{apply.Op{Kind: apply.OpCreateGroup, Key: "sec", Props: map[string]string{"displayName": "Sec", "mailNickname": "sec", "unified": "false", "visibility": "Private"}},
			"POST", "/groups", map[string]any{"displayName": "Sec", "mailNickname": "sec", "mailEnabled": false, "securityEnabled": true, "groupTypes": []string{}}},
		{apply.Op{Kind: apply.OpAddOwner, Ref: "g1", TargetID: "u1"}, "POST", "/groups/g1/owners/$ref", map[string]any{"@odata.id": base + "/directoryObjects/u1"}},
		{apply.Op{Kind: apply.OpRemoveMember, Ref: "g1", TargetID: "u1"}, "DELETE", "/groups/g1/members/u1/$ref", nil},
		{apply.Op{Kind: apply.OpRemoveOwner, Ref: "g1", TargetID: "u1"}, "DELETE", "/groups/g1/owners/u1/$ref", nil},
		{apply.Op{Kind: apply.OpDeleteGroup, TargetID: "g1"}, "DELETE", "/groups/g1", nil},
		{apply.Op{Kind: apply.OpPatchGroup, TargetID: "g1", Props: map[string]string{"displayName": "New"}}, "PATCH", "/groups/g1", map[string]any{"displayName": "New"}},
	} {
		t.Run(string(tc.op.Kind), func(t *testing.T) {
			spec, ok := opSpecs[tc.op.Kind]
			if !ok {
				t.Fatal("op kind not registered")
			}
			if why := spec.invalid(tc.op); why != "" {
				t.Fatalf("valid op refused: %s", why)
			}
			req := spec.request(ex, tc.op)
			if req.Method != tc.method || req.URL != tc.path {
				t.Errorf("request %s %s, want %s %s", req.Method, req.URL, tc.method, tc.path)
			}
			if tc.body == nil {
				if req.Body != nil {
					t.Errorf("body %v, want none", req.Body)
				}
				return
			}
			got, _ := req.Body.(map[string]any)
			if len(got) != len(tc.body) {
				t.Errorf("body %v, want %v", got, tc.body)
			}
			for k, v := range tc.body {
				if !same(got[k], v) {
					t.Errorf("body %s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	tooMany := apply.Op{Kind: apply.OpCreateGroup, Key: "x", Props: map[string]string{"displayName": "X", "mailNickname": "x",
		"members": strings.Repeat("m,", 20) + "m"}}
	if opSpecs[apply.OpCreateGroup].invalid(tooMany) == "" {
		t.Error("a create binding 21 references was not refused")
	}
	if opSpecs[apply.OpRemoveMember].invalid(apply.Op{Kind: apply.OpRemoveMember, TargetID: "u"}) == "" {
		t.Error("a removal without its group was not refused")
	}
}

func same(a, b any) bool {
	switch bv := b.(type) {
	case []string:
		av, ok := a.([]string)
		return ok && slices.Equal(av, bv)
	}
	return a == b
}

// TestGroupsOnTheSimulator creates a group with binds, adds and removes
// members, finds it again by mailNickname, reads it back through the
// snapshot, and deletes it; a second removal of the same member is done.
func TestGroupsOnTheSimulator(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	ex := NewExecutor(env.client, ExecutorOptions{})
	ctx := context.Background()
	create := apply.Op{ID: "g#create", Kind: apply.OpCreateGroup, Key: "class-10a", Props: map[string]string{"displayName": "10A", "mailNickname": "class-10a",
		"unified": "true", "visibility": "Private", "options": "WelcomeEmailDisabled", "owners": simExisting, "members": simExisting}}
	res := executeAll(t, ex, []apply.Op{create})
	gid := res["g#create"].TargetID
	if res["g#create"].Status != apply.Done || gid == "" {
		t.Fatalf("create: %+v", res["g#create"])
	}
	res = executeAll(t, ex, []apply.Op{
		{ID: "g#member", Kind: apply.OpAddMember, Ref: gid, TargetID: simMember},
		{ID: "g#unmember", Kind: apply.OpRemoveMember, Ref: gid, TargetID: simExisting},
	})
	for id, r := range res {
		if r.Status != apply.Done {
			t.Errorf("%s: %+v", id, r)
		}
	}
	res = executeAll(t, ex, []apply.Op{{ID: "g#again", Kind: apply.OpRemoveMember, Ref: gid, TargetID: simExisting}})
	if res["g#again"].Status != apply.Done {
		t.Errorf("removing a member already gone: %+v", res["g#again"])
	}
	if id, found, err := env.client.FindCreated(ctx, plan.KindGroup, "class-10a"); err != nil || !found || !strings.EqualFold(id, gid) {
		t.Errorf("FindCreated by mailNickname: %s %t %v; want %s", id, found, err, gid)
	}
	// A retried create (its answer lost) finds its group, not a duplicate.
	res = executeAll(t, ex, []apply.Op{create})
	if r := res["g#create"]; r.Status != apply.Done || !strings.EqualFold(r.TargetID, gid) || !r.Existing {
		t.Errorf("retried create: %+v", r)
	}
	snap, err := env.client.GroupsSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got bool
	for _, g := range snap.Groups {
		if strings.EqualFold(g.ID, gid) {
			got = true
			if g.MailNickname != "class-10a" || g.DisplayName != "10A" || !slices.Equal(g.Members, []string{strings.ToLower(simMember)}) ||
				!slices.Equal(g.Owners, []string{strings.ToLower(simExisting)}) || !slices.Contains(g.GroupTypes, "Unified") {
				t.Errorf("snapshot group %+v", g)
			}
		}
	}
	if !got || len(snap.Groups) != 2 {
		t.Errorf("snapshot has %d groups (new one found %t), want 2", len(snap.Groups), got)
	}
	res = executeAll(t, ex, []apply.Op{{ID: "g#delete", Kind: apply.OpDeleteGroup, TargetID: gid}})
	if res["g#delete"].Status != apply.Done {
		t.Errorf("delete: %+v", res["g#delete"])
	}
	if snap, _ := env.client.GroupsSnapshot(ctx); len(snap.Groups) != 1 {
		t.Errorf("after the delete the snapshot has %d groups, want 1", len(snap.Groups))
	}
}

// TestGroupsSnapshotSince reads the tenant once in full, then, after a
// member added and one removed, an owner added, a new group and a deleted
// group, reads only the changes from the stored cursor: one request, and
// the same directory a fresh full read gives. A night with no change is
// one request and the same directory; an expired token (410 after 7 days)
// or a cursor made with another query reads the tenant in full again.
func TestGroupsSnapshotSince(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 9, 1, 22, 0, 0, 0, time.UTC))
	var deltaGets atomic.Int32
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/groups/delta") {
				deltaGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	ts := simTenant()
	const doomed = "b2b2b2b2-0000-4000-8000-000000000002"
	ts.Groups = append(ts.Groups, map[string]any{"id": doomed, "displayName": "Old Class", "mailNickname": "oldclass", "securityEnabled": true,
		"mailEnabled": false, "groupTypes": []any{}, "members": []any{simExisting}})
	env := newSimEnv(t, graphsim.Options{Clock: fake}, ts, count)
	ex := NewExecutor(env.client, ExecutorOptions{})
	ctx := context.Background()

	full, cursor, err := env.client.GroupsSnapshotSince(ctx, groupplan.Directory{}, "")
	if err != nil || cursor == "" || len(full.Groups) != 2 {
		t.Fatalf("first read: %d groups, cursor %q, %v", len(full.Groups), cursor, err)
	}

	res := executeAll(t, ex, []apply.Op{
		{ID: "add", Kind: apply.OpAddMember, Ref: simGroup, TargetID: simExisting},
		{ID: "remove", Kind: apply.OpRemoveMember, Ref: simGroup, TargetID: simMember},
		{ID: "owner", Kind: apply.OpAddOwner, Ref: simGroup, TargetID: simMember},
		{ID: "delete", Kind: apply.OpDeleteGroup, TargetID: doomed},
		{ID: "create", Kind: apply.OpCreateGroup, Key: "class-10a", Props: map[string]string{"displayName": "10A", "mailNickname": "class-10a",
			"unified": "true", "visibility": "Private", "owners": simExisting, "members": simMember + "," + simExisting}},
	})
	for id, r := range res {
		if r.Status != apply.Done {
			t.Fatalf("%s: %+v", id, r)
		}
	}

	deltaGets.Store(0)
	got, cursor2, err := env.client.GroupsSnapshotSince(ctx, full, cursor)
	if err != nil || cursor2 == "" || cursor2 == cursor {
		t.Fatalf("read from the cursor: cursor %q, %v", cursor2, err)
	}
	if n := deltaGets.Load(); n != 1 {
		t.Errorf("the read from the cursor took %d delta requests, want 1", n)
	}
	fresh, err := env.client.GroupsSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fresh) {
		t.Errorf("from the cursor:\n%+v\nwant what a full read gives:\n%+v", got, fresh)
	}
	i := slices.IndexFunc(fresh.Groups, func(g groupplan.Group) bool { return g.ID == simGroup })
	if len(fresh.Groups) != 2 || i < 0 || !slices.Equal(fresh.Groups[i].Members, []string{simExisting}) || !slices.Equal(fresh.Groups[i].Owners, []string{simMember}) {
		t.Errorf("full read after the changes: %+v", fresh)
	}

	// Nothing changed: one request, the same directory.
	deltaGets.Store(0)
	quiet, cursor3, err := env.client.GroupsSnapshotSince(ctx, got, cursor2)
	if err != nil || !reflect.DeepEqual(quiet, fresh) || deltaGets.Load() != 1 {
		t.Errorf("a quiet read: %d requests, same %t, %v", deltaGets.Load(), reflect.DeepEqual(quiet, fresh), err)
	}

	// A cursor of a query that selected less reads everything again, as
	// does one past its 7 days (a stale directory passed in shows which).
	stale := groupplan.Directory{Groups: []groupplan.Group{{ID: "gone"}}}
	otherQuery, _ := json.Marshal(deltaCursor{Query: "$select=id", DeltaLink: env.client.adapter.GetBaseUrl() + "/groups/delta?$deltatoken=x"})
	fake.Advance(8 * 24 * time.Hour)
	for name, c := range map[string]string{"other query": string(otherQuery), "expired": cursor3} {
		got, next, err := env.client.GroupsSnapshotSince(ctx, stale, c)
		if err != nil || next == "" || !reflect.DeepEqual(got, fresh) {
			t.Errorf("%s: %+v, cursor %q, %v; want a full read", name, got, next, err)
		}
	}
}

// A group created with a member made moments ago meets Graph's "Not a
// valid reference update" while the member replicates: the create waits
// and goes again, it does not fail (it used to, for a whole class).
func TestCreateGroupWaitsForNewMembers(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{TimeScale: 20, ConsistencyDelay: 2 * time.Second}, simTenant(), nil) // members replicate in 100 ms
	ex := NewExecutor(env.client, ExecutorOptions{TimeScale: 20})
	res := executeAll(t, ex, []apply.Op{createOp("fresh.pupil")})
	pupil := res["user:fresh.pupil#create"].TargetID
	if pupil == "" {
		t.Fatalf("create user: %+v", res)
	}
	group := apply.Op{ID: "g#create", Kind: apply.OpCreateGroup, Key: "class-new", Props: map[string]string{"displayName": "New",
		"mailNickname": "class-new", "unified": "false", "owners": simExisting, "members": pupil}}
	res = executeAll(t, ex, []apply.Op{group})
	if r := res["g#create"]; r.Status != apply.Done || r.TargetID == "" {
		t.Fatalf("create with a member not replicated yet: %+v, want done after waiting", r)
	}
	if members, _ := env.group(t, res["g#create"].TargetID)["members"].([]string); len(members) != 1 || !strings.EqualFold(members[0], pupil) {
		t.Errorf("group members %v, want the new pupil", members)
	}
}
