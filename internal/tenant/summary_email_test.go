package tenant

import (
	"errors"
	"testing"
)

func TestCustomerSummaryEmail(t *testing.T) {
	for _, tc := range []struct {
		email string
		ok    bool
	}{
		{"", true},
		{"it-logs@oakfield.example", true},
		{"not an address", false},
		{"IT <it-logs@oakfield.example>", false},
		{"a@oakfield.example, b@oakfield.example", false},
	} {
		err := Customer{ID: "oakfield", SummaryEmail: tc.email}.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(summaryEmail %q) = %v, want ok %t", tc.email, err, tc.ok)
		}
	}
}
