package plan

import "testing"

func TestAllUnsyncedForOneReason(t *testing.T) {
	un := func(reasons ...Reason) []Unsynced {
		var out []Unsynced
		for i, r := range reasons {
			out = append(out, Unsynced{Key: string(rune('a' + i)), Reason: r})
		}
		return out
	}
	tests := []struct {
		name string
		p    Plan
		want Reason
		ok   bool
	}{
		{"everyone without enrolments", Plan{Unsynced: un(UnsyncedBecauseNoEnrolments, UnsyncedBecauseNoEnrolments)}, UnsyncedBecauseNoEnrolments, true},
		{"one person, one reason", Plan{Unsynced: un(UnsyncedBecauseNoDomain)}, UnsyncedBecauseNoDomain, true},
		{"suspensions do not sync anyone", Plan{Unsynced: un(UnsyncedBecauseNoEnrolments), Changes: []Change{{Key: "x", Action: Suspend}}}, UnsyncedBecauseNoEnrolments, true},
		{"two reasons", Plan{Unsynced: un(UnsyncedBecauseNoEnrolments, UnsyncedBecauseNoDomain)}, "", false},
		{"someone matched", Plan{Matched: 1, Unsynced: un(UnsyncedBecauseNoEnrolments)}, "", false},
		{"someone created", Plan{Unsynced: un(UnsyncedBecauseNoEnrolments), Changes: []Change{{Key: "x", Action: Create}}}, "", false},
		{"nobody unsynced", Plan{}, "", false},
		{"everyone excluded is the profile's choice", Plan{Unsynced: un(UnsyncedBecauseExcluded)}, "", false},
		{"everyone before the sync start is the profile's choice", Plan{Unsynced: un(UnsyncedBecauseBeforeStart)}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.p.AllUnsyncedForOneReason()
			if got != tt.want || ok != tt.ok {
				t.Errorf("AllUnsyncedForOneReason() = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
