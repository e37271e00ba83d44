package graph

import (
	"context"
	"testing"

	"github.com/rostersync/rostersync/internal/graphsim"
)

func TestUserExists(t *testing.T) {
	env := newSimEnv(t, graphsim.Options{}, simTenant(), nil)
	tests := []struct {
		id   string
		want bool
	}{
		{simExisting, true},
		{"A1A1A1A1-0000-4000-8000-000000000001", true},
		{"a1a1a1a1-0000-4000-8000-0000000000ff", false},
		{"ada.lovelace@" + simDomain, false}, // a UPN finds the user, but is no object id
		{"", false},
	}
	for _, tt := range tests {
		got, err := env.client.UserExists(context.Background(), tt.id)
		if err != nil || got != tt.want {
			t.Errorf("UserExists(%q) = %v, %v; want %v", tt.id, got, err, tt.want)
		}
	}
}
