package classplan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/internal/plan"
)

func TestMemberships(t *testing.T) {
	c := withPayload(plan.Change{Kind: Kind, Key: "cls-1", Action: plan.Update},
		Payload{AddTeachers: []string{"t1"}, AddMembers: []string{"t1", "p1"}, RemoveMembers: []string{"p2"}, RemoveTeachers: []string{"t2"}})
	tests := []struct {
		account string
		want    []string
	}{
		{"t1", []string{"member add", "owner add"}},
		{"P1", []string{"member add"}}, // object ids compare without case
		{"p2", []string{"member remove"}},
		{"t2", []string{"owner remove"}},
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
	future := c
	future.Payload = &plan.Payload{Version: PayloadVersion + 1, Data: c.Payload.Data}
	if got := Memberships(future, "t1"); got != nil {
		t.Errorf("a payload of another version = %v, want nothing", got)
	}
}
