package credentials

import (
	"testing"

	"github.com/rostersync/rostersync/internal/state"
	"github.com/rostersync/rostersync/internal/state/embedded"
)

// TestDestroyCustomer: every run's sealed credentials of the customer and
// its exports go; another customer's stay exportable.
func TestDestroyCustomer(t *testing.T) {
	b, err := embedded.Open("")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ParseKey(NewKey())
	v, err := NewVault(b, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, c := range []string{"oak", "elm"} {
		for _, run := range []string{"r1", "r2"} {
			if err := v.PutCredentials(ctx, c, run, []Credential{{Key: "s1", UPN: "a@x.example", Password: "pw1"}, {Key: "s2", UPN: "b@x.example", Password: "pw2"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := v.Export(ctx, "oak", "r1", nil); err != nil { // leaves members and an index row
		t.Fatal(err)
	}
	n, err := v.DestroyCustomer(ctx, "oak")
	if err != nil || n != 4 {
		t.Fatalf("DestroyCustomer = %d, %v; want 4 sealed credentials", n, err)
	}
	tbl, _ := b.Table(ctx, TableCredentials)
	rows, _ := tbl.List(ctx, state.Query{})
	for _, r := range rows {
		key := r.PartitionKey
		if key == exportsPK {
			key = r.RowKey
		}
		if parts, _ := state.DecodeKey(key); len(parts) > 0 && parts[0] == "oak" {
			t.Errorf("row %s/%s of oak survived", r.PartitionKey, r.RowKey)
		}
	}
	ex, err := v.Export(ctx, "elm", "r2", nil)
	if err != nil || len(ex.Credentials) != 2 {
		t.Errorf("elm's export after oak's destruction = %d credentials, %v; want 2", len(ex.Credentials), err)
	}
	if n, err := v.DestroyCustomer(ctx, "oak"); err != nil || n != 0 {
		t.Errorf("second DestroyCustomer = %d, %v; want 0, nil", n, err)
	}
}
