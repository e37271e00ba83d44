package tenant

import (
	"errors"
	"testing"
)

// TestUsersTemplatesValidated: both username templates of a type are
// parsed when the profile is saved, so a typo is refused there rather
// than leaving every person of the type without an account at plan time.
func TestUsersTemplatesValidated(t *testing.T) {
	tests := []struct {
		name               string
		username, fallback string
		wantErr            error
	}{
		{"defaults", "{given}.{family}", "", nil},
		{"fallback set", "{given}.{family}", "{identifier}", nil},
		{"fallback with literal and sourcedId", "{given1}{family}", "pupil.{sourcedId}", nil},
		{"fallback unknown placeholder", "{given}.{family}", "{admission}", ErrInvalid},
		{"fallback unclosed", "{given}.{family}", "{identifier", ErrInvalid},
		{"fallback literal a UPN cannot hold", "{given}.{family}", "{identifier}@x", ErrInvalid},
		{"username unknown placeholder", "{forename}.{family}", "", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := DefaultUsersConfig()
			st := u.Types[UserStudent]
			st.UsernameTemplate, st.FallbackTemplate = tt.username, tt.fallback
			u.Types[UserStudent] = st
			if err := u.Validate(); !errors.Is(err, tt.wantErr) {
				t.Errorf("Validate() = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestFallbackDefaultsToIdentifier(t *testing.T) {
	if got := (UserTypeConfig{}).Fallback(); got != "{identifier}" {
		t.Errorf("Fallback() = %q, want {identifier}", got)
	}
	if got := (UserTypeConfig{FallbackTemplate: "{sourcedId}"}).Fallback(); got != "{sourcedId}" {
		t.Errorf("Fallback() = %q, want the configured {sourcedId}", got)
	}
}
