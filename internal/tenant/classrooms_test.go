package tenant

import (
	"errors"
	"strings"
	"testing"
)

func TestClassroomConflictNamed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		entities []string
		mode     string
		groups   *GroupsConfig
		want     string // "" means accepted
	}{
		{"classrooms alone", []string{EntityUsers, EntityClassrooms}, "", nil, ""},
		{"default groups and classrooms", []string{EntityUsers, EntityGroups, EntityClassrooms}, "", nil, "registration groups"},
		{"teaching both", []string{EntityGroups, EntityClassrooms}, ClassroomsGroupSubject, nil, "scheduled classes"},
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
