package graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/tenant"
	"github.com/rostersync/rostersync/internal/userplan"
)

func TestAccountPropsCoverMappings(t *testing.T) {
	got := slices.Sorted(maps.Keys(accountProps))
	want := slices.Sorted(maps.Keys(tenant.AccountProperties))
	if !slices.Equal(got, want) {
		t.Errorf("accountProps = %v, want the keys of tenant.AccountProperties %v", got, want)
	}
}

func TestSnapshotPagesAndMaps(t *testing.T) {
	const n = 2500
	ts := simTenant()
	ts.Users = nil
	ts.Groups = nil
	for i := range n {
		u := map[string]any{
			"id":                fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"userPrincipalName": fmt.Sprintf("u%04d@%s", i, simDomain),
			"accountEnabled":    i%10 != 0,
			"displayName":       fmt.Sprintf("User %d", i),
		}
		if i%2 == 0 {
			u["givenName"], u["surname"], u["employeeId"], u["department"] = "Given", "Family", fmt.Sprint(i), ""
			u["mail"] = fmt.Sprintf("u%04d@%s", i, simDomain)
			u["proxyAddresses"] = []any{fmt.Sprintf("SMTP:u%04d@%s", i, simDomain)}
		}
		ts.Users = append(ts.Users, u)
	}
	env := newSimEnv(t, graphsim.Options{}, ts, nil)

	dir, err := env.client.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if len(dir.Accounts) != n {
		t.Fatalf("Snapshot returned %d accounts, want %d", len(dir.Accounts), n)
	}
	if !slices.IsSortedFunc(dir.Accounts, func(a, b userplan.Account) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("accounts are not sorted by id")
	}
	if want := []string{simDomain, "testschool.onmicrosoft.com"}; !slices.Equal(dir.Domains, want) {
		t.Errorf("Domains = %v, want %v (verified only)", dir.Domains, want)
	}
	want0 := userplan.Account{
		ID: "00000000-0000-4000-8000-000000000000", UserPrincipalName: "u0000@" + simDomain,
		Mail: "u0000@" + simDomain, ProxyAddresses: []string{"SMTP:u0000@" + simDomain}, AccountEnabled: false,
		Props: map[string]string{"displayName": "User 0", "givenName": "Given", "surname": "Family", "employeeId": "0"},
	}
	if got := dir.Accounts[0]; !accountsEqual(got, want0) {
		t.Errorf("Accounts[0] = %+v, want %+v (empty department omitted)", got, want0)
	}
	want1 := userplan.Account{ID: "00000000-0000-4000-8000-000000000001", UserPrincipalName: "u0001@" + simDomain,
		AccountEnabled: true, Props: map[string]string{"displayName": "User 1"}}
	if got := dir.Accounts[1]; !accountsEqual(got, want1) {
		t.Errorf("Accounts[1] = %+v, want %+v", got, want1)
	}

	// ⌈2,500/999⌉ = 3 pages and one domains read: the no-change run's
	// budget of 10 requests leaves room for the rest.
	st := env.stats(t)
	if got := st.Requests["GET users"]; got != 3 {
		t.Errorf("GET users requests = %d, want 3 pages of 999", got)
	}
	if got := st.Requests["GET directory"]; got != 1 {
		t.Errorf("GET directory requests = %d, want 1 (domains)", got)
	}
	if st.ResourceUnits != 4 {
		t.Errorf("resource units = %d, want 4 ($select makes a users page cost 1)", st.ResourceUnits)
	}
}

func TestSnapshotEmptyTenant(t *testing.T) {
	ts := simTenant()
	ts.Users, ts.Groups = nil, nil
	env := newSimEnv(t, graphsim.Options{}, ts, nil)
	dir, err := env.client.Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if len(dir.Accounts) != 0 || len(dir.Domains) != 2 {
		t.Errorf("Snapshot = %d accounts, domains %v; want 0 accounts and 2 domains", len(dir.Accounts), dir.Domains)
	}
}

func TestSnapshotError(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{Faults: &graphsim.Faults{Request: func(r graphsim.FaultRequest) *graphsim.Fault {
		if r.Path == "/users" {
			return &graphsim.Fault{Status: 403, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."}
		}
		return nil
	}}}, simTenant(), nil)
	if _, err := env.client.Snapshot(context.Background()); err == nil {
		t.Fatal("Snapshot with users forbidden: got no error")
	}
}

func accountsEqual(a, b userplan.Account) bool {
	return a.ID == b.ID && a.UserPrincipalName == b.UserPrincipalName && a.Mail == b.Mail &&
		slices.Equal(a.ProxyAddresses, b.ProxyAddresses) && a.AccountEnabled == b.AccountEnabled && maps.Equal(a.Props, b.Props)
}
