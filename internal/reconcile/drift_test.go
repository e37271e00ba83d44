package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/rostersync/rostersync/internal/groupplan"
	"github.com/rostersync/rostersync/internal/plan"
	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/userplan"
)

// The users hook compares each link with its account: what rostersync
// left enabled or suspended, what the plan's update changes back, and an
// account gone, leaving alone the excluded and links too new to show.
func TestUsersDrift(t *testing.T) {
	now := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	old := now.Add(-time.Hour)
	update := plan.Change{Kind: plan.KindUser, Key: "s-renamed", Action: plan.Update, TargetID: "A-RENAMED",
		Before: map[string]string{"displayName": "By Hand"}, After: map[string]string{"displayName": "Ann Lee"}}
	tests := []struct {
		name    string
		link    state.Mapping
		account *userplan.Account
		changes []plan.Change
		excl    bool
		want    string // the differences, "" for no drift
	}{
		{"as left", state.Mapping{SourceID: "s1", TargetID: "a1", UpdatedAt: old}, &userplan.Account{ID: "a1", AccountEnabled: true}, nil, false, ""},
		{"disabled by hand", state.Mapping{SourceID: "s1", TargetID: "a1", UpdatedAt: old}, &userplan.Account{ID: "a1"}, nil, false, "[{accountEnabled false true}]"},
		{"suspended by rostersync", state.Mapping{SourceID: "s1", TargetID: "a1", Suspended: true, UpdatedAt: old}, &userplan.Account{ID: "a1"}, nil, false, ""},
		{"enabled again by hand", state.Mapping{SourceID: "s1", TargetID: "a1", Suspended: true, UpdatedAt: old}, &userplan.Account{ID: "a1", AccountEnabled: true}, nil, false, "[{accountEnabled true false}]"},
		{"renamed (ids differ in case)", state.Mapping{SourceID: "s-renamed", TargetID: "a-renamed", UpdatedAt: old}, &userplan.Account{ID: "A-RENAMED", AccountEnabled: true}, []plan.Change{update}, false, "[{displayName By Hand Ann Lee}]"},
		{"gone", state.Mapping{SourceID: "s1", TargetID: "a1", UpdatedAt: old}, nil, nil, false, "[{exists absent present}]"},
		{"gone, or not replicated yet", state.Mapping{SourceID: "s1", TargetID: "a1", UpdatedAt: now.Add(-time.Minute)}, nil, nil, false, ""},
		{"excluded", state.Mapping{SourceID: "s1", TargetID: "a1", UpdatedAt: old}, &userplan.Account{ID: "a1"}, nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := PlanInput[userplan.Directory]{Links: []state.Mapping{tt.link}, Excluded: map[string]bool{tt.link.SourceID: tt.excl}, Now: now}
			if tt.account != nil {
				in.Snapshot.Accounts = []userplan.Account{*tt.account}
			}
			got := usersDrift(in, &plan.Plan{Changes: tt.changes})
			var diffs string
			if len(got) == 1 {
				diffs = differences(got[0].Differences)
			}
			if len(got) > 1 || diffs != tt.want {
				t.Errorf("usersDrift = %+v, want differences %q", got, tt.want)
			}
		})
	}
}

func differences(ds []plan.Difference) string {
	out := "["
	for i, d := range ds {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("{%s %s %s}", d.Field, d.Tenant, d.Rostersync)
	}
	return out + "]"
}

// The groups hook reads only updates of live links: a create, a link of a
// group not yet linked and a deleted group's history are not drift.
func TestGroupsDriftOnlyLinked(t *testing.T) {
	change := func(key string, a plan.Action, target string) plan.Change {
		c := plan.Change{Kind: plan.KindGroup, Key: key, Action: a, TargetID: target}
		c.Payload = &plan.Payload{Version: groupplan.PayloadVersion, Data: []byte(`{"type":"registration","addMembers":["acc-1"],"removeMembers":["acc-2"]}`)}
		return c
	}
	in := PlanInput[groupplan.Directory]{
		Links: []state.Mapping{
			{SourceID: "g-linked", TargetID: "G1", How: groupplan.HowCreated},
			{SourceID: "g-history", TargetID: "G2", How: groupplan.HowDeleted},
			{SourceID: "g-gone", TargetID: "G3", How: groupplan.HowMatched},
		},
		Related: map[string][]state.Mapping{MappingUser: {{SourceID: "s1", TargetID: "ACC-1"}}},
	}
	p := &plan.Plan{
		Changes:  []plan.Change{change("g-linked", plan.Update, "g1"), change("g-history", plan.Update, "G2"), change("g-new", plan.Link, "G9"), change("g-create", plan.Create, "")},
		Unsynced: []plan.Unsynced{{Key: "g-gone", Reason: groupplan.UnsyncedBecauseMissing}},
	}
	got := groupsDrift(in, p)
	if len(got) != 2 || got[0].Key != "g-linked" || got[1].Key != "g-gone" {
		t.Fatalf("groupsDrift = %+v, want g-linked and g-gone", got)
	}
	if d := differences(got[0].Differences); d != "[{members absent present} {members present absent}]" || got[0].Differences[0].MemberSourcedID != "s1" {
		t.Errorf("g-linked differences = %+v", got[0].Differences)
	}
	if d := differences(got[1].Differences); d != "[{exists absent present}]" {
		t.Errorf("g-gone differences = %s", d)
	}
}
