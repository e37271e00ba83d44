package graph

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/apply"
	"github.com/rostersync/rostersync/internal/clock"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/userplan"
)

// TestUsersSnapshotSince reads the tenant once in full, then, after users
// created, one renamed and disabled, one whose department was cleared and
// one deleted, reads only the changes from the stored cursor: one delta
// request and no listing, and the same directory a fresh full read gives.
// A night with no change is one delta request; an expired token (410
// after 7 days) or a cursor made with another query reads in full again.
func TestUsersSnapshotSince(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 9, 1, 22, 0, 0, 0, time.UTC))
	var deltaGets, listGets atomic.Int32
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/users/delta"):
				deltaGets.Add(1)
			case strings.HasSuffix(r.URL.Path, "/users") && r.Method == http.MethodGet:
				listGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	env := newSimEnv(t, graphsim.Options{Clock: fake}, simTenant(), count)
	ex := NewExecutor(env.client, ExecutorOptions{})
	ctx := context.Background()

	full, cursor, err := env.client.UsersSnapshotSince(ctx, userplan.Directory{}, "")
	if err != nil || cursor == "" || len(full.Accounts) != 2 || len(full.Domains) != 2 {
		t.Fatalf("first read: %d accounts, %d domains, cursor %q, %v", len(full.Accounts), len(full.Domains), cursor, err)
	}
	if want, _ := env.client.Snapshot(ctx); !reflect.DeepEqual(full, want) {
		t.Fatalf("first read:\n%+v\nwant what Snapshot gives:\n%+v", full, want)
	}

	res := executeAll(t, ex, []apply.Op{
		createOp("new.pupil"), createOp("other.pupil"),
		{ID: "rename", Kind: apply.OpPatchUser, TargetID: simExisting, Props: map[string]string{"displayName": "Ada King", "accountEnabled": "false", "department": ""}},
	})
	for id, r := range res {
		if r.Status != apply.Done {
			t.Fatalf("%s: %+v", id, r)
		}
	}
	if err := env.client.sdk.Users().ByUserId(simMember).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}

	deltaGets.Store(0)
	listGets.Store(0)
	got, cursor2, err := env.client.UsersSnapshotSince(ctx, full, cursor)
	if err != nil || cursor2 == "" || cursor2 == cursor {
		t.Fatalf("read from the cursor: cursor %q, %v", cursor2, err)
	}
	if d, l := deltaGets.Load(), listGets.Load(); d != 1 || l != 0 {
		t.Errorf("the read from the cursor took %d delta requests and %d listings, want 1 and 0", d, l)
	}
	fresh, err := env.client.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fresh) {
		t.Errorf("from the cursor:\n%+v\nwant what a full read gives:\n%+v", got, fresh)
	}
	if len(fresh.Accounts) != 3 {
		t.Errorf("full read after the changes: %d accounts, want 3 (two new, one deleted)", len(fresh.Accounts))
	}
	for _, a := range got.Accounts {
		if a.ID == simExisting && (a.AccountEnabled || a.Props["displayName"] != "Ada King" || a.Props["department"] != "" || a.Props["employeeId"] != "S1") {
			t.Errorf("renamed account from the cursor: %+v, want Ada King, disabled, no department, employeeId kept", a)
		}
	}

	// Nothing changed: one request, the same directory.
	deltaGets.Store(0)
	quiet, cursor3, err := env.client.UsersSnapshotSince(ctx, got, cursor2)
	if err != nil || !reflect.DeepEqual(quiet, fresh) || deltaGets.Load() != 1 {
		t.Errorf("a quiet read: %d requests, same %t, %v", deltaGets.Load(), reflect.DeepEqual(quiet, fresh), err)
	}

	// A cursor of another query reads everything again, as does one past
	// its 7 days (a stale directory passed in shows which).
	stale := userplan.Directory{Accounts: []userplan.Account{{ID: "gone"}}}
	otherQuery, _ := json.Marshal(deltaCursor{Query: "$select=id", DeltaLink: env.client.adapter.GetBaseUrl() + "/users/delta?$deltatoken=x"})
	fake.Advance(8 * 24 * time.Hour)
	for name, c := range map[string]string{"other query": string(otherQuery), "expired": cursor3} {
		got, next, err := env.client.UsersSnapshotSince(ctx, stale, c)
		if err != nil || next == "" || !reflect.DeepEqual(got, fresh) {
			t.Errorf("%s: %+v, cursor %q, %v; want a full read", name, got, next, err)
		}
	}
}
