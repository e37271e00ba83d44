package groupplan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/internal/plan"
)

func TestMemberships(t *testing.T) {
	c := withPayload(plan.Change{Kind: plan.KindGroup, Key: "year:s:10", Action: plan.Update},
		Payload{AddOwners: []string{"o1"}, AddMembers: []string{"m1", "o1"}, RemoveMembers: []string{"m2"}, RemoveOwners: []string{"o2"}})
	tests := []struct {
		account string
		want    []string
	}{
		{"o1", []string{"member add", "owner add"}},
		{"m1", []string{"member add"}},
		{"m2", []string{"member remove"}},
		{"O2", []string{"owner remove"}},
		{"x", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range Memberships(c, tt.account) {
			got = append(got, fmt.Sprintf("%s %s", m.Role, m.Change))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Memberships(%s) = %q, want %q", tt.account, got, tt.want)
		}
	}
}
