package app

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/internal/credentials"
	"github.com/rostersync/rostersync/internal/graphsim"
	"github.com/rostersync/rostersync/internal/queue"
	"github.com/rostersync/rostersync/internal/state/embedded"
	"github.com/rostersync/rostersync/internal/tenant"
)

// TestBuildRegistersEveryEntity: the pipeline, the API's catalog and the
// names flags are checked against all come from Entities.
func TestBuildRegistersEveryEntity(t *testing.T) {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	sender := queue.SenderFunc(func(context.Context, ...queue.Message) error { return nil })
	a, err := Build(context.Background(), Options{Backend: b, Sender: sender, CredentialsKey: mustKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	names := EntityNames()
	if !slices.Contains(names, tenant.EntityUsers) || !slices.Contains(names, tenant.EntityNoop) {
		t.Fatalf("registered entities %v, want users and noop", names)
	}
	for _, n := range names {
		if a.Registry[n] == nil {
			t.Errorf("pipeline registry lacks %s", n)
		}
		if _, ok := catalog(a.Entities).Entity(n); !ok {
			t.Errorf("API catalog lacks %s", n)
		}
	}
	if len(a.Registry) != len(names) {
		t.Errorf("registry has %d kinds, Entities %d", len(a.Registry), len(names))
	}
	if u, _ := LookupEntity(tenant.EntityUsers); u.LinkKind == "" {
		t.Errorf("users keeps no link kind")
	}
}

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := credentials.ParseKey(credentials.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestSimulatorTenantOnFirstUseIsDurable: a customer's tenant is created
// on first use with its domains, kept in the state file's write log at
// once, and a seed does not overwrite a tenant the state already has.
func TestSimulatorTenantOnFirstUseIsDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tenant.json")
	sim, err := OpenSimulator(ctx, SimulatorOptions{StateFile: path, TimeScale: 60})
	if err != nil {
		t.Fatal(err)
	}
	c := tenant.Customer{ID: "oakfield", TenantID: "sim-oak", Domains: []string{"oakfield.example", "oak.example"}}
	if err := sim.customerTenant(ctx, c); err != nil {
		t.Fatal(err)
	}
	if created, err := sim.EnsureTenant(ctx, "sim-oak", nil); err != nil || created {
		t.Errorf("EnsureTenant of an existing tenant = %v, %v; want not created", created, err)
	}
	// Read the files while the simulator still runs: a crash image.
	st, found, err := graphsim.ReadDurableState(path, func(string) {})
	if err != nil || !found || len(st.Tenants) != 1 {
		t.Fatalf("durable state = %+v, %v, %v; want the tenant", st, found, err)
	}
	want := []graphsim.Domain{{ID: "oakfield.example", IsVerified: true, IsDefault: true}, {ID: "oak.example", IsVerified: true}, {ID: "oakfield.onmicrosoft.com", IsVerified: true, IsInitial: true}}
	if !slices.Equal(st.Tenants[0].Domains, want) {
		t.Errorf("domains %+v, want %+v", st.Tenants[0].Domains, want)
	}
	if err := sim.Close(); err != nil {
		t.Fatal(err)
	}
	seed := graphsim.State{FormatVersion: graphsim.StateFormatVersion, Tenants: []graphsim.TenantState{
		NewSimTenant("sim-oak", []string{"other.example"}), NewSimTenant("sim-elm", []string{"elm.example"})}}
	sim, err = OpenSimulator(ctx, SimulatorOptions{StateFile: path, Seed: &seed})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	oak, _, _ := sim.Tenant(ctx, "sim-oak")
	elm, found, _ := sim.Tenant(ctx, "sim-elm")
	if oak.Domains[0].ID != "oakfield.example" || !found || elm.Domains[0].ID != "elm.example" {
		t.Errorf("after a seed: oak domains %+v, elm found %v; want oak kept and elm added", oak.Domains, found)
	}
}
