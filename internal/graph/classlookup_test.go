package graph

import (
	"context"
	"errors"
	"testing"

	"github.com/rostersync/rostersync/internal/classplan"
	"github.com/rostersync/rostersync/internal/graphsim"
)

const simClass = "c3c3c3c3-0000-4000-8000-000000000001"

// FindClass finds a class by its group's id, email address or
// mailNickname, and tells a plain group, a missing one and a business
// tenant apart, as a match file's rows need.
func TestFindClass(t *testing.T) {
	ts := simTenant()
	ts.Groups = append(ts.Groups, map[string]any{"id": simClass, "displayName": "2026-10AEn/2", "mailNickname": "2026-10AEn2",
		"mail": "2026-10AEn2@" + simDomain, "mailEnabled": true, "securityEnabled": false, "groupTypes": []any{"Unified"},
		"educationClass": map[string]any{"externalId": "cls-10AEn2", "externalSource": "sis"}})
	env := newSimEnv(t, graphsim.Options{}, ts, nil)
	ctx := context.Background()
	for _, tt := range []struct {
		ref    string
		wantID string
		err    error
	}{
		{simClass, simClass, nil},
		{"2026-10aen2@" + simDomain, simClass, nil},
		{"2026-10AEn2", simClass, nil},
		{simGroup, simGroup, ErrNotAClass},
		{"allstudents", simGroup, ErrNotAClass},
		{"c3c3c3c3-0000-4000-8000-0000000000ff", "", ErrNoSuchObject},
		{"nobody@" + simDomain, "", ErrNoSuchObject},
		{"o'brien", "", ErrNoSuchObject},
		{"a/b", "", ErrNoSuchObject},
	} {
		g, err := env.client.FindClass(ctx, tt.ref)
		if g.ID != tt.wantID || !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("FindClass(%q) = %q, %v; want %q, %v", tt.ref, g.ID, err, tt.wantID, tt.err)
		}
	}

	biz := simTenant()
	biz.Edition = graphsim.EditionBusiness
	env = newSimEnv(t, graphsim.Options{}, biz, nil)
	if _, err := env.client.FindClass(ctx, simGroup); !errors.Is(err, classplan.ErrNotEducation) {
		t.Errorf("FindClass on a business tenant = %v, want ErrNotEducation", err)
	}
}
