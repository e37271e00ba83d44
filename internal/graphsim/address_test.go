package graphsim

import (
	"strings"
	"testing"
)

// TestLowerIsToLower: addressOwner's allocation-free comparison agrees
// with comparing strings.ToLower, ASCII or not.
func TestLowerIsToLower(t *testing.T) {
	for _, tc := range []struct{ s, lower string }{
		{"Ada.Lovelace@School.example", "ada.lovelace@school.example"},
		{"ada.lovelace@school.example", "ada.lovelace@school.example"},
		{"ADA@X", "ada@y"},
		{"ada", "adam"},
		{"", ""},
		{"", "a"},
		{"Zoë@School.example", "zoë@school.example"},
		{"ZOË@SCHOOL.EXAMPLE", "zoë@school.example"},
		{"s@x", "ſ@x"},      // folds to s, but does not lower to it
		{"\u212A@x", "k@x"}, // Kelvin sign lowers to k
		{"[@x", "{@x"},
	} {
		want := strings.ToLower(tc.s) == tc.lower
		if got := lowerIs(tc.s, tc.lower); got != want {
			t.Errorf("lowerIs(%q, %q) = %t, want %t", tc.s, tc.lower, got, want)
		}
	}
}
