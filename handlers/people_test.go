package handlers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/tenant"
)

// The admin's question, for each kind of person: the fixture's users plan
// (run r1) suspends s1 and leaves s9 alone as excluded.
func TestPersonStatus(t *testing.T) {
	f := newAPIFixture(t)
	ctx := t.Context()
	prof := tenant.Profile{CustomerID: "oak", ID: "nightly", Name: "Nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{"users"}}
	if err := f.store.SaveProfile(ctx, prof); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SaveSyncState(ctx, state.SyncState{CustomerID: "oak", ProfileID: "nightly", Entity: tenant.EntityUsers, LastRunID: "r1", LastSync: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutMappings(ctx,
		state.Mapping{CustomerID: "oak", Kind: LinkKindUser, SourceID: "s1", TargetID: "a1", How: "created", Suspended: true},
		state.Mapping{CustomerID: "oak", Kind: LinkKindUser, SourceID: "s2", TargetID: "a2", How: "created"},
		state.Mapping{CustomerID: "oak", Kind: LinkKindUser, SourceID: "s3", TargetID: "a3", How: "matched:email"},
	); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		person, wantState, wantHow, wantReason, wantUnsynced string
		wantEnabled                                          bool
	}{
		{"s2", personLinked, "created", "", "", true},
		{"s3", personLinked, "matched:email", "", "", true},
		{"s1", personSuspended, "created", "suspend_because_left_mis", "", false},
		{"s9", personExcluded, "", "", "unsynced_because_excluded", false},
		{"s8", personUnsynced, "", "", "unsynced_because_match_ambiguous", false},
		{"s404", personUnknown, "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.person, func(t *testing.T) {
			rec := f.do(t, "GET", "/api/customers/oak/people/"+tt.person, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got PersonStatus
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.State != tt.wantState {
				t.Errorf("state = %s, want %s", got.State, tt.wantState)
			}
			if how := ""; got.Account != nil {
				how = got.Account.How
				if how != tt.wantHow || got.Account.Enabled != tt.wantEnabled {
					t.Errorf("account = %+v, want how %q enabled %v", *got.Account, tt.wantHow, tt.wantEnabled)
				}
			} else if tt.wantHow != "" {
				t.Errorf("no account, want one linked %s", tt.wantHow)
			}
			reason := ""
			if got.LastChange != nil {
				reason = string(got.LastChange.Reason)
			}
			if reason != tt.wantReason {
				t.Errorf("last change reason = %q, want %q", reason, tt.wantReason)
			}
			unsynced := ""
			if got.Unsynced != nil {
				unsynced = string(got.Unsynced.Reason)
			}
			if unsynced != tt.wantUnsynced {
				t.Errorf("unsynced reason = %q, want %q", unsynced, tt.wantUnsynced)
			}
		})
	}
	checkProblem(t, f.do(t, "GET", "/api/customers/ash/people/s1", ""), http.StatusNotFound, ProblemNotFound)
}

// The person status lists what the latest plan of each kind holding people
// does with the account, and nothing for a person no plan touches.
func TestPersonStatusMemberships(t *testing.T) {
	f := newAPIFixture(t)
	ctx := t.Context()
	prof := tenant.Profile{CustomerID: "oak", ID: "nightly", Name: "Nightly", Enabled: true, RunAt: "02:00", TimeZone: "Europe/London", Entities: []string{"users", "groups"}}
	if err := f.store.SaveProfile(ctx, prof); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.SaveSyncState(ctx, state.SyncState{CustomerID: "oak", ProfileID: "nightly", Entity: "groups", LastRunID: "r1", LastSync: time.Now()}); err != nil {
		t.Fatal(err)
	}
	p := &plan.Plan{FormatVersion: plan.FormatVersion, CustomerID: "oak", RunID: "r1", Entity: "groups", Changes: []plan.Change{
		{Kind: "group", Key: "year:s:10", Action: plan.Update, Reason: "update_because_members_differ", TargetID: "g10", Detail: "a2,a3"},
		{Kind: "group", Key: "year:s:11", Action: plan.Update, Reason: "update_because_members_differ", TargetID: "g11", Detail: "a3"},
	}}
	if err := f.store.SavePlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutMappings(ctx,
		state.Mapping{CustomerID: "oak", Kind: LinkKindUser, SourceID: "s2", TargetID: "a2", How: "created"},
		state.Mapping{CustomerID: "oak", Kind: LinkKindUser, SourceID: "s4", TargetID: "a4", How: "created"},
	); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		person string
		want   []string
	}{
		{"s2", []string{"groups year:s:10 g10 member add"}},
		{"s4", nil},
	} {
		rec := f.do(t, "GET", "/api/customers/oak/people/"+tt.person, "")
		var got PersonStatus
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tt.person, rec.Code, rec.Body)
		}
		var ms []string
		for _, m := range got.Memberships {
			ms = append(ms, fmt.Sprintf("%s %s %s %s %s", m.Entity, m.SourcedID, m.ObjectID, m.Role, m.Change))
		}
		if !slices.Equal(ms, tt.want) {
			t.Errorf("%s memberships = %q, want %q", tt.person, ms, tt.want)
		}
	}
}
