package tenant

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func written(g GroupsConfig) *GroupsConfig { return &g }

func TestClassroomConflictNamed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		entities []string
		mode     string
		groups   *GroupsConfig
		want     string // "" means accepted
	}{
		{"classrooms alone", []string{EntityUsers, EntityClassrooms}, "", nil, ""},
		{"written-out default groups and classrooms", []string{EntityUsers, EntityGroups, EntityClassrooms}, "", written(DefaultGroupsConfig()), "registration groups"},
		{"teaching both", []string{EntityGroups, EntityClassrooms}, ClassroomsGroupSubject, written(DefaultGroupsConfig()), "scheduled classes"},
		{"no group rules: defaults beside classrooms", []string{EntityUsers, EntityGroups, EntityClassrooms}, "", nil, ""},
		{"year groups and classrooms", []string{EntityGroups, EntityClassrooms}, "",
			&GroupsConfig{Types: map[string]GroupTypeConfig{GroupYear: {Enabled: true}}}, ""},
		{"subject mode beside teaching groups", []string{EntityGroups, EntityClassrooms}, ClassroomsSubject, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Profile{ID: "p", Entities: tc.entities, Classrooms: &ClassroomsConfig{Mode: tc.mode}, Groups: tc.groups}
			err := p.classroomConflict()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a refusal naming %q", err, tc.want)
			}
		})
	}
	if err := (ClassroomsConfig{Mode: "teams"}).Validate(); err == nil {
		t.Error("unknown mode accepted")
	}
}

// A profile that syncs groups and classrooms without group rules gets
// groups that do not overlap its classrooms (year groups, and the class
// kind its classroom mode leaves out); written-out rules stay refused.
func TestDefaultGroupsBesideClassrooms(t *testing.T) {
	tests := []struct {
		mode string
		want []string
	}{
		{ClassroomsAll, []string{GroupYear}},
		{ClassroomsGroup, []string{GroupTeaching, GroupYear}},
		{ClassroomsGroupSubject, []string{GroupRegistration, GroupYear}},
		{ClassroomsSubject, []string{GroupRegistration, GroupTeaching}},
		{ClassroomsNone, []string{GroupRegistration, GroupTeaching}},
	}
	for _, tt := range tests {
		p := Profile{ID: "p", Entities: []string{EntityUsers, EntityGroups, EntityClassrooms}, Classrooms: &ClassroomsConfig{Mode: tt.mode}}
		var got []string
		for name, ty := range p.GroupsConfig().Types {
			if ty.Enabled {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("mode %q: group types %v, want %v", tt.mode, got, tt.want)
		}
		if err := p.classroomConflict(); err != nil {
			t.Errorf("mode %q: default groups conflict: %v", tt.mode, err)
		}
	}
	explicit := Profile{ID: "p", Entities: []string{EntityGroups, EntityClassrooms}, Groups: &GroupsConfig{Types: map[string]GroupTypeConfig{GroupRegistration: {Enabled: true}}}}
	if err := explicit.classroomConflict(); err == nil {
		t.Error("written-out registration groups beside classrooms: no conflict, want one")
	}
}
